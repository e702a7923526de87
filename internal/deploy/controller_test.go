package deploy

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/registry/registrytest"
	"github.com/sluice-dev/sluice/internal/schedule"
	"github.com/sluice-dev/sluice/internal/store"
)

const fn = "svc-dev-hello"

var epoch = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// hookFuncs stands in for hook functions: each is Go code that, like a real
// hook, reports through the engine's PutLifecycleEventHookExecutionStatus.
type hookFuncs struct {
	mu      sync.Mutex
	e       *Controller
	calls   map[string][]map[string]string
	behave  map[string]func(deploymentID, execID string) error // nil: never report
	reports chan error
}

func (h *hookFuncs) InvokeHook(function string, payload []byte, done func(error)) {
	var p map[string]string
	json.Unmarshal(payload, &p)
	h.mu.Lock()
	h.calls[function] = append(h.calls[function], p)
	b := h.behave[function]
	h.mu.Unlock()
	go func() {
		if b == nil {
			done(nil)
			return
		}
		done(b(p["DeploymentId"], p["LifecycleEventHookExecutionId"]))
	}()
}

func (h *hookFuncs) reporting(status string) func(string, string) error {
	return func(id, exec string) error {
		err := h.e.PutHookStatus(id, exec, status)
		h.reports <- err
		return err
	}
}

// alarmTable holds alarm states set by the test, as SetAlarmState would.
type alarmTable struct {
	mu       sync.Mutex
	states   map[string]AlarmState
	watchers map[string]map[int]func(AlarmState)
	next     int
}

func (a *alarmTable) Watch(name string, fn func(AlarmState)) (func(), error) {
	a.mu.Lock()
	st, ok := a.states[name]
	if !ok {
		a.mu.Unlock()
		return nil, errors.New("no such alarm")
	}
	id := a.next
	a.next++
	if a.watchers[name] == nil {
		a.watchers[name] = map[int]func(AlarmState){}
	}
	a.watchers[name][id] = fn
	a.mu.Unlock()
	fn(st)
	return func() {
		a.mu.Lock()
		delete(a.watchers[name], id)
		a.mu.Unlock()
	}, nil
}

func (a *alarmTable) set(name, state, reason string) {
	a.mu.Lock()
	st := AlarmState{Name: name, State: state, Reason: reason}
	a.states[name] = st
	var fns []func(AlarmState)
	for _, fn := range a.watchers[name] {
		fns = append(fns, fn)
	}
	a.mu.Unlock()
	for _, fn := range fns {
		fn(st)
	}
}

type harness struct {
	t      *testing.T
	clock  *clock.Fake
	db     *store.DB
	reg    *registry.Registry
	hooks  *hookFuncs
	alarms *alarmTable
	e      *Controller
	group  *Group
	state  string
}

