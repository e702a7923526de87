// Package gateway is API Gateway for a service's `http` events (REST API,
// Lambda proxy integration, payload format 1.0) and `httpApi` events (HTTP
// API, payload format 2.0), using the aws-lambda-go event types.
//
// Both APIs share one listener: REST routes live under /<stage>/ (as in
// the URL API Gateway gives a REST API stage), HTTP API routes at the root
// (its $default stage). The route table is an immutable value swapped
// atomically, so a redeploy can change routes under load; a request takes
// no lock.
package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/runtime"
)

// MaxBodyBytes is the largest request body the gateway passes on: Lambda's
// 6 MB synchronous payload limit (API Gateway's own is 10 MB, but a larger
// event could never reach the function).
const MaxBodyBytes = 6 * 1 << 20

// MaxEventBytes is the largest event the gateway invokes a function with:
// Lambda's 6 MB payload limit applies to the event, base64 body included.
const MaxEventBytes = 6291456

// drainLimit bounds how much of a body over MaxBodyBytes is read to answer
// 413 cleanly (API Gateway's own limit is 10 MB).
const drainLimit = 10 << 20

// Integration timeouts: how long API Gateway waits for the function.
const (
	RESTIntegrationTimeout    = 29 * time.Second
	HTTPAPIIntegrationTimeout = 30 * time.Second
)

// Options configure a Gateway.
type Options struct {
	// Stage prefixes REST routes: /<stage>/orders (default dev).
	Stage string
	// Region and Account appear in the request context.
	Region, Account string
	// BinaryMediaTypes and HTTPAPICORS are the APIs' settings until Set
	// replaces them (see Config).
	BinaryMediaTypes []string
	HTTPAPICORS      *CORS
	// IntegrationTimeout overrides both APIs' integration timeouts (tests).
	IntegrationTimeout time.Duration
	// Clock stamps requestTime (default clock.Real()).
	Clock  clock.Clock
	Logger *slog.Logger
}

// Gateway serves the routes. It is an http.Handler.
type Gateway struct {
	opts   Options
	prefix string // "/" + stage
	clock  clock.Clock
	log    *slog.Logger
	tables atomic.Pointer[tables]
}

// tables is what the gateway serves, swapped whole by Set: the compiled
// routes and the APIs' settings.
type tables struct {
	rest, httpAPI *table
	all           []Route
	cors          *CORS    // the HTTP API's, or nil
	binary        []string // the REST API's binary media types
}

// Config is what the gateway serves.
type Config struct {
	Routes []Route
	// BinaryMediaTypes are the REST API's binary media types
	// (provider.apiGateway.binaryMediaTypes): request bodies of these types
	// reach the function base64-encoded. HTTP APIs encode every body that is
	// not text, without configuration.
	BinaryMediaTypes []string
	// HTTPAPICORS, when set, is the HTTP API's CORS configuration.
	HTTPAPICORS *CORS
}

