package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/internal/runtime"
)

var urlPathUnescape = url.PathUnescape

// apiID is the id sluice's local APIs carry in request contexts.
const (
	restAPIID    = "sluicerest"
	httpAPIID    = "sluicehttp"
	restTimeForm = "02/Jan/2006:15:04:05 -0700"
	v2TimeForm   = "02/Jan/2006:15:04:05 -0700"
)

// serveREST serves a REST API route: payload format 1.0.
func (g *Gateway) serveREST(w http.ResponseWriter, rc *requestCtx) {
	r := rc.r
	path := strings.TrimPrefix(r.URL.Path, g.prefix)
	if path == "" {
		path = "/"
	}
	resource := "/"
	if rc.node != nil {
		resource = rc.node.resource
	}
	single := make(map[string]string, len(r.Header)+1)
	multi := make(map[string][]string, len(r.Header)+1)
	for k, vs := range r.Header {
		single[k] = vs[len(vs)-1]
		multi[k] = vs
	}
	if r.Host != "" {
		single["Host"] = r.Host
		multi["Host"] = []string{r.Host}
	}
	ev := events.APIGatewayProxyRequest{
		Resource:          resource,
		Path:              path,
		HTTPMethod:        r.Method,
		Headers:           single,
		MultiValueHeaders: multi,
		PathParameters:    rc.pathParameters(),
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:        g.opts.Account,
			ResourceID:       resourceID(resource),
			Stage:            g.opts.Stage,
			DomainName:       r.Host,
			DomainPrefix:     domainPrefix(r.Host),
			RequestID:        rc.id,
			Protocol:         r.Proto,
			Identity:         events.APIGatewayRequestIdentity{SourceIP: sourceIP(r), UserAgent: r.UserAgent()},
			ResourcePath:     resource,
			Path:             g.prefix + path,
			HTTPMethod:       r.Method,
			RequestTime:      rc.now.UTC().Format(restTimeForm),
			RequestTimeEpoch: rc.now.UnixMilli(),
			APIID:            restAPIID,
		},
	}
	if q := parseQuery(r.URL.RawQuery); q != nil {
		ev.QueryStringParameters = make(map[string]string, len(q))
		for k, vs := range q {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
		ev.MultiValueQueryStringParameters = q
	}
	full := restEvent{APIGatewayProxyRequest: ev}
	if len(rc.body) > 0 {
		full.IsBase64Encoded = rc.api.isBinary(r.Header.Get("Content-Type"))
		b := encodeBody(rc.body, full.IsBase64Encoded)
		full.Body = &b
	}
	res, ok := rc.call(w, &full, restIntegration)
	if !ok {
		return
	}
	var out restResponse
	if err := out.decode(res.Payload); err != nil {
		g.log.Warn("malformed Lambda proxy response: API Gateway answers 502", "route", rc.route.RouteKey(), "function", rc.route.Function, "err", err)
		writeFixed(w, http.StatusBadGateway, msgRESTError)
		return
	}
	h := w.Header()
	for k, v := range out.Headers {
		h[http.CanonicalHeaderKey(k)] = []string{v}
	}
	for k, vs := range out.MultiValueHeaders {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = jsonType
	}
	h["X-Amzn-Requestid"] = []string{rc.id}
	writeBody(w, out.StatusCode, out.Body, out.IsBase64Encoded)
}

// restEvent is the payload 1.0 event as API Gateway sends it: aws-lambda-go
// omits isBase64Encoded when false and sends "" for no body, where API
// Gateway sends false and null. The outer fields win in encoding/json.
type restEvent struct {
	events.APIGatewayProxyRequest
	Body            *string `json:"body"`
	IsBase64Encoded bool    `json:"isBase64Encoded"`
}

// restResponse is a Lambda proxy response (payload format 1.0).
type restResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// decode reads a proxy response the way API Gateway accepts it: an object
// with a statusCode; header values may be any scalar.
func (o *restResponse) decode(payload []byte) error {
	if err := json.Unmarshal(payload, o); err == nil {
		if o.StatusCode < 100 || o.StatusCode > 599 {
			return fmt.Errorf("statusCode %d is missing or not an HTTP status", o.StatusCode)
		}
		return nil
	}
	var loose struct {
		looseFields
		MultiValueHeaders map[string][]any `json:"multiValueHeaders"`
		Body              any              `json:"body"`
	}
	if err := json.Unmarshal(payload, &loose); err != nil {
		return fmt.Errorf("the response must be a JSON object with statusCode, headers and body (%.80s)", payload)
	}
	*o = restResponse{}
	var err error
	if o.StatusCode, o.Headers, o.IsBase64Encoded, err = loose.read(); err != nil {
		return err
	}
	switch b := loose.Body.(type) {
	case nil:
	case string:
		o.Body = b
	default:
		return fmt.Errorf("body must be a string, not %T: JSON.stringify it", b)
	}
	o.MultiValueHeaders = make(map[string][]string, len(loose.MultiValueHeaders))
	for k, vs := range loose.MultiValueHeaders {
		for _, v := range vs {
			s, err := scalar(v)
			if err != nil {
				return fmt.Errorf("header %s: %w", k, err)
			}
			o.MultiValueHeaders[k] = append(o.MultiValueHeaders[k], s)
		}
	}
	return nil
}