func newHarness(t *testing.T, typ string, configure func(g *Group)) *harness {
	t.Helper()
	h := &harness{t: t, clock: clock.NewFake(epoch)}
	h.reg, h.db, h.state = registrytest.Open(t, h.clock)
	src := t.TempDir()
	for i, body := range []string{"v1", "v2"} {
		os.WriteFile(filepath.Join(src, "handler.js"), []byte(body), 0o644)
		if _, _, err := h.reg.Publish(fn, registry.Config{Runtime: "nodejs20.x", Handler: "handler.hello"}, src, ""); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := h.reg.SetAlias(fn, "Live", 1, 0, 0, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	st, err := schedule.Parse(typ)
	if err != nil {
		t.Fatal(err)
	}
	h.group = &Group{Application: "SvcdevDeploymentApplication", Name: "svc-dev-HelloLambdaFunctionDeploymentGroup",
		Function: fn, Alias: "Live", Type: st, AutoRollback: DefaultAutoRollback, Alarms: []string{"HelloErrors"}}
	if configure != nil {
		configure(h.group)
	}
	h.alarms = &alarmTable{states: map[string]AlarmState{"HelloErrors": {Name: "HelloErrors", State: "OK"}}, watchers: map[string]map[int]func(AlarmState){}}
	h.hooks = &hookFuncs{calls: map[string][]map[string]string{}, behave: map[string]func(string, string) error{}, reports: make(chan error, 10)}
	h.start()
	return h
}

// start makes a new engine over the harness's state, as a restart would.
func (h *harness) start() {
	h.e = New(Config{Clock: h.clock, Registry: h.reg, Store: h.db, Hooks: h.hooks, Alarms: h.alarms,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Groups: []*Group{h.group}})
	h.hooks.e = h.e
	h.t.Cleanup(h.e.Close)
}

// waitFor waits until cond holds for the deployment, or fails after a
// deadline. Every change is committed and published, so it waits on the
// controller's notifications, never on a timer.
func (h *harness) waitFor(id, what string, cond func(Deployment) bool) Deployment {
	h.t.Helper()
	changed := make(chan struct{}, 1)
	cancel := h.e.Subscribe(func(Deployment) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()
	deadline := time.After(10 * time.Second)
	for {
		d, err := h.e.Get(id)
		if err != nil {
			h.t.Fatal(err)
		}
		if cond(d) {
			return d
		}
		select {
		case <-changed:
		case <-deadline:
			b, _ := json.MarshalIndent(d, "", "  ")
			h.t.Fatalf("deployment never reached %s:\n%s", what, b)
		}
	}
}

// atStep waits until step n has been applied. The clock may be advanced
// at once: a deployment's timers are set for absolute times, so a timer
// armed after the clock moved past its time fires at once.
func (h *harness) atStep(id string, n int) Deployment {
	h.t.Helper()
	return h.waitFor(id, "step "+strconv.Itoa(n), func(d Deployment) bool { return d.StepReached == n })
}

func (h *harness) routing() (version, additional int, weight float64) {
	rt := h.reg.Function(fn).Alias("Live").Routing()
	if rt.Additional != nil {
		additional = rt.Additional.Number
	}
	return rt.Version.Number, additional, rt.Weight
}

func (h *harness) wantRouting(version, additional int, weight float64) {
	h.t.Helper()
	v, a, w := h.routing()
	if v != version || a != additional || (a != 0 && (w < weight-1e-9 || w > weight+1e-9)) {
		h.t.Fatalf("alias Live = version %d + %d@%v, want %d + %d@%v", v, a, w, version, additional, weight)
	}
}

func done(d Deployment) bool { return d.Status.Done() }

func eventStatuses(d Deployment) map[string]EventStatus {
	m := map[string]EventStatus{}
	for _, e := range d.LifecycleEvents {
		m[e.Name] = e.Status
	}
	return m
}

func TestLinearDeploymentShiftsEveryMinuteAndSucceeds(t *testing.T) {
	h := newHarness(t, "Linear10PercentEvery1Minute", nil)
	d, err := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 9; step++ {
		h.atStep(d.ID, step)
		h.wantRouting(1, 2, float64(step)/10)
		h.clock.Advance(time.Minute)
	}
	d = h.waitFor(d.ID, "Succeeded", done)
	if d.Status != StatusSucceeded || d.ErrorInformation != nil {
		t.Fatalf("status %s, error %+v", d.Status, d.ErrorInformation)
	}
	h.wantRouting(2, 0, 0)
	for name, st := range eventStatuses(d) {
		if st != EventSucceeded {
			t.Errorf("%s is %s, want Succeeded", name, st)
		}
	}
	if d.Target.TargetVersionWeight != 1 || d.Overview().Succeeded != 5 {
		t.Errorf("target weight %v, overview %+v", d.Target.TargetVersionWeight, d.Overview())
	}
	if got := d.CompleteTime.Sub(*d.StartTime); got != 9*time.Minute {
		t.Errorf("took %v of clock time, want 9m", got)
	}
}

func TestCanaryWithHooksInvokesEachHookOnceAndSucceeds(t *testing.T) {
	h := newHarness(t, "Canary10Percent5Minutes", func(g *Group) { g.PreTrafficHook, g.PostTrafficHook = "pre", "post" })
	h.hooks.behave["pre"] = h.hooks.reporting("Succeeded")
	h.hooks.behave["post"] = h.hooks.reporting("Succeeded")
	d, err := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	h.atStep(d.ID, 1)
	h.wantRouting(1, 2, 0.1)
	h.clock.Advance(5 * time.Minute)
	d = h.waitFor(d.ID, "Succeeded", done)
	if d.Status != StatusSucceeded {
		t.Fatalf("status %s: %+v", d.Status, d.ErrorInformation)
	}
	h.wantRouting(2, 0, 0)
	for _, hook := range []string{"pre", "post"} {
		calls := h.hooks.calls[hook]
		if len(calls) != 1 || calls[0]["DeploymentId"] != d.ID || calls[0]["LifecycleEventHookExecutionId"] == "" {
			t.Errorf("hook %s invoked with %v, want once with the deployment ID and an execution ID", hook, calls)
		}
	}
}

func TestAlarmStopsDeploymentAndRollsBack(t *testing.T) {
	h := newHarness(t, "Linear10PercentEvery1Minute", nil)
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.atStep(d.ID, 1)
	h.clock.Advance(time.Minute)
	h.atStep(d.ID, 2)
	h.wantRouting(1, 2, 0.2)

	h.alarms.set("HelloErrors", "ALARM", "Threshold Crossed: 1 datapoint [3.0] was >= 1.0")
	d = h.waitFor(d.ID, "Stopped", done)
	if d.Status != StatusStopped || d.ErrorInformation.Code != ErrAlarmActive {
		t.Fatalf("status %s, error %+v", d.Status, d.ErrorInformation)
	}
	h.wantRouting(1, 0, 0)
	if !d.RolledBack() || d.RollbackReaction <= 0 {
		t.Fatalf("rollback info %+v, reaction %v", d.RollbackInfo, d.RollbackReaction)
	}
	rb, err := h.e.Get(d.RollbackInfo.RollbackDeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Creator != CreatorRollback || rb.Status != StatusSucceeded || rb.RollbackInfo.RollbackTriggeringDeploymentID != d.ID ||
		rb.Target.TargetVersion != 1 || rb.Target.CurrentVersion != 2 {
		t.Fatalf("rollback deployment %+v", rb)
	}
	st := eventStatuses(d)
	if st[EventAllowTraffic] != EventFailed || st[EventAfterAllowTraffic] != EventSkipped || st[EventEnd] != EventSkipped {
		t.Fatalf("lifecycle after the stop: %v", st)
	}
	t.Logf("rollback reaction inside the engine: %v", d.RollbackReaction)
}

func TestAlarmAlreadyInAlarmStopsBeforeAnyTraffic(t *testing.T) {
	h := newHarness(t, "Canary10Percent5Minutes", nil)
	h.alarms.set("HelloErrors", "ALARM", "already firing")
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	d = h.waitFor(d.ID, "Stopped", done)
	if d.Status != StatusStopped || d.ErrorInformation.Code != ErrAlarmActive || d.StepReached != 0 {
		t.Fatalf("status %s, error %+v, step %d", d.Status, d.ErrorInformation, d.StepReached)
	}
	h.wantRouting(1, 0, 0)
	if d.RolledBack() {
		t.Fatal("a rollback deployment was made although no traffic had moved")
	}
}

func TestInsufficientDataDoesNotStopDeployment(t *testing.T) {
	h := newHarness(t, "Canary10Percent5Minutes", nil)
	h.alarms.set("HelloErrors", "INSUFFICIENT_DATA", "no datapoints")
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.atStep(d.ID, 1)
	h.clock.Advance(5 * time.Minute)
	if d = h.waitFor(d.ID, "done", done); d.Status != StatusSucceeded {
		t.Fatalf("status %s: %+v", d.Status, d.ErrorInformation)
	}
}

func TestFailedPreTrafficHookLeavesAliasUntouched(t *testing.T) {
	h := newHarness(t, "Canary10Percent5Minutes", func(g *Group) { g.PreTrafficHook = "pre" })
	h.hooks.behave["pre"] = h.hooks.reporting("Failed")
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	d = h.waitFor(d.ID, "Failed", done)
	if d.Status != StatusFailed || d.ErrorInformation.Code != ErrHookFailure {
		t.Fatalf("status %s, error %+v", d.Status, d.ErrorInformation)
	}
	h.wantRouting(1, 0, 0)
	if st := eventStatuses(d); st[EventBeforeAllowTraffic] != EventFailed || st[EventAllowTraffic] != EventSkipped {
		t.Fatalf("lifecycle: %v", st)
	}
	if d.RolledBack() {
		t.Fatal("rolled back although no traffic had moved")
	}
}

func TestFailedPostTrafficHookShiftsAllTrafficBack(t *testing.T) {
	h := newHarness(t, "AllAtOnce", func(g *Group) { g.PostTrafficHook = "post" })
	h.hooks.behave["post"] = h.hooks.reporting("Failed")
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	d = h.waitFor(d.ID, "Failed", done)
	if d.Status != StatusFailed || d.ErrorInformation.Code != ErrHookFailure || !d.RolledBack() {
		t.Fatalf("status %s, error %+v, rollback %+v", d.Status, d.ErrorInformation, d.RollbackInfo)
	}
	h.wantRouting(1, 0, 0)
}

func TestHookThatNeverReportsTimesOut(t *testing.T) {
	h := newHarness(t, "AllAtOnce", func(g *Group) { g.PreTrafficHook = "pre"; g.HookTimeout = 0 })
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.waitFor(d.ID, "the hook invoked and its timer armed", func(d Deployment) bool {
		return d.LifecycleEvents[1].HookExecutionID != ""
	})
	h.clock.Advance(59 * time.Minute)
	if d, _ = h.e.Get(d.ID); d.Status != StatusInProgress {
		t.Fatalf("gave up before the hour: %s", d.Status)
	}
	h.clock.Advance(time.Minute)
	d = h.waitFor(d.ID, "Failed", done)
	if d.ErrorInformation == nil || d.ErrorInformation.Code != ErrTimeout {
		t.Fatalf("error %+v, want TIMEOUT", d.ErrorInformation)
	}
	h.wantRouting(1, 0, 0)
}

func TestHookWhoseInvocationFailsFailsAtOnce(t *testing.T) {
	h := newHarness(t, "AllAtOnce", func(g *Group) { g.PreTrafficHook = "pre" })
	h.hooks.behave["pre"] = func(string, string) error { return errors.New("Runtime.ImportModuleError: cannot find module") }
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	d = h.waitFor(d.ID, "Failed", done)
	if d.ErrorInformation.Code != ErrHookFailure {
		t.Fatalf("error %+v", d.ErrorInformation)
	}
}

func TestHookStatusReportRules(t *testing.T) {
	h := newHarness(t, "AllAtOnce", func(g *Group) { g.PreTrafficHook = "pre" })
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	d = h.waitFor(d.ID, "the hook invoked", func(d Deployment) bool { return d.LifecycleEvents[1].HookExecutionID != "" })
	exec := d.LifecycleEvents[1].HookExecutionID
	if err := h.e.PutHookStatus(d.ID, exec, "InProgress"); !errors.Is(err, ErrInvalidHookStatus) {
		t.Errorf("status InProgress: err = %v", err)
	}
	if err := h.e.PutHookStatus(d.ID, "no-such-execution", "Succeeded"); !errors.Is(err, ErrHookExecutionNotFound) {
		t.Errorf("unknown execution: err = %v", err)
	}
	if err := h.e.PutHookStatus("d-NOSUCHDEP", exec, "Succeeded"); !errors.Is(err, ErrDeploymentNotFound) {
		t.Errorf("unknown deployment: err = %v", err)
	}
	if err := h.e.PutHookStatus(d.ID, exec, "Succeeded"); err != nil {
		t.Fatalf("first report: %v", err)
	}
	if err := h.e.PutHookStatus(d.ID, exec, "Succeeded"); !errors.Is(err, ErrHookAlreadyCompleted) {
		t.Errorf("second report: err = %v, want LifecycleEventAlreadyCompleted", err)
	}
	h.waitFor(d.ID, "Succeeded", done)
	if err := h.e.PutHookStatus(d.ID, exec, "Failed"); !errors.Is(err, ErrHookAlreadyCompleted) {
		t.Errorf("report after the deployment ended: err = %v", err)
	}
	if err := h.e.PutHookStatus("d-NOSUCHDEP", "x", "Failed"); !errors.Is(err, ErrDeploymentNotFound) {
		t.Errorf("unknown deployment: err = %v", err)
	}
}

func TestSecondDeploymentOfAGroupIsRefused(t *testing.T) {
	h := newHarness(t, "Canary10Percent5Minutes", nil)
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.atStep(d.ID, 1)
	if _, err := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2}); !errors.Is(err, ErrAlreadyInProgress) {
		t.Fatalf("second Create: err = %v", err)
	}
}

func TestStopByRequest(t *testing.T) {
	for _, rollback := range []bool{true, false} {
		h := newHarness(t, "Canary10Percent5Minutes", nil)
		d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
		h.atStep(d.ID, 1)
		if _, err := h.e.Stop(d.ID, rollback); err != nil {
			t.Fatal(err)
		}
		d, _ = h.e.Get(d.ID)
		if d.Status != StatusStopped || d.ErrorInformation.Code != ErrManualStop || d.RolledBack() != rollback {
			t.Fatalf("rollback=%v: status %s, error %+v, rolled back %v", rollback, d.Status, d.ErrorInformation, d.RolledBack())
		}
		if rollback {
			h.wantRouting(1, 0, 0)
		} else {
			h.wantRouting(1, 2, 0.1) // CodeDeploy leaves a stopped alias where it was
		}
		if _, err := h.e.Stop(d.ID, true); !errors.Is(err, ErrAlreadyCompleted) {
			t.Fatalf("second stop: err = %v", err)
		}
	}
}

func TestUnfinishedDeploymentIsRolledBackAfterRestart(t *testing.T) {
	h := newHarness(t, "Linear10PercentEvery1Minute", nil)
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.atStep(d.ID, 1)
	h.clock.Advance(time.Minute)
	h.atStep(d.ID, 2)
	h.e.Close() // leaves the deployment InProgress, as a crash would

	// A new engine over the same state, with the registry read back from disk.
	var err error
	if h.reg, err = registry.Open(h.db, h.clock, filepath.Join(h.state, "code")); err != nil {
		t.Fatal(err)
	}
	h.wantRouting(1, 2, 0.2) // the alias is where the old engine left it
	h.start()
	settled, err := h.e.Recover()
	if err != nil || len(settled) != 1 {
		t.Fatalf("Recover = %d deployments, %v", len(settled), err)
	}
	d, _ = h.e.Get(d.ID)
	if d.Status != StatusFailed || d.ErrorInformation.Code != ErrInternalError || !d.RolledBack() {
		t.Fatalf("after recovery: status %s, error %+v, rollback %+v", d.Status, d.ErrorInformation, d.RollbackInfo)
	}
	h.wantRouting(1, 0, 0)
	if _, err := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2, Description: "again"}); err != nil {
		t.Fatalf("the group is still busy after recovery: %v", err)
	}
}