// New returns a gateway with no routes.
func New(opts Options) *Gateway {
	if opts.Stage == "" {
		opts.Stage = "dev"
	}
	if opts.Region == "" {
		opts.Region = runtime.DefaultRegion
	}
	if opts.Account == "" {
		opts.Account = runtime.DefaultAccount
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	g := &Gateway{opts: opts, prefix: "/" + opts.Stage, clock: opts.Clock, log: opts.Logger}
	g.tables.Store(&tables{rest: &table{root: &node{resource: "/"}}, httpAPI: &table{root: &node{resource: "/"}},
		cors: opts.HTTPAPICORS, binary: opts.BinaryMediaTypes})
	return g
}

// Set replaces what the gateway serves at once: requests already matched
// finish on the old routes and settings, later ones see the new.
func (g *Gateway) Set(c Config) error {
	for i := range c.Routes {
		if c.Routes[i].Target == nil {
			return errors.New("route " + c.Routes[i].RouteKey() + " has no target")
		}
	}
	t, err := compileTables(c.Routes)
	if err != nil {
		return err
	}
	t.cors, t.binary = c.HTTPAPICORS, append([]string(nil), c.BinaryMediaTypes...)
	g.tables.Store(t)
	return nil
}

// SetRoutes replaces the routes, keeping the APIs' settings.
func (g *Gateway) SetRoutes(routes []Route) error {
	t := g.tables.Load()
	return g.Set(Config{Routes: routes, HTTPAPICORS: t.cors, BinaryMediaTypes: t.binary})
}

// CheckRoutes reports what SetRoutes would refuse in routes (conflicting
// or malformed routes), targets aside, without changing what is served.
func CheckRoutes(routes []Route) error {
	_, err := compileTables(routes)
	return err
}

func compileTables(routes []Route) (*tables, error) {
	ptrs := make([]*Route, len(routes))
	for i := range routes {
		r := routes[i]
		ptrs[i] = &r
	}
	rest, err := compile(REST, ptrs)
	if err != nil {
		return nil, err
	}
	httpAPI, err := compile(HTTPAPI, ptrs)
	if err != nil {
		return nil, err
	}
	return &tables{rest: rest, httpAPI: httpAPI, all: append([]Route(nil), routes...)}, nil
}

// Config returns what the gateway serves.
func (g *Gateway) Config() Config {
	t := g.tables.Load()
	return Config{Routes: t.all, HTTPAPICORS: t.cors, BinaryMediaTypes: t.binary}
}

// Routes returns the routes being served.
func (g *Gateway) Routes() []Route { return g.tables.Load().all }

// URL is the path a route is reached at on the gateway's listener.
func (g *Gateway) URL(r *Route) string {
	if r.Kind == REST {
		return g.prefix + r.Path
	}
	return r.Path
}

// Fixed answers, as API Gateway words them.
var (
	msgHeaderTooLarge = []byte(`{"message":"Request Header Fields Too Large"}`)
	msgNotFound       = []byte(`{"message":"Not Found"}`)
	msgBadRequest     = []byte(`{"message":"Bad Request"}`)
	msgMissingToken   = []byte(`{"message":"Missing Authentication Token"}`)
	msgTooLarge       = []byte(`{"message":"Request Too Long"}`)
	// A REST API's answer to an event over Lambda's payload limit, as
	// captured from API Gateway (koki-develop/lgtm-generator#10): 413,
	// 31 bytes, with the space its other REST bodies have.
	msgRESTTooLarge   = []byte(`{"message": "Request Too Long"}`)
	msgRESTError      = []byte(`{"message": "Internal server error"}`)
	msgHTTPAPIError   = []byte(`{"message":"Internal Server Error"}`)
	msgThrottled      = []byte(`{"message":"Too Many Requests"}`)
	msgRESTTimeout    = []byte(`{"message": "Endpoint request timed out"}`)
	msgHTTPAPITimeout = []byte(`{"message":"Service Unavailable"}`)
)

var jsonType = []string{"application/json"}

// A REST API names the kind of its own answers in x-amzn-ErrorType (the
// 413 captured in koki-develop/lgtm-generator#10 carries
// BadRequestException; a path or method it lacks is
// MissingAuthenticationTokenException).
var (
	errTypeBadRequest   = []string{"BadRequestException"}
	errTypeMissingToken = []string{"MissingAuthenticationTokenException"}
)

// writeTooLarge answers 413 as an API kind does.
func writeTooLarge(w http.ResponseWriter, k Kind) {
	if k == REST {
		w.Header()["X-Amzn-Errortype"] = errTypeBadRequest
		writeFixed(w, http.StatusRequestEntityTooLarge, msgRESTTooLarge)
		return
	}
	writeFixed(w, http.StatusRequestEntityTooLarge, msgTooLarge)
}

// writeMissingToken is a REST API's answer to a route it does not have.
func writeMissingToken(w http.ResponseWriter) {
	w.Header()["X-Amzn-Errortype"] = errTypeMissingToken
	writeFixed(w, http.StatusForbidden, msgMissingToken)
}

// MaxHeaderBytes is API Gateway's limit on a request's headers, names and
// values together (10,240 bytes, not adjustable).
const MaxHeaderBytes = 10240

// validEscapes reports whether every '%' in s starts a two-digit hex
// escape (net/http checks the path itself, not the query).
func validEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// headerBytes is the size of r's header fields.
func headerBytes(r *http.Request) int {
	n := 0
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if headerBytes(r) > MaxHeaderBytes {
		writeFixed(w, http.StatusRequestHeaderFieldsTooLarge, msgHeaderTooLarge)
		return
	}
	if !validEscapes(r.URL.RawQuery) {
		writeFixed(w, http.StatusBadRequest, msgBadRequest)
		return
	}
	t := g.tables.Load()
	path := r.URL.EscapedPath()
	var ps params
	var n *node
	kind := REST
	underStage := false
	if rest, ok := strings.CutPrefix(path, g.prefix); ok && (rest == "" || rest[0] == '/') {
		underStage = true
		n = t.rest.match(rest, &ps)
		if n != nil && n.method(r.Method) == nil && !(r.Method == http.MethodOptions && len(n.cors) > 0) {
			// A REST API answers a method it does not have like a path it
			// does not have.
			writeMissingToken(w)
			return
		}
	}
	if n == nil {
		kind = HTTPAPI
		if c := t.cors; c != nil && r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			c.preflight(w, r)
			return
		}
		ps = params{}
		n = t.httpAPI.match(path, &ps)
	}
	var route *Route
	if n != nil {
		route = n.method(r.Method)
		if route == nil && r.Method == http.MethodOptions && len(n.cors) > 0 {
			g.preflight(w, n)
			return
		}
		if route == nil && kind == HTTPAPI && t.httpAPI.catchAll != nil {
			route = t.httpAPI.catchAll // $default takes every method a route lacks
		}
		if route == nil {
			writeFixed(w, http.StatusNotFound, msgNotFound) // HTTP APIs have no 405
			return
		}
	} else if t.httpAPI.catchAll != nil {
		kind, route = HTTPAPI, t.httpAPI.catchAll
	} else if (underStage && len(t.rest.routes) > 0) || len(t.httpAPI.routes) == 0 {
		// REST APIs answer an unknown route with 403, HTTP APIs with 404.
		writeMissingToken(w)
		return
	} else {
		writeFixed(w, http.StatusNotFound, msgNotFound)
		return
	}
	if r.ContentLength > MaxBodyBytes {
		// Read what was announced first (up to a bound, within the server's
		// read timeout): closing on an unread body resets the connection,
		// and the client would never see its 413.
		if r.ContentLength <= drainLimit {
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, drainLimit))
		}
		writeTooLarge(w, kind)
		return
	}
	body, err := readBody(r)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			writeTooLarge(w, kind)
		} else {
			writeFixed(w, http.StatusBadRequest, msgBadRequest)
		}
		return
	}
	rc := requestCtx{g: g, api: t, r: r, route: route, node: n, ps: &ps, body: body, id: runtime.NewRequestID(), now: g.clock.Now()}
	if kind == REST {
		g.serveREST(w, &rc)
	} else {
		g.serveHTTPAPI(w, &rc)
	}
}

