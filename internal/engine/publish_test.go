package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/control"
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
	return waitBaked(t, e, nil, id)
}

// `sluice deploy --function api` publishes and deploys only api: worker's
// edit waits for a deploy of its own, a new function is refused, and the
// whole service is still checked first.
func TestDeployOneFunction(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const base = "service: one\nprovider:\n  runtime: nodejs20.x\nfunctions:\n" +
		"  api:\n    handler: api.handler\n    deploymentSettings: {type: AllAtOnce, alias: Live}\n" +
		"  worker:\n    handler: worker.handler\n"
	write("serverless.yml", base)
	write("api.js", "exports.handler = async () => 'api v1';")
	write("worker.js", "exports.handler = async () => 'worker v1';")
	e := start(t, dir, clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)))
	latest := func(fn string) int { return e.Registry().Function(fn).LatestVersion().Number }

	// Given edits to both functions
	write("api.js", "exports.handler = async () => 'api v2';")
	write("worker.js", "exports.handler = async () => 'worker v2';")
	// When only api is deployed (by its key)
	changes, err := e.PublishAndDeployWith(control.DeployOptions{Function: "api"})
	if err != nil {
		t.Fatal(err)
	}
	// Then api got version 2 and a deployment, and worker was not published
	if len(changes) != 1 || changes[0].Key != "api" || changes[0].ToVersion != 2 || changes[0].DeploymentID == "" {
		t.Fatalf("changes %+v, want api's deployment only", changes)
	}
	waitDeployment(t, e, changes[0].DeploymentID)
	if latest("one-dev-worker") != 1 {
		t.Fatalf("worker has version %d, want 1: --function api published it", latest("one-dev-worker"))
	}
	// And by its deployed name, worker's edit goes live on its own
	changes, err = e.PublishAndDeployWith(control.DeployOptions{Function: "one-dev-worker"})
	if err != nil || len(changes) != 1 || changes[0].Key != "worker" || latest("one-dev-worker") != 2 {
		t.Fatalf("changes %+v, %v; worker at %d", changes, err, latest("one-dev-worker"))
	}

	// Given a new function, and an invalid one elsewhere
	write("serverless.yml", base+"  extra:\n    handler: worker.handler\n")
	// When api alone is deployed, it is refused: extra has no version yet
	if _, err := e.PublishAndDeployWith(control.DeployOptions{Function: "api"}); err == nil || !strings.Contains(err.Error(), "function extra is new") {
		t.Fatalf("err = %v, want extra named as new", err)
	}
	write("serverless.yml", base+"    events:\n      - schedule: rate(bogus)\n")
	write("api.js", "exports.handler = async () => 'api v3';")
	if _, err := e.PublishAndDeployWith(control.DeployOptions{Function: "api"}); err == nil {
		t.Fatal("an invalid service deployed one of its functions")
	}
	if latest("one-dev-api") != 2 {
		t.Fatalf("api has version %d after refused deploys, want 2", latest("one-dev-api"))
	}
	if _, err := e.PublishAndDeployWith(control.DeployOptions{Function: "nope"}); err == nil || !strings.Contains(err.Error(), `no function "nope"`) {
		t.Fatalf("err = %v", err)
	}
}
