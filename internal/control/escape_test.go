package control

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/registry"
)

// The escape hatches through the control API and its client.

func TestDeployAllAtOnceIgnoringAlarms(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.write("v2")
	if _, err := f.client.DeployWith(ctx, DeployOptions{Type: "Sideways"}); !isCode(err, "InvalidDeploymentType") {
		t.Fatalf("unknown type: err = %v", err)
	}
	if n := len(f.reg.Function(fn).Versions()); n != 1 {
		t.Fatalf("a refused deploy published: %d versions", n)
	}
	if _, err := f.client.DeployWith(ctx, DeployOptions{Function: "api"}); !isCode(err, "PublishFailed") {
		t.Fatalf("one function, with an engine that cannot: err = %v", err)
	}
	res, err := f.client.DeployWith(ctx, DeployOptions{Type: "AllAtOnce", IgnoreAlarms: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.client.Wait(ctx, res.Changes[0].DeploymentID)
	if err != nil || d.Status != deploy.StatusSucceeded || !d.IgnoreAlarms || d.DeploymentConfigName != "CodeDeployDefault.LambdaAllAtOnce" {
		t.Fatalf("deployment %s ignoreAlarms=%v %s, %v", d.Status, d.IgnoreAlarms, d.DeploymentConfigName, err)
	}
}

func TestStopPromoteRetryAndRollbackByFunction(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.write("v2")
	res, err := f.client.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := res.Changes[0].DeploymentID
	d, err := f.client.StopFunction(ctx, fn, false)
	if err != nil || d.ID != id || d.Status != deploy.StatusStopped {
		t.Fatalf("stop by function: %s %s, %v", d.ID, d.Status, err)
	}
	if _, err := f.client.Promote(ctx, fn, false); !isCode(err, "NoDeploymentInProgress") {
		t.Fatalf("promote with nothing in progress: err = %v", err)
	}
	retry, err := f.client.Retry(ctx, fn, false)
	if err != nil || retry.Target.TargetVersion != 2 {
		t.Fatalf("retry: %+v, %v", retry.Target, err)
	}
	promoted, err := f.client.Promote(ctx, fn, true)
	if err != nil || promoted.ID != retry.ID || promoted.Status != deploy.StatusSucceeded {
		t.Fatalf("promote and wait: %s %s, %v", promoted.ID, promoted.Status, err)
	}
	if _, err := f.client.Retry(ctx, fn, false); !isCode(err, "NothingToRetry") {
		t.Fatalf("retry after a success: err = %v", err)
	}
	if _, err := f.client.RollbackWith(ctx, fn, RollbackRequest{ToVersion: 7}, false); !isCode(err, "VersionNotFound") {
		t.Fatalf("rollback to a missing version: err = %v", err)
	}
	f.clock.Advance(time.Minute)
	rb, err := f.client.RollbackWith(ctx, fn, RollbackRequest{ToVersion: 1}, true)
	if err != nil || rb.Status != deploy.StatusSucceeded || rb.Target.TargetVersion != 1 || !rb.ManualRollback {
		t.Fatalf("rollback --to 1: %s %+v, %v", rb.Status, rb.Target, err)
	}
	// At once again: the same rollback.
	again, err := f.client.Rollback(ctx, fn)
	if err != nil || again.ID != rb.ID {
		t.Fatalf("second rollback: %s, %v; want %s", again.ID, err, rb.ID)
	}
}

// PublishAndDeployWith makes the fixture's publisher an OptionsPublisher,
// as the engine is: its deployments take the options.
func (p *publisher) PublishAndDeployWith(o DeployOptions) ([]Change, error) {
	if o.Function != "" {
		return nil, &PublishError{Err: errors.New("deploying one function alone is not supported")}
	}
	if o == (DeployOptions{}) {
		return p.PublishAndDeploy()
	}
	from := p.reg.Function(fn).LatestVersion().Number
	v, _, err := p.reg.Publish(fn, registry.Config{Runtime: "nodejs20.x", Handler: "h.api"}, p.src, "")
	if err != nil {
		return nil, err
	}
	c := Change{Key: "api", Function: fn, FromVersion: from, ToVersion: v.Number, Group: "svc-dev-ApiLambdaFunctionDeploymentGroup"}
	d, err := p.deployments.Create(deploy.CreateInput{Group: c.Group, TargetVersion: v.Number, IgnoreAlarms: o.IgnoreAlarms, Type: o.Schedule})
	if err != nil {
		c.Error = err.Error()
	} else {
		c.DeploymentID = d.ID
	}
	return []Change{c}, nil
}

func isCode(err error, code string) bool {
	var ae *apiErr
	return errors.As(err, &ae) && ae.Code == code
}

// TestConcurrentRollbacksThroughTheAPI: five `sluice rollback` at once, as
// separate HTTP requests, move the alias back one version and all report
// the same rollback.
func TestConcurrentRollbacksThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, body := range []string{"v2", "v3"} {
		f.write(body)
		res, err := f.client.DeployWith(ctx, DeployOptions{Type: "AllAtOnce"})
		if err != nil {
			t.Fatal(err)
		}
		if d, err := f.client.Wait(ctx, res.Changes[0].DeploymentID); err != nil || d.Status != deploy.StatusSucceeded {
			t.Fatalf("deploy %s: %s, %v", body, d.Status, err)
		}
	}
	ids := make(chan string, 5)
	errs := make(chan error, 5)
	for range 5 {
		go func() {
			d, err := f.client.RollbackWith(ctx, fn, RollbackRequest{}, true)
			ids <- d.ID
			errs <- err
		}()
	}
	var first string
	for range 5 {
		id, err := <-ids, <-errs
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("rollbacks returned %s and %s", first, id)
		}
	}
	if rt := f.reg.Function(fn).Alias("Live").Routing(); rt.Version.Number != 2 || rt.Additional != nil {
		t.Fatalf("alias on version %d after five rollbacks from 3, want 2", rt.Version.Number)
	}
}