// requestCtx is what both payload formats are built from.
type requestCtx struct {
	g     *Gateway
	api   *tables // what the gateway served when the request came
	r     *http.Request
	route *Route
	node  *node // nil for the catch-all route
	ps    *params
	body  []byte
	id    string
	now   time.Time
	buf   *bytes.Buffer // the encoded event's pooled buffer
}

func (rc *requestCtx) pathParameters() map[string]string {
	if rc.ps.n == 0 {
		return nil
	}
	m := make(map[string]string, rc.ps.n)
	for i := range rc.ps.n {
		p := rc.ps.at(i)
		if v, err := unescape(p.value); err == nil {
			m[p.name] = v
		} else {
			m[p.name] = p.value
		}
	}
	return m
}

// invoke runs the route's function, waiting at most the integration timeout.
func (rc *requestCtx) invoke(payload []byte, limit time.Duration) (res runtime.Result, err error, timedOut bool) {
	if rc.g.opts.IntegrationTimeout > 0 {
		limit = rc.g.opts.IntegrationTimeout
	}
	req := invoke.Request{Payload: payload}
	ctx := rc.r.Context()
	if rc.route.Timeout <= limit {
		res, err = rc.route.Target.Invoke(ctx, req)
		return res, err, false
	}
	type answer struct {
		res runtime.Result
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		// The invocation runs to its end even when the gateway stops waiting, as on AWS.
		res, err := rc.route.Target.Invoke(context.WithoutCancel(ctx), req)
		ch <- answer{res, err}
	}()
	tm := time.NewTimer(limit)
	defer tm.Stop()
	select {
	case a := <-ch:
		return a.res, a.err, false
	case <-tm.C:
		return runtime.Result{}, nil, true
	}
}