func TestManualRollbackReturnsToPreviousVersion(t *testing.T) {
	h := newHarness(t, "AllAtOnce", nil)
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.waitFor(d.ID, "Succeeded", done)
	h.wantRouting(2, 0, 0)
	rb, err := h.e.Rollback(RollbackInput{Group: fn})
	if err != nil {
		t.Fatal(err)
	}
	rb = h.waitFor(rb.ID, "Succeeded", done)
	if rb.Status != StatusSucceeded || rb.Target.TargetVersion != 1 {
		t.Fatalf("manual rollback: %+v", rb)
	}
	h.wantRouting(1, 0, 0)
	h.clock.Advance(RollbackGrace) // within it, Rollback returns the rollback just made
	if _, err := h.e.Rollback(RollbackInput{Group: fn}); !errors.Is(err, ErrNothingToDeploy) {
		t.Fatalf("rollback below version 1: err = %v", err)
	}
}

func TestTriggersArePostedToHTTPTargets(t *testing.T) {
	var mu sync.Mutex
	var got []Message
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m Message
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer srv.Close()
	h := newHarness(t, "AllAtOnce", func(g *Group) {
		g.Triggers = []Trigger{{Name: "notify", Events: []string{"DeploymentStart", "DeploymentSuccess"}, Target: srv.URL}}
	})
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.waitFor(d.ID, "Succeeded", done)
	h.e.Close() // waits for deliveries
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Event != "DeploymentStart" || got[1].Event != "DeploymentSuccess" || got[1].DeploymentID != d.ID {
		t.Fatalf("trigger messages: %+v", got)
	}
}
