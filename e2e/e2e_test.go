// Package e2e runs sluice end to end: real function processes, real HTTP,
// real SQLite, the real AWS SDKs in hook code, and (for the crash test) the
// sluice binary killed with SIGKILL. Scenarios read Given / When / Then.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/engine"
)

// timeScale makes a minute of schedule 100 ms of wall time.
const timeScale = 600

// service is a service under test, served by an engine in this process
// (its functions still run as real processes behind the Runtime API).
type service struct {
	t      *testing.T
	dir    string
	engine *engine.Engine
	client *control.Client
}

// api returns the api function's code: answering "v<n>", or failing.
func api(version string, fails bool) string {
	if fails {
		return `exports.handler = async () => { throw new Error('broken release ` + version + `'); };`
	}
	return `exports.handler = async () => ({ statusCode: 200, body: '` + version + `' });`
}

// givenService writes a service (serverless.yml over the scenario files)
// and serves it.
func givenService(t *testing.T, yml string, opts engine.Options) *service {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "serverless.yml"), yml)
	write(t, filepath.Join(dir, "api.js"), api("v1", false))
	hooks, err := os.ReadFile("testdata/scenarios/hooks.js")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "hooks.js"), string(hooks))
	return serve(t, dir, opts)
}

func serve(t *testing.T, dir string, opts engine.Options) *service {
	t.Helper()
	opts.Config = filepath.Join(dir, "serverless.yml")
	opts.Addr, opts.APIAddr = engine.AnyLoopbackAddr, engine.AnyLoopbackAddr
	if opts.TimeScale == 0 {
		opts.TimeScale = timeScale
	}
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := engine.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	client, err := control.Dial(e.StateDir())
	if err != nil {
		t.Fatal(err)
	}
	return &service{t: t, dir: dir, engine: e, client: client}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// whenDeployed edits the api as a developer would and deploys it, calling
// during (if not nil) while the deployment runs, until it ends.
func (s *service) whenDeployed(code string, during func(d deploy.Deployment)) deploy.Deployment {
	s.t.Helper()
	write(s.t, filepath.Join(s.dir, "api.js"), code)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	updates := make(chan deploy.Deployment, 1024)
	if _, err := s.client.Follow(ctx, func(d deploy.Deployment) { updates <- d }); err != nil {
		s.t.Fatal(err)
	}
	res, err := s.client.Deploy(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	id := ""
	for _, c := range res.Changes {
		if c.Key == "api" {
			id = c.DeploymentID
		}
	}
	if id == "" {
		s.t.Fatalf("no deployment of api started: %+v", res)
	}
	d, err := s.client.Deployment(ctx, id)
	if err != nil {
		s.t.Fatal(err)
	}
	for !d.Status.Done() {
		if during != nil {
			during(d)
		}
		select {
		case u := <-updates:
			if u.ID == id {
				d = u
			}
		case <-time.After(5 * time.Millisecond): // keep `during` going between updates
		case <-ctx.Done():
			s.t.Fatalf("deployment %s did not end: %s", id, progressOf(d))
		}
	}
	return d
}

func progressOf(d deploy.Deployment) string {
	return fmt.Sprintf("%s, step %d/%d, events %+v", d.Status, d.StepReached, len(d.Steps), d.LifecycleEvents)
}

// get calls the api through the gateway.
func (s *service) get() (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.engine.GatewayURL() + "/api")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// thenServes checks that every one of n requests is answered by version.
func (s *service) thenServes(body string, n int) {
	s.t.Helper()
	for range n {
		if status, got := s.get(); status != 200 || got != body {
			s.t.Fatalf("GET /api = %d %q, want 200 %q", status, got, body)
		}
	}
}

func (s *service) thenAlias(version, additional int) {
	s.t.Helper()
	rt := s.engine.Registry().Function("e2e-dev-api").Alias("Live").Routing()
	got := 0
	if rt.Additional != nil {
		got = rt.Additional.Number
	}
	if rt.Version.Number != version || got != additional {
		s.t.Fatalf("alias Live = version %d + %d, want %d + %d", rt.Version.Number, got, version, additional)
	}
}

// serviceYML is a service with an api function deployed by deploymentSettings.
func serviceYML(settings string, hooks map[string]string) string {
	var b strings.Builder
	b.WriteString(`service: e2e
provider:
  name: aws
  runtime: nodejs20.x
custom:
  alerts:
    definitions:
      functionErrors: {period: 60, threshold: 1, treatMissingData: notBreaching}
functions:
  api:
    handler: api.handler
    alarms: [functionErrors]
    events:
      - httpApi: GET /api
    deploymentSettings:
`)
	for _, line := range strings.Split(strings.TrimSpace(settings), "\n") {
		b.WriteString("      " + line + "\n")
	}
	for name, result := range hooks {
		fmt.Fprintf(&b, "  %s:\n    handler: hooks.handler\n    environment:\n      HOOK_RESULT: %s\n", name, result)
	}
	return b.String()
}

func TestGoodCanarySucceeds(t *testing.T) {
	// Given a canary with passing pre- and post-traffic hooks
	s := givenService(t, serviceYML(`
type: Canary10Percent5Minutes
alias: Live
preTrafficHook: pre
postTrafficHook: post
alarms: [ApiFunctionErrorsAlarm]`, map[string]string{"pre": "Succeeded", "post": "Succeeded"}), engine.Options{})
	s.thenServes("v1", 3)
	// When a good version is deployed, under traffic
	served := map[string]int{}
	d := s.whenDeployed(api("v2", false), func(deploy.Deployment) {
		_, body := s.get()
		served[body]++
	})
	// Then it succeeds, both versions served during the canary, and v2 serves all
	if d.Status != deploy.StatusSucceeded {
		t.Fatalf("deployment ended %s: %+v", d.Status, d.ErrorInformation)
	}
	s.thenAlias(2, 0)
	s.thenServes("v2", 5)
	if served["v1"] == 0 {
		t.Errorf("the original version served nothing during the canary: %v", served)
	}
	for _, ev := range d.LifecycleEvents {
		if ev.Status != deploy.EventSucceeded {
			t.Errorf("%s is %s", ev.Name, ev.Status)
		}
	}
}

func TestErroringVersionTripsItsAlarmAndRollsBack(t *testing.T) {
	// Given a linear deployment watched by the function's error alarm
	s := givenService(t, serviceYML(`
type: Linear10PercentEvery1Minute
alias: Live
alarms: [ApiFunctionErrorsAlarm]`, nil), engine.Options{})
	// When a version that fails every request is deployed, under traffic
	d := s.whenDeployed(api("v2", true), func(deploy.Deployment) { s.get() })
	// Then the alarm stops it and traffic returns to v1
	if d.Status != deploy.StatusStopped || d.ErrorInformation == nil || d.ErrorInformation.Code != deploy.ErrAlarmActive {
		t.Fatalf("deployment ended %s: %+v", d.Status, d.ErrorInformation)
	}
	if !d.RolledBack() || d.RollbackReaction <= 0 {
		t.Fatalf("rollback %+v, reaction %v", d.RollbackInfo, d.RollbackReaction)
	}
	s.thenAlias(1, 0)
	s.thenServes("v1", 5)
	t.Logf("rollback reaction inside the engine: %v (stopped at step %d/%d)", d.RollbackReaction, d.StepReached, len(d.Steps))
}

func TestFailingPreTrafficHookLeavesTrafficUntouched(t *testing.T) {
	// Given a pre-traffic hook that reports Failed
	s := givenService(t, serviceYML(`
type: Canary10Percent5Minutes
alias: Live
preTrafficHook: pre`, map[string]string{"pre": "Failed"}), engine.Options{})
	// When a version is deployed
	d := s.whenDeployed(api("v2", false), nil)
	// Then the deployment fails before any traffic moves
	if d.Status != deploy.StatusFailed || d.ErrorInformation.Code != deploy.ErrHookFailure || d.StepReached != 0 {
		t.Fatalf("deployment ended %s at step %d: %+v", d.Status, d.StepReached, d.ErrorInformation)
	}
	s.thenAlias(1, 0)
	s.thenServes("v1", 3)
}

func TestPostTrafficHookFailureRollsBack(t *testing.T) {
	// Given a post-traffic hook that reports Failed
	s := givenService(t, serviceYML(`
type: AllAtOnce
alias: Live
postTrafficHook: post`, map[string]string{"post": "Failed"}), engine.Options{})
	// When a version is deployed
	d := s.whenDeployed(api("v2", false), nil)
	// Then all traffic, which had moved, moves back
	if d.Status != deploy.StatusFailed || d.ErrorInformation.Code != deploy.ErrHookFailure || !d.RolledBack() {
		t.Fatalf("deployment ended %s: %+v, rollback %+v", d.Status, d.ErrorInformation, d.RollbackInfo)
	}
	s.thenAlias(1, 0)
	s.thenServes("v1", 3)
}

func TestHookThatNeverAnswersTimesOut(t *testing.T) {
	// Given a pre-traffic hook that returns without reporting, and a
	// 10-minute hook timeout (a second of wall time here)
	s := givenService(t, serviceYML(`
type: AllAtOnce
alias: Live
preTrafficHook: pre`, map[string]string{"pre": "silent"}), engine.Options{HookTimeout: 10 * time.Minute})
	// When a version is deployed
	d := s.whenDeployed(api("v2", false), nil)
	// Then the hook times out and nothing moves
	if d.Status != deploy.StatusFailed || d.ErrorInformation.Code != deploy.ErrTimeout {
		t.Fatalf("deployment ended %s: %+v", d.Status, d.ErrorInformation)
	}
	s.thenAlias(1, 0)
}

func TestStopByHand(t *testing.T) {
	// Given a slow linear deployment
	s := givenService(t, serviceYML(`
type: Linear10PercentEvery10Minutes
alias: Live`, nil), engine.Options{})
	stopped := false
	// When it is stopped by hand once traffic has started to move
	d := s.whenDeployed(api("v2", false), func(d deploy.Deployment) {
		if d.StepReached >= 1 && !stopped {
			stopped = true
			if _, err := s.client.Stop(context.Background(), d.ID, true); err != nil {
				t.Fatal(err)
			}
		}
	})
	// Then it is stopped and rolled back
	if d.Status != deploy.StatusStopped || d.ErrorInformation.Code != deploy.ErrManualStop || !d.RolledBack() {
		t.Fatalf("deployment ended %s: %+v", d.Status, d.ErrorInformation)
	}
	s.thenAlias(1, 0)
	s.thenServes("v1", 3)
}
