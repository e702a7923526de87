package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy/types"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/registry/registrytest"
	"github.com/sluice-dev/sluice/internal/schedule"
)

const fn = "svc-dev-hello"

// sdkHooks runs hook "functions" that report with the real AWS SDK client,
// over HTTP, as hook code on Lambda does.
type sdkHooks struct {
	client *codedeploy.Client
	status map[string]types.LifecycleEventStatus
	mu     sync.Mutex
	errs   []error
}

func (h *sdkHooks) InvokeHook(function string, payload []byte, done func(error)) {
	var p struct{ DeploymentId, LifecycleEventHookExecutionId string }
	json.Unmarshal(payload, &p)
	status := h.status[function]
	go func() {
		_, err := h.client.PutLifecycleEventHookExecutionStatus(context.Background(), &codedeploy.PutLifecycleEventHookExecutionStatusInput{
			DeploymentId: &p.DeploymentId, LifecycleEventHookExecutionId: &p.LifecycleEventHookExecutionId, Status: status,
		})
		h.mu.Lock()
		h.errs = append(h.errs, err)
		h.mu.Unlock()
		done(err)
	}()
}

type noAlarms struct{}

func (noAlarms) Watch(string, func(deploy.AlarmState)) (func(), error) { return func() {}, nil }

type fixture struct {
	client *codedeploy.Client
	engine *deploy.Controller
	hooks  *sdkHooks
	reg    *registry.Registry
	clock  *clock.Fake
	group  *deploy.Group
	url    string // the server, for requests the SDK would refuse to send
}

