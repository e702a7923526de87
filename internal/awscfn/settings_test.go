package awscfn

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

// TestNullDeploymentSettingsIsGradual: an empty `deploymentSettings:` key
// makes the function gradual with custom.deploymentSettings, as the
// plugin's _.has does (plugin issue #145).
func TestNullDeploymentSettingsIsGradual(t *testing.T) {
	svc := serviceYAML(t, `
service: s
custom:
  deploymentSettings: {type: Linear10PercentEvery1Minute, alias: Live}
functions:
  a:
    handler: h.a
    deploymentSettings:
  b:
    handler: h.b
`)
	out, _, err := Transform(minimalTemplate("A", "B"), svc)
	if err != nil {
		t.Fatal(err)
	}
	res := obj(out["Resources"])
	if _, ok := res["ALambdaFunctionAliasLive"]; !ok {
		t.Error("function a (deploymentSettings: null) has no alias")
	}
	if _, ok := res["BLambdaFunctionAliasLive"]; ok {
		t.Error("function b (no deploymentSettings key) got an alias")
	}
}

// TestTriggerTargetArnPassesThrough: triggers reach the deployment group
// as written, under CloudFormation's TriggerTargetArn.
func TestTriggerTargetArnPassesThrough(t *testing.T) {
	svc := serviceYAML(t, `
service: s
functions:
  a:
    handler: h.a
    deploymentSettings:
      type: AllAtOnce
      alias: Live
      triggerConfigurations:
        - {TriggerName: t, TriggerEvents: [DeploymentFailure], TriggerTargetArn: {Ref: Topic}}
`)
	out, _, err := Transform(minimalTemplate("A"), svc)
	if err != nil {
		t.Fatal(err)
	}
	tc := list(at(out, "Resources", "ALambdaFunctionDeploymentGroup", "Properties", "TriggerConfigurations"))
	if len(tc) != 1 || refTarget(at(tc[0], "TriggerTargetArn")) != "Topic" {
		t.Errorf("TriggerConfigurations = %s", js(tc))
	}
}

// TestExtendedStatistic: aws-alerts drops `extendedStatistic: p99` and
// emits an alarm with no statistic; sluice emits ExtendedStatistic.
func TestExtendedStatistic(t *testing.T) {
	svc := serviceYAML(t, `
service: s
custom:
  alerts:
    definitions:
      functionDuration: {extendedStatistic: p99, threshold: 800}
    alarms: [functionDuration]
functions:
  a: {handler: h.a}
`)
	out, diags, err := Transform(minimalTemplate("A"), svc)
	if err != nil {
		t.Fatalf("%v: %v", err, diags)
	}
	p := obj(at(out, "Resources", "AFunctionDurationAlarm", "Properties"))
	if p["ExtendedStatistic"] != "p99" || p["Statistic"] != nil {
		t.Errorf("alarm properties %s, want ExtendedStatistic p99 and no Statistic", js(p))
	}
}

// TestFunctionAlarmsWithoutAlerts: function alarms in a service without
// custom.alerts create nothing, as with aws-alerts, but with a warning on
// the alarms key.
func TestFunctionAlarmsWithoutAlerts(t *testing.T) {
	svc := serviceYAML(t, `
service: s
functions:
  a:
    handler: h.a
    alarms: [functionErrors]
`)
	out, diags, err := Transform(minimalTemplate("A"), svc)
	if err != nil {
		t.Fatal(err)
	}
	if len(obj(out["Resources"])) != len(obj(minimalTemplate("A")["Resources"])) {
		t.Errorf("resources were added: %v", config.SortedKeys(obj(out["Resources"])))
	}
	if len(diags) != 1 || diags[0].Severity != config.SeverityWarning || diags[0].Path != "functions.a.alarms" ||
		diags[0].Pos.Line != 6 || !strings.Contains(diags[0].Error(), "custom: {alerts: {}}") {
		t.Errorf("diagnostics %v, want one warning at functions.a.alarms (line 6) saying how to enable them", diags)
	}
}
