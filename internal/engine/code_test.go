package engine

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAHandlerLinkedFromOutsideIsRefusedBeforeAnyVersion(t *testing.T) {
	dir := shopDir(t)
	outside := filepath.Join(t.TempDir(), "api.js")
	b, err := os.ReadFile(filepath.Join(dir, "src", "api.js"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(outside, b, 0o644)
	os.Remove(filepath.Join(dir, "src", "api.js"))
	if err := os.Symlink(outside, filepath.Join(dir, "src", "api.js")); err != nil {
		t.Fatal(err)
	}
	_, err = Start(Options{Config: filepath.Join(dir, "serverless.yml"), Addr: AnyLoopbackAddr, APIAddr: AnyLoopbackAddr, Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "handler file src/api.js is a link to "+outside) || !strings.Contains(err.Error(), "serverless.yml:") {
		t.Fatalf("Start = %v, want the linked handler refused", err)
	}
	if trees, _ := filepath.Glob(filepath.Join(dir, ".sluice", "code", "trees", "*")); len(trees) != 0 {
		t.Fatalf("code was stored before the handler was checked: %v", trees)
	}
}

func TestStateStaysOutOfGitAndOutOfTheCode(t *testing.T) {
	dir := shopDir(t)
	os.MkdirAll(filepath.Join(dir, "node_modules", ".cache", "babel"), 0o755)
	os.WriteFile(filepath.Join(dir, "node_modules", ".cache", "babel", "x.json"), []byte("{}"), 0o644)
	e := start(t, dir, nil)
	b, err := os.ReadFile(filepath.Join(dir, ".sluice", ".gitignore"))
	if err != nil || !strings.Contains(string(b), "\n*\n") {
		t.Fatalf(".sluice/.gitignore = %q, %v; want it to ignore everything", b, err)
	}
	v := e.Registry().Function("shop-dev-api").LatestVersion()
	for _, name := range []string{"serverless.yml", ".sluice", "node_modules/.cache"} {
		if _, err := os.Stat(filepath.Join(v.CodeDir, name)); !os.IsNotExist(err) {
			t.Errorf("%s is in the function's code: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(v.CodeDir, "src", "api.js")); err != nil {
		t.Errorf("the handler is missing from the code: %v", err)
	}
}
