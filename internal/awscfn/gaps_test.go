package awscfn

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

// testdata/gaps holds a service with every event source the framework
// compiles (serverless.yml), the template the Serverless Framework 3.40
// compiled from it without plugins (input.json), and what
// serverless-plugin-canary-deployments 0.8.0 makes of that template
// (plugin-output.json; bench/package/plugin.js --canary-only regenerates
// it). sluice's output must equal the plugin's except in the resources
// listed here, each for a named reason with its own test below.
var gapDeviations = map[string]string{
	"AuthApiGatewayAuthorizer":                 "REST API authorizer re-pointed (TestGapRESTAuthorizer)",
	"HelloAlbTargetGroup1":                     "ALB target group re-pointed (TestGapALBTargetGroup)",
	"S3BucketBkt":                              "every S3 notification re-pointed, for every function (TestGapEveryS3Notification)",
	"SNSTopicTopicA":                           "a topic shared by two functions re-pointed for both (TestGapSharedEventSources)",
	"HelloLambdaEvConf":                        "async invoke config moved from $LATEST to the alias (TestGapEventInvokeConfig)",
	"HelloLambdaFunctionUrl":                   "function URL served from the alias (TestGapFunctionURL)",
	"CognitoUserPoolMyPool":                    "Cognito trigger re-pointed (TestGapCognitoTrigger)",
	"Canary25Percent45MinutesDeploymentConfig": "custom deployment type gets a deployment config (TestGapCustomDeploymentConfig)",
	"HelloLambdaFunctionDeploymentGroup":       "custom deployment type gets a deployment config (TestGapCustomDeploymentConfig)",
	"OtherLambdaFunctionDeploymentGroup":       "custom deployment type gets a deployment config (TestGapCustomDeploymentConfig)",
}

