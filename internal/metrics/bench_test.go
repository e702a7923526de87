package metrics

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// BenchmarkRecordInvocation measures the per-invocation cost on the request
// path: 5 metrics under 4 dimension sets (20 series) through a resolved
// recorder, on a real clock so buckets roll over as in `sluice serve`.
func BenchmarkRecordInvocation(b *testing.B) {
	st := NewStore(clock.Real())
	rec, err := st.InvocationRecorder("hello", "hello:live", "2")
	if err != nil {
		b.Fatal(err)
	}
	inv := Invocation{Duration: 42 * time.Millisecond, Concurrency: 1}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		inv.Error = i%50 == 0
		inv.Duration = time.Duration(i%1000) * time.Millisecond
		rec.Record(inv)
	}
}

// BenchmarkRecordInvocationParallel records from every P at once into the
// same function, the worst case for contention (the account-wide and
// FunctionName series are shared by all of them).
func BenchmarkRecordInvocationParallel(b *testing.B) {
	st := NewStore(clock.Real())
	rec, err := st.InvocationRecorder("hello", "hello:live", "2")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		inv := Invocation{Concurrency: 1}
		for i := 0; pb.Next(); i++ {
			inv.Error = i%50 == 0
			inv.Duration = time.Duration(i%1000) * time.Millisecond
			rec.Record(inv)
		}
	})
}

// BenchmarkSeriesRecord is one datapoint into one series.
func BenchmarkSeriesRecord(b *testing.B) {
	st := NewStore(clock.Real())
	s, _ := st.Series(SeriesID{Namespace: NamespaceLambda, MetricName: MetricErrors})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = s.Record(float64(i & 1))
	}
}
