package awscfn

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

// TestCanaryAlarmsGolden transforms each testdata/canaryalarms/*.yml over
// the template the framework compiles for its functions and compares the
// diagnostics and the resources canaryAlarms shape (the alarms, the
// deployment groups and the aliases) with the .golden file beside it
// (`go test ./internal/awscfn -run CanaryAlarms -update` rewrites them).
func TestCanaryAlarmsGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/canaryalarms/*.yml")
	if len(files) == 0 {
		t.Fatal("no test data")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			svc, _, err := config.Load(file, config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var prefixes []string
			for _, f := range svc.Functions {
				prefixes = append(prefixes, f.LogicalID())
			}
			out, diags, err := Transform(minimalTemplate(prefixes...), svc)
			var b strings.Builder
			for _, d := range diags {
				b.WriteString(d.Error() + "\n")
			}
			if err != nil {
				b.WriteString("no template: the errors above stop it\n")
			} else {
				shown := map[string]any{}
				for id, r := range obj(out["Resources"]) {
					switch str(obj(r)["Type"]) {
					case "AWS::CloudWatch::Alarm", "AWS::CodeDeploy::DeploymentGroup", "AWS::Lambda::Alias":
						shown[id] = r
					}
				}
				js, _ := json.MarshalIndent(shown, "", "  ")
				b.Write(js)
				b.WriteString("\n")
			}
			golden := strings.TrimSuffix(file, ".yml") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(b.String()), 0o644)
				return
			}
			want, _ := os.ReadFile(golden)
			if b.String() != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", golden, b.String(), want)
			}
		})
	}
}

// TestCanaryAlarmsAreListedByName checks what makes canary alarms work on
// AWS, whatever the golden files say: literal names in the group, no Ref,
// the alias waiting for them, and ExecutedVersion from the version.
func TestCanaryAlarmsAreListedByName(t *testing.T) {
	svc := serviceYAML(t, `
service: s
functions:
  a: {handler: h.a, deploymentSettings: {type: AllAtOnce, alias: Live, canaryAlarms: [functionErrors]}}
`)
	out, _, err := Transform(minimalTemplate("A"), svc)
	if err != nil {
		t.Fatal(err)
	}
	out = normalize(t, out)
	alarmProps := props(obj(at(out, "Resources", "ACanaryFunctionErrorsAlarm")))
	if alarmProps == nil {
		t.Fatal("no ACanaryFunctionErrorsAlarm")
	}
	name := alarmProps["AlarmName"]
	if name != "s-dev-a-canary-functionErrors" {
		t.Errorf("AlarmName = %v, want the literal s-dev-a-canary-functionErrors", name)
	}
	group := props(obj(at(out, "Resources", "ALambdaFunctionDeploymentGroup")))
	if got := js(at(group, "AlarmConfiguration", "Alarms")); got != `[{"Name":"s-dev-a-canary-functionErrors"}]` {
		t.Errorf("group alarms = %s, want the literal name", got)
	}
	if got := js(at(out, "Resources", "ALambdaFunctionAliasLive", "DependsOn")); got != `["ACanaryFunctionErrorsAlarm"]` {
		t.Errorf("alias DependsOn = %s", got)
	}
	if got := js(alarmProps["Dimensions"]); !strings.Contains(got, `{"Name":"ExecutedVersion","Value":{"Fn::GetAtt":["ALambdaVersionAbc","Version"]}}`) {
		t.Errorf("Dimensions = %s, want ExecutedVersion from the version", got)
	}
	if alarmProps["TreatMissingData"] != "notBreaching" {
		t.Errorf("TreatMissingData = %v, want notBreaching", alarmProps["TreatMissingData"])
	}
}