func gapsTransform(t *testing.T) (Template, config.Diagnostics) {
	t.Helper()
	svc, _, err := config.Load("testdata/gaps/serverless.yml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := readTemplateFile(t, "testdata/gaps/input.json")
	got, diags, err := Transform(in, svc)
	if err != nil {
		t.Fatalf("Transform: %v", err)
	}
	if !reflect.DeepEqual(in, readTemplateFile(t, "testdata/gaps/input.json")) {
		t.Fatal("Transform modified its input")
	}
	return normalize(t, got), diags
}

func gapResource(t *testing.T, id string) map[string]any {
	t.Helper()
	got, _ := gapsTransform(t)
	r := obj(at(got, "Resources", id))
	if r == nil {
		t.Fatalf("no resource %s in the output", id)
	}
	return r
}

func TestGapsDifferFromPluginOnlyWhereNamed(t *testing.T) {
	got, _ := gapsTransform(t)
	plugin := readTemplateFile(t, "testdata/gaps/plugin-output.json")
	gr, pr := obj(got["Resources"]), obj(plugin["Resources"])
	for _, id := range unionKeys(gr, pr) {
		same := reflect.DeepEqual(gr[id], pr[id])
		why, named := gapDeviations[id]
		switch {
		case !same && !named:
			t.Errorf("resource %s differs from the plugin's without a named deviation:\n  sluice: %s\n  plugin: %s", id, js(gr[id]), js(pr[id]))
		case same && named:
			t.Errorf("resource %s is listed as a deviation (%s) but equals the plugin's", id, why)
		}
	}
}

func TestGapRESTAuthorizer(t *testing.T) {
	r := gapResource(t, "AuthApiGatewayAuthorizer")
	want := invocationURI(&gradual{aliasID: "AuthLambdaFunctionAliasLive"})
	if got := at(r, "Properties", "AuthorizerUri"); !reflect.DeepEqual(got, normalizeValue(t, want)) {
		t.Errorf("AuthorizerUri = %s, want the alias's invocation URI %s", js(got), js(want))
	}
	if got := at(gapResource(t, "AuthLambdaPermissionApiGateway"), "Properties", "FunctionName"); refTarget(got) != "AuthLambdaFunctionAliasLive" {
		t.Errorf("the authorizer's permission names %s, want the alias", js(got))
	}
}

func TestGapALBTargetGroup(t *testing.T) {
	targets := list(at(gapResource(t, "HelloAlbTargetGroup1"), "Properties", "Targets"))
	if len(targets) != 1 || refTarget(at(targets[0], "Id")) != "HelloLambdaFunctionAliasLive" {
		t.Errorf("Targets = %s, want the alias registered", js(targets))
	}
	for _, perm := range []string{"HelloLambdaPermissionAlb", "HelloLambdaPermissionRegisterTarget"} {
		if got := at(gapResource(t, perm), "Properties", "FunctionName"); refTarget(got) != "HelloLambdaFunctionAliasLive" {
			t.Errorf("%s names %s, want the alias", perm, js(got))
		}
	}
}

func TestGapEveryS3Notification(t *testing.T) {
	want := []string{"HelloLambdaFunctionAliasLive", "HelloLambdaFunctionAliasLive", "OtherLambdaFunctionAliasLive"}
	lcs := list(at(gapResource(t, "S3BucketBkt"), "Properties", "NotificationConfiguration", "LambdaConfigurations"))
	if len(lcs) != len(want) {
		t.Fatalf("%d notifications, want %d", len(lcs), len(want))
	}
	for i, lc := range lcs {
		if got := refTarget(at(lc, "Function")); got != want[i] {
			t.Errorf("notification %d (%s) invokes %s, want %s", i, js(at(lc, "Event")), js(at(lc, "Function")), want[i])
		}
	}
}

// TestGapSharedEventSources: the plugin computes each function's changes
// from the original template and the last function's copy of a shared
// resource wins, so hello's subscription to topicA (and its notifications
// from bkt, above) stay on the function while their permissions move.
func TestGapSharedEventSources(t *testing.T) {
	subs := list(at(gapResource(t, "SNSTopicTopicA"), "Properties", "Subscription"))
	var got []string
	for _, s := range subs {
		got = append(got, refTarget(at(s, "Endpoint")))
	}
	if want := []string{"HelloLambdaFunctionAliasLive", "OtherLambdaFunctionAliasLive"}; !reflect.DeepEqual(got, want) {
		t.Errorf("topicA subscribes %v (from %s), want %v", got, js(subs), want)
	}
}

func TestGapEventInvokeConfig(t *testing.T) {
	r := gapResource(t, "HelloLambdaEvConf")
	if q := at(r, "Properties", "Qualifier"); q != "Live" {
		t.Errorf("Qualifier = %v, want the alias name Live (the framework writes $LATEST, which the alias's invocations never use)", q)
	}
	if refTarget(at(r, "Properties", "FunctionName")) != "HelloLambdaFunction" {
		t.Errorf("FunctionName = %s, want the function (the alias is the qualifier)", js(at(r, "Properties", "FunctionName")))
	}
	if d := r["DependsOn"]; d != "HelloLambdaFunctionAliasLive" {
		t.Errorf("DependsOn = %v, want the alias, which must exist before a config can name it", d)
	}
	if at(r, "Properties", "DestinationConfig") == nil || at(r, "Properties", "MaximumRetryAttempts") == nil {
		t.Error("the destinations and retry settings were lost")
	}
}

func TestGapEventInvokeConfigForAnotherQualifierIsKept(t *testing.T) {
	r := map[string]any{"Type": "AWS::Lambda::EventInvokeConfig", "Properties": map[string]any{"FunctionName": ref("HelloLambdaFunction"), "Qualifier": "3"}}
	retargetEventInvokeConfig(r, &gradual{functionID: "HelloLambdaFunction", aliasID: "HelloLambdaFunctionAliasLive", settings: &config.DeploymentSettings{Alias: "Live"}})
	if at(r, "Properties", "Qualifier") != "3" || r["DependsOn"] != nil {
		t.Errorf("a config written for version 3 was changed: %s", js(r))
	}
}

func TestGapFunctionURL(t *testing.T) {
	r := gapResource(t, "HelloLambdaFunctionUrl")
	if q := at(r, "Properties", "Qualifier"); q != "Live" {
		t.Errorf("Qualifier = %v, want Live: the URL's InvokeFunctionUrl permission is on the alias", q)
	}
	if got := at(gapResource(t, "HelloLambdaPermissionFnUrl"), "Properties", "FunctionName"); refTarget(got) != "HelloLambdaFunctionAliasLive" {
		t.Errorf("the URL permission names %s, want the alias", js(got))
	}
}

func TestGapCognitoTrigger(t *testing.T) {
	got := at(gapResource(t, "CognitoUserPoolMyPool"), "Properties", "LambdaConfig", "PreSignUp")
	if refTarget(got) != "HelloLambdaFunctionAliasLive" {
		t.Errorf("PreSignUp = %s, want the alias", js(got))
	}
}

func TestGapCustomDeploymentConfig(t *testing.T) {
	got, _ := gapsTransform(t)
	cfg := obj(at(got, "Resources", "Canary25Percent45MinutesDeploymentConfig"))
	want := map[string]any{
		"Type": "AWS::CodeDeploy::DeploymentConfig",
		"Properties": map[string]any{
			"ComputePlatform": "Lambda",
			"TrafficRoutingConfig": map[string]any{
				"Type":            "TimeBasedCanary",
				"TimeBasedCanary": map[string]any{"CanaryPercentage": 25.0, "CanaryInterval": 45.0},
			},
		},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("deployment config = %s, want %s", js(cfg), js(want))
	}
	// Canary25Percent45Minutes (hello) and Canary25Percent45Minute (other)
	// are one type: one config.
	for _, group := range []string{"HelloLambdaFunctionDeploymentGroup", "OtherLambdaFunctionDeploymentGroup"} {
		if name := at(got, "Resources", group, "Properties", "DeploymentConfigName"); refTarget(name) != "Canary25Percent45MinutesDeploymentConfig" {
			t.Errorf("%s uses %s, want a Ref to the custom config", group, js(name))
		}
	}
	// Predefined types keep the plugin's Fn::Sub.
	wantSub := []any{"CodeDeployDefault.Lambda${ConfigName}", map[string]any{"ConfigName": "Linear10PercentEvery1Minute"}}
	if name := at(got, "Resources", "AuthLambdaFunctionDeploymentGroup", "Properties", "DeploymentConfigName", "Fn::Sub"); !reflect.DeepEqual(name, wantSub) {
		t.Errorf("a predefined type is named %s, want the plugin's Fn::Sub %s", js(name), js(wantSub))
	}
}

func TestLinearCustomDeploymentConfig(t *testing.T) {
	svc := serviceYAML(t, `
service: lin
functions:
  a: {handler: h.a, deploymentSettings: {type: Linear20PercentEvery3Minutes, alias: Live}}
`)
	got, _, err := Transform(minimalTemplate("A"), svc)
	if err != nil {
		t.Fatal(err)
	}
	routing := at(normalize(t, got), "Resources", "Linear20PercentEvery3MinutesDeploymentConfig", "Properties", "TrafficRoutingConfig")
	want := map[string]any{"Type": "TimeBasedLinear", "TimeBasedLinear": map[string]any{"LinearPercentage": 20.0, "LinearInterval": 3.0}}
	if !reflect.DeepEqual(routing, want) {
		t.Errorf("TrafficRoutingConfig = %s, want %s", js(routing), js(want))
	}
}

// TestBypassWarning: the framework's custom resource for an existing
// bucket subscribes the function by name; sluice cannot re-point it (the
// custom resource's code decides), so it says so.
func TestBypassWarning(t *testing.T) {
	_, diags := gapsTransform(t)
	var found bool
	for _, d := range diags {
		if strings.Contains(d.Msg, "HelloCustomS31 (Custom::S3) invokes the function directly") {
			found = d.Severity == config.SeverityWarning && d.Path == "functions.hello"
		}
	}
	if !found {
		t.Errorf("no warning about HelloCustomS31 bypassing the alias in %v", diags)
	}
	if len(diags) != 1 {
		t.Errorf("want exactly that one diagnostic, got:\n%v", diags)
	}
}

// normalizeValue round-trips v through JSON.
func normalizeValue(t *testing.T, v any) any {
	return normalize(t, Template{"v": v})["v"]
}