// invokeError answers a failed invocation attempt (not a function error).
func (rc *requestCtx) invokeError(w http.ResponseWriter, err error, internal []byte) {
	if errors.Is(err, runtime.ErrThrottled) {
		writeFixed(w, http.StatusTooManyRequests, msgThrottled)
		return
	}
	rc.g.log.Error("the gateway could not invoke the function", "route", rc.route.RouteKey(), "function", rc.route.Function, "err", err)
	writeFixed(w, http.StatusInternalServerError, internal)
}

var errTooLarge = errors.New("request body too large")

// readBody reads at most MaxBodyBytes.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > 0 {
		b := make([]byte, r.ContentLength)
		_, err := io.ReadFull(r.Body, b)
		return b, err
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if len(b) > MaxBodyBytes {
		return nil, errTooLarge
	}
	return b, err
}

func writeFixed(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// CORS preflight answer, with the headers the Serverless Framework
// configures for `cors: true`.
const (
	corsAllowHeaders = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,X-Amz-User-Agent,X-Amzn-Trace-Id"
)

func (g *Gateway) preflight(w http.ResponseWriter, n *node) {
	methods := make([]string, 0, len(n.cors)+1)
	methods = append(methods, http.MethodOptions)
	for _, m := range n.cors {
		if m == anyMethod {
			methods = append(methods, "DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
			continue
		}
		methods = append(methods, m)
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ","))
	h.Set("Access-Control-Allow-Credentials", "false")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// sourceIP is the client address without the port.
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isText reports whether a body of this content type is text, which HTTP
// APIs pass as is (anything else is base64-encoded).
func isText(contentType string) bool {
	ct := strings.ToLower(contentType)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	switch {
	case ct == "", strings.HasPrefix(ct, "text/"),
		ct == "application/json", ct == "application/javascript", ct == "application/xml",
		ct == "application/x-www-form-urlencoded", ct == "application/graphql",
		strings.HasSuffix(ct, "+json"), strings.HasSuffix(ct, "+xml"):
		return true
	}
	return false
}

// isBinary reports whether contentType is one of the REST API's binary media types.
func (t *tables) isBinary(contentType string) bool {
	if len(t.binary) == 0 || contentType == "" {
		return false
	}
	ct := strings.ToLower(contentType)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	for _, b := range t.binary {
		b = strings.ToLower(b)
		switch {
		case b == "*/*" || b == ct:
			return true
		case strings.HasSuffix(b, "/*") && strings.HasPrefix(ct, b[:len(b)-1]):
			return true
		}
	}
	return false
}

func encodeBody(body []byte, b64 bool) string {
	if b64 {
		return base64.StdEncoding.EncodeToString(body)
	}
	return string(body)
}

func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	return urlPathUnescape(s)
}
