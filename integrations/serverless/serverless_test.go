package serverless_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/sluice-dev/sluice/integrations/serverless/frameworktest"
)

const (
	compiledTemplate = ".serverless/cloudformation-template-update-stack.json"
	serviceState     = ".serverless/serverless-state.json"
)

// sluiceBin is cmd/sluice, built once for the tests.
var sluiceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "serverless-sluice-test")
	if err != nil {
		panic(err)
	}
	if sluiceBin, err = frameworktest.BuildSluice(dir); err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// With the plugin, each framework line packages the service under strict
// validation, and the template it saves (and the one in the state that
// `deploy --package` deploys) is the one `sluice package` writes into the
// plain framework's output.
func TestPluginPackagesWhatSluicePackageWrites(t *testing.T) {
	frameworktest.Require(t)
	for _, line := range frameworktest.Lines {
		t.Run(line.Name, func(t *testing.T) {
			t.Parallel()

			withPlugin := newService(t, "configValidationMode: error\nplugins:\n  - serverless-sluice\n")
			// The local engine's state must stay out of the package.
			writeFile(t, filepath.Join(withPlugin, ".sluice", "sluice.db"), "state")
			out, err := frameworktest.Run(line, withPlugin, []string{"SLUICE_BIN=" + sluiceBin}, "package")
			if err != nil {
				t.Fatalf("%s package with serverless-sluice: %v\n%s", line.Name, err, out)
			}
			got := readJSON(t, filepath.Join(withPlugin, compiledTemplate))
			state := readJSON(t, filepath.Join(withPlugin, serviceState))
			stateTemplate := state.(map[string]any)["service"].(map[string]any)["provider"].(map[string]any)["compiledCloudFormationTemplate"]
			if d := firstDifference(got, stateTemplate, "$"); d != "" {
				t.Errorf("the template in serverless-state.json differs from the saved one: %s", d)
			}
			if entries := zipEntries(t, filepath.Join(withPlugin, ".serverless", "orders.zip")); containsPrefix(entries, ".sluice/") {
				t.Errorf("the package holds the local engine's state: %v", entries)
			}

			// The same service, packaged without the plugin (the framework
			// then needs lenient validation), then by `sluice package`.
			plain := newService(t, "configValidationMode: warn\npackage:\n  patterns:\n    - '!.sluice/**'\n")
			writeFile(t, filepath.Join(plain, ".sluice", "sluice.db"), "state")
			if out, err := frameworktest.Run(line, plain, nil, "package"); err != nil {
				t.Fatalf("%s package: %v\n%s", line.Name, err, out)
			}
			cmd := exec.Command(sluiceBin, "package", "--config", filepath.Join(plain, "serverless.yml"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sluice package: %v\n%s", err, out)
			}
			want := readJSON(t, filepath.Join(plain, compiledTemplate))

			if d := firstDifference(got, want, "$"); d != "" {
				t.Fatalf("the plugin's template differs from sluice package's: %s", d)
			}
			// And it is sluice's: a gradual deployment, and the alarms.
			for _, id := range []string{"CreateLambdaFunctionAliasLive", "CreateLambdaFunctionDeploymentGroup", "CreateFunctionErrorsAlarm", "CreateSlowOrdersAlarm", "ListLambdaFunctionAliasLive"} {
				if _, ok := resources(got)[id]; !ok {
					t.Errorf("the template has no %s; it has %v", id, keys(resources(got)))
				}
			}
		})
	}
}

// A JavaScript config (serverless.js) is handed to sluice as the framework
// loaded it, before the framework adds keys of its own while compiling.
func TestJavaScriptConfig(t *testing.T) {
	frameworktest.Require(t)
	dir := newService(t, "configValidationMode: error\nplugins:\n  - serverless-sluice\n")
	yml := filepath.Join(dir, "serverless.yml")
	src, err := os.ReadFile(yml)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "serverless.js"), "module.exports = "+string(js)+";\n")
	if err := os.Remove(yml); err != nil {
		t.Fatal(err)
	}
	out, err := frameworktest.Run(frameworktest.OSLS, dir, []string{"SLUICE_BIN=" + sluiceBin}, "package")
	if err != nil {
		t.Fatalf("osls package with serverless.js: %v\n%s", err, out)
	}
	got := readJSON(t, filepath.Join(dir, compiledTemplate))
	for _, id := range []string{"CreateLambdaFunctionAliasLive", "CreateLambdaFunctionDeploymentGroup", "ListLambdaFunctionDeploymentGroup"} {
		if _, ok := resources(got)[id]; !ok {
			t.Errorf("the template has no %s; it has %v", id, keys(resources(got)))
		}
	}
	// sluice's warnings arrive as the framework's, said once.
	if !strings.Contains(out, "Warning: ") || strings.Contains(out, ": warning: ") {
		t.Errorf("sluice's warnings are not the framework's warnings:\n%s", out)
	}
}

// Values given with --param reach sluice as they reach the framework.
func TestParams(t *testing.T) {
	frameworktest.Require(t)
	dir := newService(t, "plugins:\n  - serverless-sluice\n")
	yml := filepath.Join(dir, "serverless.yml")
	b, err := os.ReadFile(yml)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, yml, strings.Replace(string(b), "type: Canary10Percent5Minutes", "type: ${param:listDeployment}", 1))
	out, err := frameworktest.Run(frameworktest.OSLS, dir, []string{"SLUICE_BIN=" + sluiceBin}, "package", "--param", "listDeployment=Linear10PercentEvery2Minutes")
	if err != nil {
		t.Fatalf("osls package --param: %v\n%s", err, out)
	}
	group, _ := resources(readJSON(t, filepath.Join(dir, compiledTemplate)))["ListLambdaFunctionDeploymentGroup"].(map[string]any)
	if got := fmt.Sprint(group["Properties"].(map[string]any)["DeploymentConfigName"]); !strings.Contains(got, "Linear10PercentEvery2Minutes") {
		t.Errorf("the deployment group's config is %s, not the --param's Linear10PercentEvery2Minutes", got)
	}
}

