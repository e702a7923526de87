package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/cfnjson"
	"github.com/sluice-dev/sluice/internal/slsstate"
)

// sluiceBin is the command built once for the tests, which run it as a
// user would: a real process, real files, its exit status.
var sluiceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-cmd-test")
	if err != nil {
		panic(err)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	if out, err := exec.Command("go", "build", "-o", sluiceBin, ".").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func sluice(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(sluiceBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// packagedService lays out testdata/package as `serverless package` leaves
// a service: serverless.yml and .serverless/ with the compiled template and
// the state (both from the Serverless Framework 3.40).
func packagedService(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	copyFile(t, "testdata/package/serverless.yml", filepath.Join(dir, "serverless.yml"))
	copyFile(t, "testdata/package/template.json", filepath.Join(dir, packageDir, compiledTemplate))
	copyFile(t, "testdata/package/serverless-state.json", filepath.Join(dir, packageDir, serviceState))
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func TestPackageInPlace(t *testing.T) {
	dir := packagedService(t)
	tplPath := filepath.Join(dir, packageDir, compiledTemplate)
	statePath := filepath.Join(dir, packageDir, serviceState)

	r := sluice(t, "package", "--config", filepath.Join(dir, "serverless.yml"))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("in-place packaging printed to stdout: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "serverless.yml:14:3: warning: functions.hello: HelloCustomS31 (Custom::S3) invokes the function directly") {
		t.Errorf("stderr lacks the positioned warning about the existing bucket:\n%s", r.stderr)
	}

	raw, _ := os.ReadFile(tplPath)
	if !bytes.HasPrefix(raw, []byte("{\n  \"AWSTemplateFormatVersion\"")) || bytes.HasSuffix(raw, []byte("\n")) {
		t.Errorf("the template is not formatted like the framework's (2-space indent, no final newline): %.60q", raw)
	}
	tpl := readJSON(t, tplPath)
	res := tpl["Resources"].(map[string]any)
	for _, id := range []string{"GapsdevDeploymentApplication", "HelloLambdaFunctionAliasLive", "HelloLambdaFunctionDeploymentGroup", "Canary25Percent45MinutesDeploymentConfig"} {
		if res[id] == nil {
			t.Errorf("the rewritten template has no %s", id)
		}
	}

	// `serverless deploy --package` deploys the state's copy: the same.
	state := readJSON(t, statePath)
	stateTpl := slsstate.Lookup(state, slsstate.TemplatePath)
	if !reflect.DeepEqual(stateTpl, any(tpl)) {
		t.Error("serverless-state.json's compiledCloudFormationTemplate differs from the rewritten template")
	}
	// The authorizer's arn was a json-cycle $ref to a permission's
	// FunctionName, which now names the alias; it must keep its value.
	arn := slsstate.Lookup(state, []string{"service", "functions", "hello", "events"}).([]any)[0]
	if got := slsstate.Lookup(arn, []string{"http", "authorizer", "arn"}); !reflect.DeepEqual(got, map[string]any{"Fn::GetAtt": []any{"AuthLambdaFunction", "Arn"}}) {
		t.Errorf("functions.hello.events[0].http.authorizer.arn = %v, want the function's GetAtt it was before", got)
	}
	if raw, _ := os.ReadFile(statePath); bytes.Contains(raw, []byte(`[\"compiledCloudFormationTemplate\"]`)) {
		t.Error("$refs into the template remain")
	}
	// Refs elsewhere are kept: initialServerlessConfig.provider is the provider.
	if got := slsstate.Lookup(state, []string{"service", "initialServerlessConfig", "provider"}); !reflect.DeepEqual(got, map[string]any{"$ref": `$["service"]["provider"]`}) {
		t.Errorf("initialServerlessConfig.provider = %v, want its $ref kept", got)
	}

	// A second run refuses: the template is packaged already.
	before, _ := os.ReadFile(tplPath)
	beforeState, _ := os.ReadFile(statePath)
	r = sluice(t, "package", "--config", filepath.Join(dir, "serverless.yml"))
	if r.code != 1 || !strings.Contains(r.stderr, "packaged for gradual deployment before") {
		t.Errorf("second run: exit %d, stderr %s", r.code, r.stderr)
	}
	after, _ := os.ReadFile(tplPath)
	afterState, _ := os.ReadFile(statePath)
	if !bytes.Equal(before, after) || !bytes.Equal(beforeState, afterState) {
		t.Error("a refused run changed the files")
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, packageDir)); len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestPackageExplicitTemplateToStdoutAndFile(t *testing.T) {
	dir := packagedService(t)
	cfg := filepath.Join(dir, "serverless.yml")
	in := filepath.Join(dir, packageDir, compiledTemplate)
	orig, _ := os.ReadFile(in)

	r := sluice(t, "package", "--config", cfg, "--template", in, "--stage", "dev", "--region", "us-east-1")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var tpl map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &tpl); err != nil || tpl["Resources"].(map[string]any)["HelloLambdaFunctionAliasLive"] == nil {
		t.Fatalf("stdout is not the packaged template (%v): %.200s", err, r.stdout)
	}
	if now, _ := os.ReadFile(in); !bytes.Equal(now, orig) {
		t.Error("--template without --out changed the input")
	}

	out := filepath.Join(dir, "out.json")
	r = sluice(t, "package", "--config", cfg, "--template", in, "--out", out)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if !reflect.DeepEqual(readJSON(t, out), tpl) {
		t.Error("--out wrote something else than stdout showed")
	}
}

// TestPackageStageOutsideStages: custom.deploymentSettings.stages is
// [dev]; at prod the template is written back unchanged (as values).
func TestPackageStageOutsideStages(t *testing.T) {
	dir := packagedService(t)
	src, _ := os.ReadFile(filepath.Join(dir, packageDir, compiledTemplate))
	in := filepath.Join(dir, "prod.json") // as compiled for prod, without a state file
	os.WriteFile(in, bytes.ReplaceAll(src, []byte("gaps-dev"), []byte("gaps-prod")), 0o644)
	r := sluice(t, "package", "-c", filepath.Join(dir, "serverless.yml"), "-t", in, "-s", "prod")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, readJSON(t, in)) {
		t.Error("at a stage outside custom.deploymentSettings.stages the template changed")
	}
	if !strings.Contains(r.stderr, "sluice package: nothing to add") {
		t.Errorf("no summary saying nothing was added:\n%s", r.stderr)
	}
	// Without --stage, the stage is the template's: prod, so again nothing.
	r = sluice(t, "package", "-c", filepath.Join(dir, "serverless.yml"), "-t", in)
	if r.code != 0 || !strings.Contains(r.stderr, "nothing to add") {
		t.Errorf("without --stage: exit %d\n%s", r.code, r.stderr)
	}
}

// TestPackageStageOrRegionMismatch: a --stage or --region other than the
// template's is refused, naming both, and changes nothing.
func TestPackageStageOrRegionMismatch(t *testing.T) {
	dir := packagedService(t)
	cfg := filepath.Join(dir, "serverless.yml")
	tplPath := filepath.Join(dir, packageDir, compiledTemplate)
	before, _ := os.ReadFile(tplPath)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--stage", "prod"}, "--stage prod, but the template was compiled for stage dev"},
		{[]string{"--region", "eu-west-1"}, "--region eu-west-1, but the template was compiled for region us-east-1"},
		// No state file beside it: the function names tell.
		{[]string{"--stage", "prod", "-t", filepath.Join(dir, "copy.json")}, "was compiled for stage dev (its function names say so)"},
	} {
		copyFile(t, tplPath, filepath.Join(dir, "copy.json"))
		r := sluice(t, append([]string{"package", "-c", cfg}, c.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %s; want an error containing %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if after, _ := os.ReadFile(tplPath); !bytes.Equal(before, after) {
		t.Error("a refused run changed the template")
	}
}

// TestPackageKeepsKeyOrder: the rewritten template has the input's
// resources in the input's order, the added ones after them, and an
// unchanged resource byte for byte as it was.
func TestPackageKeepsKeyOrder(t *testing.T) {
	dir := packagedService(t)
	tplPath := filepath.Join(dir, packageDir, compiledTemplate)
	before, _ := os.ReadFile(tplPath)
	r := sluice(t, "package", "-c", filepath.Join(dir, "serverless.yml"))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	after, _ := os.ReadFile(tplPath)
	_, in, err := cfnjson.Decode(before)
	if err != nil {
		t.Fatal(err)
	}
	_, out, err := cfnjson.Decode(after)
	if err != nil {
		t.Fatal(err)
	}
	inIDs, outIDs := in.Child("Resources").Keys, out.Child("Resources").Keys
	if len(outIDs) <= len(inIDs) || !slices.Equal(outIDs[:len(inIDs)], inIDs) {
		t.Errorf("resources are not in the input's order, added ones last:\n in %v\nout %v", inIDs, outIDs)
	}
	// The deployment bucket is untouched: the same text.
	bucket := func(b []byte) []byte {
		i := bytes.Index(b, []byte(`"ServerlessDeploymentBucket": {`))
		j := bytes.Index(b[i:], []byte("\n    },\n"))
		return b[i : i+j]
	}
	if !bytes.Equal(bucket(before), bucket(after)) {
		t.Errorf("an unchanged resource was rewritten:\n%s\n---\n%s", bucket(before), bucket(after))
	}
	if !strings.Contains(r.stderr, "sluice package: added ") || !strings.Contains(r.stderr, "3 Lambda::Alias") || !strings.Contains(r.stderr, "in "+tplPath) {
		t.Errorf("no one-line summary of what was added:\n%s", r.stderr)
	}
}

func TestPackageRefusesInvalidService(t *testing.T) {
	dir := packagedService(t)
	cfg := filepath.Join(dir, "serverless.yml")
	src, _ := os.ReadFile(cfg)
	bad := strings.Replace(string(src), "type: Linear10PercentEvery1Minute", "type: Linear10PercentEvery1Fortnight", 1)
	if bad == string(src) {
		t.Fatal("test data changed: no Linear10PercentEvery1Minute to break")
	}
	os.WriteFile(cfg, []byte(bad), 0o644)
	tplPath := filepath.Join(dir, packageDir, compiledTemplate)
	before, _ := os.ReadFile(tplPath)

	r := sluice(t, "package", "--config", cfg)
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stderr, "serverless.yml:56:7: functions.auth.deploymentSettings.type: unknown deployment type") {
		t.Errorf("stderr does not name the line to fix:\n%s", r.stderr)
	}
	if after, _ := os.ReadFile(tplPath); !bytes.Equal(before, after) {
		t.Error("an invalid service changed the template")
	}
}

func TestPackageWithoutCompiledTemplate(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "testdata/package/serverless.yml", filepath.Join(dir, "serverless.yml"))
	r := sluice(t, "package", "--config", filepath.Join(dir, "serverless.yml"))
	if r.code != 1 || !strings.Contains(r.stderr, "run `serverless package` first") {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestPackageCustomPackageDir: `serverless package --package out` puts the
// template and state in out/; rewriting out/'s template keeps its state in
// step.
func TestPackageCustomPackageDir(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "testdata/package/serverless.yml", filepath.Join(dir, "serverless.yml"))
	tplPath := filepath.Join(dir, "out", compiledTemplate)
	copyFile(t, "testdata/package/template.json", tplPath)
	copyFile(t, "testdata/package/serverless-state.json", filepath.Join(dir, "out", serviceState))
	r := sluice(t, "package", "-c", filepath.Join(dir, "serverless.yml"), "-t", tplPath, "--out", tplPath)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	state := readJSON(t, filepath.Join(dir, "out", serviceState))
	if !reflect.DeepEqual(slsstate.Lookup(state, slsstate.TemplatePath), any(readJSON(t, tplPath))) {
		t.Error("out/serverless-state.json's template was not replaced")
	}
}

// TestPackageWarnsOnce: validation and the transform both compile
// custom.alerts; each of its warnings is printed once.
func TestPackageWarnsOnce(t *testing.T) {
	dir := packagedService(t)
	cfg := filepath.Join(dir, "serverless.yml")
	src, _ := os.ReadFile(cfg)
	// A definition with a setting that is ignored: one warning.
	extra := "custom:\n  alerts:\n    definitions:\n      functionErrors:\n        evaluateLowSampleCountPercentile: ignore\n    alarms: [functionErrors]\n"
	os.WriteFile(cfg, []byte(strings.Replace(string(src), "custom:\n", extra, 1)), 0o644)
	r := sluice(t, "package", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, "evaluateLowSampleCountPercentile: applies only to percentile statistics"); n != 1 {
		t.Errorf("the warning was printed %d times, want once:\n%s", n, r.stderr)
	}
}
