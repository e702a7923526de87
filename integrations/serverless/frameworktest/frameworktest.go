// Package frameworktest runs the real Serverless Framework lines (serverless
// 3.40.0 and osls 4.3.1, installed from npm with the JS plugins sluice
// replaces) in tests, offline: telemetry off, dummy AWS credentials.
//
// The npm packages live in integrations/serverless/testdata/frameworks,
// pinned by its package-lock.json; .ci/run installs them with `npm ci`.
package frameworktest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"
)

// Line is one line of the framework, as a user installs it.
type Line struct {
	Name string // as npm names it, with its version
	Bin  string // its CLI, relative to node_modules
}

var (
	V3   = Line{Name: "serverless@3.40.0", Bin: "serverless/bin/serverless.js"}
	OSLS = Line{Name: "osls@4.3.1", Bin: "osls/bin/serverless.js"}
)

// Lines are the framework lines sluice is tested on.
var Lines = []Line{V3, OSLS}

// The JS plugins sluice replaces, at the versions compared against.
const (
	CanaryPlugin = "serverless-plugin-canary-deployments"
	AlertsPlugin = "serverless-plugin-aws-alerts"
)

// runTimeout bounds one framework run: they take 5 to 60 s on a loaded
// two-core machine.
const runTimeout = 5 * time.Minute

// ModulesDir is the node_modules the framework lines are installed in.
func ModulesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "frameworks", "node_modules")
}

// Require fails the test when the npm packages are not installed, saying
// how to install them: a test that cannot run the framework must not pass.
func Require(t testing.TB) {
	t.Helper()
	for _, p := range []string{V3.Bin, OSLS.Bin, CanaryPlugin + "/package.json", AlertsPlugin + "/package.json"} {
		if _, err := os.Stat(filepath.Join(ModulesDir(), p)); err != nil {
			t.Fatalf("the Serverless Framework packages from npm are not installed (%v).\n"+
				"Install them (CI does, in .ci/run):\n"+
				"  (cd integrations/serverless/testdata/frameworks && npm ci --no-audit --no-fund --ignore-scripts)", err)
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on PATH: install Node.js 18 or later (apt-get install nodejs): %v", err)
	}
}

// Run runs `<line> args…` in dir and returns its combined output. env is
// added to an offline environment.
func Run(line Line, dir string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(ModulesDir(), line.Bin)}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(Env(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %v did not finish in %v: %w", line.Name, args, runTimeout, ctx.Err())
	}
	return out.String(), err
}

// Env is the process environment for an offline framework run: no
// telemetry or update checks, and AWS credentials that reach nothing
// (packaging needs some, and uses none).
func Env() []string {
	return append(os.Environ(),
		"SLS_TELEMETRY_DISABLED=1",
		"SLS_TRACKING_DISABLED=1",
		"SLS_NOTIFICATIONS_MODE=off",
		"SLS_DEPRECATION_DISABLE=*",
		"AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
		"CI=true",
		"FORCE_COLOR=0",
		"NO_COLOR=1",
	)
}

// InstallPlugin makes the JS plugin name (one of the npm packages beside
// the framework) resolvable from the service in dir, as `npm install`
// would: node_modules/<name> links to it.
func InstallPlugin(t testing.TB, dir, name string) {
	t.Helper()
	mods := filepath.Join(dir, "node_modules")
	if err := os.MkdirAll(mods, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(ModulesDir(), name), filepath.Join(mods, name)); err != nil {
		t.Fatal(err)
	}
}

// InstallSluicePlugin copies the serverless-sluice package (the files npm
// publishes) into dir's node_modules, as `npm install serverless-sluice`
// would.
func InstallSluicePlugin(t testing.TB, dir string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..")
	dst := filepath.Join(dir, "node_modules", "serverless-sluice")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"package.json", "index.js", "schema.js"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// BuildSluice builds cmd/sluice into dir and returns its path.
func BuildSluice(dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(dir, "sluice")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/sluice")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/sluice: %w\n%s", err, out)
	}
	return bin, nil
}

// runStamps are what the framework names after the time of each packaging
// run: the S3 directory of the artifacts
// (serverless/<service>/<stage>/<ms>-<ISO time>) and the logical IDs of API
// Gateway deployments (ApiGatewayDeployment<ms>).
var runStamps = regexp.MustCompile(`\d{13}-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z|((?:ApiGateway|Websockets)Deployment)\d{13}`)

// Stable replaces each run's time stamps in a template or state file, so
// two runs' files compare equal.
func Stable(b []byte) []byte {
	return runStamps.ReplaceAllFunc(b, func(m []byte) []byte {
		if i := bytes.Index(m, []byte("Deployment")); i >= 0 {
			return append(m[:i+len("Deployment"):i+len("Deployment")], "0000000000000"...)
		}
		return []byte("0000000000000-1970-01-01T00:00:00.000Z")
	})
}
