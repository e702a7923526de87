package dashboard

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
)

func TestWhy(t *testing.T) {
	alarm := deploy.Deployment{Status: deploy.StatusStopped, StepReached: 2,
		Target:           deploy.LambdaTarget{CurrentVersion: 1, TargetVersion: 2, TargetVersionWeight: 0.2},
		ErrorInformation: &deploy.ErrorInfo{Code: deploy.ErrAlarmActive, Message: "The deployment was stopped because alarm ApiErrors went into ALARM: Threshold Crossed: 1 out of the last 1 datapoints [3.0] was greater than or equal to the threshold (1.0)."},
		RollbackInfo:     &deploy.RollbackInfo{RollbackDeploymentID: "d-2"}}
	hook := deploy.Deployment{Status: deploy.StatusFailed, Target: alarm.Target,
		ErrorInformation: &deploy.ErrorInfo{Code: deploy.ErrHookFailure}}
	stranded := deploy.Deployment{Status: deploy.StatusStopped, StepReached: 3, Target: alarm.Target,
		ErrorInformation: &deploy.ErrorInfo{Code: deploy.ErrManualStop}}
	ok := deploy.Deployment{Status: deploy.StatusSucceeded, Target: alarm.Target}
	for _, c := range []struct {
		d    deploy.Deployment
		want string
	}{
		{alarm, "Version 2 was stopped because alarm ApiErrors went into ALARM: Threshold Crossed: 1 out of the last 1 datapoints [3.0] was greater than or equal to the threshold (1.0). Traffic was rolled back to version 1."},
		{hook, "Version 2 failed because a lifecycle hook failed. No traffic had moved: version 1 serves all of it."},
		{stranded, "Version 2 was stopped because it was stopped by request. Traffic was NOT rolled back: version 2 has 20% of it."},
		{ok, "Version 2 passed every check and serves all traffic."},
	} {
		if got := Why(c.d); got != c.want {
			t.Errorf("Why =\n  %s\nwant\n  %s", got, c.want)
		}
	}
}

func TestChartPeriodGivesAboutSixtyPoints(t *testing.T) {
	for _, c := range []struct {
		span time.Duration
		want time.Duration
	}{
		{30 * time.Second, time.Second},
		{5 * time.Minute, 5 * time.Second},
		{10 * time.Minute, 10 * time.Second},
		{30 * time.Minute, 30 * time.Second},
		{100 * time.Minute, 5 * time.Minute},
		{48 * time.Hour, 10 * time.Minute},
	} {
		if got := chartPeriod(c.span); got != c.want {
			t.Errorf("chartPeriod(%v) = %v, want %v", c.span, got, c.want)
		}
	}
}

func TestOnlyThisMachine(t *testing.T) {
	for _, c := range []struct {
		host, remote string
		ok           bool
	}{
		{"127.0.0.1:3001", "127.0.0.1:5000", true},
		{"localhost:3001", "[::1]:5000", true},
		{"evil.example:3001", "127.0.0.1:5000", false}, // DNS rebinding
		{"127.0.0.1:3001", "192.0.2.7:5000", false},    // another machine, with --host 0.0.0.0
	} {
		r := httptest.NewRequest("GET", "/ui/", nil)
		r.Host, r.RemoteAddr = c.host, c.remote
		if got := localRequest(r); got != c.ok {
			t.Errorf("Host %s from %s: local = %v, want %v", c.host, c.remote, got, c.ok)
		}
	}
}
