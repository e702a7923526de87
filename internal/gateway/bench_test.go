package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/runtime"
)

// fixedTarget answers every invocation with the same result, so that
// BenchmarkGatewayPath measures the gateway's own work: matching, building
// the event, decoding the response, writing it.
type fixedTarget struct{ res runtime.Result }

func (f fixedTarget) Invoke(context.Context, invoke.Request) (runtime.Result, error) {
	return f.res, nil
}

func BenchmarkGatewayPath(b *testing.B) {
	target := fixedTarget{runtime.Result{Payload: []byte(`{"statusCode":200,"headers":{"content-type":"application/json"},"body":"{\"message\":\"hello\"}"}`)}}
	g := New(Options{})
	if err := g.SetRoutes([]Route{
		{Kind: REST, Method: "GET", Path: "/hello", Target: target},
		{Kind: REST, Method: "GET", Path: "/orders/{id}", Target: target},
		{Kind: HTTPAPI, Method: "GET", Path: "/items/{id}", Target: target},
	}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, url string }{
		{"REST", "/dev/orders/42?x=1"},
		{"HTTPAPI", "/items/42?x=1"},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", c.url, nil)
			req.Header.Set("User-Agent", "wrk")
			req.Header.Set("Accept", "*/*")
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				g.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkGatewayNodeHello is the whole path with a real Node.js function:
// 16 concurrent clients over loopback HTTP, as bench/gateway's wrk run.
func BenchmarkGatewayNodeHello(b *testing.B) {
	iv, _ := echoService(b, invoke.Settings{})
	target, err := iv.Target("echo", "")
	if err != nil {
		b.Fatal(err)
	}
	g := New(Options{})
	if err := g.SetRoutes([]Route{{Kind: REST, Method: "GET", Path: "/hello", Target: target, Timeout: time.Second}}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	url := srv.URL + "/dev/hello"
	hello := `{"statusCode":200,"body":"hello"}`
	b.SetParallelism(8) // × GOMAXPROCS (2) = 16 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-Respond", hello)
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
