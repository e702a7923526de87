package engine

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// A function that gains deploymentSettings while the engine runs deploys
// gradually on the next publish, without a restart.
func TestPublishChangesPicksUpNewDeploymentSettings(t *testing.T) {
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
	changes, err := e.PublishChanges()
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Group != "grow-dev-ApiLambdaFunctionDeploymentGroup" || changes[0].ToVersion != 2 {
		t.Fatalf("changes %+v, want version 2 deployed through the new group", changes)
	}
	if a := e.Registry().Function("grow-dev-api").Alias("Live"); a == nil || a.Routing().Version.Number != 2 {
		t.Fatalf("the new alias should start on the version just published: %+v", a)
	}
}
