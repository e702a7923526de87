package awscfn

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

// FuzzTransform feeds Transform arbitrary templates and services. It must
// never panic, must not modify its input, must give the same result twice
// (map order must not leak into the output), and must fail exactly when it
// reports an error diagnostic or returns no template. Seeds are the
// conformance cases. Run with `go test ./internal/awscfn -fuzz FuzzTransform`.
func FuzzTransform(f *testing.F) {
	for _, c := range conformanceCases(f) {
		svc, _ := os.ReadFile(c.service)
		tpl, _ := os.ReadFile(c.input)
		f.Add(tpl, svc)
	}
	f.Add([]byte(`{"Resources": {"ALambdaFunction": {}, "V": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "ALambdaFunction"}}},
	  "P": {"Type": "AWS::Lambda::Permission", "Properties": {"FunctionName": {"Fn::GetAtt": "ALambdaFunction.Arn"}}},
	  "B": {"Type": "AWS::S3::Bucket", "Properties": {"NotificationConfiguration": {"LambdaConfigurations": [{"Function": {"Fn::GetAtt": ["ALambdaFunction", "Arn"]}}, 3, null]}}},
	  "T": {"Type": "AWS::SNS::Topic", "Properties": {"Subscription": [{"Endpoint": {"Fn::GetAtt": ["ALambdaFunction"]}}, "x"]}},
	  "C": {"Type": "Custom::S3", "Properties": {"FunctionName": "s-dev-a"}}}}`),
		[]byte("service: s\nfunctions:\n  a: {handler: h.a, deploymentSettings: {type: Canary20Percent7Minutes, alias: Live, alarms: [X, {name: y}]}}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, tplSrc, svcSrc []byte) {
		var tpl Template
		if json.Unmarshal(tplSrc, &tpl) != nil {
			return
		}
		svc, _, err := config.LoadBytes("serverless.yml", dir, svcSrc, config.Options{Getenv: func(string) (string, bool) { return "", false }})
		if err != nil {
			return
		}
		var pristine Template
		json.Unmarshal(tplSrc, &pristine)

		out, diags, err := Transform(tpl, svc)
		if !reflect.DeepEqual(tpl, pristine) {
			t.Fatal("Transform modified its input")
		}
		if (err != nil) != (out == nil) {
			t.Fatalf("err = %v with a template %v", err, out != nil)
		}
		if len(diags.Errors()) > 0 && err == nil {
			t.Fatalf("error diagnostics without an error: %v", diags)
		}
		for _, d := range diags {
			_ = d.Error()
		}
		if err != nil {
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("the output is not JSON: %v", err)
		}
		again, diags2, err := Transform(tpl, svc)
		if err != nil || !reflect.DeepEqual(out, again) || diags.Error() != diags2.Error() {
			t.Fatalf("a second Transform differs (err %v)", err)
		}
	})
}

// FuzzTransformShapes explores template shapes rather than JSON syntax:
// the fuzzer's bytes choose functions, settings and resources whose
// properties mix the references the transform looks for (GetAtt, Ref, the
// logical ID as a string) with values of every other JSON type, at the
// keys it reads. Random JSON bytes rarely get that far.
func FuzzTransformShapes(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice over: the quick brown fox"))
	f.Add([]byte{255, 254, 3, 3, 3, 3, 3, 7, 7, 7, 7, 1, 1, 1, 1, 0, 0, 0, 200, 100, 50, 25})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &shapes{data: data}
		svcSrc, tpl := g.service(), g.template()
		svc, _, err := config.LoadBytes("serverless.yml", dir, []byte(svcSrc), config.Options{})
		if err != nil {
			return
		}
		pristine := deepCopy(tpl)
		out, diags, err := Transform(tpl, svc)
		if !reflect.DeepEqual(tpl, pristine) {
			t.Fatal("Transform modified its input")
		}
		if (err != nil) != (out == nil) || len(diags.Errors()) > 0 && err == nil {
			t.Fatalf("err = %v, template %v, diagnostics %v", err, out != nil, diags)
		}
		if err != nil {
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("the output is not JSON: %v", err)
		}
		again, diags2, _ := Transform(tpl, svc)
		if !reflect.DeepEqual(out, again) || diags.Error() != diags2.Error() {
			t.Fatal("a second Transform differs")
		}
	})
}

type shapes struct {
	data []byte
	i    int
}

func (s *shapes) next(n int) int {
	if s.i >= len(s.data) || n <= 0 {
		return 0
	}
	b := int(s.data[s.i])
	s.i++
	return b % n
}

func (s *shapes) pick(options ...string) string { return options[s.next(len(options))] }

var shapeFunctions = []string{"a", "b", "my-fn"}

