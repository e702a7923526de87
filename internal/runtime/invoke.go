package runtime

import (
	"errors"
	"net"
	"net/http"
	"os"
	"time"
)

// invoke runs one invocation on e and fills res. dispatched is false if e
// died before taking the event (res is then untouched) and the caller should
// try another environment; reusable is false if e must be discarded
// (timeout, crash).
func (e *env) invoke(inv *Invocation, res *Result) (dispatched, reusable bool) {
	p := e.pool
	timeout := p.spec.Timeout
	c := &e.c
	c.id = headerValue(inv.RequestID)
	c.arn = headerValue(inv.InvokedFunctionARN)
	c.trace = headerValue(inv.TraceID)
	c.clientContext = headerValue(inv.ClientContext)
	c.cognito = headerValue(inv.CognitoIdentity)
	c.payload = inv.Payload
	start := time.Now()
	c.deadline = start.Add(timeout)
	c.deadlineMs = c.deadline.UnixMilli()

	out, failure, dispatched := e.run(c)
	if !dispatched {
		return false, false
	}
	end := time.Now()
	res.Duration = end.Sub(start)
	res.LogStream = e.stream
	res.MaxMemoryUsedMB = e.peakMemoryMB(end)
	if res.ColdStart {
		res.BilledDuration = billed(res.Duration + res.InitDuration)
	} else {
		res.BilledDuration = billed(res.Duration)
	}

	b := e.line[:0]
	status := ""
	switch failure {
	case "":
		res.Payload = out.payload
		if out.isError {
			res.FunctionError = FunctionErrorUnhandled
			res.ErrorType = out.errorType
		}
		reusable = true
	case ErrorTypeTimeout:
		status = "timeout"
		e.cur.Store(nil)
		e.kill()
		msg := timeoutMessage(p.clock.Now(), c.id, timeout)
		res.FunctionError, res.ErrorType = FunctionErrorUnhandled, ErrorTypeTimeout
		res.Payload = errorJSON("", msg)
		b = append(b, msg...)
		b = append(b, '\n')
	case ErrorTypeExit:
		status = "error"
		et := e.exitErrorType()
		msg := "RequestId: " + c.id + " Error: " + e.exitMessage()
		res.FunctionError, res.ErrorType = FunctionErrorUnhandled, et
		res.Payload = errorJSON(et, msg)
		b = append(b, msg...)
		b = append(b, '\n')
		b = append(b, et...)
		b = append(b, '\n')
	}
	b = appendEnd(b, c.id)
	b = append(b, '\n')
	b = appendReport(b, res, status, failure)
	e.line = b
	e.out.finish(b)
	return true, reusable
}

// failure values of run besides ErrorTypeTimeout and ErrorTypeExit.
const failureDead = "dead" // the environment died before taking the event

// run hands c to the runtime and waits for its outcome. failure is "" when
// the runtime answered (successfully or not), ErrorTypeTimeout or
// ErrorTypeExit otherwise.
func (e *env) run(c *call) (out outcome, failure string, dispatched bool) {
	rc, failure := e.dispatch(c)
	switch {
	case failure == failureDead:
		return out, "", false
	case failure != "":
		return out, failure, true
	}
	out, got := e.readResult(rc, c)
	if got == resultReceived {
		return out, "", true
	}
	if got == resultTimedOut {
		return out, ErrorTypeTimeout, true
	}
	// The connection ended or was abandoned: the result comes (or not) another way.
	e.timer.Reset(time.Until(c.deadline))
	defer e.timer.Stop()
	select {
	case out = <-e.results:
		return out, "", true
	case <-e.exited:
		select {
		case out = <-e.results: // it answered, then exited
			return out, "", true
		default:
			return out, ErrorTypeExit, true
		}
	case <-e.timer.C:
		select {
		case out = <-e.results: // it answered just in time
			return out, "", true
		default:
			return out, ErrorTypeTimeout, true
		}
	}
}

// dispatch writes c as the answer to the runtime's GET /next. It returns the
// connection to read the result from, or a failure: failureDead (nothing was
// sent) or ErrorTypeTimeout (the runtime never asked for the event).
func (e *env) dispatch(c *call) (*rconn, string) {
	for {
		rc, failure := e.awaitNext(c)
		if rc == nil {
			return nil, failure
		}
		// START is logged before the runtime can see the event, so it
		// precedes everything the handler prints.
		e.cur.Store(c)
		e.line = appendStart(e.line[:0], c.id, e.pool.spec.Version)
		e.out.start(e.line)
		rc.wbuf = appendEvent(rc.wbuf[:rc.deferred], c)
		rc.deferred = 0
		var err error
		if len(c.payload) <= 64<<10 {
			rc.wbuf = append(rc.wbuf, c.payload...)
			_, err = rc.conn.Write(rc.wbuf)
		} else {
			bufs := net.Buffers{rc.wbuf, c.payload}
			_, err = bufs.WriteTo(rc.conn)
		}
		if err == nil {
			rc.nextPending = false
			return rc, ""
		}
		// The connection broke before the event got through; find out why.
		e.cur.Store(nil)
		rc.conn.Close()
	}
}

