package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

func TestSeriesIdentityIsTheExactDimensionSet(t *testing.T) {
	st := NewStore(clock.NewFake(epoch))
	a, err := st.Series(SeriesID{"AWS/Lambda", "Errors", []Dimension{{"Resource", "f:live"}, {"FunctionName", "f"}}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := st.Series(SeriesID{"AWS/Lambda", "Errors", []Dimension{{"FunctionName", "f"}, {"Resource", "f:live"}}})
	c, _ := st.Series(SeriesID{"AWS/Lambda", "Errors", []Dimension{{"FunctionName", "f"}}})
	if a != b {
		t.Error("the same dimensions in another order gave another series")
	}
	if a == c {
		t.Error("a subset of the dimensions gave the same series")
	}
	if got := a.ID().String(); got != "AWS/Lambda/Errors{FunctionName=f,Resource=f:live}" {
		t.Errorf("ID = %s", got)
	}
	if n := len(st.List()); n != 2 {
		t.Errorf("List has %d series, want 2", n)
	}
}

func TestBadSeriesIDsAreRejectedWithReasons(t *testing.T) {
	st := NewStore(clock.NewFake(epoch))
	for _, c := range []struct {
		id   SeriesID
		want string
	}{
		{SeriesID{"", "Errors", nil}, "namespace is empty"},
		{SeriesID{"AWS/Lambda", "", nil}, "metric name is empty"},
		{SeriesID{"AWS/Lambda", "Errors", []Dimension{{"", "x"}}}, "has no name"},
		{SeriesID{"AWS/Lambda", "Errors", []Dimension{{"FunctionName", ""}}}, "empty value"},
		{SeriesID{"AWS/Lambda", "Errors", []Dimension{{"FunctionName", "a"}, {"FunctionName", "b"}}}, "given twice"},
		{SeriesID{"AWS/Lambda", "Errors", make([]Dimension, 31)}, "at most 30"},
	} {
		_, err := st.Series(c.id)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Series(%v) error = %v, want it to contain %q", c.id, err, c.want)
		}
	}
	s, _ := st.Series(SeriesID{"Test", "M", nil})
	if err := s.Record(nan()); err == nil {
		t.Error("recording NaN succeeded")
	}
}

func nan() float64 { var z float64; return z / z }

func TestGetMetricStatisticsReturnsAlignedPeriodsWithData(t *testing.T) {
	clk := clock.NewFake(epoch.Add(5 * time.Second))
	st := NewStore(clk)
	id := SeriesID{Namespace: "Test", MetricName: "M"}
	record := func(v float64) {
		if err := st.Put(id, v); err != nil {
			t.Fatal(err)
		}
	}
	record(1)                     // 10:00:05 → period 10:00:00
	clk.Advance(50 * time.Second) // 10:00:55
	record(3)                     // same period
	clk.Advance(2 * time.Minute)  // 10:02:55 → period 10:02:00; 10:01 has no data
	record(10)
	dps, err := st.GetMetricStatistics(Query{
		Namespace: "Test", MetricName: "M",
		Start: epoch.Add(30 * time.Second), End: epoch.Add(5 * time.Minute), Period: time.Minute,
		Statistics: []string{"Sum", "p50"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dps) != 2 {
		t.Fatalf("%d datapoints, want 2 (10:00 and 10:02): %+v", len(dps), dps)
	}
	if !dps[0].Timestamp.Equal(epoch) || dps[0].Sum != 4 || dps[0].Average != 2 || dps[0].ExtendedStatistics["p50"] != 1 {
		t.Errorf("first datapoint %+v, want 10:00:00 with Sum 4, Average 2, p50 1", dps[0])
	}
	if !dps[1].Timestamp.Equal(epoch.Add(2*time.Minute)) || dps[1].Sum != 10 {
		t.Errorf("second datapoint %+v, want 10:02:00 with Sum 10", dps[1])
	}
	dps, _ = st.GetMetricStatistics(Query{
		Namespace: "Test", MetricName: "M", Start: epoch, End: epoch.Add(5 * time.Minute), Period: 10 * time.Second,
		Statistics: []string{"SampleCount"},
	})
	if len(dps) != 3 {
		t.Errorf("10-second periods: %d datapoints, want 3", len(dps))
	}
	dps, err = st.GetMetricStatistics(Query{
		Namespace: "Test", MetricName: "Unknown", Start: epoch, End: epoch.Add(time.Minute), Period: time.Minute,
		Statistics: []string{"Sum"},
	})
	if err != nil || len(dps) != 0 {
		t.Errorf("unknown metric: %v, %v; want no datapoints and no error", dps, err)
	}
}

func TestGetMetricStatisticsRejectsBadQueries(t *testing.T) {
	st := NewStore(clock.NewFake(epoch))
	ok := Query{Namespace: "Test", MetricName: "M", Start: epoch, End: epoch.Add(time.Hour), Period: time.Minute, Statistics: []string{"Sum"}}
	for _, c := range []struct {
		edit func(*Query)
		want string
	}{
		{func(q *Query) { q.Period = 1500 * time.Millisecond }, "whole number of seconds"},
		{func(q *Query) { q.Period = 0 }, "whole number of seconds"},
		{func(q *Query) { q.End = q.Start }, "is not before end"},
		{func(q *Query) { q.Statistics = nil }, "no statistics requested"},
		{func(q *Query) { q.Statistics = []string{"Median"} }, `unknown statistic "Median"`},
		{func(q *Query) { q.Period = time.Second; q.End = epoch.Add(25 * time.Minute) }, "exceed CloudWatch's limit of 1440"},
		{func(q *Query) { q.Namespace = "" }, "namespace is empty"},
	} {
		q := ok
		c.edit(&q)
		_, err := st.GetMetricStatistics(q)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error = %v, want it to contain %q", err, c.want)
		}
	}
}

func TestRetentionDropsOldData(t *testing.T) {
	clk := clock.NewFake(epoch)
	st := NewStore(clk, WithRetention(time.Minute))
	busy, _ := st.Series(SeriesID{Namespace: "Test", MetricName: "Busy"})
	idle, _ := st.Series(SeriesID{Namespace: "Test", MetricName: "Idle"})
	_ = busy.Record(1)
	_ = idle.Record(1)
	clk.Advance(2 * time.Minute)
	_ = busy.Record(2) // recording prunes its own series
	if n := len(busy.shards[0].buckets); n != 1 {
		t.Errorf("busy series keeps %d buckets after the retention passed, want 1", n)
	}
	if n := len(idle.shards[0].buckets); n != 1 {
		t.Fatalf("idle series has %d buckets before Prune, want 1", n)
	}
	st.Prune()
	if n := len(idle.shards[0].buckets); n != 0 {
		t.Errorf("idle series keeps %d buckets after Prune, want 0", n)
	}

	st.EnsureRetention(30 * time.Second)
	if st.Retention() != time.Minute {
		t.Errorf("EnsureRetention lowered the retention to %v", st.Retention())
	}
	st.EnsureRetention(90*time.Second + time.Millisecond)
	if st.Retention() != 91*time.Second {
		t.Errorf("Retention = %v after EnsureRetention(90.001s), want 91s", st.Retention())
	}
}

// TestLateValueLandsInItsOwnSecond covers two recorders that read the clock
// in one order and took the shard lock in the other.
func TestLateValueLandsInItsOwnSecond(t *testing.T) {
	clk := clock.NewFake(epoch.Add(20 * time.Second))
	st := NewStore(clk)
	s, _ := st.Series(SeriesID{Namespace: "Test", MetricName: "M"})
	s.record(epoch.Add(20*time.Second).Unix(), 5)
	s.record(epoch.Add(5*time.Second).Unix(), 7) // older second, new bucket
	s.record(epoch.Add(20*time.Second).Unix(), 1)
	s.record(epoch.Add(5*time.Second).Unix(), 7) // older second, existing bucket
	out := make([]Value, 3)
	if err := s.Aggregate(MustParseStat("p50"), epoch, 10*time.Second, out); err != nil {
		t.Fatal(err)
	}
	if out[0].SampleCount != 2 || out[0].Value != 7 || out[1].SampleCount != 0 || out[2].SampleCount != 2 || out[2].Value != 1 {
		t.Errorf("periods = %+v, want [10:00:00 two 7s, 10:00:10 empty, 10:00:20 values 5 and 1]", out)
	}
}

func TestSubscribersAreSignalledWithoutBlockingTheRecorder(t *testing.T) {
	st := NewStore(clock.NewFake(epoch))
	s, _ := st.Series(SeriesID{Namespace: "Test", MetricName: "M"})
	c, cancel := s.Subscribe()
	for range 100 { // nobody reads: recording must not block
		_ = s.Record(1)
	}
	select {
	case <-c:
	default:
		t.Fatal("no signal after recording")
	}
	select {
	case <-c:
		t.Fatal("signals did not coalesce")
	default:
	}
	cancel()
	_ = s.Record(1)
	select {
	case <-c:
		t.Fatal("signal after cancel")
	default:
	}
}
