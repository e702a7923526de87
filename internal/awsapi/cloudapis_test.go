package awsapi

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/metrics"
)

// CloudWatch's alarm reads, through the real aws-sdk-go-v2 client (which
// speaks RPC v2 CBOR to CloudWatch).
func TestCloudWatchThroughTheSDK(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	ev := alarm.NewEvaluator(metrics.NewStore(clk))
	defer ev.Close()
	for _, name := range []string{"svc-api-errors", "svc-api-duration", "other"} {
		if _, err := ev.Put(alarm.Spec{Name: name, Namespace: metrics.NamespaceLambda, MetricName: metrics.MetricErrors,
			Dimensions: []metrics.Dimension{{Name: metrics.DimFunctionName, Value: "svc-api"}}, Period: time.Minute,
			EvaluationPeriods: 1, Statistic: "Sum", Threshold: 1, ComparisonOperator: alarm.GreaterThanOrEqualToThreshold}); err != nil {
			t.Fatal(err)
		}
	}
	cw := NewCloudWatch(ev)
	defer cw.Close()
	if err := ev.SetAlarmState("svc-api-errors", alarm.StateAlarm, "set by the test"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cw)
	defer srv.Close()
	c := cloudwatch.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIASLUICELOCAL00000", "secret", "")})
	ctx := context.Background()

	out, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"svc-api-errors"}})
	if err != nil || len(out.MetricAlarms) != 1 {
		t.Fatalf("DescribeAlarms by name: %+v, %v", out, err)
	}
	a := out.MetricAlarms[0]
	if a.StateValue != cwtypes.StateValueAlarm || *a.StateReason != "set by the test" || a.Statistic != cwtypes.StatisticSum ||
		*a.Threshold != 1 || *a.Period != 60 || a.ComparisonOperator != cwtypes.ComparisonOperatorGreaterThanOrEqualToThreshold ||
		len(a.Dimensions) != 1 || *a.Dimensions[0].Value != "svc-api" {
		t.Errorf("alarm %+v", a)
	}
	if out, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("svc-api-")}); err != nil || len(out.MetricAlarms) != 2 {
		t.Errorf("by prefix: %d alarms, %v", len(out.MetricAlarms), err)
	}
	if out, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValueAlarm}); err != nil || len(out.MetricAlarms) != 1 {
		t.Errorf("by state: %d alarms, %v", len(out.MetricAlarms), err)
	}
	var apiErr smithy.APIError
	if _, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"a"}, AlarmNamePrefix: aws.String("b")}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterCombination" {
		t.Errorf("names and prefix together: %v", err)
	}
	if _, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: "SIDEWAYS"}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
		t.Errorf("an unknown state: %v", err)
	}

	hist, err := c.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("svc-api-errors")})
	if err != nil || len(hist.AlarmHistoryItems) != 1 || !strings.Contains(*hist.AlarmHistoryItems[0].HistorySummary, "to ALARM") ||
		!strings.Contains(*hist.AlarmHistoryItems[0].HistoryData, `"stateValue":"ALARM"`) {
		t.Fatalf("history %+v, %v", hist, err)
	}
	if h, err := c.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{HistoryItemType: cwtypes.HistoryItemTypeAction}); err != nil || len(h.AlarmHistoryItems) != 0 {
		t.Errorf("actions: %+v, %v", h, err)
	}
	if _, err := c.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{MaxRecords: aws.Int32(1000)}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
		t.Errorf("MaxRecords 1000: %v", err)
	}
}

