package runtime

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Lambda Runtime API, version 2018-06-01, as one environment serves it:
//
//	GET  /2018-06-01/runtime/invocation/next           → the next event (blocks)
//	POST /2018-06-01/runtime/invocation/{id}/response  → the handler's result
//	POST /2018-06-01/runtime/invocation/{id}/error     → the handler's error
//	POST /2018-06-01/runtime/init/error                → initialization failed
//
// Serving happens in two places. An http.Server accepts connections and
// answers their first requests. When a runtime asks for the next event
// (the long poll every runtime sits in between invocations), its connection
// is hijacked and parked with the environment; the goroutine that invokes
// then writes the event on it and reads the result from it itself, with
// net/http's parser (http.ReadRequest). No goroutine hands anything to
// another on a warm invocation, which is what makes it cheap. Results that
// arrive on other connections (runtimes that reconnect per request, like
// curl-based ones) still reach the invocation through the server.
const apiPrefix = "/2018-06-01/runtime/"

// MaxResponseBytes is the largest response a synchronous invocation may
// return; Lambda's limit is 6 MB.
const MaxResponseBytes = 6291556

const (
	hdrErrorType = "Lambda-Runtime-Function-Error-Type"
	// aws-lambda-go streams responses and reports a failure mid-stream in trailers.
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// route is what a Runtime API request asks for.
type route int

const (
	routeUnknown   route = iota // anything else: 404
	routeNext                   // GET  …/invocation/next
	routeResponse               // POST …/invocation/{id}/response
	routeError                  // POST …/invocation/{id}/error
	routeInitError              // POST …/init/error
)

func parseRoute(method, path string) (route, string) {
	path, ok := strings.CutPrefix(path, apiPrefix)
	if !ok {
		return routeUnknown, ""
	}
	switch {
	case method == http.MethodGet && path == "invocation/next":
		return routeNext, ""
	case method == http.MethodPost && path == "init/error":
		return routeInitError, ""
	case method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		rest := path[len("invocation/"):]
		if id, ok := strings.CutSuffix(rest, "/response"); ok {
			return routeResponse, id
		}
		if id, ok := strings.CutSuffix(rest, "/error"); ok {
			return routeError, id
		}
	}
	return routeUnknown, ""
}

// ServeHTTP answers requests on connections the environment has not taken over.
func (e *env) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch rt, id := parseRoute(r.Method, r.URL.Path); rt {
	case routeNext:
		e.serveNext(w)
	case routeInitError:
		e.serveInitError(w, r)
	case routeResponse, routeError:
		out, ok, status, reply := e.takeResult(r, id, rt == routeError)
		if ok {
			e.results <- out
			// The invoking goroutine may be reading the parked connection:
			// make that read return so it looks at e.results.
			if rc := e.driving.Load(); rc != nil {
				rc.conn.SetReadDeadline(time.Unix(1, 0))
			}
		}
		writeReply(w, status, reply)
	default:
		writeHTTPError(w, http.StatusNotFound, "NotFound", "unknown Runtime API call "+r.Method+" "+r.URL.Path)
	}
}

// serveNext parks the connection with the environment; the first time, that
// ends initialization.
func (e *env) serveNext(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeHTTPError(w, http.StatusInternalServerError, "ServiceException", "connection cannot be taken over")
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	e.readyOnce.Do(func() {
		e.readyAt = time.Now()
		close(e.ready)
	})
	e.park(&rconn{conn: conn, br: brw.Reader, nextPending: true})
}

// rconn is a runtime's connection after the environment took it over.
type rconn struct {
	conn        net.Conn
	br          *bufio.Reader // holds whatever the runtime pipelined
	wbuf        []byte
	deferred    int  // wbuf[:deferred] is a reply held back to go out with the next event
	nextPending bool // its GET /next has been read and awaits an event
}

// park makes rc the environment's connection to send the next event on. A
// newer connection replaces an older one.
func (e *env) park(rc *rconn) {
	for {
		select {
		case <-e.stopping:
			rc.conn.Close()
			return
		case e.conns <- rc:
			return
		default:
			select {
			case old := <-e.conns:
				old.conn.Close()
			default:
			}
		}
	}
}

