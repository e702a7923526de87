package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/follow"
)

// TestFollowCommand runs the real binary against an engine serving the
// orders example: a finished deployment is reported as JSON and JUnit, and
// usage errors exit 1. (The scenarios — rollback, hook failure, timeout with
// stop — are in e2e/follow_test.go.)
func TestFollowCommand(t *testing.T) {
	e, yml := ordersEngine(t, "")
	dir := filepath.Dir(yml)
	// Given a deployment of the api that has ended
	src := filepath.Join(dir, "src", "api.js")
	code, _ := os.ReadFile(src)
	os.WriteFile(src, append(code, []byte("\n// edited\n")...), 0o644)
	ended := make(chan struct{})
	var id string
	var mu sync.Mutex
	cancel := e.Deployer().Subscribe(func(u deploy.Deployment) {
		mu.Lock()
		defer mu.Unlock()
		if u.Creator == deploy.CreatorUser && u.Status.Done() && id == "" {
			id = u.ID
			close(ended)
		}
	})
	changes, err := e.PublishAndDeploy()
	if err != nil || len(changes) == 0 || changes[0].DeploymentID == "" {
		t.Fatalf("publish: %v %+v", err, changes)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the deployment did not end")
	}
	cancel()
	d := changes[0]

	runFollow := func(args ...string) result {
		return awsCLI(e, append([]string{"follow", "-c", yml}, args...)...)
	}

	// When it is followed with JSON output and a JUnit report
	junit := filepath.Join(t.TempDir(), "follow.xml")
	r := runFollow("-o", "json", "--junit", junit)
	// Then the stack (orders-dev, from serverless.yml) and the deployment are reported, exit 0
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var sum follow.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if sum.Stack != "orders-dev" || sum.StackStatus != "UPDATE_COMPLETE" || len(sum.Deployments) != 1 || sum.Deployments[0].DeploymentID != d.DeploymentID || sum.Result != "succeeded" {
		t.Fatalf("summary %+v", sum)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(b, &suite); err != nil || suite.Tests != 2 || suite.Failures != 0 {
		t.Fatalf("junit %+v, %v:\n%s", suite, err, b)
	}
	// And in text, the end says what happened
	if r := runFollow(); r.code != 0 || !strings.Contains(r.stderr, "stack orders-dev: UPDATE_COMPLETE") || !strings.Contains(r.stderr, "result: succeeded") {
		t.Fatalf("text: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Usage and lookup errors exit 1 and say what to do
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--on-timeout", "later"}, "use detach or stop"},
		{[]string{"--stack", "orders-prod"}, "check --stack, --stage and --region"},
		{[]string{"--since", "yesterday"}, "RFC 3339"},
	} {
		if r := runFollow(c.args...); r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("follow %v: exit %d, stderr %q; want 1 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// ordersEngine serves a copy of examples/orders in this process at 600×,
// with its deployment type replaced by typ when set.
func ordersEngine(t *testing.T, typ string) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, "../../examples/orders", dir)
	yml := filepath.Join(dir, "serverless.yml")
	if typ != "" {
		b, _ := os.ReadFile(yml)
		os.WriteFile(yml, []byte(strings.Replace(string(b), "type: Linear10PercentEvery1Minute", "type: "+typ, 1)), 0o644)
	}
	e, err := engine.Start(engine.Options{Config: yml, Addr: engine.AnyLoopbackAddr, APIAddr: engine.AnyLoopbackAddr, TimeScale: 600,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	return e, yml
}

// awsCLI runs the binary with e's AWS-compatible APIs as its AWS endpoint,
// signed with the key the engine accepts, as it would run against AWS.
func awsCLI(e *engine.Engine, args ...string) result {
	cmd := exec.Command(sluiceBin, append(args, "--endpoint-url", e.APIURL(), "--poll-interval", "20ms")...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIASLUICELOCAL00000", "AWS_SECRET_ACCESS_KEY=sluice-local-secret-access-key",
		"AWS_REGION=us-east-1", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Run()
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}
