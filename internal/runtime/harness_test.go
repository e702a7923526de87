package runtime

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/logs"

	// testdata/gobootstrap, built by goCodeDir, is an aws-lambda-go function;
	// importing it here keeps the module requirement visible to go mod tidy.
	_ "github.com/aws/aws-lambda-go/lambda"
)

// Shared by the tests of this binary: the bootstraps' runtime directory and
// the aws-lambda-go bootstrap, built once on first use.
var (
	testRuntimeDir string
	goBuild        struct {
		once sync.Once
		dir  string
		err  error
	}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-runtime-test-")
	if err != nil {
		panic(err)
	}
	testRuntimeDir = filepath.Join(dir, "runtime")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goCodeDir is a code directory whose bootstrap is testdata/gobootstrap, a
// function written with github.com/aws/aws-lambda-go/lambda, built with `go build`.
func goCodeDir(t testing.TB) string {
	t.Helper()
	goBuild.once.Do(func() {
		goBuild.dir = filepath.Join(filepath.Dir(testRuntimeDir), "gofunction")
		cmd := exec.Command("go", "build", "-o", filepath.Join(goBuild.dir, "bootstrap"), "./testdata/gobootstrap")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			goBuild.err = err
			goBuild.dir = string(out)
		}
	})
	if goBuild.err != nil {
		t.Fatalf("building the Go bootstrap: %v\n%s", goBuild.err, goBuild.dir)
	}
	return goBuild.dir
}

// codeDir resolves a fixture name: a directory under testdata/, or "go".
func codeDir(t testing.TB, name string) string {
	t.Helper()
	if name == "go" {
		return goCodeDir(t)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// spec is a Spec for a fixture with test defaults.
func spec(t testing.TB, runtimeID, code, handler string) Spec {
	return Spec{
		Function: "fn",
		Version:  "1",
		Runtime:  runtimeID,
		Handler:  handler,
		CodeDir:  codeDir(t, code),
		Timeout:  10 * time.Second,
	}
}

// newPool makes a pool that is closed when the test ends. A nil opts.Logs
// gets a fresh store in a temp dir.
func newPool(t testing.TB, s Spec, opts Options) *Pool {
	t.Helper()
	if opts.Logs == nil {
		store, err := logs.Open(t.TempDir(), logs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		opts.Logs = store
	}
	if opts.RuntimeDir == "" {
		opts.RuntimeDir = testRuntimeDir
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = 500 * time.Millisecond
	}
	p, err := NewPool(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func invoke(t testing.TB, p *Pool, payload string) Result {
	t.Helper()
	res, err := p.Invoke(context.Background(), Invocation{Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("Invoke(%s): %v", payload, err)
	}
	return res
}

// invokeOK invokes and fails the test on a function error.
func invokeOK(t testing.TB, p *Pool, payload string) Result {
	t.Helper()
	res := invoke(t, p, payload)
	if res.Failed() {
		t.Fatalf("Invoke(%s) failed: %s %s", payload, res.ErrorType, res.Payload)
	}
	return res
}

func decode[T any](t testing.TB, payload []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(payload, &v); err != nil {
		t.Fatalf("decoding %s: %v", payload, err)
	}
	return v
}

func processGone(pid int) bool {
	return syscall.Kill(pid, 0) == syscall.ESRCH
}
