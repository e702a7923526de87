package engine

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// The scenarios of issue 11 "Edits deploy": `sluice deploy` compares the
// working copy with what the alias serves, not with the latest version
// published, so code that is published but not served is deployed.

const liveFn = "reload-dev-live"

// deployOne runs PublishAndDeploy and returns its one change of the live
// function, which must have started a deployment from version from to to.
func deployOne(t *testing.T, e *Engine, from, to int) control.Change {
	t.Helper()
	changes, err := e.PublishAndDeploy()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if c.Function == liveFn {
			if c.FromVersion != from || c.ToVersion != to || c.DeploymentID == "" || c.Error != "" {
				t.Fatalf("deploy of %s: %+v, want a deployment of version %d to %d", liveFn, c, from, to)
			}
			return c
		}
	}
	t.Fatalf("deploy changed %+v: nothing for %s while its alias serves an older version", changes, liveFn)
	return control.Change{}
}

func aliasServes(t *testing.T, e *Engine) string {
	t.Helper()
	return describeRouting(e.Registry().Function(liveFn).Alias("Live").Routing())
}

func TestDeployAfterAnAlarmRollbackDeploysAgain(t *testing.T) {
	dir := reloadDir(t)
	e := start(t, dir, clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)))
	rewrite(t, filepath.Join(dir, "handler.js"), "'one'", "'two'")
	c := deployOne(t, e, 1, 2)
	if err := e.Alarms().SetAlarmState("reload-live-errors", alarm.StateAlarm, "test: the new version fails"); err != nil {
		t.Fatal(err)
	}
	if d := waitDeployment(t, e, c.DeploymentID); d.Status != deploy.StatusStopped {
		t.Fatalf("deployment %s ended %s, want stopped by the alarm", d.ID, d.Status)
	}
	testutil.Eventually(t, "alias Live back on version 1 after the rollback", func() bool { return aliasServes(t, e) == "version 1" })
	if err := e.Alarms().SetAlarmState("reload-live-errors", alarm.StateOK, "test: fixed elsewhere"); err != nil {
		t.Fatal(err)
	}
	// No edit: version 2 is the working copy, and the alias does not serve it.
	deployOne(t, e, 1, 2)
}

func TestDeployAfterAStoppedDeploymentDeploysAgain(t *testing.T) {
	dir := reloadDir(t)
	e := start(t, dir, clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)))
	rewrite(t, filepath.Join(dir, "handler.js"), "'one'", "'two'")
	c := deployOne(t, e, 1, 2)
	if _, err := e.Deployer().Stop(c.DeploymentID, false); err != nil {
		t.Fatal(err)
	}
	if d := waitDeployment(t, e, c.DeploymentID); d.Status != deploy.StatusStopped || d.RolledBack() {
		t.Fatalf("deployment %s ended %s (rolled back: %v), want stopped where it was", d.ID, d.Status, d.RolledBack())
	}
	// Stopped without rollback: traffic may be split, or on version 1.
	t.Logf("after the stop alias Live serves %s", aliasServes(t, e))
	deployOne(t, e, 1, 2)
}

func TestDeployAfterEditsWhileTheEngineWasDown(t *testing.T) {
	dir := reloadDir(t)
	fake := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	e := start(t, dir, fake)
	shutdown(t, e)
	rewrite(t, filepath.Join(dir, "handler.js"), "'one'", "'two'")
	e = start(t, dir, fake)
	// The restart published version 2; the alias stays on version 1.
	if got := aliasServes(t, e); got != "version 1" {
		t.Fatalf("after the restart alias Live serves %s, want version 1", got)
	}
	st, err := control.ReadStatus(e.StateDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range st.Aliases {
		if a.Function == liveFn && (a.LatestDeployed() || a.LatestVersion != 2) {
			t.Fatalf("status of alias Live: %+v, want latest v2 not deployed", a)
		}
	}
	c := deployOne(t, e, 1, 2)
	d := waitBaked(t, e, fake, c.DeploymentID)
	if d.Status != deploy.StatusSucceeded || aliasServes(t, e) != "version 2" {
		t.Fatalf("deployment %s ended %s, alias Live serves %s; want version 2", d.ID, d.Status, aliasServes(t, e))
	}
	// Now the alias serves the working copy: nothing to deploy.
	changes, err := e.PublishAndDeploy()
	if err != nil || len(changes) != 0 {
		t.Fatalf("deploy with nothing changed: %+v, %v", changes, err)
	}
}

// The in-progress check, the publish and the creation are one step: a
// deploy while one is in progress publishes nothing, and of two deploys at
// once one deploys and the other is refused whole — never "published, but
// not deployed".
func TestDeployIsOneStep(t *testing.T) {
	dir := reloadDir(t)
	e := start(t, dir, clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)))
	rewrite(t, filepath.Join(dir, "handler.js"), "'one'", "'two'")
	var wg sync.WaitGroup
	results := make([]struct {
		changes []control.Change
		err     error
	}, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].changes, results[i].err = e.PublishAndDeploy()
		}()
	}
	wg.Wait()
	deployed, refused := 0, 0
	for _, r := range results {
		switch {
		case errors.Is(r.err, deploy.ErrAlreadyInProgress):
			refused++
		case r.err != nil:
			t.Fatal(r.err)
		default:
			for _, c := range r.changes {
				if c.Error != "" {
					t.Fatalf("change %+v: published, but not deployed", c)
				}
				if c.DeploymentID != "" {
					deployed++
				}
			}
		}
	}
	if deployed != 1 || refused != 1 {
		t.Fatalf("two deploys at once: %d deployments and %d refusals, want 1 and 1", deployed, refused)
	}
	rewrite(t, filepath.Join(dir, "handler.js"), "'two'", "'three'")
	if _, err := e.PublishAndDeploy(); !errors.Is(err, deploy.ErrAlreadyInProgress) {
		t.Fatalf("deploy during a deployment: err = %v, want it refused", err)
	}
	if n := len(e.Registry().Function(liveFn).Versions()); n != 2 {
		t.Fatalf("the refused deploy published: %d versions, want 2", n)
	}
}

// waitBaked follows a deployment to its end, reading it back on each change
// the deployer announces; with a fake clock it moves the clock on whenever
// the deployment waits between traffic steps.
func waitBaked(t *testing.T, e *Engine, fake *clock.Fake, id string) deploy.Deployment {
	t.Helper()
	changed := make(chan struct{}, 1)
	cancel := e.Deployer().Subscribe(func(deploy.Deployment) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()
	deadline := time.After(30 * time.Second)
	for {
		d, err := e.Deployer().Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.Done() {
			return d
		}
		tick := (<-chan time.Time)(nil)
		if fake != nil && current(d) == deploy.EventAllowTraffic {
			// Move the clock, and look again after a short tick in case the
			// step's timer was not armed yet.
			fake.Advance(time.Minute)
			tick = time.After(20 * time.Millisecond)
		}
		select {
		case <-changed:
		case <-tick:
		case <-deadline:
			t.Fatalf("deployment %s stuck: %+v", d.ID, d)
		}
	}
}