// looseFields are the response fields both payload versions accept
// leniently, as API Gateway does: any scalar where a string or number is due.
type looseFields struct {
	StatusCode      any            `json:"statusCode"`
	Headers         map[string]any `json:"headers"`
	IsBase64Encoded any            `json:"isBase64Encoded"`
}

func (l looseFields) read() (code int, headers map[string]string, base64 bool, err error) {
	if code, err = statusOf(l.StatusCode); err != nil {
		return 0, nil, false, err
	}
	base64, _ = l.IsBase64Encoded.(bool)
	headers = make(map[string]string, len(l.Headers))
	for k, v := range l.Headers {
		s, err := scalar(v)
		if err != nil {
			return 0, nil, false, fmt.Errorf("header %s: %w", k, err)
		}
		headers[k] = s
	}
	return code, headers, base64, nil
}

func statusOf(v any) (int, error) {
	var code int
	switch c := v.(type) {
	case float64:
		code = int(c)
		if float64(code) != c {
			return 0, fmt.Errorf("statusCode %v is not a whole number", c)
		}
	case string:
		n, err := strconv.Atoi(c)
		if err != nil {
			return 0, fmt.Errorf("statusCode %q is not a number", c)
		}
		code = n
	case nil:
		return 0, fmt.Errorf("the response has no statusCode")
	default:
		return 0, fmt.Errorf("statusCode must be a number, not %T", v)
	}
	if code < 100 || code > 599 {
		return 0, fmt.Errorf("statusCode %d is not an HTTP status", code)
	}
	return code, nil
}

func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("a header value must be a string, number or boolean, not %T", v)
}

func writeBody(w http.ResponseWriter, status int, body string, b64 bool) {
	if b64 {
		data, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			writeFixed(w, http.StatusBadGateway, msgRESTError)
			return
		}
		w.Header()["Content-Length"] = []string{strconv.Itoa(len(data))}
		w.WriteHeader(status)
		_, _ = w.Write(data)
		return
	}
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// eventBuffers hold encoded events between requests: an event is the
// largest thing a request allocates.
var eventBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// encode writes the event into a pooled buffer; release returns it.
func (rc *requestCtx) encode(ev any) ([]byte, error) {
	buf := eventBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	rc.buf = buf
	if err := json.NewEncoder(buf).Encode(ev); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // Encode ends with a newline
}

// release returns the event buffer, unless the invocation may still be
// reading it (the gateway stopped waiting at the integration timeout).
// integration is how an API kind answers when its Lambda integration fails.
type integration struct {
	timeout       time.Duration
	timeoutStatus int
	timeoutBody   []byte
	errorStatus   int // a function error or a response that cannot be used
	errorBody     []byte
}

var (
	restIntegration    = integration{RESTIntegrationTimeout, http.StatusGatewayTimeout, msgRESTTimeout, http.StatusBadGateway, msgRESTError}
	httpAPIIntegration = integration{HTTPAPIIntegrationTimeout, http.StatusServiceUnavailable, msgHTTPAPITimeout, http.StatusInternalServerError, msgHTTPAPIError}
)

// call encodes the event, invokes the function and, when the integration
// failed, answers as that API kind does; ok tells the caller to go on and
// map the function's response.
func (rc *requestCtx) call(w http.ResponseWriter, event any, in integration) (res runtime.Result, ok bool) {
	payload, err := rc.encode(event)
	if err != nil {
		rc.invokeError(w, err, in.errorBody)
		return res, false
	}
	if len(payload) > MaxEventBytes {
		// The body fit, but base64 and the request's other fields made the
		// event too large for Lambda.
		rc.release(false)
		writeTooLarge(w, rc.route.Kind)
		return res, false
	}
	res, err, timedOut := rc.invoke(payload, in.timeout)
	rc.release(timedOut)
	switch {
	case timedOut:
		writeFixed(w, in.timeoutStatus, in.timeoutBody)
	case err != nil:
		rc.invokeError(w, err, in.errorBody)
	case res.Failed():
		writeFixed(w, in.errorStatus, in.errorBody)
	default:
		return res, true
	}
	return res, false
}

func (rc *requestCtx) release(inUse bool) {
	if rc.buf != nil && !inUse && rc.buf.Cap() <= 64<<10 {
		eventBuffers.Put(rc.buf)
	}
	rc.buf = nil
}