// CloudFormation's stack reads, through the real client (query protocol,
// XML answers), over a stack model derived from its deployments.
func TestCloudFormationThroughTheSDK(t *testing.T) {
	created := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	began := created.Add(time.Hour)
	end := began.Add(5 * time.Minute)
	in := StackInputs{Name: "svc-dev", Created: created, UpdateBegan: began,
		AliasLogicalIDs: map[string]string{"svc-dev-api": "ApiLambdaFunctionAliasLive"},
		Resources:       []StackResource{{LogicalID: "ApiLambdaFunctionDeploymentGroup", PhysicalID: "svc-dev-ApiLambdaFunctionDeploymentGroup", Type: "AWS::CodeDeploy::DeploymentGroup"}},
		Deployments: []deploy.Deployment{{ID: "d-1", Status: deploy.StatusStopped, Creator: deploy.CreatorUser, CreateTime: began.Add(time.Second), CompleteTime: &end,
			ErrorInformation: &deploy.ErrorInfo{Code: deploy.ErrAlarmActive, Message: "alarm X went into ALARM"},
			Target:           deploy.LambdaTarget{FunctionName: "svc-dev-api", FunctionAlias: "Live"}}}}
	srv := httptest.NewServer(&CloudFormation{Stack: func() StackInputs { return in }})
	defer srv.Close()
	c := cloudformation.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIASLUICELOCAL00000", "secret", "")})
	ctx := context.Background()

	st, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("svc-dev")})
	if err != nil || len(st.Stacks) != 1 || st.Stacks[0].StackStatus != cfntypes.StackStatusUpdateRollbackComplete || !st.Stacks[0].LastUpdatedTime.Equal(began) {
		t.Fatalf("stack %+v, %v", st, err)
	}
	var apiErr smithy.APIError
	if _, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("svc-prod")}); !errors.As(err, &apiErr) ||
		apiErr.ErrorCode() != "ValidationError" || !strings.Contains(apiErr.ErrorMessage(), "does not exist") {
		t.Errorf("another stack: %v", err)
	}
	res, err := c.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String("svc-dev")})
	if err != nil || len(res.StackResources) != 1 || *res.StackResources[0].PhysicalResourceId != "svc-dev-ApiLambdaFunctionDeploymentGroup" {
		t.Fatalf("resources %+v, %v", res, err)
	}
	ev, err := c.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String("svc-dev")})
	if err != nil || len(ev.StackEvents) == 0 || ev.StackEvents[0].ResourceStatus != cfntypes.ResourceStatusUpdateRollbackComplete {
		t.Fatalf("events %+v, %v", ev, err)
	}
	failed := false
	for _, e := range ev.StackEvents {
		failed = failed || (e.ResourceStatus == cfntypes.ResourceStatusUpdateFailed && strings.Contains(*e.ResourceStatusReason, "alarm X went into ALARM"))
	}
	if !failed {
		t.Errorf("no UPDATE_FAILED event naming the alarm: %+v", ev.StackEvents)
	}
}

// ModelStack, state by state.
func TestModelStack(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	done := t0.Add(time.Minute)
	dep := func(status deploy.Status, creator string) deploy.Deployment {
		d := deploy.Deployment{ID: "d-" + string(status), Status: status, Creator: creator, CreateTime: t0.Add(time.Second),
			Target: deploy.LambdaTarget{FunctionName: "svc-dev-api", FunctionAlias: "Live"}}
		if status.Done() {
			d.CompleteTime = &done
		}
		return d
	}
	for _, c := range []struct {
		name  string
		began time.Time
		deps  []deploy.Deployment
		want  string
	}{
		{"never updated", time.Time{}, nil, "CREATE_COMPLETE"},
		{"updating", t0, []deploy.Deployment{dep(deploy.StatusInProgress, deploy.CreatorUser)}, "UPDATE_IN_PROGRESS"},
		{"updated", t0, []deploy.Deployment{dep(deploy.StatusSucceeded, deploy.CreatorUser)}, "UPDATE_COMPLETE"},
		{"one failed, one running", t0, []deploy.Deployment{dep(deploy.StatusFailed, deploy.CreatorUser), dep(deploy.StatusInProgress, deploy.CreatorUser)}, "UPDATE_ROLLBACK_IN_PROGRESS"},
		{"rolled back", t0, []deploy.Deployment{dep(deploy.StatusStopped, deploy.CreatorUser), dep(deploy.StatusSucceeded, deploy.CreatorRollback)}, "UPDATE_ROLLBACK_COMPLETE"},
		{"before the update", t0.Add(time.Hour), []deploy.Deployment{dep(deploy.StatusInProgress, deploy.CreatorUser)}, "UPDATE_COMPLETE"},
	} {
		m := ModelStack(StackInputs{Name: "svc-dev", Created: t0.Add(-time.Hour), UpdateBegan: c.began, Deployments: c.deps})
		if m.Status != c.want {
			t.Errorf("%s: %s, want %s", c.name, m.Status, c.want)
		}
	}
}
