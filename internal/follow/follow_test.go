package follow

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
)

func TestPhaseOfEveryStackStatus(t *testing.T) {
	f, err := os.Open("testdata/stack-statuses.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]StackPhase{"busy": StackBusy, "settled": StackSettled, "rolledBack": StackRolledBack, "failed": StackFailed}
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		n++
		if got, want := PhaseOf(fields[0]), names[fields[1]]; got != want {
			t.Errorf("PhaseOf(%s) = %d, want %s", fields[0], got, fields[1])
		}
	}
	if n != 23 {
		t.Fatalf("read %d statuses, want CloudFormation's 23", n)
	}
}

// aws is a scripted AWS: a stack whose status moves one step per
// DescribeStacks call, and deployments whose states move one step per
// GetDeployment call. Answers are shaped as AWS documents them.
type fakeAWS struct {
	mu          sync.Mutex
	stack       []string // statuses, one per DescribeStacks call; the last one stays
	stackCalls  int
	updateBegan time.Time
	deployments map[string][]cdtypes.DeploymentInfo // id → states, one per GetDeployment call
	calls       map[string]int
	weights     map[string]float64
	alarm       cwtypes.MetricAlarm
	stopped     []string
}

func (a *fakeAWS) DescribeStacks(_ context.Context, in *cfn.DescribeStacksInput, _ ...func(*cfn.Options)) (*cfn.DescribeStacksOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if *in.StackName != "orders-prod" {
		return nil, errors.New("operation error CloudFormation: DescribeStacks, api error ValidationError: Stack with id " + *in.StackName + " does not exist")
	}
	st := a.stack[min(a.stackCalls, len(a.stack)-1)]
	a.stackCalls++
	if len(a.stopped) > 0 {
		st = "UPDATE_ROLLBACK_COMPLETE" // CloudFormation fails the alias update when its deployment is stopped
	}
	return &cfn.DescribeStacksOutput{Stacks: []cfntypes.Stack{{StackName: aws.String("orders-prod"), StackStatus: cfntypes.StackStatus(st),
		CreationTime: aws.Time(a.updateBegan.Add(-24 * time.Hour)), LastUpdatedTime: aws.Time(a.updateBegan)}}}, nil
}

func (a *fakeAWS) DescribeStackResources(context.Context, *cfn.DescribeStackResourcesInput, ...func(*cfn.Options)) (*cfn.DescribeStackResourcesOutput, error) {
	return &cfn.DescribeStackResourcesOutput{StackResources: []cfntypes.StackResource{
		{LogicalResourceId: aws.String("OrdersprodDeploymentApplication"), PhysicalResourceId: aws.String("orders-prod-OrdersprodDeploymentApplication-1X2Y3Z"), ResourceType: aws.String("AWS::CodeDeploy::Application")},
		{LogicalResourceId: aws.String("CreateLambdaFunctionDeploymentGroup"), PhysicalResourceId: aws.String("orders-prod-CreateLambdaFunctionDeploymentGroup-AB12"), ResourceType: aws.String("AWS::CodeDeploy::DeploymentGroup")},
		{LogicalResourceId: aws.String("CreateLambdaFunction"), PhysicalResourceId: aws.String("orders-prod-create"), ResourceType: aws.String("AWS::Lambda::Function")},
	}}, nil
}

func (a *fakeAWS) ListDeploymentGroups(_ context.Context, in *codedeploy.ListDeploymentGroupsInput, _ ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentGroupsOutput, error) {
	return &codedeploy.ListDeploymentGroupsOutput{ApplicationName: in.ApplicationName, DeploymentGroups: []string{"orders-prod-CreateLambdaFunctionDeploymentGroup-AB12", "another-group"}}, nil
}

func (a *fakeAWS) GetDeploymentGroup(_ context.Context, in *codedeploy.GetDeploymentGroupInput, _ ...func(*codedeploy.Options)) (*codedeploy.GetDeploymentGroupOutput, error) {
	return &codedeploy.GetDeploymentGroupOutput{DeploymentGroupInfo: &cdtypes.DeploymentGroupInfo{
		ApplicationName: in.ApplicationName, DeploymentGroupName: in.DeploymentGroupName,
		AlarmConfiguration: &cdtypes.AlarmConfiguration{Enabled: true, Alarms: []cdtypes.Alarm{{Name: a.alarm.AlarmName}}}}}, nil
}

