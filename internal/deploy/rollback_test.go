package deploy

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/registry"
)

// publishUpTo publishes versions until n exists and points the alias at n.
func (h *harness) publishUpTo(n int) {
	h.t.Helper()
	src := h.t.TempDir()
	for v := len(h.reg.Function(fn).Versions()) + 1; v <= n; v++ {
		os.WriteFile(filepath.Join(src, "handler.js"), []byte("v"+strconv.Itoa(v)), 0o644)
		if _, _, err := h.reg.Publish(fn, registry.Config{Runtime: "nodejs20.x", Handler: "handler.hello"}, src, ""); err != nil {
			h.t.Fatal(err)
		}
	}
	if _, err := h.reg.SetAlias(fn, "Live", n, 0, 0, nil); err != nil {
		h.t.Fatal(err)
	}
}

// rollbackConcurrently calls Rollback n times at once and returns the
// deployments they returned.
func (h *harness) rollbackConcurrently(n int, in RollbackInput) []Deployment {
	h.t.Helper()
	out := make([]Deployment, n)
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			out[i], errs[i] = h.e.Rollback(in)
		}()
	}
	start.Done()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			h.t.Fatalf("rollback %d: %v", i, err)
		}
	}
	return out
}

// TestConcurrentRollbacksMakeOne: five rollbacks at once move the alias back
// one version, not five, and all five return the same deployment.
func TestConcurrentRollbacksMakeOne(t *testing.T) {
	h := newHarness(t, "AllAtOnce", nil)
	h.publishUpTo(20)
	got := h.rollbackConcurrently(5, RollbackInput{Group: fn})
	for _, d := range got {
		if d.ID != got[0].ID {
			t.Fatalf("rollbacks returned %s and %s", got[0].ID, d.ID)
		}
	}
	d := h.waitFor(got[0].ID, "Succeeded", done)
	if d.Status != StatusSucceeded || !d.ManualRollback || d.Target.TargetVersion != 19 {
		t.Fatalf("rollback %+v", d)
	}
	h.wantRouting(19, 0, 0)

	// Just finished: a repeat still returns it.
	again, err := h.e.Rollback(RollbackInput{Group: fn})
	if err != nil || again.ID != d.ID {
		t.Fatalf("repeat within the grace: %s, %v; want %s", again.ID, err, d.ID)
	}
	// Later, a new rollback goes one further back.
	h.clock.Advance(RollbackGrace)
	next, err := h.e.Rollback(RollbackInput{Group: fn})
	if err != nil || next.ID == d.ID {
		t.Fatalf("rollback after the grace: %s, %v", next.ID, err)
	}
	h.waitFor(next.ID, "Succeeded", done)
	h.wantRouting(18, 0, 0)
}

// TestConcurrentRollbacksOfADeploymentInProgress: one stops the deployment
// with rollback; the others return the same rollback and stop nothing else.
func TestConcurrentRollbacksOfADeploymentInProgress(t *testing.T) {
	h := newHarness(t, "Linear10PercentEvery1Minute", nil)
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.atStep(d.ID, 1)
	got := h.rollbackConcurrently(5, RollbackInput{Group: fn})
	d, _ = h.e.Get(d.ID)
	if d.Status != StatusStopped || !d.RolledBack() {
		t.Fatalf("deployment after the rollbacks: %s, rollback %+v", d.Status, d.RollbackInfo)
	}
	for _, rb := range got {
		if rb.ID != d.RollbackInfo.RollbackDeploymentID || rb.Status != StatusSucceeded {
			t.Fatalf("a rollback returned %s (%s), want the rollback deployment %s", rb.ID, rb.Status, d.RollbackInfo.RollbackDeploymentID)
		}
	}
	h.wantRouting(1, 0, 0)
	all, _ := h.e.List(fn)
	if len(all) != 2 {
		t.Fatalf("%d deployments, want the stopped one and its rollback", len(all))
	}
}

// TestRollbackIgnoresAlarms: a rollback is an emergency action; an alarm in
// ALARM (the very reason for it) does not stop it.
func TestRollbackIgnoresAlarms(t *testing.T) {
	h := newHarness(t, "AllAtOnce", nil)
	h.publishUpTo(3)
	h.alarms.set("HelloErrors", "ALARM", "the live version fails")
	rb, err := h.e.Rollback(RollbackInput{Group: fn})
	if err != nil {
		t.Fatal(err)
	}
	rb = h.waitFor(rb.ID, "done", done)
	if rb.Status != StatusSucceeded || !rb.IgnoreAlarms {
		t.Fatalf("rollback under ALARM: %s %+v", rb.Status, rb.ErrorInformation)
	}
	h.wantRouting(2, 0, 0)
}

func TestRollbackToAVersion(t *testing.T) {
	h := newHarness(t, "AllAtOnce", nil)
	h.publishUpTo(5)
	if _, err := h.e.Rollback(RollbackInput{Group: fn, ToVersion: 9}); !errors.Is(err, registry.ErrVersionNotFound) {
		t.Fatalf("to a version that does not exist: err = %v", err)
	}
	if _, err := h.e.Rollback(RollbackInput{Group: fn, ToVersion: 5}); !errors.Is(err, ErrNothingToDeploy) {
		t.Fatalf("to the current version: err = %v", err)
	}
	rb, err := h.e.Rollback(RollbackInput{Group: fn, ToVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor(rb.ID, "Succeeded", done)
	h.wantRouting(2, 0, 0)
}

// TestRollbackReactionIsInTheRollbackRecord: the reaction figure is part of
// the record written with the alias move, so the stored record has it.
func TestRollbackReactionIsInTheRollbackRecord(t *testing.T) {
	h := newHarness(t, "Canary10Percent5Minutes", nil)
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	h.atStep(d.ID, 1)
	h.alarms.set("HelloErrors", "ALARM", "errors")
	h.waitFor(d.ID, "Stopped", done)
	h.e.Close()
	stored, err := History(h.db, fn)
	if err != nil || len(stored) != 2 {
		t.Fatalf("history: %d, %v", len(stored), err)
	}
	if stored[0].RollbackReaction <= 0 || stored[0].RollbackReaction > time.Minute {
		t.Fatalf("stored reaction %v", stored[0].RollbackReaction)
	}
}
