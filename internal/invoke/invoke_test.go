package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/logs"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/registry/registrytest"
	"github.com/sluice-dev/sluice/internal/runtime"
	"github.com/sluice-dev/sluice/internal/testutil"
)

var runtimeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-invoke-test-")
	if err != nil {
		panic(err)
	}
	runtimeDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is a registry with function "fn" published from testdata/fn, and an invoker.
type fixture struct {
	reg     *registry.Registry
	iv      *Invoker
	metrics *metrics.Store
	clock   clock.Clock
	src     string
}

func newFixture(t testing.TB, clk clock.Clock, opts Options) *fixture {
	t.Helper()
	if clk == nil {
		clk = clock.Real()
	}
	reg, _, state := registrytest.Open(t, clk)
	ls, err := logs.Open(filepath.Join(state, "logs"), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	ms := metrics.NewStore(clk)
	opts.Registry, opts.Metrics, opts.Logs, opts.Clock, opts.RuntimeDir = reg, ms, ls, clk, runtimeDir
	if opts.StopGrace == 0 {
		opts.StopGrace = 500 * time.Millisecond
	}
	iv := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := iv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	src, _ := filepath.Abs("testdata/fn")
	return &fixture{reg: reg, iv: iv, metrics: ms, clock: clk, src: src}
}

// publish publishes testdata/fn as a new version of fn (the description
// changes the config hash: each call makes a new version).
func (f *fixture) publish(t testing.TB, env map[string]string) *registry.Version {
	t.Helper()
	cfg := registry.Config{Runtime: "nodejs20.x", Handler: "handler.handler", Timeout: 10 * time.Second, MemorySize: 128, Environment: env}
	if env == nil {
		n := 0
		if fn := f.reg.Function("fn"); fn != nil {
			n = len(fn.Versions())
		}
		cfg.Environment = map[string]string{"GENERATION": string(rune('a' + n))}
	}
	v, _, err := f.reg.Publish("fn", cfg, f.src, "")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) target(t *testing.T, qualifier string) *Target {
	t.Helper()
	tg, err := f.iv.Target("fn", qualifier)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func invokeOK(t *testing.T, tg *Target, payload string) runtime.Result {
	t.Helper()
	res, err := tg.Invoke(context.Background(), Request{Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("Invoke(%s): %v", payload, err)
	}
	if res.Failed() {
		t.Fatalf("Invoke(%s) failed: %s %s", payload, res.ErrorType, res.Payload)
	}
	return res
}

func sum(t *testing.T, ms *metrics.Store, metric string, dims ...metrics.Dimension) float64 {
	t.Helper()
	now := ms.Clock().Now()
	dps, err := ms.GetMetricStatistics(metrics.Query{Namespace: metrics.NamespaceLambda, MetricName: metric, Dimensions: dims,
		Start: now.Add(-time.Hour), End: now.Add(time.Hour), Period: time.Hour, Statistics: []string{"Sum"}})
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, dp := range dps {
		total += dp.Sum
	}
	return total
}

func TestAliasRoutingDrawsEachInvocationIndependently(t *testing.T) {
	f := newFixture(t, nil, Options{})
	v1, v2 := f.publish(t, nil), f.publish(t, nil)
	if _, err := f.reg.SetAlias("fn", "live", v1.Number, v2.Number, 0.1, nil); err != nil {
		t.Fatal(err)
	}
	tg := f.target(t, "live")
	const draws = 20000
	got := 0
	for range draws {
		v, err := tg.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if v == v2 {
			got++
		}
	}
	if share := float64(got) / draws; math.Abs(share-0.1) > 0.01 {
		t.Fatalf("version 2 got %.4f of %d draws, want 0.10 ± 0.01", share, draws)
	}

	// The same through real invocations: the executed version follows the draw.
	const runs = 400
	counts := map[string]int{}
	for range runs {
		counts[invokeOK(t, tg, `{}`).ExecutedVersion]++
	}
	// Binomial(400, 0.1): mean 40, sd 6; 5 sd either side.
	if n := counts["2"]; n < 10 || n > 70 || counts["1"]+n != runs {
		t.Fatalf("executed versions over %d invocations: %v, want about 40 on version 2", runs, counts)
	}
	if got := sum(t, f.metrics, metrics.MetricInvocations, metrics.Dimension{Name: metrics.DimExecutedVersion, Value: "2"},
		metrics.Dimension{Name: metrics.DimFunctionName, Value: "fn"}, metrics.Dimension{Name: metrics.DimResource, Value: "fn:live"}); int(got) != counts["2"] {
		t.Fatalf("Invocations{Resource=fn:live, ExecutedVersion=2} = %v, want %d", got, counts["2"])
	}
}

func TestNoRequestFailsWhileWeightsChangeAndOldPoolsAreReaped(t *testing.T) {
	f := newFixture(t, nil, Options{PoolIdleTimeout: 100 * time.Millisecond})
	versions := []*registry.Version{f.publish(t, nil), f.publish(t, nil), f.publish(t, nil)}
	if _, err := f.reg.SetAlias("fn", "live", 1, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	tg := f.target(t, "live")
	// The alias walks through the three versions with every weight step, so
	// versions keep falling out of use and their pools get reaped; it moves
	// after every few completed invocations, so changes and load interleave.
	progress := make(chan struct{}, 1)
	stop := make(chan struct{})
	var changes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		steps := []float64{0.1, 0.5, 0.9, 1}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-progress:
			}
			from, to := versions[(i/len(steps))%3].Number, versions[(i/len(steps)+1)%3].Number
			var err error
			if w := steps[i%len(steps)]; w == 1 {
				_, err = f.reg.SetAlias("fn", "live", to, 0, 0, nil)
			} else {
				_, err = f.reg.SetAlias("fn", "live", from, to, w, nil)
			}
			if err != nil {
				t.Error(err)
				return
			}
			changes.Add(1)
		}
	}()
	const workers, perWorker = 4, 100
	var failed, completed atomic.Int64
	var firstErr atomic.Value
	var load sync.WaitGroup
	for range workers {
		load.Add(1)
		go func() {
			defer load.Done()
			for range perWorker {
				res, err := tg.Invoke(context.Background(), Request{Payload: []byte(`{}`)})
				if err != nil || res.Failed() {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, strings.TrimSpace(string(res.Payload))+" "+errString(err))
				}
				if completed.Add(1)%5 == 0 {
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	load.Wait()
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d invocations failed during %d weight changes; first: %v", n, workers*perWorker, changes.Load(), firstErr.Load())
	}
	if changes.Load() < 10 {
		t.Fatalf("only %d weight changes happened during the load", changes.Load())
	}
	t.Logf("%d invocations, %d weight changes, %d pools reaped", workers*perWorker, changes.Load(), f.iv.reaped.Load())
	// Park the alias on version 3: versions 1 and 2 are unused and their pools go.
	if _, err := f.reg.SetAlias("fn", "live", 3, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the pools of unused versions to be closed", func() bool {
		for _, s := range f.iv.Stats() {
			if s.Version != 3 {
				return false
			}
		}
		return true
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestThrottlingIsAnErrorAndAThrottlesDatapoint(t *testing.T) {
	f := newFixture(t, nil, Options{})
	one := 1
	f.iv.Configure("fn", Settings{ReservedConcurrency: &one})
	f.publish(t, nil)
	tg := f.target(t, "")
	release := filepath.Join(t.TempDir(), "release")
	blocked := make(chan runtime.Result)
	go func() {
		res, _ := tg.Invoke(context.Background(), Request{Payload: []byte(`{"action":"block","until":"` + release + `"}`)})
		blocked <- res
	}()
	testutil.Eventually(t, "the first invocation to be running", func() bool { return f.iv.limiter("fn").InUse() == 1 })
	if _, err := tg.Invoke(context.Background(), Request{}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("second concurrent invocation: err = %v, want ErrThrottled", err)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := <-blocked; string(res.Payload) != `"released"` {
		t.Fatalf("blocked invocation returned %s", res.Payload)
	}
	fn := metrics.Dimension{Name: metrics.DimFunctionName, Value: "fn"}
	if got := sum(t, f.metrics, metrics.MetricThrottles, fn); got != 1 {
		t.Fatalf("Throttles = %v, want 1", got)
	}
	if got := sum(t, f.metrics, metrics.MetricInvocations, fn); got != 1 {
		t.Fatalf("Invocations = %v, want 1 (a throttled attempt is not an invocation)", got)
	}
}

func TestFunctionsSeeTheEngineEndpointAndCredentials(t *testing.T) {
	f := newFixture(t, nil, Options{Environment: map[string]string{
		"AWS_ENDPOINT_URL": "http://127.0.0.1:3001", "AWS_ACCESS_KEY_ID": "sluice", "AWS_SECRET_ACCESS_KEY": "sluice",
		"AWS_SESSION_TOKEN": "sluice", "CUSTOM": "engine"}})
	f.publish(t, map[string]string{"CUSTOM": "configured"})
	res := invokeOK(t, f.target(t, ""), `{"action":"env"}`)
	var got map[string]string
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"endpoint": "http://127.0.0.1:3001", "key": "sluice", "secret": "sluice", "token": "sluice",
		"region": "us-east-1", "custom": "configured"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	f := newFixture(t, nil, Options{})
	f.publish(t, nil)
	for _, c := range []struct {
		fn, q string
		want  error
	}{
		{"nope", "", registry.ErrFunctionNotFound},
		{"fn", "7", registry.ErrVersionNotFound},
		{"fn", "Live", registry.ErrAliasNotFound},
	} {
		if _, err := f.iv.Target(c.fn, c.q); !errors.Is(err, c.want) {
			t.Errorf("Target(%s, %s) = %v, want %v", c.fn, c.q, err, c.want)
		}
	}
	tg := f.target(t, "1")
	if err := tg.Check(); err != nil {
		t.Errorf("Check (DryRun) of version 1: %v", err)
	}
	if f.iv.Stats() != nil {
		t.Errorf("a DryRun started a pool: %v", f.iv.Stats())
	}
}

func TestAsyncRetriesFailuresOnTheClock(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	fake := clock.NewFake(start)
	f := newFixture(t, fake, Options{})
	f.publish(t, nil)
	tg := f.target(t, "")
	for _, c := range []struct {
		name     string
		failures int
		retries  *int
		attempts int
		failed   bool
	}{
		{"fails twice then succeeds on the last retry", 2, nil, 3, false},
		{"fails always: three attempts", 5, nil, 3, true},
		{"no retries configured", 5, ptr(0), 1, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.iv.Configure("fn", Settings{MaximumRetryAttempts: c.retries})
			file := filepath.Join(t.TempDir(), "count")
			done := make(chan Outcome, 1)
			payload, _ := json.Marshal(map[string]any{"action": "count", "file": file, "failures": c.failures})
			id, err := tg.InvokeAsync(Request{Payload: payload}, func(o Outcome) { done <- o })
			if err != nil || len(id) != 36 {
				t.Fatalf("InvokeAsync = %q, %v", id, err)
			}
			var o Outcome
			testutil.Eventually(t, "the asynchronous invocation's outcome", func() bool {
				select {
				case o = <-done:
					return true
				default:
				}
				// A retry waits on the clock: move it past the longest
				// retry delay when one is pending.
				if fake.Pending() > 0 {
					fake.Advance(retryDelay(2))
				}
				return false
			})
			if o.Attempts != c.attempts || o.Failed() != c.failed {
				t.Fatalf("outcome: %d attempts, failed %v (%s); want %d attempts, failed %v", o.Attempts, o.Failed(), o.Result.Payload, c.attempts, c.failed)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestInvokeHookReportsTheFunctionError(t *testing.T) {
	f := newFixture(t, nil, Options{})
	f.publish(t, nil)
	zero := 0
	f.iv.Configure("fn", Settings{MaximumRetryAttempts: &zero})
	done := make(chan error, 1)
	f.iv.InvokeHook("fn", []byte(`{"action":"fail"}`), func(err error) { done <- err })
	if err := <-done; err == nil || !strings.Contains(err.Error(), "asked to fail") {
		t.Fatalf("failing hook: done(%v), want the function's error", err)
	}
	f.iv.InvokeHook("fn", []byte(`{}`), func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatalf("succeeding hook: done(%v)", err)
	}
	f.iv.InvokeHook("missing", []byte(`{}`), func(err error) { done <- err })
	if err := <-done; !errors.Is(err, registry.ErrFunctionNotFound) {
		t.Fatalf("missing hook function: done(%v)", err)
	}
}

func TestBrokenHandlerIsReportedByPrepare(t *testing.T) {
	f := newFixture(t, nil, Options{})
	v, _, err := f.reg.Publish("fn", registry.Config{Runtime: "nodejs20.x", Handler: "../outside.handler", Timeout: time.Second}, f.src, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.iv.Prepare(v); err == nil || !strings.Contains(err.Error(), "leaves the code directory") {
		t.Fatalf("Prepare = %v, want the handler path refused", err)
	}
}
