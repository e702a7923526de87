package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/engine"
)

// flaky is a version that fails every other request.
func flaky(version string) string {
	return `let n = 0;
exports.handler = async () => {
  if (n++ % 2) throw new Error('flaky release ` + version + `');
  return { statusCode: 200, body: '` + version + `' };
};`
}

// givenFlakyLiveVersion serves the api with a live version that fails half
// its requests, and sends requests until the named alarm is in ALARM.
func givenFlakyLiveVersion(t *testing.T, settings, alarmName string) *service {
	t.Helper()
	s := givenService(t, serviceYML(settings, nil), engine.Options{})
	write(t, s.dir+"/api.js", flaky("v1"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The flaky code becomes the live version 2 (an AllAtOnce-like first
	// publish is not possible with a gradual group, so it is deployed).
	if _, err := s.client.Deploy(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitForNoDeployment(ctx)
	for s.alarmState(alarmName) != alarm.StateAlarm {
		if ctx.Err() != nil {
			t.Fatalf("alarm %s never went into ALARM under the flaky version's errors (state %s)", alarmName, s.alarmState(alarmName))
		}
		s.get()
	}
	return s
}

func (s *service) alarmState(name string) alarm.State {
	a, ok := s.engine.Alarms().Alarm(name)
	if !ok {
		s.t.Fatalf("no alarm %s", name)
	}
	return a.State().Value
}

func (s *service) waitForNoDeployment(ctx context.Context) {
	s.t.Helper()
	for len(s.engine.Deployer().Active()) > 0 {
		select {
		case <-ctx.Done():
			s.t.Fatal("a deployment did not end")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestFunctionWideAlarmBlocksTheFixOfAFlakyVersion(t *testing.T) {
	// Given a live version that fails half its requests, and a deployment
	// group watching the function-wide error alarm, which is in ALARM
	s := givenFlakyLiveVersion(t, `
type: Linear10PercentEvery1Minute
alias: Live
alarms: [ApiFunctionErrorsAlarm]`, "ApiFunctionErrorsAlarm")
	// When the fix is deployed
	d := s.whenDeployed(api("v3", false), func(deploy.Deployment) { s.get() })
	// Then the old version's errors stop the fix at once (what canaryAlarms avoid)
	if d.Status != deploy.StatusStopped || d.ErrorInformation == nil || d.ErrorInformation.Code != deploy.ErrAlarmActive {
		t.Fatalf("deployment ended %s: %+v", d.Status, d.ErrorInformation)
	}
}

func TestCanaryAlarmsLetTheFixDeployAndStillCatchABrokenVersion(t *testing.T) {
	// Given a live version that fails half its requests, and a deployment
	// group watching only a canary alarm, in ALARM on the live version
	const canary = "e2e-dev-api-canary-functionErrors"
	s := givenFlakyLiveVersion(t, `
type: Linear10PercentEvery1Minute
alias: Live
canaryAlarms: [functionErrors]`, canary)
	s.thenAlias(2, 0)

	// When the fix is deployed, under traffic
	d := s.whenDeployed(api("v3", false), func(deploy.Deployment) { s.get() })
	// Then it succeeds: the canary alarm watched version 3 alone
	if d.Status != deploy.StatusSucceeded {
		t.Fatalf("the fix's deployment ended %s: %+v", d.Status, d.ErrorInformation)
	}
	s.thenAlias(3, 0)
	s.thenServes("v3", 5)
	if v := s.canaryWatches(context.Background(), canary); v != "3" {
		t.Errorf("status shows %s watching version %q, want 3", canary, v)
	}

	// When a version that fails every request is deployed, under traffic
	d = s.whenDeployed(api("v4", true), func(deploy.Deployment) { s.get() })
	// Then the canary alarm stops it and traffic returns to the fix
	if d.Status != deploy.StatusStopped || d.ErrorInformation == nil || d.ErrorInformation.Code != deploy.ErrAlarmActive || !d.RolledBack() {
		t.Fatalf("the broken version's deployment ended %s: %+v, rollback %+v", d.Status, d.ErrorInformation, d.RollbackInfo)
	}
	s.thenAlias(3, 0)
	s.thenServes("v3", 5)
	// and the canary alarm watches version 3 again, as CloudFormation's
	// rollback would leave it
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for s.canaryWatches(ctx, canary) != "3" {
		select {
		case <-ctx.Done():
			t.Fatalf("after the rollback %s watches version %s, want 3", canary, s.canaryWatches(context.Background(), canary))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// canaryWatches is the version a canary alarm watches, as status shows it.
func (s *service) canaryWatches(ctx context.Context, name string) string {
	alarms, err := s.client.Alarms(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, a := range alarms {
		if a.Name == name {
			return a.ExecutedVersion
		}
	}
	return ""
}
