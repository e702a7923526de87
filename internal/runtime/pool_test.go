package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// The three runtime families, each with a handler that does what the event
// says ({"action": …}).
var families = []struct {
	name, runtime, code, handler string
}{
	{"node", "nodejs20.x", "node", "handlers.act"},
	{"python", "python3.11", "python", "handlers.act"},
	{"go", "provided.al2023", "go", ""},
}

func TestWarmEnvironmentIsReused(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, spec(t, f.runtime, f.code, f.handler), Options{})
			first := invokeOK(t, p, `{"action":"pid"}`)
			if !first.ColdStart || first.InitDuration <= 0 {
				t.Fatalf("first invocation: cold %v init %v, want a cold start with an init duration", first.ColdStart, first.InitDuration)
			}
			pid := decode[int](t, first.Payload)
			for range 3 {
				res := invokeOK(t, p, `{"action":"pid"}`)
				if res.ColdStart || res.InitDuration != 0 {
					t.Fatalf("warm invocation reported a cold start: %+v", res)
				}
				if got := decode[int](t, res.Payload); got != pid {
					t.Fatalf("warm invocation ran in pid %d, want the first environment's %d", got, pid)
				}
				if res.LogStream != first.LogStream {
					t.Fatalf("warm invocation logged to %s, want %s", res.LogStream, first.LogStream)
				}
			}
			if st := p.Stats(); st.ColdStarts != 1 || st.Invocations != 4 || st.Environments != 1 || st.Idle != 1 {
				t.Fatalf("stats %+v, want 1 cold start, 4 invocations, 1 idle environment", st)
			}
			if first.MaxMemoryUsedMB <= 0 || first.MemorySizeMB != DefaultMemoryMB {
				t.Fatalf("memory: used %d MB of %d MB", first.MaxMemoryUsedMB, first.MemorySizeMB)
			}
			if first.BilledDuration < first.Duration+first.InitDuration || first.BilledDuration%time.Millisecond != 0 {
				t.Fatalf("billed %v for a %v invocation after %v of init: want whole ms covering both",
					first.BilledDuration, first.Duration, first.InitDuration)
			}
		})
	}
}

var timeoutRE = regexp.MustCompile(`^\{"errorMessage":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ([0-9a-f-]{36}) Task timed out after 0\.30 seconds"\}$`)

func TestTimeoutKillsTheProcessAndTheNextInvocationGetsANewOne(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			s := spec(t, f.runtime, f.code, f.handler)
			s.Timeout = 300 * time.Millisecond
			p := newPool(t, s, Options{})
			pid := decode[int](t, invokeOK(t, p, `{"action":"pid"}`).Payload)

			res := invoke(t, p, `{"action":"hang"}`)
			m := timeoutRE.FindSubmatch(res.Payload)
			if m == nil || string(m[1]) != res.RequestID {
				t.Fatalf("timeout payload %s, want Lambda's \"<time> %s Task timed out after 0.30 seconds\"", res.Payload, res.RequestID)
			}
			if res.FunctionError != FunctionErrorUnhandled || res.ErrorType != ErrorTypeTimeout {
				t.Fatalf("timeout reported as %q/%q", res.FunctionError, res.ErrorType)
			}
			if res.Duration < s.Timeout {
				t.Fatalf("timed out after %v, before the %v timeout", res.Duration, s.Timeout)
			}
			testutil.Eventually(t, "the timed-out process to be killed", func() bool { return processGone(pid) })

			next := invokeOK(t, p, `{"action":"pid"}`)
			if !next.ColdStart || decode[int](t, next.Payload) == pid {
				t.Fatalf("after a timeout: cold %v pid %s, want a new environment", next.ColdStart, next.Payload)
			}
		})
	}
}

func TestCrashIsAnExitErrorAndThePoolKeepsServing(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, spec(t, f.runtime, f.code, f.handler), Options{})
			pid := decode[int](t, invokeOK(t, p, `{"action":"pid"}`).Payload)
			res := invoke(t, p, `{"action":"crash"}`)
			want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + res.RequestID + ` Error: Runtime exited with error: exit status 1"}`
			if string(res.Payload) != want || res.ErrorType != ErrorTypeExit {
				t.Fatalf("crash result %s (%s), want %s", res.Payload, res.ErrorType, want)
			}
			next := invokeOK(t, p, `{"action":"pid"}`)
			if !next.ColdStart || decode[int](t, next.Payload) == pid {
				t.Fatalf("after a crash: cold %v pid %s, want a new environment", next.ColdStart, next.Payload)
			}
		})
	}
}