// takeResult reads a POSTed result for invocation id. ok tells that out is
// the call's outcome; status and reply are what to answer the runtime.
func (e *env) takeResult(r *http.Request, id string, isError bool) (out outcome, ok bool, status int, reply []byte) {
	c := e.cur.Load()
	if c == nil || c.id != id {
		return out, false, http.StatusBadRequest, errorJSON("InvalidRequestID", "invocation "+id+" is not in progress")
	}
	body, tooLarge, err := readBody(r, MaxResponseBytes)
	if err != nil {
		return out, false, http.StatusBadRequest, errorJSON("InvalidRequest", "reading the body: "+err.Error())
	}
	if !e.cur.CompareAndSwap(c, nil) {
		return out, false, http.StatusForbidden, errorJSON("InvalidStateTransition", "invocation "+id+" already has a result")
	}
	switch {
	case tooLarge:
		// The invocation fails; the runtime hears 413 and carries on.
		out = outcome{isError: true, errorType: ErrorTypeResponseTooLarge, payload: errorJSON(ErrorTypeResponseTooLarge,
			"Response payload size exceeded maximum allowed payload size ("+strconv.Itoa(MaxResponseBytes)+" bytes).")}
		return out, true, http.StatusRequestEntityTooLarge, errorJSON("RequestEntityTooLarge", "response larger than "+strconv.Itoa(MaxResponseBytes)+" bytes")
	case isError:
		out = outcome{payload: body, isError: true, errorType: errorType(r.Header.Get(hdrErrorType), body)}
	case r.Trailer.Get(hdrErrorType) != "":
		// A streamed response that failed part-way.
		et := r.Trailer.Get(hdrErrorType)
		out = outcome{isError: true, errorType: et, payload: errorJSON(et, "")}
		if b, err := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody)); err == nil && len(b) > 0 {
			out.payload = b
		}
	default:
		out = outcome{payload: body}
	}
	return out, true, http.StatusAccepted, acceptedBody
}

// serveInitError records that the runtime could not initialize.
func (e *env) serveInitError(w http.ResponseWriter, r *http.Request) {
	select {
	case <-e.ready:
		writeHTTPError(w, http.StatusForbidden, "InvalidStateTransition", "initialization already finished")
		return
	default:
	}
	body, _, err := readBody(r, MaxResponseBytes)
	if err != nil {
		writeHTTPError(w, http.StatusBadRequest, "InvalidRequest", "reading the body: "+err.Error())
		return
	}
	e.initOnce.Do(func() {
		e.initFailure = outcome{payload: body, isError: true, errorType: errorType(r.Header.Get(hdrErrorType), body)}
		close(e.initFailed)
	})
	writeReply(w, http.StatusAccepted, acceptedBody)
}

// errorType is the error type a runtime reported: its header, else the
// errorType field of its JSON body (aws-lambda-go sends only the body).
func errorType(header string, body []byte) string {
	if header != "" {
		return header
	}
	var v struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(body, &v) == nil && v.ErrorType != "" {
		return v.ErrorType
	}
	return "Unhandled"
}

// readBody reads a request body of at most limit bytes; beyond that it
// drains the rest and reports tooLarge. Reading to EOF is also what makes
// trailers available.
func readBody(r *http.Request, limit int) (body []byte, tooLarge bool, err error) {
	if r.ContentLength > int64(limit) {
		_, err = io.Copy(io.Discard, r.Body)
		return nil, true, err
	}
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		if _, err = io.ReadFull(r.Body, body); err != nil {
			return nil, false, err
		}
		_, err = io.Copy(io.Discard, r.Body) // EOF
		return body, false, err
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err == nil && len(body) > limit {
		_, err = io.Copy(io.Discard, r.Body)
		return nil, true, err
	}
	return body, false, err
}

// ---- responses --------------------------------------------------------------

var acceptedBody = []byte(`{"status":"OK"}`)

func writeReply(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeHTTPError(w http.ResponseWriter, status int, errorType, msg string) {
	writeReply(w, status, errorJSON(errorType, msg))
}

// appendResponse appends a complete HTTP/1.1 response with a JSON body.
func appendResponse(b []byte, status int, body []byte) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// appendEvent appends the response to GET /next: the event and its headers.
// The length is always explicit (never chunked), which the bootstraps rely on.
func appendEvent(b []byte, c *call) []byte {
	b = append(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: "...)
	b = append(b, c.id...)
	b = append(b, "\r\nLambda-Runtime-Deadline-Ms: "...)
	b = strconv.AppendInt(b, c.deadlineMs, 10)
	b = append(b, "\r\nLambda-Runtime-Invoked-Function-Arn: "...)
	b = append(b, c.arn...)
	b = append(b, "\r\nLambda-Runtime-Trace-Id: "...)
	b = append(b, c.trace...)
	if c.clientContext != "" {
		b = append(b, "\r\nLambda-Runtime-Client-Context: "...)
		b = append(b, c.clientContext...)
	}
	if c.cognito != "" {
		b = append(b, "\r\nLambda-Runtime-Cognito-Identity: "...)
		b = append(b, c.cognito...)
	}
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(c.payload)), 10)
	return append(b, "\r\n\r\n"...)
}

// headerValue makes s safe as an HTTP header value (no line breaks).
func headerValue(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// errorJSON is Lambda's error document {"errorType":…,"errorMessage":…}.
func errorJSON(errorType, msg string) []byte {
	b, _ := json.Marshal(struct { // two strings always marshal
		ErrorType    string `json:"errorType,omitempty"`
		ErrorMessage string `json:"errorMessage"`
	}{errorType, msg})
	return b
}