func (a *fakeAWS) ListDeployments(_ context.Context, in *codedeploy.ListDeploymentsInput, _ ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentsOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if in.CreateTimeRange == nil || !in.CreateTimeRange.Start.Equal(a.updateBegan) {
		return nil, errors.New("the follower must ask for deployments created since the update began")
	}
	var ids []string
	for id, states := range a.deployments {
		if a.calls[id] > 0 || *states[0].CreateTime != (time.Time{}) {
			ids = append(ids, id)
		}
	}
	return &codedeploy.ListDeploymentsOutput{Deployments: ids}, nil
}

func (a *fakeAWS) GetDeployment(_ context.Context, in *codedeploy.GetDeploymentInput, _ ...func(*codedeploy.Options)) (*codedeploy.GetDeploymentOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	states := a.deployments[*in.DeploymentId]
	info := states[min(a.calls[*in.DeploymentId], len(states)-1)]
	a.calls[*in.DeploymentId]++
	if slicesContains(a.stopped, *in.DeploymentId) {
		info.Status = cdtypes.DeploymentStatusStopped
		info.ErrorInformation = &cdtypes.ErrorInformation{Code: cdtypes.ErrorCodeManualStop, Message: aws.String("The deployment was stopped by a user")}
		info.RollbackInfo = &cdtypes.RollbackInfo{RollbackDeploymentId: aws.String("d-ROLLBACK1")}
	}
	return &codedeploy.GetDeploymentOutput{DeploymentInfo: &info}, nil
}

func slicesContains(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

func (a *fakeAWS) ListDeploymentTargets(context.Context, *codedeploy.ListDeploymentTargetsInput, ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentTargetsOutput, error) {
	return &codedeploy.ListDeploymentTargetsOutput{TargetIds: []string{"orders-prod-create:Live"}}, nil
}

func (a *fakeAWS) GetDeploymentTarget(_ context.Context, in *codedeploy.GetDeploymentTargetInput, _ ...func(*codedeploy.Options)) (*codedeploy.GetDeploymentTargetOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return &codedeploy.GetDeploymentTargetOutput{DeploymentTarget: &cdtypes.DeploymentTarget{
		DeploymentTargetType: cdtypes.DeploymentTargetTypeLambdaTarget,
		LambdaTarget: &cdtypes.LambdaTarget{DeploymentId: in.DeploymentId, TargetId: in.TargetId,
			LambdaFunctionInfo: &cdtypes.LambdaFunctionInfo{FunctionName: aws.String("orders-prod-create"), FunctionAlias: aws.String("Live"),
				CurrentVersion: aws.String("7"), TargetVersion: aws.String("8"), TargetVersionWeight: a.weights[*in.DeploymentId]},
			LifecycleEvents: []cdtypes.LifecycleEvent{{LifecycleEventName: aws.String("BeforeAllowTraffic"), Status: cdtypes.LifecycleEventStatusSucceeded}}},
	}}, nil
}

func (a *fakeAWS) StopDeployment(_ context.Context, in *codedeploy.StopDeploymentInput, _ ...func(*codedeploy.Options)) (*codedeploy.StopDeploymentOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if in.AutoRollbackEnabled == nil || !*in.AutoRollbackEnabled {
		return nil, errors.New("--on-timeout stop must ask for a rollback")
	}
	a.stopped = append(a.stopped, *in.DeploymentId)
	a.deployments["d-ROLLBACK1"] = []cdtypes.DeploymentInfo{{DeploymentId: aws.String("d-ROLLBACK1"), Status: cdtypes.DeploymentStatusSucceeded,
		Creator: cdtypes.DeploymentCreatorCodeDeployRollback, CreateTime: aws.Time(a.updateBegan.Add(time.Hour))}}
	return &codedeploy.StopDeploymentOutput{Status: cdtypes.StopStatusPending}, nil
}

func (a *fakeAWS) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: []cwtypes.MetricAlarm{a.alarm}}, nil
}

