package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
)

// TestAWSFlags runs status, history, stop and rollback with --aws through
// the real binary against an engine serving the orders example: the AWS
// SDK's CodeDeploy, CloudWatch and CloudFormation clients act on the
// engine's AWS-compatible APIs as they would on AWS.
func TestAWSFlags(t *testing.T) {
	// Linear10PercentEvery10Minutes: 90 minutes of schedule, 9 s at 600×, so a
	// deployment is still running when stopped.
	e, yml := ordersEngine(t, "Linear10PercentEvery10Minutes")
	dir := filepath.Dir(yml)
	aws := func(args ...string) result { return awsCLI(e, append(args, "-c", yml, "--aws")...) }
	routing := func() (int, int) {
		rt := e.Registry().Function("orders-dev-api").Alias("Live").Routing()
		add := 0
		if rt.Additional != nil {
			add = rt.Additional.Number
		}
		return rt.Version.Number, add
	}
	edit := func(mark string) string {
		src := filepath.Join(dir, "src", "api.js")
		code, _ := os.ReadFile(src)
		os.WriteFile(src, append(code, []byte("\n// "+mark+"\n")...), 0o644)
		changes, err := e.PublishAndDeploy()
		if err != nil || len(changes) == 0 || changes[0].DeploymentID == "" {
			t.Fatalf("deploy: %v %+v", err, changes)
		}
		return changes[0].DeploymentID
	}

	// Given a deployment in progress that has moved traffic
	moved := make(chan string, 1)
	stopWatch := e.Deployer().Subscribe(func(d deploy.Deployment) {
		if d.StepReached >= 1 && !d.Status.Done() {
			select {
			case moved <- d.ID:
			default:
			}
		}
	})
	id := edit("v2")
	select {
	case <-moved:
	case <-time.After(30 * time.Second):
		t.Fatal("no traffic moved")
	}
	stopWatch()
	// When it is stopped on "AWS" by function name
	r := aws("stop", "api")
	// Then CodeDeploy stopped it with a rollback, and the command followed it to that end
	if r.code != 0 || !strings.Contains(r.stderr, "asked CodeDeploy to stop "+id+" with rollback") {
		t.Fatalf("stop --aws: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if d, _ := e.Deployer().Get(id); d.Status != deploy.StatusStopped || !d.RolledBack() {
		t.Fatalf("deployment %+v", d)
	}
	if v, add := routing(); v != 1 || add != 0 {
		t.Fatalf("alias Live = %d + %d after the stop, want 1", v, add)
	}
	// And nothing left to stop is an error that says so
	if r := aws("stop", "api"); r.code != 1 || !strings.Contains(r.stderr, "no deployment in progress on AWS") {
		t.Fatalf("stop --aws with nothing running: exit %d\n%s", r.code, r.stderr)
	}

	// Given a deployment that succeeded (v1 → v3)
	done := make(chan struct{})
	var once sync.Once
	var id3 string
	cancel := e.Deployer().Subscribe(func(d deploy.Deployment) {
		if d.ID == id3 && d.Status.Done() {
			once.Do(func() { close(done) })
		}
	})
	defer cancel()
	id3 = edit("v3")
	if d, _ := e.Deployer().Get(id3); d.Status.Done() {
		once.Do(func() { close(done) })
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the deployment did not end")
	}
	// When status and history ask "AWS"
	if r := aws("status"); r.code != 0 || !strings.Contains(r.stdout, id3) || !strings.Contains(r.stdout, "Succeeded") {
		t.Fatalf("status --aws: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = aws("history", "api", "-o", "json")
	var hist []struct {
		DeploymentID, Status string
	}
	// (v3, v2 stopped, and the rollback that undid v2)
	if err := json.Unmarshal([]byte(r.stdout), &hist); err != nil || r.code != 0 || len(hist) != 3 || hist[0].DeploymentID != id3 {
		t.Fatalf("history --aws: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	// And the function is rolled back on "AWS"
	r = aws("rollback", "api")
	// Then a new deployment moved the alias back to the version before v3, at once
	if r.code != 0 || !strings.Contains(r.stderr, "back to version 1") {
		t.Fatalf("rollback --aws: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if v, add := routing(); v != 1 || add != 0 {
		t.Fatalf("alias Live = %d + %d, want 1", v, add)
	}
}