// serveHTTPAPI serves an HTTP API route: payload format 2.0.
func (g *Gateway) serveHTTPAPI(w http.ResponseWriter, rc *requestCtx) {
	r := rc.r
	routeKey := rc.route.RouteKey()
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       routeKey,
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        make(map[string]string, len(r.Header)+1),
		PathParameters: rc.pathParameters(),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    g.opts.Account,
			Stage:        "$default",
			RequestID:    rc.id,
			APIID:        httpAPIID,
			DomainName:   r.Host,
			DomainPrefix: domainPrefix(r.Host),
			Time:         rc.now.UTC().Format(v2TimeForm),
			TimeEpoch:    rc.now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.EscapedPath(),
				Protocol:  r.Proto,
				SourceIP:  sourceIP(r),
				UserAgent: r.UserAgent(),
			},
		},
	}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			// Payload 2.0 moves cookies out of the headers.
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		if len(vs) == 1 {
			ev.Headers[lk] = vs[0]
		} else {
			ev.Headers[lk] = strings.Join(vs, ",")
		}
	}
	if r.Host != "" {
		ev.Headers["host"] = r.Host
	}
	if q := parseQuery(r.URL.RawQuery); q != nil {
		ev.QueryStringParameters = make(map[string]string, len(q))
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(rc.body) > 0 {
		ev.IsBase64Encoded = !isText(r.Header.Get("Content-Type"))
		ev.Body = encodeBody(rc.body, ev.IsBase64Encoded)
	}
	res, ok := rc.call(w, &ev, httpAPIIntegration)
	if !ok {
		return
	}
	var out v2Response
	if err := out.decode(res.Payload); err != nil {
		g.log.Warn("malformed Lambda response: the HTTP API answers 500", "route", routeKey, "function", rc.route.Function, "err", err)
		writeFixed(w, http.StatusInternalServerError, msgHTTPAPIError)
		return
	}
	h := w.Header()
	for k, v := range out.Headers {
		h[http.CanonicalHeaderKey(k)] = []string{v}
	}
	h["Set-Cookie"] = append(h["Set-Cookie"], out.Cookies...)
	if out.simple {
		h["Content-Type"] = jsonType
	}
	if c := rc.api.cors; c != nil {
		c.decorate(h, r)
	}
	h["Apigw-Requestid"] = []string{rc.id}
	writeBody(w, out.StatusCode, out.Body, out.IsBase64Encoded)
}

// v2Response is a payload format 2.0 response.
type v2Response struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	Cookies         []string          `json:"cookies"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	simple          bool
}

// decode applies the HTTP API's rules: an object with a statusCode is a
// structured response; any other valid JSON is a "simple response", 200
// with the JSON as the body (a JSON string as its text).
func (o *v2Response) decode(payload []byte) error {
	trimmed := bytes.TrimSpace(payload)
	if !json.Valid(trimmed) {
		return fmt.Errorf("the response is not valid JSON")
	}
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var probe struct {
			StatusCode json.RawMessage `json:"statusCode"`
		}
		_ = json.Unmarshal(trimmed, &probe)
		if len(probe.StatusCode) > 0 {
			return o.decodeStructured(trimmed)
		}
	}
	o.simple, o.StatusCode = true, http.StatusOK
	if trimmed[0] == '"' {
		var s string
		if err := json.Unmarshal(trimmed, &s); err != nil {
			return err
		}
		o.Body = s
		return nil
	}
	o.Body = string(trimmed)
	return nil
}

func (o *v2Response) decodeStructured(payload []byte) error {
	if err := json.Unmarshal(payload, o); err == nil {
		if o.StatusCode < 100 || o.StatusCode > 599 {
			return fmt.Errorf("statusCode %d is not an HTTP status", o.StatusCode)
		}
		return nil
	}
	var loose struct {
		looseFields
		Cookies []any `json:"cookies"`
		Body    any   `json:"body"`
	}
	if err := json.Unmarshal(payload, &loose); err != nil {
		return err
	}
	*o = v2Response{}
	var err error
	if o.StatusCode, o.Headers, o.IsBase64Encoded, err = loose.read(); err != nil {
		return err
	}
	switch b := loose.Body.(type) {
	case nil:
	case string:
		o.Body = b
	default:
		// HTTP APIs serialize a non-string body rather than fail.
		raw, _ := json.Marshal(b)
		o.Body = string(raw)
	}
	for _, c := range loose.Cookies {
		s, ok := c.(string)
		if !ok {
			return fmt.Errorf("cookies must be strings, not %T", c)
		}
		o.Cookies = append(o.Cookies, s)
	}
	return nil
}

// resourceID is a stable short id for a resource path, as API Gateway
// gives each resource one.
func resourceID(resource string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(resource); i++ {
		h = (h ^ uint32(resource[i])) * 16777619
	}
	const digits = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [6]byte
	for i := range b {
		b[i] = digits[h%36]
		h /= 36
	}
	return string(b[:])
}

func domainPrefix(host string) string {
	if i := strings.IndexByte(host, '.'); i >= 0 {
		return host[:i]
	}
	if i := strings.IndexByte(host, ':'); i >= 0 {
		return host[:i]
	}
	return host
}
