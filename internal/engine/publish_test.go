package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/deploy"
)

// A function that gains deploymentSettings while the engine runs deploys
// gradually on the next publish, without a restart: its new alias starts on
// the version that served, and a deployment moves it to the new one.
func TestDeployPicksUpNewDeploymentSettings(t *testing.T) {
	dir := t.TempDir()
	yml := func(settings string) {
		src := "service: grow\nprovider:\n  runtime: nodejs20.x\nfunctions:\n  api:\n    handler: api.handler\n" + settings
		if err := os.WriteFile(filepath.Join(dir, "serverless.yml"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yml("")
	os.WriteFile(filepath.Join(dir, "api.js"), []byte("exports.handler = async () => 'v1';"), 0o644)
	e := start(t, dir, clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)))
	if g := e.Deployer().Group("grow-dev-api"); g != nil {
		t.Fatalf("a group exists before deploymentSettings: %+v", g)
	}

	yml("    deploymentSettings: {type: AllAtOnce, alias: Live}\n")
	os.WriteFile(filepath.Join(dir, "api.js"), []byte("exports.handler = async () => 'v2';"), 0o644)
	changes, err := e.PublishAndDeploy()
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Group != "grow-dev-ApiLambdaFunctionDeploymentGroup" || changes[0].FromVersion != 1 ||
		changes[0].ToVersion != 2 || changes[0].DeploymentID == "" || changes[0].Error != "" {
		t.Fatalf("changes %+v, want a deployment of version 1 to 2 through the new group", changes)
	}
	d := waitDeployment(t, e, changes[0].DeploymentID)
	if d.Status != deploy.StatusSucceeded {
		t.Fatalf("deployment %s ended %s", d.ID, d.Status)
	}
	if rt := e.Registry().Function("grow-dev-api").Alias("Live").Routing(); rt.Version.Number != 2 || rt.Additional != nil {
		t.Fatalf("alias Live serves %s after the deployment, want version 2", describeRouting(rt))
	}
}

// waitDeployment waits for deployment id to end, reading it back on each
// change the deployer announces.
func waitDeployment(t *testing.T, e *Engine, id string) deploy.Deployment {
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
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("deployment %s did not end: %s", id, d.Status)
		}
	}
}
