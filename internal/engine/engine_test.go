package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// goBootstrap is testdata/gofn built once for the whole test binary.
var goBootstrap struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

func buildGoBootstrap(t *testing.T) string {
	t.Helper()
	goBootstrap.once.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-engine-gofn-")
		if err != nil {
			goBootstrap.err = err
			return
		}
		goBootstrap.path = filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-o", goBootstrap.path, "./testdata/gofn")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		goBootstrap.out, goBootstrap.err = cmd.CombinedOutput()
	})
	if goBootstrap.err != nil {
		t.Fatalf("building testdata/gofn: %v\n%s", goBootstrap.err, goBootstrap.out)
	}
	return goBootstrap.path
}

// copyDir copies a service directory, so that its .sluice state is the test's own.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(target, b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// shopDir is a fresh copy of testdata/shop with the Go bootstrap built in.
func shopDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, "testdata/shop", dir)
	b, err := os.ReadFile(buildGoBootstrap(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// logWriter sends the engine's printout to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func start(t *testing.T, dir string, clk clock.Clock) *Engine {
	t.Helper()
	e, err := Start(Options{Config: filepath.Join(dir, "serverless.yml"), Addr: AnyLoopbackAddr, APIAddr: AnyLoopbackAddr, Clock: clk, Out: logWriter{t},
		Logger: slog.New(slog.NewTextHandler(logWriter{t}, nil)),
		Invoke: invoke.Options{StopGrace: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, e) })
	return e
}

func shutdown(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

type apiAnswer struct {
	Release, Version, Greeting, Name string
}

func get(t *testing.T, url string) (int, apiAnswer) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var a apiAnswer
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("GET %s: %s", url, body)
		}
	}
	return resp.StatusCode, a
}