func newFixture(t *testing.T, typ string) *fixture {
	t.Helper()
	c := clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	reg, db, _ := registrytest.Open(t, c)
	src := t.TempDir()
	for _, body := range []string{"v1", "v2", "v3"} {
		os.WriteFile(filepath.Join(src, "handler.js"), []byte(body), 0o644)
		if _, _, err := reg.Publish(fn, registry.Config{Runtime: "nodejs20.x", Handler: "handler.hello"}, src, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.SetAlias(fn, "Live", 1, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	st, _ := schedule.Parse(typ)
	g := &deploy.Group{Application: "SvcdevDeploymentApplication", Name: "svc-dev-HelloLambdaFunctionDeploymentGroup",
		Function: fn, Alias: "Live", Type: st, AutoRollback: deploy.DefaultAutoRollback, PreTrafficHook: "pre"}
	f := &fixture{reg: reg, clock: c, group: g, hooks: &sdkHooks{status: map[string]types.LifecycleEventStatus{"pre": types.LifecycleEventStatusSucceeded}}}
	f.engine = deploy.New(deploy.Config{Clock: c, Registry: reg, Store: db, Hooks: f.hooks, Alarms: noAlarms{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Groups: []*deploy.Group{g}})
	t.Cleanup(f.engine.Close)
	srv := httptest.NewServer(&CodeDeploy{Engine: f.engine})
	t.Cleanup(srv.Close)
	f.url = srv.URL
	f.client = codedeploy.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", "")})
	f.hooks.client = f.client
	return f
}

// waitFor waits, woken by the engine's change notifications, until cond
// holds for the deployment.
func (f *fixture) waitFor(t *testing.T, id, what string, cond func(deploy.Deployment) bool) {
	t.Helper()
	changed := make(chan struct{}, 1)
	cancel := f.engine.Subscribe(func(deploy.Deployment) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()
	deadline := time.After(10 * time.Second)
	for {
		d, err := f.engine.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(d) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("deployment %s never reached %s (status %s, step %d)", id, what, d.Status, d.StepReached)
		}
	}
}

// waitStatus waits for a status, then reads the deployment through the SDK.
func (f *fixture) waitStatus(t *testing.T, id string, want types.DeploymentStatus) *types.DeploymentInfo {
	t.Helper()
	f.waitFor(t, id, string(want), func(d deploy.Deployment) bool { return string(d.Status) == string(want) })
	out, err := f.client.GetDeployment(context.Background(), &codedeploy.GetDeploymentInput{DeploymentId: &id})
	if err != nil {
		t.Fatal(err)
	}
	return out.DeploymentInfo
}

func TestCreateDeploymentWithAppSpecAndHookReportingThroughTheSDK(t *testing.T) {
	f := newFixture(t, "AllAtOnce")
	ctx := context.Background()
	appSpec := `{"version": 0.0, "Resources": [{"hello": {"Type": "AWS::Lambda::Function",
		"Properties": {"Name": "svc-dev-hello", "Alias": "Live", "CurrentVersion": "1", "TargetVersion": "3"}}}],
		"Hooks": [{"BeforeAllowTraffic": "pre"}]}`
	out, err := f.client.CreateDeployment(ctx, &codedeploy.CreateDeploymentInput{
		ApplicationName: aws.String(f.group.Application), DeploymentGroupName: aws.String(f.group.Name),
		Revision: &types.RevisionLocation{RevisionType: types.RevisionLocationTypeAppSpecContent,
			AppSpecContent: &types.AppSpecContent{Content: aws.String(appSpec)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	info := f.waitStatus(t, *out.DeploymentId, types.DeploymentStatusSucceeded)
	if info.ComputePlatform != types.ComputePlatformLambda || info.DeploymentOverview.Succeeded != 5 || info.CreateTime == nil || info.CompleteTime == nil {
		t.Fatalf("deployment info: %+v", info)
	}
	if rt := f.reg.Function(fn).Alias("Live").Routing(); rt.Version.Number != 3 {
		t.Fatalf("alias at version %d after the deployment, want 3", rt.Version.Number)
	}
	tgt, err := f.client.GetDeploymentTarget(ctx, &codedeploy.GetDeploymentTargetInput{DeploymentId: out.DeploymentId, TargetId: aws.String(fn + ":Live")})
	if err != nil {
		t.Fatal(err)
	}
	li := tgt.DeploymentTarget.LambdaTarget.LambdaFunctionInfo
	if *li.CurrentVersion != "1" || *li.TargetVersion != "3" || li.TargetVersionWeight != 1 {
		t.Fatalf("lambda target: current %s target %s weight %v", *li.CurrentVersion, *li.TargetVersion, li.TargetVersionWeight)
	}
	if len(tgt.DeploymentTarget.LambdaTarget.LifecycleEvents) != 5 {
		t.Fatalf("lifecycle events: %+v", tgt.DeploymentTarget.LambdaTarget.LifecycleEvents)
	}

	// A repeated report gets LifecycleEventAlreadyCompletedException.
	d, _ := f.engine.Get(*out.DeploymentId)
	exec := d.LifecycleEvents[1].HookExecutionID
	_, err = f.client.PutLifecycleEventHookExecutionStatus(ctx, &codedeploy.PutLifecycleEventHookExecutionStatusInput{
		DeploymentId: out.DeploymentId, LifecycleEventHookExecutionId: &exec, Status: types.LifecycleEventStatusSucceeded})
	var done *types.LifecycleEventAlreadyCompletedException
	if !errors.As(err, &done) {
		t.Fatalf("repeated report: err = %v, want LifecycleEventAlreadyCompletedException", err)
	}
}

func TestCodeDeployErrorsAreAWSErrors(t *testing.T) {
	f := newFixture(t, "AllAtOnce")
	ctx := context.Background()
	_, err := f.client.GetDeployment(ctx, &codedeploy.GetDeploymentInput{DeploymentId: aws.String("d-NOSUCH123")})
	var notFound *types.DeploymentDoesNotExistException
	if !errors.As(err, &notFound) {
		t.Errorf("GetDeployment of an unknown ID: err = %v", err)
	}
	_, err = f.client.PutLifecycleEventHookExecutionStatus(ctx, &codedeploy.PutLifecycleEventHookExecutionStatusInput{
		DeploymentId: aws.String("d-NOSUCH123"), LifecycleEventHookExecutionId: aws.String("x"), Status: types.LifecycleEventStatusSucceeded})
	if !errors.As(err, &notFound) {
		t.Errorf("hook report for an unknown deployment: err = %v", err)
	}
	_, err = f.client.ListDeployments(ctx, &codedeploy.ListDeploymentsInput{ApplicationName: aws.String(f.group.Application), DeploymentGroupName: aws.String("nope")})
	var noGroup *types.DeploymentGroupDoesNotExistException
	if !errors.As(err, &noGroup) {
		t.Errorf("ListDeployments of an unknown group: err = %v", err)
	}

	// What the SDK sends (the model leaves these optional) and CodeDeploy
	// refuses, each with its exception.
	var (
		appRequired   *types.ApplicationNameRequiredException
		groupRequired *types.DeploymentGroupNameRequiredException
		noApp         *types.ApplicationDoesNotExistException
		badStatus     *types.InvalidDeploymentStatusException
		badRange      *types.InvalidTimeRangeException
		tooMany       *types.BatchLimitExceededException
	)
	batch := make([]string, 26)
	for i := range batch {
		batch[i] = fmt.Sprintf("d-NOSUCH%03d", i)
	}
	for _, c := range []struct {
		what string
		call func() error
		want any
	}{
		{"ListDeployments with only a group", func() error {
			_, err := f.client.ListDeployments(ctx, &codedeploy.ListDeploymentsInput{DeploymentGroupName: aws.String(f.group.Name)})
			return err
		}, &appRequired},
		{"ListDeployments with only an application", func() error {
			_, err := f.client.ListDeployments(ctx, &codedeploy.ListDeploymentsInput{ApplicationName: aws.String(f.group.Application)})
			return err
		}, &groupRequired},
		{"ListDeployments of an unknown application", func() error {
			_, err := f.client.ListDeployments(ctx, &codedeploy.ListDeploymentsInput{ApplicationName: aws.String("nope"), DeploymentGroupName: aws.String(f.group.Name)})
			return err
		}, &noApp},
		{"ListDeployments of an unknown status", func() error {
			_, err := f.client.ListDeployments(ctx, &codedeploy.ListDeploymentsInput{IncludeOnlyStatuses: []types.DeploymentStatus{"Finished"}})
			return err
		}, &badStatus},
		{"ListDeployments of a range that ends before it starts", func() error {
			_, err := f.client.ListDeployments(ctx, &codedeploy.ListDeploymentsInput{CreateTimeRange: &types.TimeRange{
				Start: aws.Time(time.Unix(2000, 0)), End: aws.Time(time.Unix(1000, 0))}})
			return err
		}, &badRange},
		{"BatchGetDeployments of 26 IDs", func() error {
			_, err := f.client.BatchGetDeployments(ctx, &codedeploy.BatchGetDeploymentsInput{DeploymentIds: batch})
			return err
		}, &tooMany},
		{"CreateDeployment in an unknown application", func() error {
			_, err := f.client.CreateDeployment(ctx, &codedeploy.CreateDeploymentInput{ApplicationName: aws.String("nope"), DeploymentGroupName: aws.String(f.group.Name)})
			return err
		}, &noApp},
		{"GetDeploymentGroup in an unknown application", func() error {
			_, err := f.client.GetDeploymentGroup(ctx, &codedeploy.GetDeploymentGroupInput{ApplicationName: aws.String("nope"), DeploymentGroupName: aws.String(f.group.Name)})
			return err
		}, &noApp},
	} {
		if err := c.call(); err == nil || !errors.As(err, c.want) {
			t.Errorf("%s: %v, want %T", c.what, err, c.want)
		}
	}
	_, err = f.client.CreateDeployment(ctx, &codedeploy.CreateDeploymentInput{
		ApplicationName: aws.String(f.group.Application), DeploymentGroupName: aws.String(f.group.Name),
		Revision: &types.RevisionLocation{RevisionType: types.RevisionLocationTypeAppSpecContent,
			AppSpecContent: &types.AppSpecContent{Content: aws.String(`{"version": 0.0, "Resources": [{"x": {"Type": "AWS::Lambda::Function",
				"Properties": {"Name": "svc-dev-hello", "Alias": "Live", "CurrentVersion": "2", "TargetVersion": "3"}}}]}`)}},
	})
	var badRev *types.InvalidRevisionException
	if !errors.As(err, &badRev) {
		t.Errorf("AppSpec whose CurrentVersion is not the alias's: err = %v", err)
	}

	// The audit's inputs, sent raw (the SDK checks required fields itself):
	// each answered with the exception CodeDeploy names.
	ids := make([]string, 26)
	for i := range ids {
		ids[i] = fmt.Sprintf("d-NOSUCH%03d", i)
	}
	many, _ := json.Marshal(map[string]any{"deploymentIds": ids})
	for _, c := range []struct{ op, body, want string }{
		{"BatchGetDeployments", `{}`, "DeploymentIdRequiredException"},
		{"BatchGetDeployments", string(many), "BatchLimitExceededException"},
		{"ListDeployments", `{"includeOnlyStatuses":["Finished"]}`, "InvalidDeploymentStatusException"},
		{"GetDeploymentGroup", `{"deploymentGroupName":"` + f.group.Name + `"}`, "ApplicationNameRequiredException"},
		{"GetDeploymentGroup", `{"applicationName":"` + f.group.Application + `"}`, "DeploymentGroupNameRequiredException"},
		{"GetDeployment", `{}`, "DeploymentIdRequiredException"},
		{"GetDeploymentTarget", `{"deploymentId":"d-NOSUCH123"}`, "DeploymentTargetIdRequiredException"},
	} {
		req, _ := http.NewRequest(http.MethodPost, f.url, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", CodeDeployTargetPrefix+c.op)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Type string `json:"__type"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || e.Type != c.want {
			t.Errorf("%s %s: %d %s, want 400 %s", c.op, c.body[:min(len(c.body), 60)], resp.StatusCode, e.Type, c.want)
		}
	}
}

func TestStopDeploymentWithRollbackAndListings(t *testing.T) {
	f := newFixture(t, "Canary10Percent5Minutes")
	f.hooks.status["pre"] = types.LifecycleEventStatusSucceeded
	ctx := context.Background()
	d, err := f.engine.Create(deploy.CreateInput{Group: f.group.Name, TargetVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, d.ID, "the canary step", func(d deploy.Deployment) bool { return d.StepReached >= 1 })
	out, err := f.client.StopDeployment(ctx, &codedeploy.StopDeploymentInput{DeploymentId: &d.ID, AutoRollbackEnabled: aws.Bool(true)})
	if err != nil || out.Status != types.StopStatusSucceeded {
		t.Fatalf("StopDeployment = %+v, %v", out, err)
	}
	info := f.waitStatus(t, d.ID, types.DeploymentStatusStopped)
	if info.ErrorInformation.Code != types.ErrorCodeManualStop || info.RollbackInfo == nil || info.RollbackInfo.RollbackDeploymentId == nil {
		t.Fatalf("stopped deployment: error %+v, rollback %+v", info.ErrorInformation, info.RollbackInfo)
	}
	list, err := f.client.ListDeployments(ctx, &codedeploy.ListDeploymentsInput{ApplicationName: aws.String(f.group.Application), DeploymentGroupName: aws.String(f.group.Name)})
	if err != nil || len(list.Deployments) != 2 {
		t.Fatalf("ListDeployments = %v, %v; want the deployment and its rollback", list.Deployments, err)
	}
	groups, err := f.client.ListDeploymentGroups(ctx, &codedeploy.ListDeploymentGroupsInput{ApplicationName: aws.String(f.group.Application)})
	if err != nil || len(groups.DeploymentGroups) != 1 || groups.DeploymentGroups[0] != f.group.Name {
		t.Fatalf("ListDeploymentGroups = %v, %v", groups, err)
	}
	if _, err := f.client.StopDeployment(ctx, &codedeploy.StopDeploymentInput{DeploymentId: &d.ID}); err == nil {
		t.Fatal("stopping a stopped deployment succeeded")
	}
}