// Strict validation refuses the plugins' keys unless serverless-sluice
// declares them: without it, osls (strict by default) stops.
func TestStrictValidationNeedsThePlugin(t *testing.T) {
	frameworktest.Require(t)
	dir := newService(t, "configValidationMode: error\n")
	out, err := frameworktest.Run(frameworktest.OSLS, dir, nil, "package")
	if err == nil {
		t.Fatalf("osls packaged deploymentSettings and alarms with no plugin to declare them:\n%s", out)
	}
	for _, want := range []string{"unrecognized property 'deploymentSettings'", "unrecognized property 'alarms'"} {
		if !strings.Contains(out, want) {
			t.Errorf("osls output lacks %q:\n%s", want, out)
		}
	}
}

// What goes wrong reaches the user as a framework error, and no template
// is saved half-done.
func TestErrorsReachTheUser(t *testing.T) {
	frameworktest.Require(t)
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		env   []string
		want  []string
	}{{
		name: "no sluice binary",
		env:  []string{"SLUICE_BIN=" + filepath.Join(t.TempDir(), "no-sluice-here")},
		want: []string{"cannot find the sluice binary", "SLUICE_BIN"},
	}, {
		name: "sluice refuses the config",
		setup: func(t *testing.T, dir string) {
			yml := filepath.Join(dir, "serverless.yml")
			b, err := os.ReadFile(yml)
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.Replace(b, []byte("type: Canary10Percent5Minutes"), []byte("type: Canary10PercentEvery5Minutes"), 1)
			writeFile(t, yml, string(b))
		},
		env: []string{"SLUICE_BIN=" + sluiceBin},
		// The line and column of the bad value in serverless.yml.
		want: []string{"serverless.yml:52:7", "Canary10PercentEvery5Minutes"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := newService(t, "plugins:\n  - serverless-sluice\n")
			if c.setup != nil {
				c.setup(t, dir)
			}
			out, err := frameworktest.Run(frameworktest.OSLS, dir, c.env, "package")
			if err == nil {
				t.Fatalf("packaging succeeded:\n%s", out)
			}
			for _, want := range c.want {
				if !strings.Contains(out, want) {
					t.Errorf("the output lacks %q:\n%s", want, out)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, compiledTemplate)); !os.IsNotExist(err) {
				t.Errorf("a template was saved after the error (stat: %v)", err)
			}
		})
	}
}

// Listing a replaced plugin beside serverless-sluice would generate every
// alarm and deployment group twice: the plugin refuses it.
func TestRefusesTheReplacedPlugins(t *testing.T) {
	frameworktest.Require(t)
	dir := newService(t, "plugins:\n  - serverless-sluice\n  - "+frameworktest.AlertsPlugin+"\n")
	frameworktest.InstallPlugin(t, dir, frameworktest.AlertsPlugin)
	out, err := frameworktest.Run(frameworktest.V3, dir, []string{"SLUICE_BIN=" + sluiceBin}, "package")
	if err == nil {
		t.Fatalf("packaging succeeded:\n%s", out)
	}
	if want := "serverless-sluice replaces serverless-plugin-aws-alerts"; !strings.Contains(out, want) {
		t.Errorf("the output lacks %q:\n%s", want, out)
	}
}

// newService lays out testdata/service with the plugin installed and the
// top-level keys extra appended to serverless.yml.
func newService(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"serverless.yml", "handler.js"} {
		b, err := os.ReadFile(filepath.Join("testdata", "service", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "serverless.yml" {
			b = append(b, extra...)
		}
		writeFile(t, filepath.Join(dir, f), string(b))
	}
	// Both runs of a comparison hold the same files, so their packages,
	// and the version IDs hashed from them, are the same.
	frameworktest.InstallSluicePlugin(t, dir)
	return dir
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(frameworktest.Stable(b), &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func resources(tpl any) map[string]any {
	r, _ := tpl.(map[string]any)["Resources"].(map[string]any)
	return r
}

func keys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func zipEntries(t *testing.T, path string) []string {
	t.Helper()
	r, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	for _, f := range r.File {
		names = append(names, f.Name)
	}
	return names
}

func containsPrefix(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// firstDifference names the first place where a and b differ, or "".
func firstDifference(a, b any, path string) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: %T vs %T", path, a, b)
		}
		for _, k := range keys(x) {
			if _, ok := y[k]; !ok {
				return fmt.Sprintf("%s.%s: only in the first", path, k)
			}
			if d := firstDifference(x[k], y[k], path+"."+k); d != "" {
				return d
			}
		}
		for _, k := range keys(y) {
			if _, ok := x[k]; !ok {
				return fmt.Sprintf("%s.%s: only in the second", path, k)
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return fmt.Sprintf("%s: %v vs %v", path, a, b)
		}
		for i := range x {
			if d := firstDifference(x[i], y[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%s: %v vs %v", path, a, b)
	}
	return ""
}
