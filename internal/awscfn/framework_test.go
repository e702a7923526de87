package awscfn

import (
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
