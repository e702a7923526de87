package awscfn

import (
	"reflect"
	"strings"
	"testing"
)

// TestConditionCarriedOver: osls v4 puts a function's condition on the
// function and its version; the alias, deployment group and alarms added
// for it carry the same Condition, and shared resources none.
func TestConditionCarriedOver(t *testing.T) {
	svc := serviceYAML(t, `
service: s
custom:
  alerts:
    alarms: [functionErrors]
functions:
  a:
    handler: h.a
    condition: IsProd
    deploymentSettings: {type: AllAtOnce, alias: Live, alarms: [functionErrors]}
  b:
    handler: h.b
    deploymentSettings: {type: AllAtOnce, alias: Live}
`)
	tpl := minimalTemplate("A", "B")
	res := obj(tpl["Resources"])
	res["ALambdaFunction"].(map[string]any)["Condition"] = "IsProd"
	res["ALambdaVersionAbc"].(map[string]any)["Condition"] = "IsProd"
	tpl["Conditions"] = map[string]any{"IsProd": map[string]any{"Fn::Equals": []any{"prod", "prod"}}}
	out, diags, err := Transform(tpl, svc)
	if err != nil {
		t.Fatalf("%v: %v", err, diags)
	}
	for id, want := range map[string]any{
		"ALambdaFunctionAliasLive":       "IsProd",
		"ALambdaFunctionDeploymentGroup": "IsProd",
		"AFunctionErrorsAlarm":           "IsProd",
		"BLambdaFunctionAliasLive":       nil,
		"BLambdaFunctionDeploymentGroup": nil,
		"BFunctionErrorsAlarm":           nil,
		"SdevDeploymentApplication":      nil,
		codeDeployRoleID:                 nil,
	} {
		r := obj(at(out, "Resources", id))
		if r == nil {
			t.Errorf("no resource %s", id)
			continue
		}
		if got := r["Condition"]; got != want {
			t.Errorf("%s: Condition %v, want %v", id, got, want)
		}
	}
	if _, has := obj(at(tpl, "Resources", "ALambdaFunction"))["Condition"]; !has {
		t.Error("the input lost its condition")
	}
}

// TestProvisionedConcurrencyMerged: the framework's `provisioned` alias of
// a gradual function is merged into the deployment's alias, and every
// event source, permission, URL and invoke config that named it names the
// deployment's alias; a function that deploys at once keeps the
// framework's alias.
func TestProvisionedConcurrencyMerged(t *testing.T) {
	svc := loadServiceFile(t, "testdata/provisioned/serverless.yml", "dev")
	in := readTemplateFile(t, "testdata/provisioned/input.json")
	out, diags, err := Transform(in, svc)
	if err != nil {
		t.Fatalf("%v: %v", err, diags)
	}
	res := obj(out["Resources"])
	if _, ok := res["ApiProvConcLambdaAlias"]; ok {
		t.Error("the framework's provisioned alias of api is still there")
	}
	if _, ok := res["PlainProvConcLambdaAlias"]; !ok {
		t.Error("plain (no deploymentSettings) lost its provisioned alias")
	}
	alias := obj(res["ApiLambdaFunctionAliasLive"])
	if got := js(at(alias, "Properties", "ProvisionedConcurrencyConfig")); got != `{"ProvisionedConcurrentExecutions":2}` {
		t.Errorf("alias ProvisionedConcurrencyConfig = %s", got)
	}
	if at(alias, "UpdatePolicy", "CodeDeployLambdaAliasUpdate") == nil {
		t.Error("the alias has no CodeDeploy UpdatePolicy")
	}
	// Nothing names the provisioned alias of api any more, by ID, by name
	// or by ARN; the resources that did now name the deployment's alias.
	repointed := 0
	for id, r := range res {
		s := js(r)
		if strings.Contains(s, "Plain") {
			continue // plain deploys at once, through the framework's alias
		}
		if strings.Contains(s, "ApiProvConcLambdaAlias") || strings.Contains(s, `"provisioned"`) {
			t.Errorf("%s still names the provisioned alias: %s", id, s)
		}
		if strings.Contains(s, "ApiLambdaFunctionAliasLive") && id != "ApiLambdaFunctionAliasLive" {
			repointed++
		}
	}
	if repointed < 10 {
		t.Errorf("%d resources name the deployment's alias, want every event source, permission, URL and config (≥ 10)", repointed)
	}
	if q := at(res["ApiLambdaEvConf"], "Properties", "Qualifier"); q != "Live" {
		t.Errorf("EventInvokeConfig Qualifier = %v, want Live", q)
	}
	if got := js(at(res["ApiLambdaFunctionUrl"], "Properties", "TargetFunctionArn")); got != `{"Ref":"ApiLambdaFunctionAliasLive"}` {
		t.Errorf("function URL TargetFunctionArn = %s", got)
	}
	for _, d := range diags {
		if strings.Contains(d.Msg, "bypasses") {
			t.Errorf("unexpected bypass warning: %v", d)
		}
	}
	if again := readTemplateFile(t, "testdata/provisioned/input.json"); !reflect.DeepEqual(again, in) {
		t.Error("Transform modified its input")
	}
}