var began = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func newFake(stack []string, states ...cdtypes.DeploymentInfo) *fakeAWS {
	a := &fakeAWS{stack: stack, updateBegan: began, deployments: map[string][]cdtypes.DeploymentInfo{}, calls: map[string]int{},
		weights: map[string]float64{"d-1A2B3C4D5": 0.1},
		alarm: cwtypes.MetricAlarm{AlarmName: aws.String("orders-prod-create-errors"), StateValue: cwtypes.StateValueOk,
			StateReason: aws.String("Threshold Crossed: 1 datapoint [0.0 (01/12/26 09:01:00)] was not greater than or equal to the threshold (1.0).")}}
	for i := range states {
		states[i].DeploymentId = aws.String("d-1A2B3C4D5")
		states[i].CreateTime = aws.Time(began.Add(time.Minute))
		states[i].DeploymentGroupName = aws.String("orders-prod-CreateLambdaFunctionDeploymentGroup-AB12")
		states[i].DeploymentConfigName = aws.String("CodeDeployDefault.LambdaCanary10Percent5Minutes")
	}
	a.deployments["d-1A2B3C4D5"] = states
	return a
}

func run(t *testing.T, a *fakeAWS, opts Options, timeout time.Duration) Report {
	t.Helper()
	opts.Stack, opts.Poll, opts.Region = "orders-prod", time.Millisecond, "eu-west-1"
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rep, err := New(Clients{CodeDeploy: a, CloudWatch: a, CloudFormation: a}, opts, nil).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// alarmStop is a deployment stopped by an alarm, as CodeDeploy reports it.
func alarmStop() cdtypes.DeploymentInfo {
	return cdtypes.DeploymentInfo{Status: cdtypes.DeploymentStatusStopped,
		ErrorInformation: &cdtypes.ErrorInformation{Code: cdtypes.ErrorCodeAlarmActive,
			Message: aws.String("One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: <orders-prod-create-errors>")},
		RollbackInfo: &cdtypes.RollbackInfo{RollbackDeploymentId: aws.String("d-ROLLBACK1")}}
}

func TestWaitsForTheStackToFinishRollingBack(t *testing.T) {
	// Given a deployment stopped by an alarm, and a stack that takes three
	// more looks to finish rolling back
	a := newFake([]string{"UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS",
		"UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"},
		cdtypes.DeploymentInfo{Status: cdtypes.DeploymentStatusInProgress}, alarmStop())
	a.deployments["d-ROLLBACK1"] = []cdtypes.DeploymentInfo{{DeploymentId: aws.String("d-ROLLBACK1"), Status: cdtypes.DeploymentStatusSucceeded,
		Creator: cdtypes.DeploymentCreatorCodeDeployRollback, CreateTime: aws.Time(began.Add(2 * time.Minute))}}
	// When it is followed
	rep := run(t, a, Options{}, 5*time.Second)
	// Then the follow ends only when the stack has settled, rolled back
	if rep.Stack.Status != "UPDATE_ROLLBACK_COMPLETE" || rep.ExitCode != ExitRolledBack {
		t.Fatalf("stack %+v, exit %d", rep.Stack, rep.ExitCode)
	}
	if !rep.Since.Equal(began) {
		t.Errorf("since %v, want the stack's LastUpdatedTime %v", rep.Since, began)
	}
	// and it reports the deployment once (the rollback belongs to it), with the console link
	if len(rep.Deployments) != 1 || rep.Deployments[0].ConsoleURL != "https://eu-west-1.console.aws.amazon.com/codesuite/codedeploy/deployments/d-1A2B3C4D5?region=eu-west-1" {
		t.Fatalf("deployments %+v", rep.Deployments)
	}
	if why := Explain(rep.Deployments[0]); !strings.Contains(why, "ALARM_ACTIVE") || !strings.Contains(why, "d-ROLLBACK1") {
		t.Errorf("explanation: %s", why)
	}
}

func TestStackThatFailsToRollBackIsStranded(t *testing.T) {
	a := newFake([]string{"UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"}, alarmStop())
	a.deployments["d-ROLLBACK1"] = []cdtypes.DeploymentInfo{{DeploymentId: aws.String("d-ROLLBACK1"), Status: cdtypes.DeploymentStatusFailed,
		Creator: cdtypes.DeploymentCreatorCodeDeployRollback, CreateTime: aws.Time(began.Add(2 * time.Minute))}}
	if rep := run(t, a, Options{}, 5*time.Second); rep.ExitCode != ExitStranded || rep.Stack.Status != "UPDATE_ROLLBACK_FAILED" {
		t.Fatalf("stack %+v, exit %d", rep.Stack, rep.ExitCode)
	}
}

func TestFailureWithTrafficMovedAndNoRollbackIsStranded(t *testing.T) {
	a := newFake([]string{"UPDATE_FAILED"}, cdtypes.DeploymentInfo{Status: cdtypes.DeploymentStatusFailed,
		ErrorInformation: &cdtypes.ErrorInformation{Code: cdtypes.ErrorCodeHookExecutionFailure, Message: aws.String("The AfterAllowTraffic hook failed")}})
	if rep := run(t, a, Options{}, 5*time.Second); rep.ExitCode != ExitStranded {
		t.Fatalf("exit %d, want %d: %+v", rep.ExitCode, ExitStranded, rep.Deployments)
	}
}

func TestTimeoutStopsWithRollbackAndWaits(t *testing.T) {
	// Given a deployment that never ends on its own
	a := newFake([]string{"UPDATE_IN_PROGRESS"}, cdtypes.DeploymentInfo{Status: cdtypes.DeploymentStatusInProgress})
	// When the follow times out with --on-timeout stop
	rep := run(t, a, Options{OnTimeoutStop: true}, 50*time.Millisecond)
	// Then it asked CodeDeploy to stop with a rollback, followed the rollback, and says it timed out
	if !rep.TimedOut || rep.ExitCode != ExitTimedOut || len(rep.Stopped) != 1 || len(a.stopped) != 1 {
		t.Fatalf("report %+v, stopped %v", rep, a.stopped)
	}
	if d := rep.Deployments[0]; d.Status != cdtypes.DeploymentStatusStopped || a.calls["d-ROLLBACK1"] == 0 {
		t.Fatalf("deployment %+v; rollback looked at %d times", d, a.calls["d-ROLLBACK1"])
	}
}

func TestTimeoutDetachLeavesItRunning(t *testing.T) {
	a := newFake([]string{"UPDATE_IN_PROGRESS"}, cdtypes.DeploymentInfo{Status: cdtypes.DeploymentStatusInProgress})
	rep := run(t, a, Options{}, 50*time.Millisecond)
	if !rep.TimedOut || rep.ExitCode != ExitTimedOut || len(a.stopped) != 0 {
		t.Fatalf("report %+v, stopped %v", rep, a.stopped)
	}
}

func TestMissingStackSaysSo(t *testing.T) {
	a := newFake([]string{"UPDATE_COMPLETE"})
	_, err := New(Clients{CodeDeploy: a, CloudWatch: a, CloudFormation: a}, Options{Stack: "orders-dev", Poll: time.Millisecond}, nil).Run(context.Background())
	if !errors.Is(err, ErrNoStack) || !strings.Contains(err.Error(), "--stage") {
		t.Fatalf("err = %v", err)
	}
}

func TestResult(t *testing.T) {
	ok := Deployment{Status: cdtypes.DeploymentStatusSucceeded}
	rolled := Deployment{Status: cdtypes.DeploymentStatusStopped, RollbackDeploymentID: "d-2", TargetWeight: 0.3}
	untouched := Deployment{Status: cdtypes.DeploymentStatusFailed}
	stranded := Deployment{Status: cdtypes.DeploymentStatusStopped, TargetWeight: 0.3}
	for _, c := range []struct {
		ds       []Deployment
		stack    string
		timedOut bool
		want     int
	}{
		{nil, "UPDATE_COMPLETE", false, ExitSucceeded},
		{[]Deployment{ok}, "UPDATE_COMPLETE", false, ExitSucceeded},
		{[]Deployment{ok}, "UPDATE_ROLLBACK_COMPLETE", false, ExitRolledBack},
		{[]Deployment{ok, rolled}, "UPDATE_ROLLBACK_COMPLETE", false, ExitRolledBack},
		{[]Deployment{untouched}, "UPDATE_ROLLBACK_COMPLETE", false, ExitRolledBack},
		{[]Deployment{rolled, stranded}, "UPDATE_ROLLBACK_COMPLETE", false, ExitStranded},
		{[]Deployment{ok}, "UPDATE_ROLLBACK_FAILED", false, ExitStranded},
		{[]Deployment{stranded}, "UPDATE_IN_PROGRESS", true, ExitTimedOut},
	} {
		if got := Result(c.ds, &StackState{Status: c.stack}, c.timedOut); got != c.want {
			t.Errorf("Result(%v, %s, %v) = %d, want %d", c.ds, c.stack, c.timedOut, got, c.want)
		}
	}
}

func (a *fakeAWS) CreateDeployment(context.Context, *codedeploy.CreateDeploymentInput, ...func(*codedeploy.Options)) (*codedeploy.CreateDeploymentOutput, error) {
	return nil, errors.New("a follow never creates a deployment")
}
