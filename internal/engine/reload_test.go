package engine

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/control"
)

// reloadDir is a fresh copy of testdata/reload (without its invalid variants).
func reloadDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"serverless.yml", "handler.js"} {
		b, err := os.ReadFile(filepath.Join("testdata/reload", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// observe describes everything a reload can change: versions and aliases,
// routes, schedules, alarms, deployment groups, and what the routes answer.
func observe(t *testing.T, e *Engine) string {
	t.Helper()
	var b strings.Builder
	for _, f := range e.Registry().Functions() {
		fmt.Fprintf(&b, "function %s: %d versions\n", f.Name, len(f.Versions()))
		for _, a := range f.Aliases() {
			fmt.Fprintf(&b, "  alias %s → %s\n", a.Name, describeRouting(a.Routing()))
		}
	}
	var routes []string
	for _, r := range e.Routes() {
		routes = append(routes, fmt.Sprintf("route %s → %s:%s", r.RouteKey(), r.Function, r.Qualifier))
	}
	sort.Strings(routes)
	e.mu.Lock()
	for _, s := range e.applied.schedules {
		routes = append(routes, fmt.Sprintf("schedule %s → %s:%s", s.expr, s.function, s.qualifier))
	}
	e.mu.Unlock()
	for _, a := range e.Alarms().Alarms() {
		s := a.Spec()
		routes = append(routes, fmt.Sprintf("alarm %s: %s %s %g %v", s.Name, s.MetricName, s.ComparisonOperator, s.Threshold, s.Dimensions))
	}
	for _, g := range e.Deployer().Groups() {
		routes = append(routes, fmt.Sprintf("group %s: %s on %s:%s, hooks %q %q, alarms %v",
			g.Name, g.ConfigName(), g.Function, g.Alias, g.PreTrafficHook, g.PostTrafficHook, g.Alarms))
	}
	b.WriteString(strings.Join(routes, "\n") + "\n")
	gw := e.gateway.Config()
	fmt.Fprintf(&b, "HTTP API CORS %+v, REST binary media types %q\n", gw.HTTPAPICORS, gw.BinaryMediaTypes)
	for _, path := range []string{"/api", "/live", "/api/new", "/extra"} {
		resp, err := http.Get(e.GatewayURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&b, "GET %s: %d %s\n", path, resp.StatusCode, body)
	}
	return b.String()
}

func writeConfig(t *testing.T, dir, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "serverless.yml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Each testdata/reload/invalid/*.yml changes one kind of thing (routes,
// schedules, alarms, deployment groups, functions, configuration) and
// carries one error; the code changes too. Reloading or deploying it must
// be refused with the error's position, and change nothing: no version
// published, the same routes answering with the same code, the same
// schedules, alarms and groups.
func TestAnInvalidConfigurationChangesNothing(t *testing.T) {
	cases, _ := filepath.Glob("testdata/reload/invalid/*.yml")
	if len(cases) == 0 {
		t.Fatal("no test data")
	}
	dir := reloadDir(t)
	e := start(t, dir, clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)))
	before := observe(t, e)
	if !strings.Contains(before, `GET /api: 200 {"fn":"api","release":"one"}`) || !strings.Contains(before, "alarm reload-api-errors") {
		t.Fatalf("the service does not start as the test expects:\n%s", before)
	}
	rewrite(t, filepath.Join(dir, "handler.js"), "'one'", "'two'")
	for _, c := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(c), ".yml"), func(t *testing.T) {
			writeConfig(t, dir, c)
			_, err := e.Reload()
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "serverless.yml")+":") {
				t.Fatalf("Reload = %v, want an error naming serverless.yml:line:col", err)
			}
			if after := observe(t, e); after != before {
				t.Fatalf("the refused reload (%v) changed the engine:\n--- before\n%s--- after\n%s", err, before, after)
			}
			t.Logf("refused: %v", err)
			_, err = e.PublishAndDeploy()
			var pe *control.PublishError
			if !errors.As(err, &pe) {
				t.Fatalf("PublishAndDeploy = %v, want a PublishError", err)
			}
			if after := observe(t, e); after != before {
				t.Fatalf("the refused deploy changed the engine:\n--- before\n%s--- after\n%s", before, after)
			}
		})
	}

	// The same edit of the code with a valid configuration does go live,
	// so the comparisons above can tell a change.
	writeConfig(t, dir, "testdata/reload/serverless.yml")
	if _, err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if after := observe(t, e); !strings.Contains(after, `GET /api: 200 {"fn":"api","release":"two"}`) {
		t.Fatalf("the valid reload did not publish the new code:\n%s", after)
	}
}

// A reload removes what the configuration no longer has: an alarm is no
// longer evaluated, a route no longer answers, a schedule no longer fires.
func TestReloadRemovesWhatTheConfigurationNoLongerHas(t *testing.T) {
	dir := reloadDir(t)
	e := start(t, dir, clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)))
	if _, ok := e.Alarms().Alarm("reload-api-errors"); !ok {
		t.Fatal("alarm reload-api-errors is not evaluated at the start")
	}
	rewrite(t, filepath.Join(dir, "serverless.yml"), "      - httpApi: 'GET /live'\n", "")
	rewrite(t, filepath.Join(dir, "serverless.yml"), "    events:\n      - schedule: rate(1 hour)\n", "")
	b, _ := os.ReadFile(filepath.Join(dir, "serverless.yml"))
	src := string(b)
	if err := os.WriteFile(filepath.Join(dir, "serverless.yml"), []byte(src[:strings.Index(src, "    ApiErrorsAlarm:")]), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Alarms().Alarm("reload-api-errors"); ok {
		t.Error("the removed alarm reload-api-errors is still evaluated")
	}
	if _, ok := e.Alarms().Alarm("reload-live-errors"); !ok {
		t.Error("the kept alarm reload-live-errors is no longer evaluated")
	}
	if resp, err := http.Get(e.GatewayURL() + "/live"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /live after its route was removed: %v %v, want 404", resp.StatusCode, err)
	}
	e.mu.Lock()
	n := len(e.applied.schedules)
	e.mu.Unlock()
	if n != 0 {
		t.Errorf("%d schedules after the only one was removed", n)
	}
}

// A reload applies the APIs' settings too: provider.httpApi.cors and
// provider.apiGateway.binaryMediaTypes.
func TestReloadAppliesTheAPIsSettings(t *testing.T) {
	dir := reloadDir(t)
	e := start(t, dir, clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)))
	preflight := func() string {
		req, _ := http.NewRequest(http.MethodOptions, e.GatewayURL()+"/api", nil)
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	if got := preflight(); got != "" {
		t.Fatalf("preflight without CORS configured: Access-Control-Allow-Origin %q", got)
	}
	rewrite(t, filepath.Join(dir, "serverless.yml"), "  memorySize: 128\n",
		"  memorySize: 128\n  httpApi:\n    cors: true\n  apiGateway:\n    binaryMediaTypes: ['image/*']\n")
	if _, err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := preflight(); got != "*" {
		t.Fatalf("preflight after cors: true: Access-Control-Allow-Origin %q, want *", got)
	}
	if got := e.gateway.Config().BinaryMediaTypes; len(got) != 1 || got[0] != "image/*" {
		t.Fatalf("binary media types after the reload: %q", got)
	}
}