// TestServerlessV4CompiledAlerts: Serverless Framework v4.15+ compiles
// custom.alerts itself, with aws-alerts 1.7.5's template. Given a template
// that already holds those alarms (the plugin's expected output stands in
// for v4's), sluice neither doubles nor merges them, and says what it
// found.
func TestServerlessV4CompiledAlerts(t *testing.T) {
	for _, name := range []string{"definitions", "topics", "patterns"} {
		dir := "testdata/alerts/" + name
		svc := loadServiceFile(t, dir+"/serverless.yml", "dev")
		v4 := readTemplateFile(t, dir+"/expected.json")
		// One alarm as an older compiler wrote it: replaced by sluice's.
		var changed string
		for id, r := range obj(v4["Resources"]) {
			if str(at(r, "Type")) == "AWS::CloudWatch::Alarm" && (changed == "" || id < changed) {
				changed = id
			}
		}
		obj(at(v4, "Resources", changed, "Properties"))["Threshold"] = 12345
		out, diags, err := Transform(v4, svc)
		if err != nil {
			t.Fatalf("%s: %v: %v", name, err, diags)
		}
		compareTemplates(t, out, readTemplateFile(t, dir+"/expected.json"))
		var found []string
		for _, d := range diags {
			if strings.Contains(d.Msg, "Serverless Framework v4.15") {
				found = append(found, d.Error())
			}
			if strings.Contains(d.Msg, "is merged into it") {
				t.Errorf("%s: a clash was reported: %v", name, d)
			}
		}
		if len(found) != 1 || !strings.Contains(found[0], "1 differed from sluice's ("+changed+")") || !strings.Contains(found[0], "custom.alerts") {
			t.Errorf("%s: want one warning naming what was found and %s as differing, got %q", name, changed, found)
		}
	}
}

// TestSnapStartAliasMerged: the framework's `snapstart` alias, which its
// events name as the provisioned one's do, is merged the same way.
func TestSnapStartAliasMerged(t *testing.T) {
	svc := loadServiceFile(t, "testdata/snapstart/serverless.yml", "dev")
	in := readTemplateFile(t, "testdata/snapstart/input.json")
	out, diags, err := Transform(in, svc)
	if err != nil {
		t.Fatalf("%v: %v", err, diags)
	}
	res := obj(out["Resources"])
	if _, ok := res["ApiSnapStartLambdaAlias"]; ok {
		t.Error("the framework's snapstart alias is still there")
	}
	if pc := at(res["ApiLambdaFunctionAliasLive"], "Properties", "ProvisionedConcurrencyConfig"); pc != nil {
		t.Errorf("the alias got a ProvisionedConcurrencyConfig %v", pc)
	}
	repointed := 0
	for id, r := range res {
		s := js(r)
		if strings.Contains(s, "ApiSnapStartLambdaAlias") || strings.Contains(s, `"snapstart"`) {
			t.Errorf("%s still names the snapstart alias: %s", id, s)
		}
		if strings.Contains(s, "ApiLambdaFunctionAliasLive") && id != "ApiLambdaFunctionAliasLive" {
			repointed++
		}
	}
	if repointed < 3 {
		t.Errorf("%d resources name the deployment's alias, want the integration, permission and event source mapping", repointed)
	}
}

// TestConditionOnOslsTemplate: on the template osls 4.3.1 compiles for a
// function with `condition: IsProd`, what sluice adds for that function
// carries the condition, and what it adds for the other one does not.
func TestConditionOnOslsTemplate(t *testing.T) {
	svc := loadServiceFile(t, "testdata/conditions/serverless.yml", "dev")
	in := readTemplateFile(t, "testdata/conditions/input.json")
	if c := at(in, "Resources", "ApiLambdaFunction", "Condition"); c != "IsProd" {
		t.Fatalf("test data changed: the function's Condition is %v", c)
	}
	out, diags, err := Transform(in, svc)
	if err != nil {
		t.Fatalf("%v: %v", err, diags)
	}
	for id, want := range map[string]any{
		"ApiLambdaFunctionAliasLive":          "IsProd",
		"ApiLambdaFunctionDeploymentGroup":    "IsProd",
		"ApiFunctionErrorsAlarm":              "IsProd",
		"AlwaysLambdaFunctionAliasLive":       nil,
		"AlwaysLambdaFunctionDeploymentGroup": nil,
		"AlwaysFunctionErrorsAlarm":           nil,
	} {
		if r := obj(at(out, "Resources", id)); r == nil || r["Condition"] != want {
			t.Errorf("%s: %v, want Condition %v", id, r, want)
		}
	}
}
