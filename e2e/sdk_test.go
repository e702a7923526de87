package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/engine"
)

var npmOnce sync.Once

// installNodeModules installs the hook fixtures' npm packages (the AWS SDKs
// for JavaScript) from the registry once, as `npm ci` pins them.
func installNodeModules(t *testing.T, dir string) {
	t.Helper()
	var err error
	var out []byte
	npmOnce.Do(func() {
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "aws-sdk", "package.json")); statErr == nil {
			if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-codedeploy", "package.json")); statErr == nil {
				return
			}
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir = dir
		out, err = cmd.CombinedOutput()
	})
	if err != nil {
		t.Fatalf("npm ci in %s (the AWS SDKs the hooks use): %v\n%s", dir, err, out)
	}
}

func TestHooksWrittenForAWSRunUnchanged(t *testing.T) {
	// Given three functions, each deployed through a pre-traffic hook written
	// for AWS: JS SDK v2 (callback style), JS SDK v3 (ESM), aws-sdk-go-v2
	src, err := filepath.Abs("testdata/hooks-service")
	if err != nil {
		t.Fatal(err)
	}
	installNodeModules(t, src)
	dir := t.TempDir()
	for _, f := range []string{"serverless.yml", "api.js", "hooks-v2.js", "hooks-v3.mjs", "package.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, f), string(b))
	}
	if err := os.Symlink(filepath.Join(src, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	// The hook is a module of its own (its go.mod), as a function's code is.
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), ".")
	build.Dir = "testdata/hooks-service/gohook"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Go hook: %v\n%s", err, out)
	}
	s := serve(t, dir, engine.Options{})

	// When the three functions are deployed
	write(t, filepath.Join(dir, "api.js"), `exports.handler = async () => ({ statusCode: 200, body: 'v2' });`)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.client.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Then each deployment succeeds: its hook reported through its SDK
	ended := 0
	for _, c := range res.Changes {
		if c.Group == "" {
			continue
		}
		ended++
		var d deploy.Deployment
		for d.ID == "" || !d.Status.Done() {
			if ctx.Err() != nil {
				t.Fatalf("deployment of %s did not end: %s", c.Key, progressOf(d))
			}
			if d, err = s.client.Deployment(ctx, c.DeploymentID); err != nil {
				t.Fatal(err)
			}
			if !d.Status.Done() {
				waitForChange(ctx, s)
			}
		}
		if d.Status != deploy.StatusSucceeded {
			t.Errorf("%s (hook %s): %s %+v", c.Key, d.LifecycleEvents[1].Hook, d.Status, d.ErrorInformation)
		}
	}
	if ended != 3 {
		t.Fatalf("%d gradual deployments started, want 3: %+v", ended, res.Changes)
	}
}

// waitForChange returns at the next deployment change (or after a short
// while, so a change that happened just before the call is not waited out).
func waitForChange(ctx context.Context, s *service) {
	changed := make(chan struct{}, 1)
	cancel := s.engine.Deployer().Subscribe(func(deploy.Deployment) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()
	select {
	case <-changed:
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
	}
}
