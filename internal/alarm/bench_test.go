package alarm

import (
	"slices"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/metrics"
)

// BenchmarkDatapointToListener measures what the deployment engine waits
// for: from recording a failed invocation to the listener hearing ALARM
// (Sum(Errors) >= 1 on FunctionName, real clock, the alarm's goroutine
// woken by the datapoint). It reports the median and 99th percentile.
func BenchmarkDatapointToListener(b *testing.B) {
	store := metrics.NewStore(clock.Real())
	ev := NewEvaluator(store, WithLogger(quiet))
	defer ev.Close()
	a, err := ev.Put(errorsAlarm("errors"))
	if err != nil {
		b.Fatal(err)
	}
	fired := make(chan struct{}, 1)
	a.Subscribe(func(c Change) {
		if c.New == StateAlarm {
			fired <- struct{}{}
		}
	})
	rec, err := store.InvocationRecorder("hello", "hello:live", "2")
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if err := ev.SetAlarmState("errors", StateOK, "reset by benchmark"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		rec.Record(metrics.Invocation{Duration: time.Millisecond, Error: true})
		<-fired
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
