package invoke

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/registry"
)

// BenchmarkColdStart is the first invocation of a newly published version:
// pool creation, process start, runtime init and the invocation itself.
// Publishing (snapshotting the code) is outside the timing.
func BenchmarkColdStart(b *testing.B) {
	for _, rt := range []struct{ runtime, dir, handler string }{
		{"nodejs20.x", "testdata/fn", "handler.handler"},
		{"python3.11", "testdata/py", "handler.handler"},
	} {
		b.Run(rt.runtime, func(b *testing.B) {
			f := newFixture(b, nil, Options{})
			src, _ := filepath.Abs(rt.dir)
			tg := (*Target)(nil)
			var initTotal time.Duration
			n := 0
			for b.Loop() {
				b.StopTimer()
				n++
				v, _, err := f.reg.Publish("cold", registry.Config{Runtime: rt.runtime, Handler: rt.handler, Timeout: 10 * time.Second,
					MemorySize: 128, Environment: map[string]string{"N": fmt.Sprint(n)}}, src, "")
				if err != nil {
					b.Fatal(err)
				}
				if tg, err = f.iv.Target("cold", v.Qualifier()); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := tg.Invoke(context.Background(), Request{Payload: []byte(`{}`)})
				if err != nil || res.Failed() || !res.ColdStart {
					b.Fatalf("cold invocation: %v %s (cold %v)", err, res.Payload, res.ColdStart)
				}
				initTotal += res.InitDuration
			}
			b.ReportMetric(float64(initTotal.Milliseconds())/float64(n), "init-ms/op")
		})
	}
}

// BenchmarkWarmInvoke is one invocation of a warm Node.js environment
// through an alias: the invoke layer's routing, pool lookup and metrics
// around the runtime's round trip.
func BenchmarkWarmInvoke(b *testing.B) {
	f := newFixture(b, nil, Options{})
	v1, v2 := f.publish(b, nil), f.publish(b, nil)
	if _, err := f.reg.SetAlias("fn", "live", v1.Number, v2.Number, 0.5, nil); err != nil {
		b.Fatal(err)
	}
	tg, _ := f.iv.Target("fn", "live")
	req := Request{Payload: []byte(`{}`)}
	for range 4 {
		tg.Invoke(context.Background(), req)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := tg.Invoke(context.Background(), req); err != nil || res.Failed() {
			b.Fatal(err, string(res.Payload))
		}
	}
	b.StopTimer()
}