func TestServeRoutesEveryRuntimeThroughTheGateway(t *testing.T) {
	dir := shopDir(t)
	e := start(t, dir, nil)

	code, a := get(t, e.GatewayURL()+"/hello")
	if code != 200 || a.Version != "1" || a.Greeting != "hello" || a.Release != "one" {
		t.Fatalf("GET /hello (httpApi, node): %d %+v", code, a)
	}
	code, a = get(t, e.GatewayURL()+"/dev/hello/ann")
	if code != 200 || a.Name != "ann" {
		t.Fatalf("GET /dev/hello/ann (http, node): %d %+v", code, a)
	}
	resp, err := http.Post(e.GatewayURL()+"/go", "text/plain", strings.NewReader("hi"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "go says HI" {
		t.Fatalf("POST /go (provided.al2023, aws-lambda-go): %d %s", resp.StatusCode, body)
	}
	preflight, _ := http.NewRequest("OPTIONS", e.GatewayURL()+"/hello", nil)
	preflight.Header.Set("Origin", "http://localhost:8080")
	preflight.Header.Set("Access-Control-Request-Method", "GET")
	if resp, err := http.DefaultClient.Do(preflight); err != nil || resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight with provider.httpApi.cors: true: %v %v", err, resp)
	}
	resp, err = http.Get(e.APIURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	prom, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(prom), `aws_lambda_duration_count{executed_version="",function_name="shop-dev-gofn",resource=""} 1`) {
		t.Fatalf("GET /metrics lacks the go function's invocations:\n%.2000s", prom)
	}
	info, err := control.ReadInfo(e.StateDir())
	if err != nil || info.GatewayURL != e.GatewayURL() || info.APIURL != e.APIURL() || info.PID != os.Getpid() {
		t.Fatalf("engine file: %+v, %v", info, err)
	}
	g := e.Deployer().Group("shop-dev-api")
	if g == nil || g.Name != "shop-dev-ApiLambdaFunctionDeploymentGroup" || g.Application != "ShopdevDeploymentApplication" || g.Alias != "Live" {
		t.Fatalf("deployment group of api: %+v", g)
	}
	if len(g.Alarms) != 1 {
		t.Fatalf("group alarms: %v", g.Alarms)
	}
	shutdown(t, e)
	if _, err := os.Stat(filepath.Join(e.StateDir(), control.InfoFile)); !os.IsNotExist(err) {
		t.Fatalf("engine file left after shutdown: %v", err)
	}
}

func TestRoutesFollowTheAliasWeights(t *testing.T) {
	dir := shopDir(t)
	e := start(t, dir, nil)
	rewrite(t, filepath.Join(dir, "src/api.js"), "'one'", "'two'")
	pubs, err := e.Reload()
	if err != nil {
		t.Fatal(err)
	}
	var api Published
	for _, p := range pubs {
		if p.Key == "api" {
			api = p
		}
	}
	if api.Old != 1 || api.New != 2 || !api.Changed || !api.Gradual || api.Alias != "Live" {
		t.Fatalf("reload of api: %+v", api)
	}
	if _, err := e.Registry().SetAlias("shop-dev-api", "Live", 1, 2, 0.3, nil); err != nil {
		t.Fatal(err)
	}
	const n = 500
	counts := map[string]int{}
	for range n {
		code, a := get(t, e.GatewayURL()+"/hello")
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		counts[a.Release+"@"+a.Version]++
	}
	// Binomial(500, 0.3): mean 150, sd 10.2; 5 sd either side.
	if got := counts["two@2"]; got < 99 || got > 201 || counts["one@1"]+got != n {
		t.Fatalf("versions answering over %d requests: %v, want about 150 of two@2", n, counts)
	}
}

func TestRestartKeepsVersionsAndAliases(t *testing.T) {
	dir := shopDir(t)
	e := start(t, dir, nil)
	if _, err := e.Registry().SetAlias("shop-dev-api", "Live", 1, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	shutdown(t, e)

	// Unchanged: the same versions, nothing published.
	e = start(t, dir, nil)
	if n := len(e.Registry().Function("shop-dev-api").Versions()); n != 1 {
		t.Fatalf("after a restart without changes: %d versions of api, want 1", n)
	}
	shutdown(t, e)

	// Changed code: version 2 is published, the alias stays where it was.
	rewrite(t, filepath.Join(dir, "src/api.js"), "'one'", "'two'")
	e = start(t, dir, nil)
	fn := e.Registry().Function("shop-dev-api")
	if n := len(fn.Versions()); n != 2 {
		t.Fatalf("after a restart with new code: %d versions, want 2", n)
	}
	if rt := fn.Alias("Live").Routing(); rt.Version.Number != 1 || rt.Additional != nil {
		t.Fatalf("alias Live moved on restart: %s", describeRouting(rt))
	}
	if _, a := get(t, e.GatewayURL()+"/hello"); a.Release != "one" {
		t.Fatalf("the route (through alias Live) answered %+v, want release one", a)
	}
}

func TestSchedulesFireOnTheEngineClock(t *testing.T) {
	dir := shopDir(t)
	ticks := filepath.Join(t.TempDir(), "ticks")
	t.Setenv("SHOP_TICK_FILE", ticks)
	start0 := time.Date(2026, 1, 2, 11, 58, 30, 0, time.UTC)
	fake := clock.NewFake(start0)
	start(t, dir, fake)

	fake.Advance(time.Minute) // rate(1 minute), counted from the start
	events := waitLines(t, ticks, 1)
	var ev struct {
		DetailType string   `json:"detail-type"`
		Source     string   `json:"source"`
		Resources  []string `json:"resources"`
		Time       string   `json:"time"`
		Account    string   `json:"account"`
	}
	if err := json.Unmarshal([]byte(events[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.Time != "2026-01-02T11:59:30Z" || ev.Account != "000000000000" ||
		len(ev.Resources) != 1 || !strings.HasPrefix(ev.Resources[0], "arn:aws:events:us-east-1:000000000000:rule/") {
		t.Fatalf("scheduled event: %s", events[0])
	}
	fake.Advance(30 * time.Second) // cron(0 12 * * ? *), with its input
	events = waitLines(t, ticks, 2)
	if strings.TrimSpace(events[1]) != `{"kind": "noon"}` {
		t.Fatalf("noon event: %s", events[1])
	}
}

// waitLines waits until file has n lines and returns them.
func waitLines(t *testing.T, file string, n int) []string {
	t.Helper()
	var lines []string
	testutil.Eventually(t, fmt.Sprintf("%d lines in %s", n, file), func() bool {
		b, _ := os.ReadFile(file)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		return len(b) > 0 && len(lines) >= n
	})
	return lines
}

func rewrite(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(file, bytes.ReplaceAll(b, []byte(old), []byte(new)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAlarmsJudgeTheInvocations(t *testing.T) {
	dir := shopDir(t)
	fake := clock.NewFake(time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC))
	e := start(t, dir, fake)
	g := e.Deployer().Group("shop-dev-api")
	a, ok := e.Alarms().Alarm(g.Alarms[0])
	if !ok {
		t.Fatalf("alarm %s of the deployment group is not evaluated", g.Alarms[0])
	}
	changed := make(chan alarm.Change, 10)
	cancel := a.Subscribe(func(c alarm.Change) { changed <- c })
	defer cancel()
	if code, _ := get(t, e.GatewayURL()+"/hello?fail=1"); code != 500 {
		t.Fatalf("failing request: %d, want 500 (HTTP API)", code)
	}
	fake.Advance(time.Minute)
	select {
	case c := <-changed:
		if c.New != alarm.StateAlarm {
			t.Fatalf("alarm went to %v: %s", c.New, c.Reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("alarm %s did not react to the error (state %v)", a.Name(), a.State().Value)
	}
}

func TestOrdersExampleDeploysWithItsHook(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "../../examples/orders", dir)
	fake := clock.NewFake(time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC))
	e := start(t, dir, fake)
	code, _ := get(t, e.GatewayURL()+"/dev/orders/7")
	if code != 200 {
		t.Fatalf("GET /dev/orders/7: %d", code)
	}
	resp, err := http.Post(e.GatewayURL()+"/orders", "application/json", strings.NewReader(`{"item":"tea"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || !bytes.Contains(body, []byte(`"item":"tea"`)) {
		t.Fatalf("POST /orders: %d %s", resp.StatusCode, body)
	}

	// A new release, deployed by the engine: the pre-traffic hook calls the
	// new version and CodeDeploy over AWS_ENDPOINT_URL, then traffic shifts.
	rewrite(t, filepath.Join(dir, "src/api.js"), "'first release'", "'second release'")
	pubs, err := e.Reload()
	if err != nil {
		t.Fatal(err)
	}
	target := 0
	for _, p := range pubs {
		if p.Key == "api" {
			target = p.New
		}
	}
	created, err := e.Deployer().Create(deploy.CreateInput{Group: "orders-dev-api", TargetVersion: target})
	if err != nil {
		t.Fatal(err)
	}
	// Linear10PercentEvery1Minute, on the fake clock.
	d := waitBaked(t, e, fake, created.ID)
	if d.Status != deploy.StatusSucceeded {
		t.Fatalf("deployment ended %s: %+v", d.Status, d.ErrorInformation)
	}
	resp, err = http.Get(e.GatewayURL() + "/orders")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte("second release")) {
		t.Fatalf("after the deployment GET /orders says %s", body)
	}
}

func current(d deploy.Deployment) string {
	for _, ev := range d.LifecycleEvents {
		if ev.Status == deploy.EventInProgress {
			return ev.Name
		}
	}
	return ""
}

func TestHandlerOutsideTheServiceIsRefusedAtStart(t *testing.T) {
	dir := shopDir(t)
	rewrite(t, filepath.Join(dir, "serverless.yml"), "handler: src/api.handler", "handler: ../outside.handler")
	_, err := Start(Options{Config: filepath.Join(dir, "serverless.yml"), Addr: AnyLoopbackAddr, APIAddr: AnyLoopbackAddr, Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "leaves the code directory") || !strings.Contains(err.Error(), "serverless.yml:") {
		t.Fatalf("Start = %v, want the handler refused with its line", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".sluice", control.InfoFile)); !os.IsNotExist(err) {
		t.Fatalf("a failed start left %s", control.InfoFile)
	}
}

func TestShutdownDrainsInFlightRequests(t *testing.T) {
	dir := shopDir(t)
	e := start(t, dir, nil)
	type answer struct {
		code int
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.Get(e.GatewayURL() + "/hello?sleep=400")
		if err != nil {
			done <- answer{0, err}
			return
		}
		resp.Body.Close()
		done <- answer{resp.StatusCode, nil}
	}()
	busy := func() bool {
		for _, s := range e.Invoker().Stats() {
			if s.Function == "shop-dev-api" && s.Environments == 1 && s.Idle == 0 && s.Invocations == 1 {
				return true
			}
		}
		return false
	}
	testutil.Eventually(t, "the request to reach the function", busy)
	shutdown(t, e)
	if a := <-done; a.err != nil || a.code != 200 {
		t.Fatalf("request in flight during shutdown: %d %v, want 200", a.code, a.err)
	}
	if _, err := http.Get(e.GatewayURL() + "/hello"); err == nil {
		t.Fatal("the gateway still accepts requests after shutdown")
	}
}
