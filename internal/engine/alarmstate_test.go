package engine

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/deploy"
)

// TestRestartRemembersAnAlarm: an alarm in ALARM when the engine stops is
// in ALARM when it starts again, and stops the next deployment of its
// group before any traffic moves, as CodeDeploy does.
func TestRestartRemembersAnAlarm(t *testing.T) {
	dir := reloadDir(t)
	fake := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	e := start(t, dir, fake)
	if err := e.Alarms().SetAlarmState("reload-live-errors", alarm.StateAlarm, "test: the live version fails"); err != nil {
		t.Fatal(err)
	}
	shutdown(t, e)

	e = start(t, dir, fake)
	a, ok := e.Alarms().Alarm("reload-live-errors")
	if !ok || a.State().Value != alarm.StateAlarm || a.State().Reason != "test: the live version fails" {
		t.Fatalf("after the restart: alarm %v, state %+v; want ALARM", ok, a.State())
	}
	rewrite(t, filepath.Join(dir, "handler.js"), "'one'", "'two'")
	c := deployOne(t, e, 1, 2)
	d := waitDeployment(t, e, c.DeploymentID)
	if d.Status != deploy.StatusStopped || d.ErrorInformation == nil || d.ErrorInformation.Code != deploy.ErrAlarmActive || d.StepReached != 0 {
		t.Fatalf("deployment after the restart: %s %+v step %d; want stopped by the remembered ALARM", d.Status, d.ErrorInformation, d.StepReached)
	}
}
