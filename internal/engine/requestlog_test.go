package engine

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for the engine's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServePrintsEachRequestAndTheFunctionsOutput(t *testing.T) {
	dir := shopDir(t)
	var out syncBuffer
	e, err := Start(Options{Config: filepath.Join(dir, "serverless.yml"), Addr: AnyLoopbackAddr, APIAddr: AnyLoopbackAddr, Out: logWriter{t}, RequestLog: &out,
		Logger: slog.New(slog.NewTextHandler(logWriter{t}, nil)), Invoke: invoke.Options{StopGrace: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, e) })
	res, err := http.Get(e.GatewayURL() + "/hello?fail=1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	testutil.Eventually(t, "the request line", func() bool { return strings.Contains(out.String(), "GET /hello?fail=1 → api:1 500 in ") })
	// The function's error, with its stack trace naming the service's file.
	testutil.Eventually(t, "the function's output", func() bool {
		return strings.Contains(out.String(), "  api:1 │ ") && strings.Contains(out.String(), "asked to fail") &&
			strings.Contains(out.String(), filepath.Join(dir, "src", "api.js"))
	})
	if strings.Contains(out.String(), ".sluice/code") || strings.Contains(out.String(), "START RequestId") {
		t.Fatalf("the output names the snapshot or Lambda's platform lines:\n%s", out.String())
	}
	if res, err := http.Get(e.GatewayURL() + "/nowhere"); err == nil {
		res.Body.Close()
	}
	testutil.Eventually(t, "the line of a request no function served", func() bool { return strings.Contains(out.String(), "GET /nowhere → - 404 in ") })
	t.Log("\n" + out.String())
}

// BenchmarkRequestLog is what a request line costs on the gateway's path.
func BenchmarkRequestLog(b *testing.B) {
	l := &requestLog{out: io.Discard}
	h := l.handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, ok := r.Context().Value(requestNoteKey{}).(*requestNote); ok {
			n.function, n.version = "api", "3"
		}
		w.WriteHeader(http.StatusOK)
	}))
	req := httptest.NewRequest(http.MethodGet, "/dev/orders/42?x=1", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
