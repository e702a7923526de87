package metrics

import (
	"bufio"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func formatDims(dims []Dimension) string {
	var parts []string
	for _, d := range dims {
		parts = append(parts, d.Name+"="+d.Value)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestLambdaDimensionSets(t *testing.T) {
	f, err := os.Open("testdata/lambda_dimensions.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		in, want, ok := strings.Cut(line, "=>")
		args := strings.Fields(in)
		if !ok || len(args) != 3 {
			t.Fatalf("lambda_dimensions.txt:%d: malformed", n)
		}
		want = strings.TrimSpace(want)
		sets, err := LambdaDimensionSets(dash(args[0]), dash(args[1]), dash(args[2]))
		if msg, isErr := strings.CutPrefix(want, "error:"); isErr {
			if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(msg)) {
				t.Errorf("lambda_dimensions.txt:%d: error = %v, want it to contain %q", n, err, strings.TrimSpace(msg))
			}
			continue
		}
		if err != nil {
			t.Errorf("lambda_dimensions.txt:%d: %v", n, err)
			continue
		}
		var got []string
		for _, s := range sets {
			id, err := SeriesID{Namespace: NamespaceLambda, MetricName: MetricErrors, Dimensions: s}.normalize()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, formatDims(id.Dimensions))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("lambda_dimensions.txt:%d: sets = %s, want %s", n, strings.Join(got, " "), want)
		}
	}
}

func sumOf(t *testing.T, st *Store, metric string, dims ...Dimension) Datapoint {
	t.Helper()
	dps, err := st.GetMetricStatistics(Query{
		Namespace: NamespaceLambda, MetricName: metric, Dimensions: dims,
		Start: epoch, End: epoch.Add(time.Minute), Period: time.Minute, Statistics: []string{"Sum"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dps) != 1 {
		t.Fatalf("%s%v: %d datapoints, want 1", metric, dims, len(dps))
	}
	return dps[0]
}

func TestInvocationRecorderRecordsEveryDimensionSet(t *testing.T) {
	clk := clock.NewFake(epoch)
	st := NewStore(clk)
	canary, err := st.InvocationRecorder("hello", "hello:live", "2")
	if err != nil {
		t.Fatal(err)
	}
	stable, err := st.InvocationRecorder("hello", "hello:live", "1")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := st.InvocationRecorder("hello", "hello:live", "2")
	if again != canary {
		t.Error("InvocationRecorder returned a new recorder for a known combination")
	}
	canary.Record(Invocation{Duration: 120 * time.Millisecond, Error: true, Concurrency: 2})
	clk.Advance(time.Second)
	canary.Record(Invocation{Duration: 80 * time.Millisecond, Concurrency: 1})
	stable.Record(Invocation{Duration: 10 * time.Millisecond, Concurrency: 1})
	stable.Record(Invocation{Throttled: true})

	fn := Dimension{DimFunctionName, "hello"}
	res := Dimension{DimResource, "hello:live"}
	v2 := Dimension{DimExecutedVersion, "2"}
	for _, c := range []struct {
		metric string
		dims   []Dimension
		count  float64
		sum    float64
	}{
		{MetricInvocations, nil, 3, 3},
		{MetricInvocations, []Dimension{fn}, 3, 3},
		{MetricInvocations, []Dimension{res, fn}, 3, 3},
		{MetricInvocations, []Dimension{fn, res, v2}, 2, 2},
		{MetricErrors, []Dimension{fn}, 3, 1},
		{MetricErrors, []Dimension{fn, res, v2}, 2, 1},
		{MetricErrors, []Dimension{fn, res, {DimExecutedVersion, "1"}}, 1, 0},
		{MetricThrottles, []Dimension{fn}, 4, 1},
		{MetricDuration, []Dimension{fn, res, v2}, 2, 200},
		{MetricConcurrentExecutions, []Dimension{fn}, 3, 4},
	} {
		dp := sumOf(t, st, c.metric, c.dims...)
		if dp.SampleCount != c.count || dp.Sum != c.sum {
			t.Errorf("%s%v: SampleCount %v Sum %v, want %v and %v", c.metric, c.dims, dp.SampleCount, dp.Sum, c.count, c.sum)
		}
	}
}

func TestInvocationRecorderConcurrentRecordsAreAllCounted(t *testing.T) {
	st := NewStore(clock.NewFake(epoch))
	rec, err := st.InvocationRecorder("hello", "hello:live", "1")
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 2000
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range each {
				rec.Record(Invocation{Duration: time.Duration(i) * time.Microsecond, Error: i%10 == 0})
			}
		})
	}
	wg.Wait()
	dp := sumOf(t, st, MetricErrors, Dimension{DimFunctionName, "hello"})
	if dp.SampleCount != workers*each || dp.Sum != workers*each/10 {
		t.Errorf("Errors: SampleCount %v Sum %v, want %d and %d", dp.SampleCount, dp.Sum, workers*each, workers*each/10)
	}
}
