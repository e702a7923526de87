package awscfn

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

// TestAlertsConformance transforms each case's framework template
// (input.json) and compares the result with what the real
// serverless-plugin-aws-alerts produced (expected.json); see
// testdata/alerts/regenerate.sh.
func TestAlertsConformance(t *testing.T) {
	dirs, err := filepath.Glob("testdata/alerts/*/serverless.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 6 {
		t.Fatalf("found %d cases under testdata/alerts, want at least 6", len(dirs))
	}
	for _, file := range dirs {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			svc, diags, err := config.Load(file, config.Options{Stage: "dev", Region: "us-east-1"})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			logDiags(t, diags)
			input, expected := readTemplate(t, filepath.Join(dir, "input.json")), readTemplate(t, filepath.Join(dir, "expected.json"))
			got, diags, err := Transform(input, svc)
			logDiags(t, diags)
			if err != nil {
				t.Fatalf("transform: %v", err)
			}
			compareTemplates(t, got, expected)
			if again := readTemplate(t, filepath.Join(dir, "input.json")); !reflect.DeepEqual(again, input) {
				t.Error("Transform modified its input")
			}
		})
	}
}

func logDiags(t *testing.T, ds config.Diagnostics) {
	t.Helper()
	for _, d := range ds {
		t.Log(d)
	}
}

func readTemplate(t *testing.T, path string) Template {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run testdata/alerts/regenerate.sh)", err)
	}
	var tpl Template
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tpl
}

// compareTemplates compares two templates as JSON values and reports each
// differing resource with both versions.
func compareTemplates(t *testing.T, got, want Template) {
	t.Helper()
	got = roundTrip(t, got)
	if reflect.DeepEqual(got, want) {
		return
	}
	gr, _ := got["Resources"].(map[string]any)
	wr, _ := want["Resources"].(map[string]any)
	for id := range union(gr, wr) {
		if !reflect.DeepEqual(gr[id], wr[id]) {
			t.Errorf("resource %s differs\n got: %s\nwant: %s", id, pretty(gr[id]), pretty(wr[id]))
		}
	}
	for k := range union(got, want) {
		if k != "Resources" && !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("section %s differs\n got: %s\nwant: %s", k, pretty(got[k]), pretty(want[k]))
		}
	}
}

func union(a, b map[string]any) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// roundTrip normalizes a template to what encoding/json reads back.
func roundTrip(t *testing.T, tpl Template) Template {
	t.Helper()
	b, err := json.Marshal(tpl)
	if err != nil {
		t.Fatalf("the transformed template is not JSON: %v", err)
	}
	var out Template
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func pretty(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, _ := json.MarshalIndent(v, "      ", "  ")
	return strings.TrimSpace(string(b))
}

func loadService(t *testing.T, yml string) *config.Service {
	t.Helper()
	file := filepath.Join(t.TempDir(), "serverless.yml")
	if err := os.WriteFile(file, []byte(strings.TrimLeft(yml, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	svc, _, err := config.Load(file, config.Options{Stage: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestAlarmsMergeIntoExistingResource(t *testing.T) {
	svc := loadService(t, `
service: s
custom:
  alerts:
    alarms: [functionErrors]
functions:
  hello:
    handler: h.h
`)
	tpl := Template{"Resources": map[string]any{
		"HelloFunctionErrorsAlarm": map[string]any{"Type": "AWS::CloudWatch::Alarm", "Properties": map[string]any{"Threshold": 7.0, "Unit": "Count"}},
	}}
	out, diags, err := Transform(tpl, svc)
	if err != nil {
		t.Fatal(err)
	}
	if len(diags) != 1 || diags[0].Severity != config.SeverityWarning || !strings.Contains(diags[0].Msg, "already has a resource HelloFunctionErrorsAlarm") {
		t.Errorf("want a warning about the existing resource, got %v", diags)
	}
	props := out["Resources"].(map[string]any)["HelloFunctionErrorsAlarm"].(map[string]any)["Properties"].(map[string]any)
	// lodash merge: the plugin's keys win over the template's, others stay.
	if props["Threshold"] != 1.0 || props["Unit"] != "Count" || props["MetricName"] != "Errors" {
		t.Errorf("merged properties: %v", props)
	}
}

func TestAlarmErrorsStopTransform(t *testing.T) {
	svc := loadService(t, `
service: s
custom:
  alerts:
    alarms: [functionErrorz]
functions:
  hello:
    handler: h.h
`)
	_, diags, err := Transform(Template{"Resources": map[string]any{}}, svc)
	if err == nil || !strings.Contains(err.Error(), `alarm definition "functionErrorz" does not exist`) {
		t.Fatalf("want the missing definition as the error, got %v", err)
	}
	if !strings.Contains(err.Error(), "serverless.yml:4:") {
		t.Errorf("the error does not name the line: %v", err)
	}
	if len(diags.Errors()) != 1 {
		t.Errorf("diagnostics: %v", diags)
	}
}

// BenchmarkTransformAlerts: the whole transform of a service with topics,
// groups and three alarms (clone + compile + merge).
func BenchmarkTransformAlerts(b *testing.B) {
	svc, _, err := config.Load("testdata/alerts/topics/serverless.yml", config.Options{Stage: "dev"})
	if err != nil {
		b.Fatal(err)
	}
	src, err := os.ReadFile("testdata/alerts/topics/input.json")
	if err != nil {
		b.Fatal(err)
	}
	var tpl Template
	if err := json.Unmarshal(src, &tpl); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Transform(tpl, svc); err != nil {
			b.Fatal(err)
		}
	}
}
