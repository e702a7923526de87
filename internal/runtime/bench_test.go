package runtime

import (
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Warm invocations through Pool.Invoke with a trivial handler, serial and
// parallel (b.RunParallel: GOMAXPROCS goroutines, one environment each),
// with logging on as in production. The serial runs also report the CPU
// time per invocation of sluice itself (go-cpu-µs/op) and of the function's
// process (fn-cpu-µs/op): what the Go side costs, apart from the runtime.
func BenchmarkInvokeNodeWarm(b *testing.B) {
	benchmarkWarm(b, "nodejs20.x", "node", "handlers.echo", `{"ping":1}`)
}

func BenchmarkInvokePythonWarm(b *testing.B) {
	benchmarkWarm(b, "python3.11", "python", "handlers.echo", `{"ping":1}`)
}

func BenchmarkInvokeGoWarm(b *testing.B) {
	benchmarkWarm(b, "provided.al2023", "go", "", `{"action":"echo","value":1}`)
}

func benchmarkWarm(b *testing.B, runtimeID, code, handler, event string) {
	payload := []byte(event)
	check := func(b *testing.B, res Result, err error) {
		if err != nil || res.Failed() {
			b.Fatalf("invoke: %v %s", err, res.Payload)
		}
	}
	b.Run("serial", func(b *testing.B) {
		p := newPool(b, spec(b, runtimeID, code, handler), Options{})
		ctx := context.Background()
		res, err := p.Invoke(ctx, Invocation{Payload: payload})
		check(b, res, err)
		pid := 0
		for e := range p.live {
			pid = e.pid
		}
		goCPU, fnCPU := selfCPU(), procCPU(pid)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			res, err := p.Invoke(ctx, Invocation{Payload: payload})
			check(b, res, err)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inv/s")
		b.ReportMetric(float64((selfCPU()-goCPU)/time.Microsecond)/float64(b.N), "go-cpu-µs/op")
		b.ReportMetric(float64((procCPU(pid)-fnCPU)/time.Microsecond)/float64(b.N), "fn-cpu-µs/op")
	})
	b.Run("parallel", func(b *testing.B) {
		p := newPool(b, spec(b, runtimeID, code, handler), Options{})
		ctx := context.Background()
		// Warm one environment per goroutine RunParallel will use.
		var wg sync.WaitGroup
		for range goruntime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := p.Invoke(ctx, Invocation{Payload: payload})
				check(b, res, err)
			}()
		}
		wg.Wait()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res, err := p.Invoke(ctx, Invocation{Payload: payload})
				if err != nil || res.Failed() {
					b.Errorf("invoke: %v %s", err, res.Payload)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inv/s")
	})
}

// BenchmarkColdStart measures starting an environment and running one
// invocation in it, per runtime family.
func BenchmarkColdStart(b *testing.B) {
	for _, f := range families {
		b.Run(f.name, func(b *testing.B) {
			p := newPool(b, spec(b, f.runtime, f.code, f.handler), Options{})
			var initTotal time.Duration
			for b.Loop() {
				p.mu.Lock()
				idle := p.idle
				p.idle = nil
				p.mu.Unlock()
				for _, e := range idle {
					p.discard(e)
				}
				res, err := p.Invoke(context.Background(), Invocation{Payload: []byte(`{"action":"pid"}`)})
				if err != nil || res.Failed() || !res.ColdStart {
					b.Fatalf("invoke: %v %s cold=%v", err, res.Payload, res.ColdStart)
				}
				initTotal += res.InitDuration
			}
			b.ReportMetric(float64(initTotal/time.Microsecond)/1000/float64(b.N), "init-ms/op")
		})
	}
}

// selfCPU is the CPU time (user+system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
}

// procCPU is the CPU time another process has used, from /proc/<pid>/stat
// (utime and stime, in clock ticks of 10ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
