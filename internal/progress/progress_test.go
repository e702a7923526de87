package progress

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/schedule"
)

func deployment(status deploy.Status, step int, weight float64) deploy.Deployment {
	d := deploy.Deployment{ID: "d-TEST00001", Status: status, StepReached: step, DeploymentConfigName: "CodeDeployDefault.LambdaCanary10Percent5Minutes",
		Target: deploy.LambdaTarget{FunctionName: "svc-dev-api", FunctionAlias: "Live", CurrentVersion: 1, TargetVersion: 2, TargetVersionWeight: weight},
		Steps:  make([]schedule.Step, 2)}
	d.LifecycleEvents = []deploy.LifecycleEvent{{Name: deploy.EventStart, Status: deploy.EventSucceeded}, {Name: deploy.EventAllowTraffic, Status: deploy.EventInProgress}}
	return d
}

func TestResultCodes(t *testing.T) {
	rolledBack := deployment(deploy.StatusStopped, 1, 0)
	rolledBack.RollbackInfo = &deploy.RollbackInfo{RollbackDeploymentID: "d-ROLLBACK1"}
	for _, c := range []struct {
		name string
		d    deploy.Deployment
		want int
	}{
		{"succeeded", deployment(deploy.StatusSucceeded, 2, 1), ExitSucceeded},
		{"rolled back", rolledBack, ExitRolledBack},
		{"failed before traffic moved", deployment(deploy.StatusFailed, 0, 0), ExitRolledBack},
		{"stopped without rollback", deployment(deploy.StatusStopped, 1, 0.1), ExitStranded},
	} {
		if got := ResultCode(c.d); got != c.want {
			t.Errorf("%s: ResultCode = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestPlainLinesOnlyOnChangeAndWaitEndsWithTheResult(t *testing.T) {
	var out strings.Builder
	tr := NewTracker(&out, Plain)
	tr.Track(deployment(deploy.StatusInProgress, 1, 0.1))
	tr.Update(deployment(deploy.StatusInProgress, 1, 0.1)) // nothing new: no line
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Fatalf("%d lines for one state:\n%s", n, out.String())
	}
	stranded := deployment(deploy.StatusStopped, 1, 0.1)
	stranded.ErrorInformation = &deploy.ErrorInfo{Code: deploy.ErrManualStop, Message: "The deployment was stopped by request."}
	go tr.Update(stranded)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	code, err := tr.Wait(ctx, nil)
	if err != nil || code != ExitStranded {
		t.Fatalf("Wait = %d, %v; want %d", code, err, ExitStranded)
	}
	last := out.String()[strings.LastIndex(strings.TrimSpace(out.String()), "\n")+1:]
	for _, want := range []string{"✘ Stopped", "NOT rolled back", "v1 90%", "v2 10%", "sluice rollback svc-dev-api"} {
		if !strings.Contains(last, want) {
			t.Errorf("the last line lacks %q: %s", want, last)
		}
	}
	if strings.Contains(out.String(), "stopped by request") {
		t.Errorf("the reason was printed before the end:\n%s", out.String())
	}
	tr.Finish(code, nil)
	if n := strings.Count(out.String(), "The deployment was stopped by request."); n != 1 {
		t.Errorf("the full reason is printed %d times, want once at the end:\n%s", n, out.String())
	}
}

func TestJSONRecords(t *testing.T) {
	var out strings.Builder
	tr := NewTracker(&out, JSON)
	tr.Track(deployment(deploy.StatusInProgress, 1, 0.1))
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out.String())), &rec); err != nil {
		t.Fatalf("not one JSON object per line: %v\n%s", err, out.String())
	}
	if rec["deploymentId"] != "d-TEST00001" || rec["weight"] != 0.1 || rec["lifecycleEvent"] != deploy.EventAllowTraffic ||
		rec["record"] != "deployment" || rec["time"] == nil {
		t.Fatalf("record %v", rec)
	}
}

func TestWaitGivesUpWhenTheContextEnds(t *testing.T) {
	tr := NewTracker(&strings.Builder{}, Plain)
	tr.Track(deployment(deploy.StatusInProgress, 1, 0.1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Wait(ctx, nil); !errors.Is(err, ErrStoppedWaiting) {
		t.Fatalf("Wait after cancel: %v", err)
	}
}