func (s *shapes) service() string {
	src := "service: s\ncustom: {deploymentSettings: {stages: " + s.pick("[]", "[dev]", "[prod]") + "}" + s.pick("", ", alerts: {alarms: [functionErrors]}") + "}\nfunctions:\n"
	for _, fn := range shapeFunctions {
		src += "  " + fn + ": {handler: h.x" + s.pick("", ", condition: IsProd", ", alarms: [functionErrors]")
		if s.next(4) != 0 {
			src += ", deploymentSettings: {type: " + s.pick("AllAtOnce", "Canary10Percent5Minutes", "Canary20Percent7Minutes", "Linear50PercentEvery1Minute", "Bogus", "''") +
				", alias: " + s.pick("Live", "live", "''", "a-b") +
				s.pick("", ", preTrafficHook: b", ", postTrafficHook: a", ", preTrafficHook: nope") +
				s.pick("", ", alarms: [X]", ", alarms: [{name: n}]", ", alarms: []") +
				s.pick("", ", triggerConfigurations: []", ", codeDeployRole: r") + "}"
		}
		src += "}\n"
	}
	return src
}

var shapeTypes = func() []string {
	types := []string{"AWS::Lambda::Version", "AWS::Lambda::Function", "AWS::IAM::Role", "Custom::S3", "AWS::StepFunctions::StateMachine", "AWS::CodeDeploy::Application",
		"AWS::Lambda::Alias", "AWS::CloudWatch::Alarm"}
	for typ := range eventSources {
		types = append(types, typ)
	}
	sort.Strings(types)
	return types
}()

var shapeKeys = []string{"FunctionName", "Integration", "Uri", "Subscription", "Endpoint", "Protocol", "Targets", "Arn", "Id",
	"NotificationConfiguration", "LambdaConfigurations", "Function", "TopicRulePayload", "Actions", "Lambda", "FunctionArn",
	"LambdaConfig", "LambdaFunctionArn", "Type", "Qualifier", "DestinationArn", "AuthorizerUri", "IntegrationUri",
	"TargetFunctionArn", "PreSignUp", "LambdaArn", "Policies", "PolicyDocument", "Statement", "DependsOn",
	"ProvisionedConcurrencyConfig", "Name", "MetricName", "Namespace"}

func (s *shapes) template() Template {
	res := map[string]any{}
	n := s.next(12)
	for i := 0; i < n; i++ {
		id := s.pick("ALambdaFunction", "BLambdaFunction", "MyDashfnLambdaFunction", "V1", "V2", "R1", "R2", "IamRoleLambdaExecution", "SDevDeploymentApplication",
			"AProvConcLambdaAlias", "ASnapStartLambdaAlias", "AFunctionErrorsAlarm")
		r := map[string]any{"Type": shapeTypes[s.next(len(shapeTypes))], "Properties": s.value(5)}
		if s.next(3) == 0 {
			r["DependsOn"] = s.pick("AProvConcLambdaAlias", "ASnapStartLambdaAlias", "R1")
			if s.next(2) == 0 {
				r["DependsOn"] = s.value(1)
			}
		}
		if s.next(4) == 0 {
			r["Condition"] = s.pick("IsProd", "")
		}
		res[id] = r
	}
	return Template{"Resources": res}
}

func (s *shapes) value(depth int) any {
	fn := s.pick("ALambdaFunction", "BLambdaFunction", "MyDashfnLambdaFunction", "Other")
	switch k := s.next(13); {
	case k == 0:
		return getAtt(fn, s.pick("Arn", "Version", ""))
	case k == 1:
		return map[string]any{"Fn::GetAtt": fn + ".Arn"}
	case k == 2:
		return ref(fn)
	case k == 3:
		return fn
	case k == 4:
		return nil
	case k == 5:
		return float64(s.next(100))
	case k == 6:
		return s.pick("lambda", "AWS_LAMBDA", "$LATEST", "true", "provisioned", "snapstart")
	case k == 7: // the framework's ARN of its provisioned or snapstart alias
		return map[string]any{"Fn::Join": []any{":", []any{getAtt(fn, "Arn"), s.pick("provisioned", "snapstart", "Live")}}}
	case k == 8:
		return map[string]any{"Fn::Sub": s.pick("${AProvConcLambdaAlias}", "x${ASnapStartLambdaAlias}y", "${ALambdaFunction.Arn}")}
	case depth <= 0:
		return true
	case k <= 10:
		l := make([]any, s.next(4))
		for i := range l {
			l[i] = s.value(depth - 1)
		}
		return l
	default:
		m := map[string]any{}
		for i, n := 0, s.next(5); i < n; i++ {
			m[shapeKeys[s.next(len(shapeKeys))]] = s.value(depth - 1)
		}
		return m
	}
}

// deepCopy copies a JSON value tree (to check the input stays as it was).
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}
