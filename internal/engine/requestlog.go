package engine

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/gateway"
	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/logs"
	"github.com/sluice-dev/sluice/internal/runtime"
)

// requestLog prints what `sluice serve` shows as it runs (Options.RequestLog):
// one line per gateway request — method, path, function:version, status,
// duration — and the functions' own output, as serverless-offline does.
// Durations are wall time: they are what the person waiting saw.
//
// Each line is one Write, so lines from concurrent requests never mix on a
// writer that keeps single writes whole (a terminal, a pipe or a file, as
// os.File does): the request path takes no lock of sluice's.
type requestLog struct {
	out    io.Writer
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// lineBuffers are the request lines' buffers, reused.
var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// requestNoteKey carries a *requestNote from the request log's handler to
// the route's target, which fills it.
type requestNoteKey struct{}

type requestNote struct{ function, version string }

// loggedTarget notes which function and version served a request.
type loggedTarget struct {
	gateway.Target
	function string // the key in serverless.yml: what the user wrote
}

func (t loggedTarget) Invoke(ctx context.Context, req invoke.Request) (runtime.Result, error) {
	res, err := t.Target.Invoke(ctx, req)
	if n, ok := ctx.Value(requestNoteKey{}).(*requestNote); ok {
		n.function, n.version = t.function, res.ExecutedVersion
	}
	return res, err
}

// routeTarget is what a route of function invokes: t itself, or t noting
// the version that ran for the request log.
func (e *Engine) routeTarget(svc *config.Service, function string, t gateway.Target) gateway.Target {
	if e.requestLog == nil {
		return t
	}
	key := function
	for _, f := range svc.Functions {
		if f.Name == function {
			key = f.Key
		}
	}
	return loggedTarget{Target: t, function: key}
}

// handler wraps the gateway: it times each request and prints its line.
func (l *requestLog) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now() // wall time: a duration shown to a person
		note := &requestNote{}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestNoteKey{}, note)))
		took := roundDuration(time.Since(start))
		bp := lineBuffers.Get().(*[]byte)
		b := start.AppendFormat((*bp)[:0], "15:04:05")
		b = append(append(append(b, ' '), r.Method...), ' ')
		b = append(append(b, r.URL.RequestURI()...), " → "...)
		if note.function == "" {
			b = append(b, '-')
		} else {
			b = append(append(append(b, note.function...), ':'), note.version...)
		}
		b = append(strconv.AppendInt(append(b, ' '), int64(rec.status), 10), " in "...)
		b = append(append(b, took.String()...), '\n')
		l.out.Write(b)
		*bp = b
		lineBuffers.Put(bp)
	})
}

func (l *requestLog) printf(format string, args ...any) {
	io.WriteString(l.out, fmt.Sprintf(format, args...))
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// follow prints the functions' output from since on: every line a
// function writes, prefixed with function:version; Lambda's own START, END
// and REPORT lines are left to `sluice logs`. service is the service being
// served; functions a reload adds are followed within a second.
func (l *requestLog) follow(store *logs.Store, since time.Time, service func() *config.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	followed := map[string]bool{}
	followNew := func() {
		svc := service()
		if svc == nil {
			return // not serving yet; the next tick looks again
		}
		for _, f := range svc.Functions {
			if f.Image != "" || followed[f.Name] {
				continue
			}
			followed[f.Name] = true
			l.done.Add(1)
			go func() {
				defer l.done.Done()
				store.Follow(ctx, logs.GroupName(f.Name), logs.Filter{Since: since}, func(ev logs.Event) {
					if platformLine(ev.Message) {
						return
					}
					version, _ := logs.StreamVersion(ev.Stream)
					l.printf("  %s:%s │ %s\n", f.Key, version, strings.ReplaceAll(strings.TrimRight(ev.Message, "\n"), "\r", "\n    "))
				})
			}()
		}
	}
	followNew()
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				followNew()
			}
		}
	}()
}

func (l *requestLog) stop() {
	if l == nil || l.cancel == nil {
		return
	}
	l.cancel()
	l.done.Wait()
}

// platformLine tells Lambda's own log lines from the function's.
func platformLine(msg string) bool {
	for _, p := range []string{"START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_START ", "INIT_REPORT "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