func TestEnvironmentThatDiesWhileIdleIsReplacedTransparently(t *testing.T) {
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.act"), Options{})
	pid := decode[int](t, invokeOK(t, p, `{"action":"exitAfterResponse"}`).Payload)
	testutil.Eventually(t, "the environment to exit after answering", func() bool { return processGone(pid) })
	res := invokeOK(t, p, `{"action":"pid"}`)
	if !res.ColdStart || decode[int](t, res.Payload) == pid {
		t.Fatalf("got %s cold=%v, want a fresh environment", res.Payload, res.ColdStart)
	}
}

// gate is an HTTP endpoint handlers call to block until the test opens it.
type gate struct {
	srv     *httptest.Server
	arrived chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{arrived: make(chan struct{}, 100), open: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived <- struct{}{}
		<-g.open
	}))
	t.Cleanup(func() {
		g.release()
		g.srv.Close()
	})
	return g
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// await waits until n handlers are blocked at the gate.
func (g *gate) await(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-g.arrived:
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of %d invocations reached the gate", i, n)
		}
	}
}

func (g *gate) event() string { return fmt.Sprintf(`{"action":"wait","url":%q}`, g.srv.URL) }

func TestParallelInvocationsGetOneEnvironmentEach(t *testing.T) {
	const n = 4
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.act"), Options{})
	g := newGate(t)
	results := make(chan Result, n)
	for range n {
		go func() {
			res, err := p.Invoke(context.Background(), Invocation{Payload: []byte(g.event())})
			if err != nil {
				t.Error(err)
			}
			results <- res
		}()
	}
	g.await(t, n) // all n are running at once
	if st := p.Stats(); st.Environments != n || st.Idle != 0 {
		t.Fatalf("with %d invocations in flight: %+v", n, st)
	}
	g.release()
	pids := map[int]bool{}
	for range n {
		res := <-results
		if res.Failed() {
			t.Fatalf("invocation failed: %s", res.Payload)
		}
		pids[decode[int](t, res.Payload)] = true
	}
	if len(pids) != n {
		t.Fatalf("%d parallel invocations ran in %d processes, want %d", n, len(pids), n)
	}
	if st := p.Stats(); st.Idle != n {
		t.Fatalf("after they finished: %+v, want %d idle", st, n)
	}
}

func TestLimiterIsSharedByTheVersionsOfAFunction(t *testing.T) {
	lim := NewLimiter(1)
	v1 := newPool(t, spec(t, "nodejs20.x", "node", "handlers.act"), Options{Limiter: lim})
	s2 := spec(t, "nodejs20.x", "node", "handlers.act")
	s2.Version = "2"
	v2 := newPool(t, s2, Options{Limiter: lim})
	g := newGate(t)
	done := make(chan Result)
	go func() {
		res, _ := v1.Invoke(context.Background(), Invocation{Payload: []byte(g.event())})
		done <- res
	}()
	g.await(t, 1)
	if _, err := v2.Invoke(context.Background(), Invocation{}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("second concurrent invocation of the function: %v, want ErrThrottled", err)
	}
	if st := v2.Stats(); st.Throttles != 1 || st.Invocations != 0 {
		t.Fatalf("throttled pool stats %+v", st)
	}
	g.release()
	if res := <-done; res.Failed() {
		t.Fatalf("gated invocation failed: %s", res.Payload)
	}
	invokeOK(t, v2, `{"action":"pid"}`)
	if lim.InUse() != 0 {
		t.Fatalf("limiter holds %d slots after all invocations ended", lim.InUse())
	}
	if _, err := newPool(t, s2, Options{Limiter: NewLimiter(0)}).Invoke(context.Background(), Invocation{}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("reserved concurrency 0: %v, want ErrThrottled", err)
	}
}

