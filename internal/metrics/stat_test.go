package metrics

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

var epoch = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// statCase is one expectation of testdata/stats.txt.
type statCase struct {
	line   int
	values []float64
	stat   string
	want   string // a number, "none", or for errors the message fragment
	isErr  bool
}

func readStatCases(t *testing.T) []statCase {
	t.Helper()
	f, err := os.Open("testdata/stats.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []statCase
	var values []float64
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch fields[0] {
		case "values":
			values = nil
			for _, s := range fields[1:] {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatalf("stats.txt:%d: %v", n, err)
				}
				values = append(values, v)
			}
		case "error":
			cases = append(cases, statCase{line: n, stat: fields[1], want: strings.Join(fields[2:], " "), isErr: true})
		default:
			if len(fields) != 2 {
				t.Fatalf("stats.txt:%d: want <statistic> <expected>", n)
			}
			cases = append(cases, statCase{line: n, values: values, stat: fields[0], want: fields[1]})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestStatistics checks every statistic of testdata/stats.txt through the
// public query API, with the datapoints in one second and spread over a
// period's seconds, so bucket merging is exercised too.
func TestStatistics(t *testing.T) {
	for _, c := range readStatCases(t) {
		if c.isErr {
			_, err := ParseStat(c.stat)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("stats.txt:%d: ParseStat(%q) error = %v, want it to contain %q", c.line, c.stat, err, c.want)
			}
			continue
		}
		for _, spread := range []bool{false, true} {
			got, ok := statOf(t, c.values, c.stat, spread)
			if c.want == "none" {
				if ok {
					t.Errorf("stats.txt:%d: %s of %v = %v, want no value", c.line, c.stat, c.values, got)
				}
				continue
			}
			want, err := strconv.ParseFloat(c.want, 64)
			if err != nil {
				t.Fatalf("stats.txt:%d: %v", c.line, err)
			}
			if !ok || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("stats.txt:%d: %s of %v (spread=%v) = %v (ok=%v), want %v", c.line, c.stat, c.values, spread, got, ok, want)
			}
		}
	}
}

// statOf records values into a fresh store and asks for stat over one minute.
func statOf(t *testing.T, values []float64, stat string, spread bool) (float64, bool) {
	t.Helper()
	clk := clock.NewFake(epoch)
	st := NewStore(clk)
	id := SeriesID{Namespace: "Test", MetricName: "M"}
	for i, v := range values {
		if spread && i > 0 {
			clk.Advance(time.Duration(60/len(values)) * time.Second)
		}
		if err := st.Put(id, v); err != nil {
			t.Fatal(err)
		}
	}
	dps, err := st.GetMetricStatistics(Query{
		Namespace: "Test", MetricName: "M",
		Start: epoch, End: epoch.Add(time.Minute), Period: time.Minute,
		Statistics: []string{stat},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dps) != 1 {
		t.Fatalf("%d datapoints, want 1", len(dps))
	}
	dp := dps[0]
	switch stat {
	case "SampleCount":
		return dp.SampleCount, true
	case "Sum":
		return dp.Sum, true
	case "Average":
		return dp.Average, true
	case "Minimum":
		return dp.Minimum, true
	case "Maximum":
		return dp.Maximum, true
	}
	v, ok := dp.ExtendedStatistics[stat]
	return v, ok
}

func TestStatStringRoundTrips(t *testing.T) {
	for _, s := range []string{"Sum", "p99.9", "tm90", "TM(10%:90%)", "PR(:300)", "IQM"} {
		st := MustParseStat(s)
		if st.String() != s {
			t.Errorf("ParseStat(%q).String() = %q", s, st.String())
		}
	}
	if Sum.Extended() || !MustParseStat("p50").Extended() {
		t.Error("Extended() is wrong for Sum or p50")
	}
}

// TestQuantizedPercentilesStayAccurate records more distinct values in one
// second than a bucket keeps exactly: counts and sums stay exact and
// percentiles stay within the quantization's relative accuracy.
func TestQuantizedPercentilesStayAccurate(t *testing.T) {
	clk := clock.NewFake(epoch)
	st := NewStore(clk)
	s, err := st.Series(SeriesID{Namespace: NamespaceLambda, MetricName: MetricDuration})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	var sum float64
	for i := 1; i <= n; i++ {
		v := float64(i) * 0.37 // 0.37 ms … 1850 ms
		sum += v
		if err := s.Record(v); err != nil {
			t.Fatal(err)
		}
	}
	sh := &s.shards[0]
	s.group.locks[0].Lock()
	sh.flush()
	distinct := len(sh.buckets[0].vals)
	s.group.unlock(0)
	if distinct > 2*maxDistinct {
		t.Errorf("bucket keeps %d distinct values for %d datapoints, want a bounded number", distinct, n)
	}
	dps, err := st.GetMetricStatistics(Query{
		Namespace: NamespaceLambda, MetricName: MetricDuration,
		Start: epoch, End: epoch.Add(time.Minute), Period: time.Minute,
		Statistics: []string{"Sum", "p50", "p99", "tm90"},
	})
	if err != nil {
		t.Fatal(err)
	}
	dp := dps[0]
	if dp.SampleCount != n || math.Abs(dp.Sum-sum) > 1e-6 || dp.Minimum != 0.37 || dp.Maximum != n*0.37 {
		t.Errorf("aggregates = %+v, want exact count %d, sum %v, min 0.37, max %v", dp, n, sum, n*0.37)
	}
	for stat, want := range map[string]float64{"p50": 2500 * 0.37, "p99": 4950 * 0.37, "tm90": 2250.5 * 0.37} {
		got := dp.ExtendedStatistics[stat]
		if math.Abs(got-want)/want > 2*quantAlpha {
			t.Errorf("%s = %v, want %v within %.1f%%", stat, got, want, 200*quantAlpha)
		}
	}
}
