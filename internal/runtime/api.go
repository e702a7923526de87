package runtime

import (
	"encoding/base64"
	"encoding/json"
	"io"
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
const apiPrefix = "/2018-06-01/runtime/"

// MaxResponseBytes is the largest response a synchronous invocation may
// return; Lambda's limit is 6 MB.
const MaxResponseBytes = 6291556

const (
	hdrRequestID     = "Lambda-Runtime-Aws-Request-Id"
	hdrDeadline      = "Lambda-Runtime-Deadline-Ms"
	hdrFunctionARN   = "Lambda-Runtime-Invoked-Function-Arn"
	hdrTraceID       = "Lambda-Runtime-Trace-Id"
	hdrClientContext = "Lambda-Runtime-Client-Context"
	hdrCognito       = "Lambda-Runtime-Cognito-Identity"
	hdrErrorType     = "Lambda-Runtime-Function-Error-Type"
	// aws-lambda-go streams responses and reports a failure mid-stream in trailers.
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

var (
	jsonContentType = []string{"application/json"}
	acceptedBody    = []byte(`{"status":"OK"}`)
	acceptedLength  = []string{strconv.Itoa(len(acceptedBody))}
)

func (e *env) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok {
		apiError(w, http.StatusNotFound, "NotFound", "sluice serves only the Lambda Runtime API (2018-06-01) here")
		return
	}
	switch {
	case path == "invocation/next" && r.Method == http.MethodGet:
		e.serveNext(w, r)
	case path == "init/error" && r.Method == http.MethodPost:
		e.serveInitError(w, r)
	case strings.HasPrefix(path, "invocation/") && r.Method == http.MethodPost:
		rest := path[len("invocation/"):]
		if id, ok := strings.CutSuffix(rest, "/response"); ok {
			e.serveResult(w, r, id, false)
		} else if id, ok := strings.CutSuffix(rest, "/error"); ok {
			e.serveResult(w, r, id, true)
		} else {
			apiError(w, http.StatusNotFound, "NotFound", "unknown Runtime API path "+r.URL.Path)
		}
	default:
		apiError(w, http.StatusNotFound, "NotFound", "unknown Runtime API call "+r.Method+" "+r.URL.Path)
	}
}

// serveNext hands the runtime the next event, waiting for one. The first
// call ends the environment's initialization.
func (e *env) serveNext(w http.ResponseWriter, r *http.Request) {
	e.readyOnce.Do(func() {
		e.readyAt = time.Now()
		close(e.ready)
	})
	var c *call
	select {
	case c = <-e.calls:
	case <-e.stopping:
		return
	case <-r.Context().Done():
		return
	}
	e.cur.Store(c)
	// START goes into the output pipe before the runtime can see the event,
	// so it precedes everything the handler prints.
	b := e.mark(e.startLine[:0])
	b = appendStart(b, c.id, e.pool.spec.Version)
	b = append(b, '\n')
	e.startLine = b
	e.writeLines(b)

	h := w.Header()
	h["Content-Type"] = jsonContentType
	c.hID[0] = c.id
	h[hdrRequestID] = c.hID[:]
	c.hDeadline[0] = strconv.FormatInt(c.deadlineMs, 10)
	h[hdrDeadline] = c.hDeadline[:]
	h[hdrFunctionARN] = c.hARN[:]
	h[hdrTraceID] = c.hTrace[:]
	if c.hClientContext[0] != "" {
		h[hdrClientContext] = c.hClientContext[:]
	}
	if c.hCognito[0] != "" {
		h[hdrCognito] = c.hCognito[:]
	}
	// An explicit length keeps the response un-chunked, which the bootstraps rely on.
	h["Content-Length"] = []string{strconv.Itoa(len(c.payload))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(c.payload)
}

// serveResult takes the runtime's response (or error) for the call in progress.
func (e *env) serveResult(w http.ResponseWriter, r *http.Request, id string, isError bool) {
	c := e.cur.Load()
	if c == nil || c.id != id {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", "invocation "+id+" is not in progress")
		return
	}
	body, tooLarge, err := readBody(r, MaxResponseBytes)
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "reading the body: "+err.Error())
		return
	}
	if !e.cur.CompareAndSwap(c, nil) {
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "invocation "+id+" already has a result")
		return
	}
	if tooLarge {
		e.results <- outcome{isError: true, errorType: ErrorTypeResponseTooLarge, payload: errorJSON(ErrorTypeResponseTooLarge,
			"Response payload size exceeded maximum allowed payload size ("+strconv.Itoa(MaxResponseBytes)+" bytes).")}
		apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "response larger than "+strconv.Itoa(MaxResponseBytes)+" bytes")
		return
	}
	out := outcome{payload: body, isError: isError}
	if isError {
		out.errorType = errorType(r.Header.Get(hdrErrorType), body)
	} else if et := r.Trailer.Get(hdrErrorType); et != "" {
		// A streamed response that failed part-way.
		out = outcome{isError: true, errorType: et, payload: errorJSON(et, "")}
		if b, err := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody)); err == nil && len(b) > 0 {
			out.payload = b
		}
	}
	e.results <- out
	accepted(w)
}

// serveInitError records that the runtime could not initialize.
func (e *env) serveInitError(w http.ResponseWriter, r *http.Request) {
	select {
	case <-e.ready:
		apiError(w, http.StatusForbidden, "InvalidStateTransition", "initialization already finished")
		return
	default:
	}
	body, _, err := readBody(r, MaxResponseBytes)
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "reading the body: "+err.Error())
		return
	}
	e.initOnce.Do(func() {
		e.initFailure = outcome{payload: body, isError: true, errorType: errorType(r.Header.Get(hdrErrorType), body)}
		close(e.initFailed)
	})
	accepted(w)
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
// drains the rest and reports tooLarge.
func readBody(r *http.Request, limit int) (body []byte, tooLarge bool, err error) {
	if r.ContentLength > int64(limit) {
		_, err = io.Copy(io.Discard, r.Body)
		return nil, true, err
	}
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
		return body, false, err
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err == nil && len(body) > limit {
		_, err = io.Copy(io.Discard, r.Body)
		return nil, true, err
	}
	// Reading to EOF is what makes trailers available.
	return body, false, err
}

func accepted(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = acceptedLength
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(acceptedBody)
}

func apiError(w http.ResponseWriter, status int, errorType, msg string) {
	body := errorJSON(errorType, msg)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorJSON is Lambda's error document {"errorType":…,"errorMessage":…}.
func errorJSON(errorType, msg string) []byte {
	b, _ := json.Marshal(struct { // two strings always marshal
		ErrorType    string `json:"errorType,omitempty"`
		ErrorMessage string `json:"errorMessage"`
	}{errorType, msg})
	return b
}
