package alerts_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
)

// fuzzSeeds are custom.alerts and functions.hello.alarms texts (YAML).
var fuzzSeeds = [][2]string{
	{"alarms: [functionErrors, functionThrottles]", "- functionDuration"},
	{"definitions:\n  functionErrors:\n    period: 300\nalarms:\n  - functionErrors", "- name: functionErrors\n  enabled: false"},
	{"topics:\n  ok: ok-topic\n  alarm:\n    topic: arn:aws:sns:x\n  critical:\n    alarm:\n      topic: crit\n      notifications:\n        - protocol: email\n          endpoint: a@b.c", "- name: x\n  namespace: AWS/Lambda\n  metric: Errors\n  threshold: 1\n  statistic: p99\n  period: 60\n  evaluationPeriods: 1\n  comparisonOperator: GreaterThanThreshold\n  alarmActions: [critical]"},
	{"nameTemplate: $[functionName]-$[metricName]\nprefixTemplate: ''\ndashboards: vertical", "- name: pat\n  pattern: ERROR\n  metric: errs\n  threshold: 0\n  statistic: Sum\n  period: 60\n  evaluationPeriods: 1\n  comparisonOperator: GreaterThanThreshold"},
	{"stages: [dev]\ndashboards: {stages: [dev], templates: [default, vertical]}", "- name: a\n  type: anomalyDetection\n  threshold: 2\n  dimensions: [{Name: A, Value: b}]\n  omitDefaultDimension: true"},
	{"definitions: {x: {dimensions: {0: {Name: FunctionName}}}}\nalarms: [{name: x}]", "- {name: functionErrors, dimensions: [1, {}, {Name: y, Value: [z]}]}"},
	{"topics: {ok: {topic: {Ref: T}}, g: {ok: 1, alarm: []}}", "- {name: functionErrors, okActions: [g, ok, 3], insufficientDataActions: g}"},
}

func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}

// FuzzCompileYAML: Compile must not panic on any custom.alerts and
// functions.alarms the loader accepts, and a result without errors must be
// a usable template fragment.
func FuzzCompileYAML(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s[0], s[1])
	}
	dir := f.TempDir()
	noEnv := func(string) (string, bool) { return "", false }
	f.Fuzz(func(t *testing.T, alertsYAML, alarmsYAML string) {
		doc := "service: fuzz\nprovider:\n  name: aws\ncustom:\n  alerts:\n" + indent(alertsYAML, 4) +
			"\nfunctions:\n  hello:\n    handler: handler.hello\n    alarms:\n" + indent(alarmsYAML, 6) +
			"\n  say-hi:\n    handler: handler.hi\n"
		svc, _, err := config.LoadBytes("serverless.yml", dir, []byte(doc), config.Options{Stage: "dev", Getenv: noEnv})
		if err != nil {
			return
		}
		checkCompiled(t, svc)
	})
}

// FuzzCompileJSON feeds arbitrary JSON shapes straight into the model,
// past anything the loader would reject.
func FuzzCompileJSON(f *testing.F) {
	f.Add(`{"alarms":["functionErrors"],"definitions":{"functionErrors":{"period":[1]}}}`, `["functionThrottles",{"name":"functionErrors","threshold":"x"}]`)
	f.Add(`{"topics":{"ok":null,"alarm":{"topic":true},"g":{"ok":{"topic":"n","notifications":[null]}}}}`, `[{"name":"a","okActions":[null]}]`)
	f.Add(`{"dashboards":{"stages":"dev","templates":[null]},"stages":["dev"]}`, `[[],null,1,{"name":{"Ref":"x"}}]`)
	f.Add(`{"definitions":{"d":{"dimensions":{"5000":{"Name":"x"}},"pattern":"p"}},"alarms":[{"name":"d","dimensions":[{"Name":"a","Value":{"Ref":"b"}}]}]}`, `[]`)
	svc, _, err := config.LoadBytes("serverless.yml", f.TempDir(), []byte("service: fuzz\nfunctions:\n  hello:\n    handler: h.h\n  b_c:\n    handler: h.h\n"), config.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, alertsJSON, alarmsJSON string) {
		var cfg map[string]any
		var list []any
		if json.Unmarshal([]byte(alertsJSON), &cfg) != nil || json.Unmarshal([]byte(alarmsJSON), &list) != nil || cfg == nil {
			return
		}
		s := *svc
		s.Alerts = cfg
		fn := *svc.Functions[0]
		fn.Alarms = list
		s.Functions = []*config.Function{&fn, svc.Functions[1]}
		checkCompiled(t, &s)
	})
}

func checkCompiled(t *testing.T, svc *config.Service) {
	t.Helper()
	c, diags := alerts.Compile(svc)
	for _, d := range diags {
		if d.Msg == "" {
			t.Errorf("empty diagnostic at %v", d.Pos)
		}
	}
	if diags.Err() != nil {
		return
	}
	if _, err := json.Marshal(c.Resources); err != nil {
		t.Fatalf("resources are not JSON: %v", err)
	}
	for _, a := range c.Alarms {
		if c.Resources[a.LogicalID] == nil {
			t.Fatalf("alarm %s has no resource", a.LogicalID)
		}
		if id, ok := c.LogicalID(a.Function, a.Name); !ok || id != a.LogicalID {
			t.Fatalf("LogicalID(%s, %s) = %s, %v; want %s", a.Function, a.Name, id, ok, a.LogicalID)
		}
	}
}

// TestFuzzSeedsFromTestdata runs the fuzz checks over every service in
// testdata, so the normal test run covers them too.
func TestFuzzSeedsFromTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/diagnostics/*.yml")
	more, _ := filepath.Glob("../awscfn/testdata/alerts/*/serverless.yml")
	for _, file := range append(files, more...) {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		svc, _, err := config.LoadBytes(file, filepath.Dir(file), src, config.Options{Stage: "dev"})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		checkCompiled(t, svc)
	}
}
