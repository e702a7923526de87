package alerts_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
)

// want is one expected diagnostic: written in a testdata file as a trailing
// comment `# want <error|warning> <path>: <message substring>` on the line
// the diagnostic must point at.
type want struct {
	line     int
	severity config.Severity
	path     string
	msg      string
}

func (w want) String() string {
	sev := "error"
	if w.severity == config.SeverityWarning {
		sev = "warning"
	}
	return fmt.Sprintf("line %d: %s %s: %s", w.line, sev, w.path, w.msg)
}

func parseWants(t *testing.T, src []byte) []want {
	t.Helper()
	var wants []want
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		parts := strings.Split(sc.Text(), "# want ")
		for _, p := range parts[1:] {
			sev, rest, _ := strings.Cut(strings.TrimSpace(p), " ")
			path, msg, ok := strings.Cut(rest, ": ")
			if !ok || (sev != "error" && sev != "warning") {
				t.Fatalf("line %d: cannot read %q; write # want <error|warning> <path>: <message>", line, p)
			}
			w := want{line: line, path: path, msg: msg}
			if sev == "warning" {
				w.severity = config.SeverityWarning
			}
			wants = append(wants, w)
		}
	}
	return wants
}

func load(t *testing.T, file string, opts config.Options) *config.Service {
	t.Helper()
	svc, diags, err := config.Load(file, opts)
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	for _, d := range diags {
		t.Logf("config: %v", d)
	}
	return svc
}

// TestDiagnostics checks every diagnostic Compile reports, with its
// severity, key, message and line, against testdata/diagnostics/*.yml.
func TestDiagnostics(t *testing.T) {
	files, err := filepath.Glob("testdata/diagnostics/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yml"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			wants := parseWants(t, src)
			_, diags := alerts.Compile(load(t, file, config.Options{Stage: "dev"}))
			matched := make([]bool, len(wants))
		next:
			for _, d := range diags {
				if d.Pos.File != file || d.Pos.Line == 0 {
					t.Errorf("diagnostic without a position: %v", d)
				}
				if d.Hint == "" {
					t.Errorf("diagnostic without a hint: %v", d)
				}
				for i, w := range wants {
					if !matched[i] && w.line == d.Pos.Line && w.severity == d.Severity && w.path == d.Path && strings.Contains(d.Msg, w.msg) {
						matched[i] = true
						continue next
					}
				}
				t.Errorf("unexpected diagnostic: %v", d)
			}
			for i, w := range wants {
				if !matched[i] {
					t.Errorf("missing diagnostic: %v", w)
				}
			}
		})
	}
}

// TestValidConfigurationsHaveNoErrors: the conformance services must
// compile without errors (they are what the real plugin accepts).
func TestValidConfigurationsHaveNoErrors(t *testing.T) {
	files, _ := filepath.Glob("../awscfn/testdata/alerts/*/serverless.yml")
	for _, file := range files {
		_, diags := alerts.Compile(load(t, file, config.Options{Stage: "dev"}))
		if err := diags.Err(); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}

func TestStagesOffTurnsErrorsIntoWarnings(t *testing.T) {
	file := writeService(t, `
service: s
custom:
  alerts:
    stages: [production]
    alarms: [nope]
functions:
  hello:
    handler: h.h
`)
	c, diags := alerts.Compile(load(t, file, config.Options{Stage: "dev"}))
	if len(c.Resources) != 0 || len(c.Alarms) != 0 {
		t.Errorf("stage dev is not listed, but got %d resources", len(c.Resources))
	}
	if len(diags) != 1 || diags[0].Severity != config.SeverityWarning || !strings.Contains(diags[0].Msg, `"nope" does not exist`) {
		t.Fatalf("want one warning about nope, got %v", diags)
	}
	_, diags = alerts.Compile(load(t, file, config.Options{Stage: "production"}))
	if diags.Err() == nil {
		t.Fatalf("on production the missing definition must be an error, got %v", diags)
	}
}

func writeService(t *testing.T, yml string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "serverless.yml")
	if err := os.WriteFile(file, []byte(strings.TrimLeft(yml, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestAlarmSettings checks the settings the local engine reads, and
// LogicalID, on the conformance services.
func TestAlarmSettings(t *testing.T) {
	svc := load(t, "../awscfn/testdata/alerts/definitions/serverless.yml", config.Options{Stage: "dev"})
	c, diags := alerts.Compile(svc)
	if err := diags.Err(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range c.Alarms {
		names = append(names, a.Name)
	}
	// The union of alarms, global and function, in that order, deduplicated.
	if want := []string{"functionErrors", "slowCalls", "functionDuration", "functionThrottles"}; !slices.Equal(names, want) {
		t.Errorf("alarms %v, want %v", names, want)
	}
	got := c.Alarms[0]
	want := alerts.Alarm{
		LogicalID: "ApiFunctionErrorsAlarm", Function: "api", Name: "functionErrors", Kind: alerts.Static,
		Namespace: "AWS/Lambda", Metric: "Errors", Dimensions: []alerts.Dimension{{Name: "FunctionName", Value: "alerts-definitions-dev-api"}},
		Statistic: "Sum", Threshold: 1, Period: 300 * time.Second, EvaluationPeriods: 3, DatapointsToAlarm: 2,
		Comparison: "GreaterThanOrEqualToThreshold", TreatMissingData: "notBreaching",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("functionErrors:\n got %+v\nwant %+v", got, want)
	}
	if id, ok := c.LogicalID("api", "slowCalls"); !ok || id != "ApiSlowCallsAlarm" {
		t.Errorf("LogicalID(api, slowCalls) = %q, %v", id, ok)
	}
	if _, ok := c.LogicalID("api", "functionInvocations"); ok {
		t.Error("functionInvocations is not configured, but LogicalID found it")
	}

	svc = load(t, "../awscfn/testdata/alerts/overrides/serverless.yml", config.Options{Stage: "dev"})
	c, _ = alerts.Compile(svc)
	if _, ok := c.LogicalID("tuned", "functionInvocations"); ok {
		t.Error("tuned disables functionInvocations, but LogicalID found it")
	}
	if id, ok := c.LogicalID("plain", "functionInvocations"); !ok || id != "PlainFunctionInvocationsAlarm" {
		t.Errorf("LogicalID(plain, functionInvocations) = %q, %v", id, ok)
	}
	for _, a := range c.Alarms {
		if a.Function == "custom" && a.Name == "lowTraffic" {
			if a.Period != time.Hour || a.DatapointsToAlarm != 24 || a.TreatMissingData != "breaching" || a.Dimensions[0].Value != "custom-renamed" {
				t.Errorf("lowTraffic: %+v", a)
			}
		}
	}

	svc = load(t, "../awscfn/testdata/alerts/patterns/serverless.yml", config.Options{Stage: "dev"})
	c, _ = alerts.Compile(svc)
	for _, a := range c.Alarms {
		if a.LogicalID == "ReportTimeoutsAlarm" {
			if a.Pattern != "Task timed out" || a.Namespace != "alerts-patterns-dev" || a.Metric != "TimeoutsReportLambdaFunction" || len(a.Dimensions) != 0 {
				t.Errorf("timeouts: %+v", a)
			}
		}
	}
	var nilCompiled *alerts.Compiled
	if _, ok := nilCompiled.LogicalID("a", "b"); ok {
		t.Error("nil Compiled found an alarm")
	}
}

func BenchmarkCompile(b *testing.B) {
	svc, _, err := config.Load("../awscfn/testdata/alerts/topics/serverless.yml", config.Options{Stage: "dev"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		alerts.Compile(svc)
	}
}
