package awscfn

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
)

func serviceYAML(t testing.TB, src string) *config.Service {
	t.Helper()
	svc, _, err := config.LoadBytes("serverless.yml", t.TempDir(), []byte(src), config.Options{})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return svc
}

// minimalTemplate is what the framework compiles for functions with the
// given logical ID prefixes (Hello → HelloLambdaFunction), without events.
func minimalTemplate(prefixes ...string) Template {
	res := map[string]any{
		executionRoleID: map[string]any{"Type": "AWS::IAM::Role", "Properties": map[string]any{
			"Policies": []any{map[string]any{"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{}}}},
		}},
	}
	for _, p := range prefixes {
		res[p+"LambdaFunction"] = map[string]any{"Type": "AWS::Lambda::Function", "Properties": map[string]any{}}
		res[p+"LambdaVersionAbc"] = map[string]any{"Type": "AWS::Lambda::Version", "Properties": map[string]any{"FunctionName": ref(p + "LambdaFunction")}}
	}
	return Template{"AWSTemplateFormatVersion": "2010-09-09", "Resources": res}
}

func TestUnversionedFunctionIsAnError(t *testing.T) {
	svc := serviceYAML(t, `
service: s
functions:
  a: {handler: h.a, versionFunction: false, deploymentSettings: {type: AllAtOnce, alias: Live}}
`)
	tpl := minimalTemplate("A")
	delete(obj(tpl["Resources"]), "ALambdaVersionAbc")
	out, diags, err := Transform(tpl, svc)
	if err == nil || out != nil {
		t.Fatalf("Transform of a function without a version succeeded (the plugin emits a null version)")
	}
	if len(diags.Errors()) != 1 || !strings.Contains(diags.Errors()[0].Error(), "no AWS::Lambda::Version of ALambdaFunction") ||
		!strings.Contains(diags.Errors()[0].Error(), "versionFunction") {
		t.Errorf("diagnostics = %v, want one error naming the missing version and versionFunction(s): false", diags)
	}
}

func TestInvalidSettingsAreErrors(t *testing.T) {
	for _, c := range []struct{ settings, want string }{
		{`{alias: Live}`, "no deployment type"},
		{`{type: Canary10PercentNow, alias: Live}`, `unknown deployment type "Canary10PercentNow"`},
		{`{type: AllAtOnce}`, "no alias"},
		{`{type: AllAtOnce, alias: live-1}`, `alias "live-1" cannot be used`},
		{`{type: AllAtOnce, alias: Live, preTrafficHook: nope}`, `hook function "nope" does not exist`},
	} {
		svc := serviceYAML(t, "service: s\nfunctions:\n  a: {handler: h.a, deploymentSettings: "+c.settings+"}\n")
		_, diags, err := Transform(minimalTemplate("A"), svc)
		if err == nil || !strings.Contains(diags.Error(), c.want) {
			t.Errorf("settings %s: err = %v, diagnostics %v; want an error containing %q", c.settings, err, diags, c.want)
		}
		for _, d := range diags {
			if d.Pos.Line == 0 {
				t.Errorf("settings %s: %q has no line", c.settings, d.Error())
			}
		}
	}
}

func TestStageNotInStagesLeavesTemplate(t *testing.T) {
	svc := serviceYAML(t, `
service: s
custom: {deploymentSettings: {stages: [prod]}}
functions:
  a: {handler: h.a, deploymentSettings: {type: AllAtOnce, alias: Live}}
`)
	in := minimalTemplate("A")
	out, diags, err := Transform(in, svc)
	if err != nil || len(diags) != 0 {
		t.Fatal(err, diags)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("stage dev is not in stages, yet the template changed: %s", js(out))
	}
}

func TestAlreadyPackagedIsAnError(t *testing.T) {
	svc := loadServiceFile(t, "testdata/conformance/1.service.json", "dev")
	_, _, err := Transform(readTemplateFile(t, "testdata/conformance/1.output.json"), svc)
	if err == nil || !strings.Contains(err.Error(), "packaged for gradual deployment before") {
		t.Errorf("re-packaging the plugin's output: err = %v, want a refusal that explains why", err)
	}
}

// TestEmptyAlarmsListHasNoAlarmConfiguration: the plugin writes
// AlarmConfiguration {Enabled: true, Alarms: []} for `alarms: []`, which
// CodeDeploy rejects; sluice leaves it out.
func TestEmptyAlarmsListHasNoAlarmConfiguration(t *testing.T) {
	svc := serviceYAML(t, `
service: s
functions:
  a: {handler: h.a, deploymentSettings: {type: AllAtOnce, alias: Live, alarms: []}}
`)
	out, _, err := Transform(minimalTemplate("A"), svc)
	if err != nil {
		t.Fatal(err)
	}
	if ac := at(out, "Resources", "ALambdaFunctionDeploymentGroup", "Properties", "AlarmConfiguration"); ac != nil {
		t.Errorf("AlarmConfiguration = %s, want none", js(ac))
	}
}

func TestHooksWithoutInlineRolePolicyWarn(t *testing.T) {
	svc := serviceYAML(t, `
service: s
functions:
  a: {handler: h.a, deploymentSettings: {type: AllAtOnce, alias: Live, preTrafficHook: pre}}
  pre: {handler: h.pre}
`)
	tpl := minimalTemplate("A", "Pre")
	delete(obj(tpl["Resources"]), executionRoleID) // provider.iam.role: an existing role
	_, diags, err := Transform(tpl, svc)
	if err != nil {
		t.Fatal(err)
	}
	if len(diags) != 1 || diags[0].Severity != config.SeverityWarning || !strings.Contains(diags[0].Msg, "PutLifecycleEventHookExecutionStatus") {
		t.Errorf("diagnostics = %v, want one warning that the hooks need the permission", diags)
	}
}

// TestFunctionCodeDeployRole pins the plugin's split: the function's own
// codeDeployRole is the group's role, but only the global one stops
// CodeDeployServiceRole from being created.
func TestFunctionCodeDeployRole(t *testing.T) {
	svc := serviceYAML(t, `
service: s
functions:
  a: {handler: h.a, deploymentSettings: {type: AllAtOnce, alias: Live, codeDeployRole: 'arn:aws:iam::1:role/cd'}}
`)
	out, _, err := Transform(minimalTemplate("A"), svc)
	if err != nil {
		t.Fatal(err)
	}
	if role := at(out, "Resources", "ALambdaFunctionDeploymentGroup", "Properties", "ServiceRoleArn"); role != "arn:aws:iam::1:role/cd" {
		t.Errorf("ServiceRoleArn = %s", js(role))
	}
	if at(out, "Resources", codeDeployRoleID) == nil {
		t.Error("CodeDeployServiceRole is missing; the plugin creates it unless the global codeDeployRole is set")
	}
}

func TestStackNameFromProvider(t *testing.T) {
	svc := serviceYAML(t, `
service: s
provider: {stackName: my-custom-stack}
functions:
  a: {handler: h.a, deploymentSettings: {type: AllAtOnce, alias: Live}}
`)
	out, _, err := Transform(minimalTemplate("A"), svc)
	if err != nil {
		t.Fatal(err)
	}
	if at(out, "Resources", "MycustomstackDeploymentApplication") == nil {
		t.Errorf("no application named after provider.stackName in %v", config.SortedKeys(obj(out["Resources"])))
	}
	if name := at(out, "Resources", "ALambdaFunctionDeploymentGroup", "Properties", "DeploymentGroupName"); name != "my-custom-stack-ALambdaFunctionDeploymentGroup" {
		t.Errorf("DeploymentGroupName = %v", name)
	}
}

func TestTemplateWithoutResourcesIsAnError(t *testing.T) {
	svc := serviceYAML(t, "service: s\n")
	for _, tpl := range []Template{nil, {}, {"Resources": "nope"}} {
		if _, _, err := Transform(tpl, svc); err == nil || !strings.Contains(err.Error(), "no Resources") {
			t.Errorf("Transform(%v): err = %v", tpl, err)
		}
	}
}

// TestAlarmNamedByAlertsDefinition: `alarms: [functionErrors]` names the
// aws-alerts alarm of this function, whose logical ID the group must Ref.
func TestAlarmNamedByAlertsDefinition(t *testing.T) {
	svc := serviceYAML(t, `
service: s
custom:
  alerts:
    function: [functionErrors]
functions:
  a: {handler: h.a, deploymentSettings: {type: AllAtOnce, alias: Live, alarms: [functionErrors]}}
`)
	compiled, _ := alerts.Compile(svc)
	if compiled == nil || len(compiled.Alarms) == 0 {
		t.Skip("alerts.Compile defines no alarms yet (the aws-alerts half has not landed)")
	}
	var want string
	for _, a := range compiled.Alarms {
		if a.Function == "a" && a.Name == "functionErrors" {
			want = a.LogicalID
		}
	}
	out, diags, err := Transform(minimalTemplate("A"), svc)
	if err != nil {
		t.Fatal(err)
	}
	alarms := list(at(out, "Resources", "ALambdaFunctionDeploymentGroup", "Properties", "AlarmConfiguration", "Alarms"))
	if len(alarms) != 1 || refTarget(at(alarms[0], "Name")) != want {
		t.Errorf("alarms = %s, want a Ref to %s", js(alarms), want)
	}
	if len(diags.Warnings()) != 0 {
		t.Errorf("warnings: %v", diags.Warnings())
	}
}
