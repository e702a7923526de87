package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/schedule"
)

// The escape hatches of `sluice`: promote, stop by function, retry, deploy
// ignoring alarms or with another type, and waiting for the result, on a
// real controller.

func TestPromoteSkipsTheBakeAndRunsAfterAllowTraffic(t *testing.T) {
	h := newHarness(t, "Canary10Percent30Minutes", func(g *Group) { g.PostTrafficHook = "post" })
	h.hooks.behave["post"] = h.hooks.reporting("Succeeded")
	if _, err := h.e.Promote(fn); !errors.Is(err, ErrNoDeploymentActive) {
		t.Fatalf("promote with nothing in progress: err = %v", err)
	}
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.atStep(d.ID, 1)
	if _, err := h.e.Promote(fn); err != nil {
		t.Fatal(err)
	}
	d = h.waitFor(d.ID, "Succeeded", done)
	if d.Status != StatusSucceeded || !strings.Contains(d.LifecycleEvents[2].Diagnostics, "Promoted") {
		t.Fatalf("after promote: %s, AllowTraffic %+v", d.Status, d.LifecycleEvents[2])
	}
	h.wantRouting(2, 0, 0)
	if n := len(h.hooks.calls["post"]); n != 1 {
		t.Fatalf("post hook invoked %d times, want once", n)
	}
	if _, err := h.e.Promote(d.ID); !errors.Is(err, ErrAlreadyCompleted) {
		t.Fatalf("promote of an ended deployment: err = %v", err)
	}
}

func TestStopNamesTheDeploymentByFunction(t *testing.T) {
	h := newHarness(t, "Canary10Percent5Minutes", nil)
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.atStep(d.ID, 1)
	if got := h.e.Active(); len(got) != 1 || got[0].ID != d.ID {
		t.Fatalf("active = %+v", got)
	}
	stopped, err := h.e.Stop(fn, false)
	if err != nil || stopped.ID != d.ID || stopped.Status != StatusStopped {
		t.Fatalf("stop %s: %s %s, %v", fn, stopped.ID, stopped.Status, err)
	}
	h.wantRouting(1, 2, 0.1)
	if _, err := h.e.Stop(fn, false); !errors.Is(err, ErrNoDeploymentActive) {
		t.Errorf("stop with nothing in progress: err = %v", err)
	}
	if _, err := h.e.Stop("nope", false); !errors.Is(err, ErrDeploymentNotFound) {
		t.Errorf("stop of an unknown name: err = %v", err)
	}
	if _, err := h.e.Stop("d-NOSUCH123", false); !errors.Is(err, ErrDeploymentNotFound) {
		t.Errorf("stop of an unknown id: err = %v", err)
	}
}

func TestRetryDeploysTheLastFailedTargetAgain(t *testing.T) {
	h := newHarness(t, "AllAtOnce", func(g *Group) { g.PreTrafficHook = "pre" })
	if _, err := h.e.Retry(fn); !errors.Is(err, ErrNothingToRetry) {
		t.Fatalf("retry before any deployment: err = %v", err)
	}
	h.hooks.behave["pre"] = h.hooks.reporting("Failed")
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.waitFor(d.ID, "Failed", done)
	h.hooks.mu.Lock()
	h.hooks.behave["pre"] = h.hooks.reporting("Succeeded")
	h.hooks.mu.Unlock()
	again, err := h.e.Retry(fn)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == d.ID || again.Target.TargetVersion != 2 || !strings.Contains(again.Description, d.ID) {
		t.Fatalf("retry: %+v", again)
	}
	if again = h.waitFor(again.ID, "Succeeded", done); again.Status != StatusSucceeded {
		t.Fatalf("retry ended %s: %+v", again.Status, again.ErrorInformation)
	}
	h.wantRouting(2, 0, 0)
	if _, err := h.e.Retry(fn); !errors.Is(err, ErrNothingToRetry) {
		t.Fatalf("retry after a success: err = %v", err)
	}
}

func TestDeployIgnoringAlarmsAllAtOnce(t *testing.T) {
	h := newHarness(t, "Canary10Percent30Minutes", nil)
	h.alarms.set("HelloErrors", "ALARM", "the live version fails")
	all, _ := schedule.Parse("AllAtOnce")
	d, err := h.e.Create(CreateInput{Group: fn, TargetVersion: 2, IgnoreAlarms: true, Type: &all})
	if err != nil {
		t.Fatal(err)
	}
	d = h.waitFor(d.ID, "done", done)
	if d.Status != StatusSucceeded || !d.IgnoreAlarms || d.DeploymentConfigName != "CodeDeployDefault.LambdaAllAtOnce" {
		t.Fatalf("deployment %s ignoreAlarms=%v config %s: %+v", d.Status, d.IgnoreAlarms, d.DeploymentConfigName, d.ErrorInformation)
	}
	h.wantRouting(2, 0, 0)
	// Recorded, so `sluice history` shows it.
	stored, _ := History(h.db, fn)
	if len(stored) != 1 || !stored[0].IgnoreAlarms {
		t.Fatalf("stored: %+v", stored)
	}
}

func TestWaitReturnsTheEnd(t *testing.T) {
	h := newHarness(t, "Canary10Percent5Minutes", nil)
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.e.Wait(ctx, d.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with a cancelled context: err = %v", err)
	}
	h.atStep(d.ID, 1)
	h.clock.Advance(5 * time.Minute)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := h.e.Wait(ctx, d.ID)
	if err != nil || got.Status != StatusSucceeded {
		t.Fatalf("wait: %s, %v", got.Status, err)
	}
}

func TestGroupsReplacedByReload(t *testing.T) {
	h := newHarness(t, "AllAtOnce", nil)
	if gs := h.e.Groups(); len(gs) != 1 || gs[0].ConfigName() != "CodeDeployDefault.LambdaAllAtOnce" {
		t.Fatalf("groups %+v", gs)
	}
	h.e.SetGroups(nil)
	if _, err := h.e.Create(CreateInput{Group: fn, TargetVersion: 2}); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("create in a removed group: err = %v", err)
	}
	if _, err := h.e.List(fn); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("list of a removed group: err = %v", err)
	}
}

// TestRecordsWithStringVersions: records written before versions were
// numbers still read.
func TestRecordsWithStringVersions(t *testing.T) {
	var d Deployment
	old := `{"deploymentId":"d-OLD","status":"Succeeded","lambdaTarget":{"functionName":"f","functionAlias":"Live","currentVersion":"3","targetVersion":"4","targetVersionWeight":1}}`
	if err := json.Unmarshal([]byte(old), &d); err != nil {
		t.Fatal(err)
	}
	if d.Target.CurrentVersion != 3 || d.Target.TargetVersion != 4 || d.Target.FunctionAlias != "Live" {
		t.Fatalf("target %+v", d.Target)
	}
	b, _ := json.Marshal(d.Target)
	var back LambdaTarget
	if err := json.Unmarshal(b, &back); err != nil || back != d.Target {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	for _, bad := range []string{`{"currentVersion":"three"}`, `{"targetVersion":true}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	var p Phase
	if err := p.UnmarshalText([]byte("Sideways")); err == nil {
		t.Error("unknown phase: no error")
	}
	if s := Phase(42).String(); s != "Phase(42)" {
		t.Errorf("Phase(42) = %s", s)
	}
}
