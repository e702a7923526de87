package e2e

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/follow"
)

// The follower against `sluice serve`: the real aws-sdk-go-v2 CodeDeploy,
// CloudWatch and CloudFormation clients, over HTTP, against the engine's
// AWS-compatible APIs, as `sluice follow --endpoint-url` runs them.

// follower is a Follower of the service's stack, through the engine's API.
func (s *service) follower(opts follow.Options) *follow.Follower {
	s.t.Helper()
	// The credentials the engine hands its functions; the SDK signs with them.
	s.t.Setenv("AWS_ACCESS_KEY_ID", "AKIASLUICELOCAL00000")
	s.t.Setenv("AWS_SECRET_ACCESS_KEY", "sluice-local-secret-access-key")
	s.t.Setenv("AWS_SESSION_TOKEN", "sluice-local-session-token")
	s.t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	s.t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	clients, _, local, err := follow.NewClients(context.Background(), "us-east-1", "", s.engine.APIURL())
	if err != nil || !local {
		s.t.Fatalf("clients: %v (local %v)", err, local)
	}
	if opts.Stack == "" && opts.DeploymentID == "" {
		opts.Stack = "e2e-dev"
	}
	opts.Poll = 20 * time.Millisecond
	return follow.New(clients, opts, nil)
}

// whenDeployStarts edits the api and starts a deployment without waiting.
func (s *service) whenDeployStarts(code string) string {
	s.t.Helper()
	write(s.t, s.dir+"/api.js", code)
	res, err := s.client.Deploy(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, c := range res.Changes {
		if c.Key == "api" && c.DeploymentID != "" {
			return c.DeploymentID
		}
	}
	s.t.Fatalf("no deployment of api started: %+v", res)
	return ""
}

// underTraffic calls the api until the returned stop is called.
func (s *service) underTraffic() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			s.get()
		}
	}()
	return func() { cancel(); wg.Wait() }
}

func followFor(t *testing.T, f *follow.Follower, d time.Duration) follow.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	rep, err := f.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestFollowGoodDeployment(t *testing.T) {
	// Given a served service with a canary and hooks that pass
	s := givenService(t, serviceYML(`
type: Canary10Percent5Minutes
alias: Live
preTrafficHook: pre
postTrafficHook: post
alarms: [ApiFunctionErrorsAlarm]`, map[string]string{"pre": "Succeeded", "post": "Succeeded"}), engine.Options{})
	// When a good version deploys and the stack is followed
	id := s.whenDeployStarts(api("v2", false))
	rep := followFor(t, s.follower(follow.Options{}), 30*time.Second)
	// Then the follower found that deployment, saw it succeed, and the stack settle
	if rep.ExitCode != follow.ExitSucceeded || len(rep.Deployments) != 1 || rep.Deployments[0].ID != id {
		t.Fatalf("report %+v", rep)
	}
	d := rep.Deployments[0]
	if d.Function != "e2e-dev-api" || d.Alias != "Live" || d.TargetVersion != "2" || d.TargetWeight != 1 {
		t.Errorf("target %+v", d)
	}
	if len(d.Alarms) != 1 || d.Alarms[0].Name == "" || d.Alarms[0].State == "ALARM" {
		t.Errorf("alarms %+v", d.Alarms)
	}
	if rep.Stack == nil || rep.Stack.Status != "UPDATE_COMPLETE" {
		t.Errorf("stack %+v", rep.Stack)
	}
}

func TestFollowAlarmRollback(t *testing.T) {
	// Given a linear deployment watched by the function's error alarm
	s := givenService(t, serviceYML(`
type: Linear10PercentEvery1Minute
alias: Live
alarms: [ApiFunctionErrorsAlarm]`, nil), engine.Options{})
	// When a failing version deploys under traffic and the stack is followed
	stop := s.underTraffic()
	defer stop()
	s.whenDeployStarts(api("v2", true))
	rep := followFor(t, s.follower(follow.Options{}), 30*time.Second)
	// Then the follow reports the rollback, the alarm and its reason, and the stack's rollback
	if rep.ExitCode != follow.ExitRolledBack || len(rep.Deployments) != 1 {
		t.Fatalf("report %+v", rep)
	}
	d := rep.Deployments[0]
	if d.Status != "Stopped" || d.ErrorCode != string(deploy.ErrAlarmActive) || d.RollbackDeploymentID == "" {
		t.Fatalf("deployment %+v", d)
	}
	why := follow.Explain(d)
	if !strings.Contains(why, "ALARM_ACTIVE") || !strings.Contains(why, "alarm ") || !strings.Contains(why, "Threshold Crossed") {
		t.Errorf("explanation lacks the alarm and its reason:\n%s", why)
	}
	if rep.Stack.Status != "UPDATE_ROLLBACK_COMPLETE" {
		t.Errorf("stack %+v", rep.Stack)
	}
	// and the alarm's history and the stack's events tell the same story through the SDKs
	clients, _, _, err := follow.NewClients(context.Background(), "us-east-1", "", s.engine.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	cw := clients.CloudWatch.(*cloudwatch.Client)
	hist, err := cw.DescribeAlarmHistory(context.Background(), &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("ApiFunctionErrorsAlarm")})
	// (traffic goes on with v1, so the alarm may already be back to OK: the
	// trip is in the history, not necessarily its newest item)
	tripped := false
	for _, item := range hist.AlarmHistoryItems {
		tripped = tripped || strings.Contains(*item.HistorySummary, "to ALARM")
	}
	if err != nil || !tripped {
		t.Errorf("alarm history %+v, %v", hist, err)
	}
	cf := clients.CloudFormation.(*cloudformation.Client)
	events, err := cf.DescribeStackEvents(context.Background(), &cloudformation.DescribeStackEventsInput{StackName: aws.String("e2e-dev")})
	if err != nil || len(events.StackEvents) == 0 || events.StackEvents[0].ResourceStatus != "UPDATE_ROLLBACK_COMPLETE" {
		t.Fatalf("stack events %+v, %v", events, err)
	}
	failed := false
	for _, e := range events.StackEvents {
		if e.ResourceStatus == "UPDATE_FAILED" && *e.LogicalResourceId == "ApiLambdaFunctionAliasLive" && strings.Contains(*e.ResourceStatusReason, "ALARM") {
			failed = true
		}
	}
	if !failed {
		t.Errorf("no UPDATE_FAILED event of the alias naming the alarm: %+v", events.StackEvents)
	}
}