// awaitNext returns the runtime's connection with its GET /next read, once
// there is one; or nil and failureDead if the process has exited, or
// ErrorTypeTimeout if the deadline passed first.
func (e *env) awaitNext(c *call) (*rconn, string) {
	for {
		var rc *rconn
		select {
		case rc = <-e.conns:
		default:
			e.timer.Reset(time.Until(c.deadline))
			select {
			case rc = <-e.conns:
				e.timer.Stop()
			case <-e.exited:
				e.timer.Stop()
				return nil, failureDead
			case <-e.timer.C:
				return nil, ErrorTypeTimeout
			}
		}
		rc.conn.SetDeadline(c.deadline)
		if rc.nextPending {
			return rc, ""
		}
		// The connection answered the previous invocation; its GET /next is
		// usually pipelined already, else on its way.
		if ok, timedOut := e.readNext(rc); ok {
			return rc, ""
		} else if timedOut {
			return nil, ErrorTypeTimeout
		}
		// The runtime closed it; it will come back on a new one, or it died.
	}
}

// readNext reads requests from rc until its GET /next, answering anything
// else on the way. ok is false if the connection ended (it is then closed).
func (e *env) readNext(rc *rconn) (ok, timedOut bool) {
	for {
		req, err := http.ReadRequest(rc.br)
		if err != nil {
			rc.conn.Close()
			return false, isTimeout(err)
		}
		rt, id := parseRoute(req.Method, req.URL.Path)
		if rt == routeNext {
			rc.nextPending = true
			return true, false
		}
		if _, _, ok := e.answer(rc, req, rt, id); !ok {
			return false, false
		}
	}
}

// Results of readResult.
const (
	resultReceived  = iota // the runtime posted the outcome
	resultTimedOut         // the deadline passed first
	resultElsewhere        // the connection ended or was given up: wait for e.results
)

// readResult reads requests from rc until the runtime posts c's outcome.
// On success rc is parked again for the next invocation.
func (e *env) readResult(rc *rconn, c *call) (outcome, int) {
	e.driving.Store(rc)
	defer e.driving.Store(nil)
	for {
		// Peek first: a read that fails before any byte of a request arrived
		// leaves the connection intact.
		_, err := rc.br.Peek(1)
		idle := err != nil // failed before a request began
		var req *http.Request
		if err == nil {
			req, err = http.ReadRequest(rc.br)
		}
		if err != nil {
			// A deadline in the past means the result arrived on another
			// connection (see ServeHTTP); a real one means time is up.
			select {
			case out := <-e.results:
				if idle && isTimeout(err) {
					e.park(rc) // interrupted while idle: the runtime keeps using it
				} else {
					rc.conn.Close()
				}
				return out, resultReceived
			default:
			}
			rc.conn.Close()
			if isTimeout(err) && !time.Now().Before(c.deadline) {
				return outcome{}, resultTimedOut
			}
			return outcome{}, resultElsewhere
		}
		rt, id := parseRoute(req.Method, req.URL.Path)
		if rt == routeNext {
			// It wants the next event without answering this one: the
			// invocation can only time out now.
			rc.nextPending = true
			e.park(rc)
			return outcome{}, resultElsewhere
		}
		out, got, ok := e.answer(rc, req, rt, id)
		if got {
			if ok {
				e.park(rc)
			}
			return out, resultReceived
		}
		if !ok {
			return outcome{}, resultElsewhere
		}
	}
}

// answer serves one request read from a parked connection other than GET
// /next. got tells that it carried the outcome of the invocation in
// progress (out). ok is false if the connection is no longer usable (it is
// then closed).
func (e *env) answer(rc *rconn, req *http.Request, rt route, id string) (out outcome, got, ok bool) {
	var status int
	var reply []byte
	if req.Header.Get("Expect") == "100-continue" {
		if _, err := rc.conn.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
			rc.conn.Close()
			return out, false, false
		}
	}
	switch rt {
	case routeResponse, routeError:
		out, got, status, reply = e.takeResult(req, id, rt == routeError)
	case routeInitError:
		_, _, _ = readBody(req, MaxResponseBytes)
		status, reply = http.StatusForbidden, errorJSON("InvalidStateTransition", "initialization already finished")
	default:
		_, _, _ = readBody(req, MaxResponseBytes)
		status, reply = http.StatusNotFound, errorJSON("NotFound", "unknown Runtime API call "+req.Method+" "+req.URL.Path)
	}
	rc.wbuf = appendResponse(rc.wbuf[:rc.deferred], status, reply)
	if got && rc.br.Buffered() > 0 && !req.Close {
		// The runtime sent its next request without waiting for this reply
		// (the bootstraps pipeline GET /next behind their result): it can
		// wait for the reply along with the next event, one write instead
		// of two.
		rc.deferred = len(rc.wbuf)
		return out, got, true
	}
	rc.deferred = 0
	if _, err := rc.conn.Write(rc.wbuf); err != nil || req.Close {
		rc.conn.Close()
		return out, got, false
	}
	return out, got, true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
