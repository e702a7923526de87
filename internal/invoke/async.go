package invoke

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sluice-dev/sluice/internal/runtime"
)

// Lambda's asynchronous invocation, as its developer guide describes it:
// the event is queued and the caller gets 202 at once. If the function
// returns an error, Lambda runs it up to two more times, one minute after
// the first attempt and two minutes after the second. If the function is
// throttled, Lambda retries with exponential backoff (from one second up
// to five minutes) for as long as the event is younger than its maximum
// age (six hours). All waits are clock time, so --time-scale applies.
//
// Not emulated: on-failure / on-success destinations and dead-letter
// queues (the event is logged and dropped), and the queue surviving an
// engine restart (pending retries are dropped at shutdown).
const (
	DefaultRetryAttempts = 2
	DefaultMaxEventAge   = 6 * time.Hour
	firstThrottleBackoff = time.Second
	maxThrottleBackoff   = 5 * time.Minute
)

// retryDelay is the wait before retry n (1-based) of a failed event.
func retryDelay(n int) time.Duration { return time.Duration(n) * time.Minute }

// MaxAsyncPayload is the largest event an asynchronous invocation takes
// (1 MB since October 2025).
const MaxAsyncPayload = 1 << 20

// MaxSyncPayload is the largest synchronous request payload (6 MB).
const MaxSyncPayload = 6 * 1 << 20

// Outcome is how an asynchronous invocation ended, after its retries.
type Outcome struct {
	Result   runtime.Result // the last attempt's result
	Attempts int            // attempts that ran (throttled ones excluded)
	Err      error          // set when it never ran: expired while throttled, engine stopped, …
}

// Failed reports whether the event ended without a successful run.
func (o Outcome) Failed() bool { return o.Err != nil || o.Result.Failed() }

// InvokeAsync queues an asynchronous (Event) invocation and returns its
// request id at once. done, when not nil, is called once the event has
// run successfully or been given up.
func (t *Target) InvokeAsync(req Request, done func(Outcome)) (requestID string, err error) {
	iv := t.iv
	if iv.closed.Load() {
		return "", ErrClosed
	}
	if _, err := t.Pick(); err != nil {
		return "", err
	}
	if req.RequestID == "" {
		req.RequestID = runtime.NewRequestID()
	}
	iv.async.Add(1)
	go func() {
		defer iv.async.Done()
		out := t.runAsync(req)
		if out.Failed() {
			msg := ""
			if out.Err != nil {
				msg = out.Err.Error()
			} else {
				msg = out.Result.ErrorType + ": " + runtime.ErrorMessage(out.Result.Payload)
			}
			iv.log.Warn("asynchronous invocation failed; the event is dropped (no destination or dead-letter queue locally)",
				"function", t.fn.Name, "qualifier", t.qualifier, "requestId", req.RequestID, "attempts", out.Attempts, "error", msg)
		}
		if done != nil {
			done(out)
		}
	}()
	return req.RequestID, nil
}

func (t *Target) runAsync(req Request) Outcome {
	iv := t.iv
	s := iv.settingsOf(t.fn.Name)
	retries := DefaultRetryAttempts
	if s.MaximumRetryAttempts != nil {
		retries = *s.MaximumRetryAttempts
	}
	maxAge := s.MaximumEventAge
	if maxAge <= 0 {
		maxAge = DefaultMaxEventAge
	}
	clk := iv.opts.Clock
	queued := clk.Now()
	var out Outcome
	backoff := firstThrottleBackoff
	for {
		v, err := t.Pick()
		if err != nil {
			out.Err = err
			return out
		}
		res, err := t.run(context.Background(), v, req)
		switch {
		case errors.Is(err, runtime.ErrThrottled):
			if clk.Now().Add(backoff).Sub(queued) > maxAge {
				out.Err = fmt.Errorf("throttled until the event was older than its maximum age %s", maxAge)
				return out
			}
			if !iv.wait(backoff) {
				out.Err = ErrClosed
				return out
			}
			backoff = min(2*backoff, maxThrottleBackoff)
			continue
		case err != nil:
			out.Err = err
			return out
		}
		out.Attempts++
		out.Result = res
		if !res.Failed() || out.Attempts > retries {
			return out
		}
		if !iv.wait(retryDelay(out.Attempts)) {
			out.Err = fmt.Errorf("retry %d dropped: %w", out.Attempts, ErrClosed)
			return out
		}
	}
}

// wait waits d of clock time; false if the invoker closed first.
func (iv *Invoker) wait(d time.Duration) bool {
	tm := iv.opts.Clock.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C():
		return true
	case <-iv.closing:
		return false
	}
}

// InvokeHook invokes a deployment hook (deploy.Invoker): an asynchronous
// invocation of the function's latest version, with Lambda's retries;
// done gets the function's error if the last attempt failed.
func (iv *Invoker) InvokeHook(function string, payload []byte, done func(error)) {
	t, err := iv.Target(function, "")
	if err == nil {
		_, err = t.InvokeAsync(Request{Payload: payload}, func(o Outcome) {
			switch {
			case o.Err != nil:
				done(o.Err)
			case o.Result.Failed():
				done(fmt.Errorf("%s: %s (after %d attempts)", o.Result.ErrorType, runtime.ErrorMessage(o.Result.Payload), o.Attempts))
			default:
				done(nil)
			}
		})
	}
	if err != nil {
		go done(fmt.Errorf("invoke hook %s: %w", function, err))
	}
}

func sortStats(s []VersionStats) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Function != s[j].Function {
			return s[i].Function < s[j].Function
		}
		return s[i].Version < s[j].Version
	})
}
