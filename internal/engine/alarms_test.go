package engine

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
)

func TestAlarmsFromAlertsAndResources(t *testing.T) {
	src := `
service: shop
custom:
  alerts:
    definitions:
      functionErrors: {threshold: 2, period: 60, treatMissingData: notBreaching}
      slow: {metric: Duration, statistic: p99, threshold: 800, period: 60, namespace: AWS/Lambda, evaluationPeriods: 1, comparisonOperator: GreaterThanThreshold}
      exceptions: {metric: exceptions, pattern: "ERROR", threshold: 1, period: 60, statistic: Sum, evaluationPeriods: 1, comparisonOperator: GreaterThanOrEqualToThreshold}
    alarms: [functionErrors]
functions:
  checkout:
    handler: h.checkout
    alarms: [slow, exceptions]
    deploymentSettings:
      type: AllAtOnce
      alias: Live
      alarms: [CheckoutFunctionErrorsAlarm, slow, {name: {Ref: Custom}}, {name: custom-named}, Missing]
resources:
  Resources:
    Custom:
      Type: AWS::CloudWatch::Alarm
      Properties:
        Namespace: AWS/Lambda
        MetricName: Throttles
        Dimensions: [{Name: FunctionName, Value: {Ref: CheckoutLambdaFunction}}]
        Statistic: Sum
        Period: 60
        EvaluationPeriods: 1
        Threshold: 1
        ComparisonOperator: GreaterThanOrEqualToThreshold
    Named:
      Type: AWS::CloudWatch::Alarm
      Properties:
        AlarmName: custom-named
        Namespace: AWS/Lambda
        MetricName: Errors
        Statistic: Sum
        Period: 60
        EvaluationPeriods: 1
        Threshold: 1
        ComparisonOperator: GreaterThanThreshold
    Elsewhere:
      Type: AWS::CloudWatch::Alarm
      Properties:
        Namespace: AWS/SQS
        MetricName: ApproximateAgeOfOldestMessage
        Statistic: Maximum
        Period: 60
        EvaluationPeriods: 1
        Threshold: 60
        ComparisonOperator: GreaterThanThreshold
`
	svc, _, err := config.LoadBytes("serverless.yml", t.TempDir(), []byte(src), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, diags := buildAlarms(svc)
	if errs := diags.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
	byName := map[string]int{}
	for i, s := range set.specs {
		byName[s.Name] = i
	}
	for _, want := range []string{"CheckoutFunctionErrorsAlarm", "CheckoutSlowAlarm", "Custom", "custom-named"} {
		if _, ok := byName[want]; !ok {
			t.Errorf("alarm %s missing from %v", want, byName)
		}
	}
	if _, ok := byName["CheckoutExceptionsAlarm"]; ok {
		t.Error("a log-pattern alarm is evaluated locally")
	}
	if _, ok := byName["Elsewhere"]; ok {
		t.Error("an AWS/SQS alarm is evaluated locally")
	}
	errs := set.specs[byName["CheckoutFunctionErrorsAlarm"]]
	if errs.Threshold != 2 || errs.Period != time.Minute || errs.Dimensions[0].Value != "shop-dev-checkout" {
		t.Errorf("functionErrors alarm = %+v", errs)
	}
	names, gdiags := set.groupAlarms(svc, svc.Function("checkout"))
	want := []string{"CheckoutFunctionErrorsAlarm", "CheckoutSlowAlarm", "Custom", "custom-named"}
	if len(names) != len(want) {
		t.Fatalf("group alarms = %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("group alarms = %v, want %v", names, want)
		}
	}
	if len(gdiags) != 1 || gdiags[0].Severity != config.SeverityWarning {
		t.Fatalf("diagnostics for the missing alarm: %v", gdiags)
	}
}