func TestFollowUnknownStack(t *testing.T) {
	s := givenService(t, serviceYML("type: AllAtOnce\nalias: Live", nil), engine.Options{})
	_, err := s.follower(follow.Options{Stack: "e2e-prod"}).Run(context.Background())
	if !errors.Is(err, follow.ErrNoStack) {
		t.Fatalf("err = %v, want the stack named as missing", err)
	}
}

func TestFollowHookFailure(t *testing.T) {
	// Given a pre-traffic hook that reports Failed
	s := givenService(t, serviceYML(`
type: Canary10Percent5Minutes
alias: Live
preTrafficHook: pre`, map[string]string{"pre": "Failed"}), engine.Options{})
	// When a version deploys and the stack is followed
	s.whenDeployStarts(api("v2", false))
	rep := followFor(t, s.follower(follow.Options{}), 30*time.Second)
	// Then: failed before any traffic moved, which counts as back on the old version
	if rep.ExitCode != follow.ExitRolledBack || len(rep.Deployments) != 1 {
		t.Fatalf("report %+v", rep)
	}
	d := rep.Deployments[0]
	if d.Status != "Failed" || d.ErrorCode != string(deploy.ErrHookFailure) || !strings.Contains(follow.Explain(d), "BeforeAllowTraffic failed") {
		t.Fatalf("deployment %+v\n%s", d, follow.Explain(d))
	}
}

func TestFollowTimeoutStopsWithRollback(t *testing.T) {
	// Given a deployment that takes 100 minutes of schedule (10 s here)
	s := givenService(t, serviceYML(`
type: Linear10PercentEvery10Minutes
alias: Live`, nil), engine.Options{})
	// When the follow times out before it ends, with --on-timeout stop
	s.whenDeployStarts(api("v2", false))
	f := s.follower(follow.Options{OnTimeoutStop: true})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	rep, err := f.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Then it stopped the deployment, followed the rollback and says it timed out
	if rep.ExitCode != follow.ExitTimedOut || !rep.TimedOut || len(rep.Stopped) != 1 {
		t.Fatalf("report %+v", rep)
	}
	if d := rep.Deployments[0]; d.Status != "Stopped" || d.ErrorCode != string(deploy.ErrManualStop) {
		t.Fatalf("deployment %+v", d)
	}
	s.thenAlias(1, 0)
	if PhaseOf := follow.PhaseOf(rep.Stack.Status); PhaseOf == follow.StackBusy {
		t.Errorf("the follow ended with the stack still busy: %+v", rep.Stack)
	}
}

func TestFollowAlreadyFinishedDeployment(t *testing.T) {
	// Given a deployment that has already ended
	s := givenService(t, serviceYML(`
type: AllAtOnce
alias: Live`, nil), engine.Options{})
	done := s.whenDeployed(api("v2", false), nil)
	// When it is followed by id, and by stack
	byID := followFor(t, s.follower(follow.Options{DeploymentID: done.ID}), 10*time.Second)
	byStack := followFor(t, s.follower(follow.Options{}), 10*time.Second)
	// Then each reports it at once, as it ended
	for _, rep := range []follow.Report{byID, byStack} {
		if rep.ExitCode != follow.ExitSucceeded || len(rep.Deployments) != 1 || rep.Deployments[0].ID != done.ID || rep.Deployments[0].Status != "Succeeded" {
			t.Fatalf("report %+v", rep)
		}
	}
}

func TestFollowOnlyTheLatestUpdate(t *testing.T) {
	// Given a deployment that ended before the stack's latest update
	s := givenService(t, serviceYML("type: AllAtOnce\nalias: Live", nil), engine.Options{})
	first := s.whenDeployed(api("v2", false), nil)
	// When another update deploys and the stack is followed
	second := s.whenDeployStarts(api("v3", false))
	rep := followFor(t, s.follower(follow.Options{}), 10*time.Second)
	// Then only the latest update's deployment is followed
	if len(rep.Deployments) != 1 || rep.Deployments[0].ID != second || rep.Deployments[0].ID == first.ID {
		t.Fatalf("followed %+v, want only %s", rep.Deployments, second)
	}
}
