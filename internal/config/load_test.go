package config

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// testEnv is the environment ${env:…} sees in tests.
func testEnv(name string) (string, bool) {
	v, ok := map[string]string{"HOME": "/home/test"}[name]
	return v, ok
}

// TestLoadGolden loads every testdata/load/*.yml and compares the
// diagnostics and the decoded model with the .golden file beside it.
// Run `go test ./internal/config -update` to rewrite them after a change,
// and review the diff.
func TestLoadGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/load/*.yml")
	if len(files) == 0 {
		t.Fatal("no test data")
	}
	for _, file := range files {
		if filepath.Base(file) == "shared.yml" {
			continue // referenced by variables.yml
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			for _, local := range []bool{false, true} {
				got := describeLoad(t, file, local)
				golden := strings.TrimSuffix(file, ".yml") + ".golden"
				if local {
					golden = strings.TrimSuffix(file, ".yml") + ".local.golden"
				}
				want, _ := os.ReadFile(golden)
				if local && string(want) == "" && !*update {
					continue // no local-specific expectation
				}
				if *update {
					if local && got == describeLoad(t, file, false) {
						os.Remove(golden)
						continue
					}
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if got != string(want) {
					t.Errorf("Load(%s, Local:%v) differs from %s:\n--- got\n%s\n--- want\n%s", file, local, golden, got, want)
				}
			}
		})
	}
}

func describeLoad(t *testing.T, file string, local bool) string {
	svc, diags, err := Load(file, Options{Getenv: testEnv, Local: local})
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(d.Error())
		b.WriteString("\n")
	}
	if (err != nil) != (len(diags.Errors()) > 0) {
		t.Errorf("err = %v but %d error diagnostics", err, len(diags.Errors()))
	}
	if svc == nil {
		return b.String()
	}
	b.WriteString("---\n")
	view := map[string]any{
		"name": svc.Name, "stage": svc.Stage, "region": svc.Region, "stack": svc.StackName(),
		"provider": svc.Provider, "functions": svc.Functions, "deploymentSettings": svc.DeploymentSettings,
		"alerts": svc.Alerts, "resources": svc.Resources,
	}
	for _, f := range svc.Functions {
		f.Raw = nil // the model is what is pinned; Raw is the input again
		if f.DeploymentSettings != nil {
			f.DeploymentSettings.Raw = nil
		}
		for i := range f.Events {
			f.Events[i].Pos.File = filepath.Base(f.Events[i].Pos.File)
		}
	}
	if svc.DeploymentSettings != nil {
		svc.DeploymentSettings.Raw = nil
	}
	out, err := json.MarshalIndent(view, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b.Write(out)
	b.WriteString("\n")
	return b.String()
}

func TestServicePosFallsBackToAncestor(t *testing.T) {
	svc, _, err := Load("testdata/load/deployment-settings.yml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Pos("functions.hello.deploymentSettings.type").String(); got != "testdata/load/deployment-settings.yml:11:7" {
		t.Errorf("Pos of a written key = %s", got)
	}
	// type comes from nowhere under preHook: the nearest written ancestor answers.
	if got := svc.Pos("functions.preHook.deploymentSettings.type").String(); got != "testdata/load/deployment-settings.yml:17:3" {
		t.Errorf("Pos of an unwritten key = %s, want its function's position", got)
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{"hello": "Hello", "my-func_x": "MyDashfuncUnderscorex", "": "", "A": "A", "9lives": "9lives"} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadJSONServiceOfConformanceShape(t *testing.T) {
	src := []byte(`{"service": "svc", "functions": {"hello": {"handler": "h.hello",
	  "deploymentSettings": {"type": "AllAtOnce", "alias": "Live"}}},
	  "custom": {"deploymentSettings": {"stages": ["dev"]}}}`)
	svc, _, err := LoadBytes("service.json", t.TempDir(), src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ds := svc.Function("hello").DeploymentSettings
	if ds == nil || ds.Type != "AllAtOnce" || len(ds.Stages) != 1 || ds.Stages[0] != "dev" {
		t.Fatalf("merged deploymentSettings = %+v", ds)
	}
}

func TestStackNameHonoursProviderStackName(t *testing.T) {
	for src, want := range map[string]string{
		"service: svc\n": "svc-dev",
		"service: svc\nprovider: {stackName: custom-stack}\n": "custom-stack",
		"service: svc\nprovider: {stackName: ''}\n":           "svc-dev",
	} {
		svc, _, err := LoadBytes("serverless.yml", t.TempDir(), []byte(src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := svc.StackName(); got != want {
			t.Errorf("StackName of %q = %q, want %q", src, got, want)
		}
	}
}
