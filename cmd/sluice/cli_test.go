package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/engine"
)

// cli runs sluice in this process, as main does, with args; ctx bounds it.
func cli(ctx context.Context, args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return result{stdout.String(), stderr.String(), code}
}

func cliT(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return cli(ctx, args...)
}

// orders copies examples/orders to a temporary directory and returns its
// serverless.yml.
func orders(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, "../../examples/orders", dir)
	return filepath.Join(dir, "serverless.yml")
}

// serveOrders runs an engine on a copy of examples/orders in this process,
// its clock 600 times faster (a 10-minute Linear deployment takes a second).
func serveOrders(t *testing.T) (cfg string) {
	t.Helper()
	return serveOrdersAt(t, 600)
}

// serveOrdersAt is serveOrders with the clock scale given.
func serveOrdersAt(t *testing.T, scale float64) (cfg string) {
	t.Helper()
	cfg = orders(t)
	e, err := engine.Start(engine.Options{Config: cfg, Addr: engine.AnyLoopbackAddr, APIAddr: engine.AnyLoopbackAddr, TimeScale: scale, Out: io.Discard,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return cfg
}

// editAPI changes the api function's code; broken makes GET /orders fail,
// which the pre-traffic hook notices.
func editAPI(t *testing.T, cfg, note string, broken bool) {
	t.Helper()
	path := filepath.Join(filepath.Dir(cfg), "src", "api.js")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := regexp.MustCompile(`const VERSION_NOTE = '[^']*';`).ReplaceAllString(string(b), "const VERSION_NOTE = '"+note+"';")
	if broken {
		src = strings.Replace(src, "exports.handler = async (event) => {", "exports.handler = async (event) => {\n  throw new Error('broken on purpose');", 1)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// records reads a json stream of deploy.
func records(t *testing.T, s string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not one JSON object per line: %v\n%s", err, s)
		}
		recs = append(recs, r)
	}
	return recs
}

func TestEveryDataCommandRejectsAnUnknownOutput(t *testing.T) {
	cfg := orders(t)
	for _, args := range [][]string{
		{"status"}, {"plan"}, {"history"}, {"deploy"}, {"validate"}, {"stop", "d-X"}, {"rollback", "api"}, {"logs", "api"},
	} {
		r := cliT(t, append(args, "-c", cfg, "-o", "xml")...)
		if r.code != 1 || !strings.Contains(r.stderr, `invalid argument "xml" for "-o, --output" flag: use text, json or yaml`) {
			t.Errorf("%v -o xml: exit %d, %s", args, r.code, r.stderr)
		}
	}
	if r := cliT(t, "deploy", "-c", cfg, "--color", "sometimes"); r.code != 1 || !strings.Contains(r.stderr, `--color "sometimes": use auto, always or never`) {
		t.Errorf("--color sometimes: exit %d, %s", r.code, r.stderr)
	}
}

func TestVersionAndSuggestions(t *testing.T) {
	if r := cliT(t, "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "sluice ") || !strings.Contains(r.stdout, "go1.") {
		t.Errorf("--version: %d %q", r.code, r.stdout)
	}
	for typed, want := range map[string]string{"info": "status", "offline": "serve"} {
		r := cliT(t, typed)
		if r.code != 1 || !strings.Contains(r.stderr, "Did you mean this?\n\t"+want) {
			t.Errorf("sluice %s: exit %d, %s", typed, r.code, r.stderr)
		}
	}
}

func TestPlanOutputs(t *testing.T) {
	cfg := orders(t)
	r := cliT(t, "plan", "-c", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "api → alias Live, Linear10PercentEvery1Minute") || !strings.Contains(r.stdout, "+9m") {
		t.Fatalf("plan: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var plans []functionPlan
	r = cliT(t, "plan", "-c", cfg, "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &plans); err != nil || len(plans) != 1 {
		t.Fatalf("plan -o json: %v\n%s", err, r.stdout)
	}
	last := plans[0].Steps[len(plans[0].Steps)-1]
	if last.Offset != "9m0s" || last.OffsetSeconds != 540 || last.Weight != 1 {
		t.Errorf("last step %+v", last)
	}
	var fromYAML []functionPlan
	r = cliT(t, "plan", "-c", cfg, "-o", "yaml")
	if err := yaml.Unmarshal([]byte(r.stdout), &fromYAML); err != nil || len(fromYAML) != 1 || !strings.Contains(r.stdout, "offsetSeconds: 540") {
		t.Fatalf("plan -o yaml: %v\n%s", err, r.stdout)
	}
}

func TestValidateOutputs(t *testing.T) {
	cfg := orders(t)
	r := cliT(t, "validate", "-c", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "is valid: service orders, stage dev, 2 functions, 1 deployed gradually") {
		t.Fatalf("validate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = cliT(t, "validate", "-c", cfg, "-o", "json")
	var v validation
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || !v.Valid || v.Functions != 2 || v.Gradual != 1 {
		t.Fatalf("validate -o json: %v %+v", err, v)
	}
	// An invalid service: every finding, where it is written, and exit 1.
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "type: Linear10PercentEvery1Minute", "type: Linear10PercentEvery1Minit", 1)), 0o644)
	for _, format := range []string{"json", "yaml"} {
		r = cliT(t, "validate", "-c", cfg, "-o", format)
		var bad validation
		if err := yaml.Unmarshal([]byte(r.stdout), &bad); err != nil || r.code != 1 || bad.Valid || len(bad.Findings) == 0 {
			t.Fatalf("validate -o %s of an invalid service: %d %v\n%s%s", format, r.code, err, r.stdout, r.stderr)
		}
		f := bad.Findings[0]
		if f.Severity != "error" || f.Line != 42 || f.Column != 7 || f.Key != "functions.api.deploymentSettings.type" || !strings.Contains(f.Message, `"Linear10PercentEvery1Minit"`) {
			t.Errorf("-o %s: first finding %+v", format, f)
		}
		if !strings.Contains(r.stderr, "is not valid: 1 error (listed on standard output)") {
			t.Errorf("-o %s: stderr %s", format, r.stderr)
		}
	}
	if r := cliT(t, "validate", "-c", filepath.Join(t.TempDir(), "serverless.yml")); r.code != 1 {
		t.Errorf("validate of a missing file: exit %d", r.code)
	}
}

func TestCommandsThatNeedStateOrAnEngineSaySo(t *testing.T) {
	cfg := orders(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "start the service once with `sluice serve`"},
		{[]string{"history"}, "start the service once with `sluice serve`"},
		{[]string{"history", "nope"}, `has no function "nope": use one of api, preTraffic`},
		{[]string{"deploy"}, "start one with `sluice serve`"},
		{[]string{"stop", "d-NOPE"}, "start one with `sluice serve`"},
		{[]string{"stop", "api"}, "start the service once with `sluice serve`"},
		{[]string{"stop", "nope"}, `has no function "nope": use one of api, preTraffic`},
		{[]string{"rollback", "preTraffic"}, "function preTraffic has no deploymentSettings"},
		{[]string{"rollback", "nope"}, `has no function "nope"`},
		{[]string{"logs", "api"}, "no logs in"},
		{[]string{"logs", "api", "--version", "x"}, `--version "x" must be a version number`},
		{[]string{"logs", "api", "--since", "yesterday"}, `--since "yesterday" is neither a duration`},
		{[]string{"deploy", "--timeout", "-1s"}, "--timeout -1s: give a positive duration"},
	} {
		r := cliT(t, append(c.args, "-c", cfg)...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want 1 and %q in:\n%s", c.args, r.code, c.want, r.stderr)
		}
	}
}

// cancelOn is a writer that cancels a context once what was written
// contains a text: an interrupt at a known point, without signals.
type cancelOn struct {
	bytes.Buffer
	text   string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	n, err := c.Buffer.Write(p)
	if strings.Contains(c.Buffer.String(), c.text) {
		c.cancel()
	}
	return n, err
}

func TestDeployStatusHistoryStopRollbackAndLogsAgainstAnEngine(t *testing.T) {
	cfg := serveOrders(t)
	c := "--config=" + cfg

	// Nothing changed yet.
	r := cliT(t, "deploy", c, "--wait", "-o", "json")
	recs := records(t, r.stdout)
	if r.code != 0 || len(recs) != 1 || recs[0]["result"] != "unchanged" || !strings.Contains(r.stderr, "nothing changed") {
		t.Fatalf("deploy without changes: %d %v %s", r.code, recs, r.stderr)
	}

	// A good version, followed as JSON.
	editAPI(t, cfg, "second", false)
	start := time.Now()
	r = cliT(t, "deploy", c, "--wait", "-o", "json")
	took := time.Since(start)
	recs = records(t, r.stdout)
	if r.code != 0 || len(recs) < 3 {
		t.Fatalf("deploy --wait -o json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	seen := map[string]bool{}
	for i, rec := range recs {
		if _, err := time.Parse(time.RFC3339Nano, rec["time"].(string)); err != nil {
			t.Errorf("record %d has no time: %v", i, rec)
		}
		delete(rec, "time")
		b, _ := json.Marshal(rec)
		if seen[string(b)] {
			t.Errorf("record %d repeats: %s", i, b)
		}
		seen[string(b)] = true
	}
	// Only the hook called the new version, not through the alias: its
	// alarms had nothing to judge, and the deploy says so.
	if !regexp.MustCompile(`note: orders-dev-api v2 served 0 requests during its \d+m\d+s deployment \(\d\.\ds of the wall clock\): too few for its alarms to judge it`).MatchString(r.stderr) {
		t.Errorf("no note of the unjudged deployment:\n%s", r.stderr)
	}
	first, last := recs[0], recs[len(recs)-1]
	id, _ := first["deploymentId"].(string)
	if first["record"] != "published" || first["function"] != "orders-dev-api" || !strings.HasPrefix(id, "d-") {
		t.Errorf("first record %v", first)
	}
	if last["record"] != "result" || last["result"] != "succeeded" || last["exitCode"] != 0.0 {
		t.Errorf("last record %v", last)
	}

	// Status and history show wall time: the 10-minute schedule took about
	// a second at 600×, and nothing was created in the future.
	r = cliT(t, "status", c, "-o", "json")
	var st statusView
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || !st.Running || st.TimeScale != 600 || len(st.Deployments) != 1 {
		t.Fatalf("status -o json: %v\n%s", err, r.stdout)
	}
	if strings.Contains(r.stdout, "token") {
		t.Errorf("status -o json shows the engine's token:\n%s", r.stdout)
	}
	d := st.Deployments[0]
	if d.ID != id || d.Status != "Succeeded" || d.Seconds == nil || *d.Seconds > took.Seconds() || d.TimeScale != 600 {
		t.Errorf("status deployment %+v (the wait took %s)", d, took)
	}
	if d.CreateTime.After(time.Now()) || d.CreateTime.Before(start.Add(-time.Second)) {
		t.Errorf("created at %s, not within the deploy (%s…%s)", d.CreateTime, start, time.Now())
	}
	// The engine counts what the alias served, per version.
	for range 3 {
		resp, err := http.Get(st.Engine.GatewayURL + "/dev/orders/5")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	client, err := control.Dial(filepath.Join(filepath.Dir(cfg), ".sluice"))
	if err != nil {
		t.Fatal(err)
	}
	tl, _ := control.ReadTimeline(filepath.Join(filepath.Dir(cfg), ".sluice"))
	n, err := client.Invocations(context.Background(), "orders-dev-api", "Live", "2", tl.Clock(start), tl.Clock(time.Now()))
	if err != nil || n.Invocations != 3 || n.Errors != 0 {
		t.Errorf("invocations of v2 through Live: %+v, %v", n, err)
	}
	r = cliT(t, "status", c)
	if r.code != 0 || !strings.Contains(r.stdout, "600× faster than the wall clock") || !regexp.MustCompile(`orders-dev-api\s+Live\s+v2 100%`).MatchString(r.stdout) {
		t.Errorf("status:\n%s", r.stdout)
	}
	r = cliT(t, "status", c, "-o", "yaml")
	var fromYAML statusView
	if err := yaml.Unmarshal([]byte(r.stdout), &fromYAML); err != nil || fromYAML.Deployments[0].ID != id {
		t.Errorf("status -o yaml: %v\n%s", err, r.stdout)
	}
	r = cliT(t, "history", "api", c)
	if r.code != 0 || !strings.Contains(r.stdout, "SCALE") || !strings.Contains(r.stdout, "600×") || strings.Contains(r.stdout, "m0s") {
		t.Errorf("history api:\n%s", r.stdout)
	}

	// A timeout ends the wait, not the deployment: exit 124; then stop it
	// by its function's name.
	editAPI(t, cfg, "third", false)
	r = cliT(t, "deploy", c, "--wait", "--timeout", "1ms")
	if r.code != exitTimeout || !regexp.MustCompile(`stopped waiting; d-\w+ goes on \(timed out\)`).MatchString(r.stderr) {
		t.Fatalf("deploy --timeout 1ms: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cliT(t, "stop", "api", c, "-o", "json")
	var stopped map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &stopped); r.code != 0 || err != nil || stopped["status"] != "Stopped" || stopped["errorCode"] != "MANUAL_STOP" {
		t.Fatalf("stop api -o json: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if r := cliT(t, "stop", "api", c); r.code != 1 || !strings.Contains(r.stderr, "has no deployment in progress") {
		t.Errorf("stop api with nothing in progress: %d %s", r.code, r.stderr)
	}

	// An interrupt ends the wait: exit 130, the deployment goes on.
	editAPI(t, cfg, "fourth", false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := &cancelOn{text: ", deployment d-", cancel: cancel}
	var errOut bytes.Buffer
	code := run(ctx, []string{"deploy", c, "--wait"}, out, &errOut)
	if code != exitSignaled || !regexp.MustCompile(`stopped waiting; d-\w+ goes on \(interrupted\)`).MatchString(errOut.String()) {
		t.Fatalf("interrupted deploy --wait: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	r = cliT(t, "status", c, "--wait")
	if r.code != 0 {
		t.Fatalf("status --wait after the interrupted wait: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Rollback moves the alias back at once and waits for it.
	r = cliT(t, "rollback", "api", c)
	if r.code != 0 || !strings.Contains(r.stdout, "✔") {
		t.Fatalf("rollback api: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cliT(t, "history", c, "-o", "yaml")
	var hist []map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &hist); err != nil || len(hist) < 4 {
		t.Errorf("history -o yaml: %v\n%s", err, r.stdout)
	}

	// A broken version: the pre-traffic hook's call fails (and trips the
	// error alarm), no traffic moves, exit 2, and the reason is printed
	// once, at the end.
	editAPI(t, cfg, "broken", true)
	r = cliT(t, "deploy", c, "--wait")
	if r.code != 2 || !strings.Contains(r.stdout, "✘ ") || !strings.Contains(r.stdout, "no traffic had moved") {
		t.Fatalf("deploy --wait of a broken version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if reason := lines[len(lines)-1]; !strings.HasPrefix(reason, "✘ d-") || strings.Count(r.stdout, reason[strings.Index(reason, ": ")+2:]) != 1 {
		t.Errorf("the reason is not printed once at the end:\n%s", r.stdout)
	}

	// Logs: wall times, --filter, json.
	r = cliT(t, "logs", "api", c, "--filter", "REPORT RequestId")
	if r.code != 0 || r.stdout == "" {
		t.Fatalf("logs --filter: %d %s", r.code, r.stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !strings.Contains(l, "REPORT RequestId") {
			t.Errorf("--filter let through %q", l)
		}
		at, err := time.Parse("2006-01-02T15:04:05.000Z", strings.Fields(l)[0])
		if err != nil || at.After(time.Now()) {
			t.Errorf("a log line in the future or without a time: %q", l)
		}
	}
	r = cliT(t, "logs", "api", c, "-o", "json", "--since", "1h")
	if evs := records(t, r.stdout); r.code != 0 || len(evs) == 0 || evs[0]["message"] == nil || evs[0]["version"] == nil {
		t.Errorf("logs -o json: %d %v", r.code, evs)
	}
}

func TestCompletion(t *testing.T) {
	cfg := serveOrders(t)
	c := "--config=" + cfg
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"history", ""}, []string{"api\torders-dev-api", "preTraffic\torders-dev-preTraffic"}},
		{[]string{"rollback", "a"}, []string{"api\torders-dev-api"}},
		{[]string{"logs", "pre"}, []string{"preTraffic\torders-dev-preTraffic"}},
		{[]string{"status", "--stage", ""}, []string{"dev"}},
		{[]string{"status", "--output", ""}, []string{"text", "json", "yaml"}},
		{[]string{"deploy", "--color", ""}, []string{"auto", "always", "never"}},
	} {
		r := cliT(t, append([]string{"__complete", c}, tc.args...)...)
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w+"\n") {
				t.Errorf("completing %v: no %q in\n%s", tc.args, w, r.stdout)
			}
		}
	}
	// Deployment ids come from the state, the newest first.
	editAPI(t, cfg, "to complete", false)
	r := cliT(t, "deploy", c, "-o", "json")
	id, _ := records(t, r.stdout)[0]["deploymentId"].(string)
	if r.code != 0 || id == "" {
		t.Fatalf("deploy: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cliT(t, "__complete", c, "stop", "d-")
	if !strings.HasPrefix(r.stdout, id+"\torders-dev-api ") {
		t.Errorf("completing stop d-: want %s first, got\n%s", id, r.stdout)
	}
	// status --wait follows it to its end; its exit code is the result.
	if r := cliT(t, "status", c, "--wait", "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"status": "Succeeded"`) {
		t.Errorf("status --wait: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestLogsTailFollowsUntilInterrupted(t *testing.T) {
	cfg := serveOrders(t)
	// The pre-traffic hook's invocation is the first event the function logs.
	editAPI(t, cfg, "to log", false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := &cancelOn{text: "REPORT RequestId", cancel: cancel}
	var errOut bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"logs", "api", "--config", cfg, "-t"}, out, &errOut) }()
	if r := cliT(t, "deploy", "--config", cfg, "--wait"); r.code != 0 {
		t.Fatalf("deploy: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if code := <-done; code != 0 || !strings.Contains(out.String(), "START RequestId") {
		t.Fatalf("logs -t: exit %d\n%s%s", code, out.String(), errOut.String())
	}
}

// TestPackageInProcess runs package in this process (the tests beside
// package.go run the binary): in place, to standard output, and refused.
func TestPackageInProcess(t *testing.T) {
	dir := packagedService(t)
	cfg := filepath.Join(dir, "serverless.yml")
	tpl := filepath.Join(dir, packageDir, compiledTemplate)
	original, err := os.ReadFile(tpl)
	if err != nil {
		t.Fatal(err)
	}
	r := cliT(t, "package", "--config", cfg, "--template", tpl)
	if r.code != 0 || !strings.Contains(r.stdout, "HelloLambdaFunctionAliasLive") {
		t.Fatalf("package --template to stdout: %d\n%.300s\n%s", r.code, r.stdout, r.stderr)
	}
	if now, _ := os.ReadFile(tpl); !bytes.Equal(now, original) {
		t.Error("package --template without --out changed the template")
	}
	if r := cliT(t, "package", "--config", cfg); r.code != 0 {
		t.Fatalf("package in place: %d\n%s", r.code, r.stderr)
	}
	if now, _ := os.ReadFile(tpl); bytes.Equal(now, original) {
		t.Error("package in place left the template as it was")
	}
	if r := cliT(t, "package", "--config", cfg, "--template", filepath.Join(dir, "nope.json")); r.code != 1 || !strings.Contains(r.stderr, "nope.json") {
		t.Errorf("package of a missing template: %d %s", r.code, r.stderr)
	}
}

func TestEscapeHatches(t *testing.T) {
	cfg := serveOrdersAt(t, 1) // real time: a 10-minute deployment is still running when promoted
	c := "--config=" + cfg

	// At once, alarms ignored (and said so).
	editAPI(t, cfg, "emergency", false)
	r := cliT(t, "deploy", c, "--type", "AllAtOnce", "--ignore-alarms", "--wait", "-o", "json")
	recs := records(t, r.stdout)
	if r.code != 0 || len(recs) < 3 || !strings.Contains(r.stderr, "WARNING: --ignore-alarms") {
		t.Fatalf("deploy --function api --type AllAtOnce --ignore-alarms: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, rec := range recs {
		if rec["record"] == "deployment" && (rec["type"] != "CodeDeployDefault.LambdaAllAtOnce" || rec["ignoreAlarms"] != true) {
			t.Errorf("deployment record %v: want AllAtOnce with ignoreAlarms", rec)
		}
	}
	if r := cliT(t, "history", "api", c); !strings.Contains(r.stdout, "alarms ignored (--ignore-alarms)") {
		t.Errorf("history does not say the alarms were ignored:\n%s", r.stdout)
	}
	for _, bad := range [][]string{{"--type", "Linear5PercentEvery1Fortnight"}, {"--function", "nope"}} {
		if r := cliT(t, append([]string{"deploy", c}, bad...)...); r.code != 1 || !strings.Contains(r.stderr, bad[0]+": ") {
			t.Errorf("deploy %v: %d %s", bad, r.code, r.stderr)
		}
	}

	// promote skips the rest of a 10-minute linear deployment.
	editAPI(t, cfg, "promoted", false)
	if r := cliT(t, "deploy", c); r.code != 0 {
		t.Fatalf("deploy: %d %s", r.code, r.stderr)
	}
	// Promote skips the traffic schedule only: wait for it to start.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st statusView
		json.Unmarshal([]byte(cliT(t, "status", c, "-o", "json").stdout), &st)
		if len(st.Deployments) > 0 && st.Deployments[len(st.Deployments)-1].LifecycleEvent == "AllowTraffic" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deployment did not reach AllowTraffic: %+v", st.Deployments)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition
	}
	r = cliT(t, "promote", "api", c)
	if r.code != 0 || !strings.Contains(r.stdout, "✔ v3 serves all traffic") {
		t.Fatalf("promote api: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cliT(t, "promote", "api", c); r.code != 1 || !strings.Contains(r.stderr, "no deployment is in progress") {
		t.Errorf("promote with nothing in progress: %d %s", r.code, r.stderr)
	}
	if r := cliT(t, "promote", "preTraffic", c); r.code != 1 || !strings.Contains(r.stderr, "function preTraffic has no deploymentSettings") {
		t.Errorf("promote preTraffic: %d %s", r.code, r.stderr)
	}

	// retry deploys the target of a failed deployment again.
	editAPI(t, cfg, "broken", true)
	if r := cliT(t, "deploy", c, "--wait"); r.code != 2 {
		t.Fatalf("deploy of a broken version: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cliT(t, "retry", "api", c)
	if r.code != 2 || !regexp.MustCompile(`orders-dev-api: version 3 → 4, deployment d-\w+`).MatchString(r.stdout) {
		t.Fatalf("retry api: %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// rollback --to a version.
	r = cliT(t, "rollback", "api", c, "--to", "1", "-o", "json")
	var back map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &back); err != nil || r.code != 0 || back["toVersion"] != 1.0 || back["status"] != "Succeeded" {
		t.Fatalf("rollback --to 1: %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if r := cliT(t, "rollback", "api", c, "--to", "-1"); r.code != 1 || !strings.Contains(r.stderr, "--to -1: give a version number") {
		t.Errorf("rollback --to -1: %d %s", r.code, r.stderr)
	}
	// One function: the pre-traffic hook's edit waits for a deploy of its own.
	editAPI(t, cfg, "one function", false)
	hooks := filepath.Join(filepath.Dir(cfg), "src", "hooks.js")
	before, _ := os.ReadFile(hooks)
	os.WriteFile(hooks, append(before, []byte("\n// edited\n")...), 0o644)
	r = cliT(t, "deploy", c, "--function", "api", "--type", "AllAtOnce", "--ignore-alarms", "--wait", "-o", "json") // the alarm is still in ALARM from the broken version above
	published := 0
	for _, rec := range records(t, r.stdout) {
		if rec["record"] == "published" {
			published++
			if rec["function"] != "orders-dev-api" {
				t.Errorf("deploy --function api published %v", rec)
			}
		}
	}
	// (its outcome is the hook's business; what matters is what was published)
	if published != 1 {
		t.Fatalf("deploy --function api: exit %d, %d published\n%s%s", r.code, published, r.stdout, r.stderr)
	}
}

// An engine error about deployment groups is said in serverless.yml's terms.
func TestGroupErrorsInPlainWords(t *testing.T) {
	cfg := orders(t)
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(b), "custom:\n", "custom:\n  deploymentSettings:\n    stages: [prod]\n", 1)), 0o644)
	e, err := engine.Start(engine.Options{Config: cfg, Addr: engine.AnyLoopbackAddr, APIAddr: engine.AnyLoopbackAddr, Out: io.Discard,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	for _, cmd := range []string{"rollback", "promote", "retry"} {
		r := cliT(t, cmd, "api", "--config", cfg)
		if r.code != 1 || !strings.Contains(r.stderr, "function orders-dev-api has no deploymentSettings in the running engine (for stage dev") {
			t.Errorf("%s api with the stage outside deploymentSettings.stages: %d %s", cmd, r.code, r.stderr)
		}
	}
}

// TestDemoCommand runs `sluice demo` as a user would, faster: colour as
// asked, the bad version's full reason once at its end, exit 0.
func TestDemoCommand(t *testing.T) {
	r := cliT(t, "demo", "--time-scale", "600", "--rate", "100", "--color", "always")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"\x1b[32m✔\x1b[0m v2 serves all traffic", "\x1b[31m✘\x1b[0m Stopped", "went into ALARM", "summary"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}