func TestCloseDrainsInFlightInvocations(t *testing.T) {
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.act"), Options{})
	g := newGate(t)
	done := make(chan Result)
	go func() {
		res, err := p.Invoke(context.Background(), Invocation{Payload: []byte(g.event())})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	g.await(t, 1)
	closed := make(chan error)
	go func() { closed <- p.Close(context.Background()) }()
	// Close has begun once new invocations are refused.
	testutil.Eventually(t, "Close to refuse new invocations", func() bool {
		_, err := p.Invoke(context.Background(), Invocation{})
		return errors.Is(err, ErrPoolClosed)
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while an invocation was in flight", err)
	default:
	}
	g.release()
	res := <-done
	if res.Failed() {
		t.Fatalf("in-flight invocation was not allowed to finish: %s", res.Payload)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if pid := decode[int](t, res.Payload); !processGone(pid) {
		t.Fatalf("process %d still running after Close", pid)
	}
	if st := p.Stats(); st.Environments != 0 {
		t.Fatalf("stats after Close: %+v", st)
	}
}

func TestCloseGivesUpOnInFlightWorkWhenItsContextEnds(t *testing.T) {
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.act"), Options{})
	g := newGate(t)
	done := make(chan Result)
	go func() {
		res, _ := p.Invoke(context.Background(), Invocation{Payload: []byte(g.event())})
		done <- res
	}()
	g.await(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with a cancelled context: %v", err)
	}
	res := <-done
	if res.ErrorType != ErrorTypeExit || !strings.Contains(string(res.Payload), "signal: killed") {
		t.Fatalf("killed invocation: %s %s", res.ErrorType, res.Payload)
	}
}

func TestIdleEnvironmentsAreReaped(t *testing.T) {
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.act"), Options{IdleTimeout: 50 * time.Millisecond})
	pid := decode[int](t, invokeOK(t, p, `{"action":"pid"}`).Payload)
	testutil.Eventually(t, "the idle environment to be stopped", func() bool { return p.Stats().Environments == 0 })
	if !processGone(pid) {
		t.Fatalf("reaped environment's process %d still runs", pid)
	}
	if res := invokeOK(t, p, `{"action":"pid"}`); !res.ColdStart {
		t.Fatal("invocation after reaping was not a cold start")
	}
}

func TestInitTimeout(t *testing.T) {
	p := newPool(t, spec(t, "nodejs20.x", "node", "slowinit.handler"), Options{InitTimeout: 200 * time.Millisecond})
	res := invoke(t, p, `{}`)
	if res.ErrorType != ErrorTypeTimeout || !strings.Contains(string(res.Payload), "Task timed out after 0.20 seconds") {
		t.Fatalf("init timeout result: %s %s", res.ErrorType, res.Payload)
	}
}

// lambdaEnvKeys is every variable a function sees (besides Spec.Environment).
var lambdaEnvKeys = []string{
	"AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_NAME",
	"AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
	"AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_RUNTIME_API", "AWS_REGION", "LAMBDA_RUNTIME_DIR",
	"LAMBDA_TASK_ROOT", "LANG", "LD_LIBRARY_PATH", "PATH", "TZ", "_HANDLER", "_X_AMZN_TRACE_ID",
}

func TestFunctionsSeeLambdasEnvironmentAndNothingOfOurs(t *testing.T) {
	t.Setenv("SLUICE_TEST_CANARY", "must not leak")
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			s := spec(t, f.runtime, f.code, f.handler)
			s.Environment = map[string]string{"TABLE": "orders", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}
			s.MemoryMB = 512
			p := newPool(t, s, Options{})
			res := invokeOK(t, p, `{"action":"env"}`)
			env := map[string]string{}
			if f.name == "go" {
				for _, kv := range decode[struct{ Env []string }](t, res.Payload).Env {
					k, v, _ := strings.Cut(kv, "=")
					env[k] = v
				}
			} else {
				got := decode[struct {
					Env map[string]string
					Cwd string
				}](t, res.Payload)
				env = got.Env
				if got.Cwd != s.CodeDir {
					t.Errorf("working directory %s, want the code directory %s", got.Cwd, s.CodeDir)
				}
			}
			if v, ok := env["SLUICE_TEST_CANARY"]; ok {
				t.Fatalf("sluice's own environment leaked into the function: SLUICE_TEST_CANARY=%s", v)
			}
			want := append(slices.Clone(lambdaEnvKeys), "TABLE", "AWS_ENDPOINT_URL")
			switch f.name {
			case "node":
				want = append(want, "AWS_EXECUTION_ENV", "NODE_PATH")
			case "python":
				want = append(want, "AWS_EXECUTION_ENV", "PYTHONPYCACHEPREFIX") // bytecode kept out of the code snapshot
			}
			var got []string
			for k := range env {
				if f.name == "python" && k == "LC_CTYPE" {
					continue // Python's own locale coercion (PEP 538) when en_US.UTF-8 is not installed
				}
				got = append(got, k)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("variables\n  %v\nwant exactly\n  %v", got, want)
			}
			checks := map[string]string{
				"AWS_LAMBDA_FUNCTION_NAME":        "fn",
				"AWS_LAMBDA_FUNCTION_VERSION":     "1",
				"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
				"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/fn",
				"AWS_LAMBDA_LOG_STREAM_NAME":      res.LogStream,
				"AWS_REGION":                      "us-east-1",
				"AWS_DEFAULT_REGION":              "us-east-1",
				"LAMBDA_TASK_ROOT":                s.CodeDir,
				"TZ":                              ":UTC",
				"LANG":                            "en_US.UTF-8",
				"TABLE":                           "orders",
				"AWS_ENDPOINT_URL":                "http://127.0.0.1:4566",
				"_HANDLER":                        s.Handler,
			}
			if f.name != "go" {
				checks["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + s.Runtime
			}
			for k, v := range checks {
				if env[k] != v {
					t.Errorf("%s=%q, want %q", k, env[k], v)
				}
			}
			// sluice's bootstraps get a private Unix socket, custom runtimes host:port.
			endpoint := `^/.*/sluice-env-[^/]+/runtime\.sock$`
			if f.name == "go" {
				endpoint = `^127\.0\.0\.1:\d+$`
			}
			if !regexp.MustCompile(endpoint).MatchString(env["AWS_LAMBDA_RUNTIME_API"]) {
				t.Errorf("AWS_LAMBDA_RUNTIME_API=%q", env["AWS_LAMBDA_RUNTIME_API"])
			}
			if !strings.HasSuffix(env["PATH"], lambdaPath) {
				t.Errorf("PATH=%q, want Lambda's %s at its end", env["PATH"], lambdaPath)
			}
		})
	}
}

func TestContextCarriesTheInvocation(t *testing.T) {
	cases := []struct{ family, runtime, code, handler, event string }{
		{"node", "nodejs20.x", "node", "handlers.context", `{}`},
		{"python", "python3.11", "python", "handlers.context_fields", `{}`},
		{"go", "provided.al2023", "go", "", `{"action":"context"}`},
	}
	for _, c := range cases {
		t.Run(c.family, func(t *testing.T) {
			t.Parallel()
			s := spec(t, c.runtime, c.code, c.handler)
			s.Version = "7"
			s.Timeout = 42 * time.Second
			s.Region = "eu-west-1"
			s.Account = "123456789012"
			p := newPool(t, s, Options{})
			inv := Invocation{
				RequestID:          "11111111-2222-4333-8444-555555555555",
				Payload:            []byte(c.event),
				InvokedFunctionARN: "arn:aws:lambda:eu-west-1:123456789012:function:fn:live",
				TraceID:            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
				ClientContext:      `{"client":{"app_title":"shop"},"custom":{"tenant":"acme"},"env":{}}`,
			}
			res, err := p.Invoke(context.Background(), inv)
			if err != nil || res.Failed() {
				t.Fatalf("Invoke: %v %s", err, res.Payload)
			}
			got := decode[map[string]any](t, res.Payload)
			want := map[string]any{
				"functionName":       "fn",
				"functionVersion":    "7",
				"invokedFunctionArn": inv.InvokedFunctionARN,
				"awsRequestId":       inv.RequestID,
				"logGroupName":       "/aws/lambda/fn",
				"logStreamName":      res.LogStream,
				"traceId":            inv.TraceID,
			}
			if c.family == "go" {
				want["memoryLimitInMB"] = float64(128) // lambdacontext parses it
			} else {
				want["memoryLimitInMB"] = "128" // a string in Node.js and Python, as on Lambda
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			remaining, _ := got["remainingMs"].(float64)
			if remaining <= 30_000 || remaining > 42_000 {
				t.Errorf("remaining time %v ms, want a little under the 42 s timeout", remaining)
			}
			if c.family == "node" {
				if got["callbackWaitsForEmptyEventLoop"] != true {
					t.Errorf("callbackWaitsForEmptyEventLoop = %v", got["callbackWaitsForEmptyEventLoop"])
				}
				cc, _ := got["clientContext"].(map[string]any)
				if custom, _ := cc["custom"].(map[string]any); custom["tenant"] != "acme" {
					t.Errorf("clientContext = %v", got["clientContext"])
				}
			} else if custom, _ := got["clientCustom"].(map[string]any); custom["tenant"] != "acme" {
				t.Errorf("client context custom = %v", got["clientCustom"])
			}
			if s.ARN() != "arn:aws:lambda:eu-west-1:123456789012:function:fn:7" {
				t.Errorf("version ARN %s", s.ARN())
			}
		})
	}
}

func TestSpecErrorsSayWhatIsWrong(t *testing.T) {
	outside := t.TempDir()
	for _, name := range []string{"evil.js", "evil.py"} {
		if err := os.WriteFile(filepath.Join(outside, name), []byte("// not yours\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "evil.js"), filepath.Join(code, "app.js")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(code, "lib")); err != nil {
		t.Fatal(err)
	}
	good := Spec{Function: "fn", Version: "1", Runtime: "nodejs20.x", Handler: "index.handler", CodeDir: code}
	cases := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"dot-dot", func(s *Spec) { s.Handler = "../outside/app.handler" }, "leaves the code directory"},
		{"absolute handler", func(s *Spec) { s.Handler = "/etc/passwd.handler" }, "leaves the code directory"},
		{"symlinked file", func(s *Spec) { s.Handler = "app.handler" }, "outside the code directory"},
		{"symlinked dir", func(s *Spec) { s.Handler = "lib/evil.handler" }, "outside the code directory"},
		{"python symlinked dir", func(s *Spec) { s.Runtime, s.Handler = "python3.12", "lib/evil.handler" }, "outside the code directory"},
		{"empty handler", func(s *Spec) { s.Handler = "" }, "handler is empty"},
		{"runtime", func(s *Spec) { s.Runtime = "java21" }, `unsupported runtime "java21"`},
		{"relative code dir", func(s *Spec) { s.CodeDir = "code" }, "must be an absolute path"},
		{"missing code dir", func(s *Spec) { s.CodeDir = filepath.Join(code, "nope") }, "no such file or directory"},
		{"version", func(s *Spec) { s.Version = "v1" }, "must be $LATEST or a positive number"},
		{"name", func(s *Spec) { s.Function = "a b" }, "must be 1-64 letters"},
		{"memory", func(s *Spec) { s.MemoryMB = 64 }, "outside Lambda's 128-10240 MB"},
		{"timeout", func(s *Spec) { s.Timeout = time.Hour }, "outside Lambda's 1-900 seconds"},
		{"reserved env", func(s *Spec) { s.Environment = map[string]string{"AWS_REGION": "x"} }, "AWS_REGION is reserved"},
		{"bad env name", func(s *Spec) { s.Environment = map[string]string{"1X": "x"} }, `"1X" must start with a letter`},
	}
	for _, c := range cases {
		s := good
		c.change(&s)
		_, err := NewPool(s, Options{RuntimeDir: testRuntimeDir})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := NewPool(good, Options{RuntimeDir: testRuntimeDir}); err != nil {
		t.Fatalf("the valid spec was rejected: %v", err)
	}
}

// Runtimes differ in how they use their connections to the Runtime API;
// every style must keep working, warm, invocation after invocation.
func TestRuntimesThatUseTheirConnectionsDifferently(t *testing.T) {
	cases := []struct{ name, code, handler, mode string }{
		{"curl per request (AWS tutorial)", "bash", "function.handler", ""},
		{"new connection per request", "pyclient", "", "reconnect"},
		{"results on other connections", "pyclient", "", "split"},
		{"expect 100-continue", "pyclient", "", "expect"},
	}
	pad := strings.Repeat("x", 3000) // big enough for curl to ask "Expect: 100-continue"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := spec(t, "provided.al2023", c.code, c.handler)
			s.Environment = map[string]string{"MODE": c.mode}
			p := newPool(t, s, Options{})
			pid := 0
			for i := range 3 {
				res := invokeOK(t, p, fmt.Sprintf(`{"i":%d,"pad":%q}`, i, pad))
				got := decode[struct {
					Pid  int
					Echo struct {
						I   int
						Pad string
					}
				}](t, res.Payload)
				if got.Echo.I != i || got.Echo.Pad != pad {
					t.Fatalf("invocation %d answered %.80s…", i, res.Payload)
				}
				if i > 0 && got.Pid != pid {
					t.Fatalf("invocation %d ran in pid %d, not the warm %d", i, got.Pid, pid)
				}
				pid = got.Pid
			}
			if st := p.Stats(); st.ColdStarts != 1 {
				t.Fatalf("stats %+v: want every invocation on the one environment", st)
			}
		})
	}
}

func TestPoolWithoutLogStoreDiscardsOutput(t *testing.T) {
	p, err := NewPool(spec(t, "nodejs20.x", "node", "handlers.act"), Options{RuntimeDir: testRuntimeDir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	if res := invokeOK(t, p, `{"action":"log"}`); string(res.Payload) != `"logged"` {
		t.Fatalf("payload %s", res.Payload)
	}
}

func TestCloseKillsWhatIgnoresSIGTERMAfterTheGrace(t *testing.T) {
	const grace = 200 * time.Millisecond
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.act"), Options{StopGrace: grace})
	pid := decode[int](t, invokeOK(t, p, `{"action":"ignoreSigterm"}`).Payload)
	start := time.Now()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !processGone(pid) {
		t.Fatalf("process %d survived Close", pid)
	}
	if took := time.Since(start); took < grace {
		t.Fatalf("Close took %v: it cannot have waited the %v grace after SIGTERM", took, grace)
	}
}
