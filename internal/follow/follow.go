// Package follow watches the CodeDeploy deployments that a CloudFormation
// stack update started — on AWS, or on `sluice serve`, which answers the same
// APIs — and turns their ends, and the stack's, into one result.
//
// It speaks only the AWS APIs, through small interfaces that the
// aws-sdk-go-v2 clients satisfy: CloudFormation names the stack's CodeDeploy
// application and deployment groups, CodeDeploy lists and describes the
// deployments, CloudWatch gives the states of the groups' alarms. AWS pushes
// nothing, so a Follower polls; every decision (is this deployment over, is
// the stack settled, what is the exit code) is a pure function of what the
// last poll saw.
package follow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
)

// CodeDeploy is the part of the CodeDeploy API a Follower calls.
type CodeDeploy interface {
	ListDeploymentGroups(context.Context, *codedeploy.ListDeploymentGroupsInput, ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentGroupsOutput, error)
	GetDeploymentGroup(context.Context, *codedeploy.GetDeploymentGroupInput, ...func(*codedeploy.Options)) (*codedeploy.GetDeploymentGroupOutput, error)
	ListDeployments(context.Context, *codedeploy.ListDeploymentsInput, ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentsOutput, error)
	GetDeployment(context.Context, *codedeploy.GetDeploymentInput, ...func(*codedeploy.Options)) (*codedeploy.GetDeploymentOutput, error)
	ListDeploymentTargets(context.Context, *codedeploy.ListDeploymentTargetsInput, ...func(*codedeploy.Options)) (*codedeploy.ListDeploymentTargetsOutput, error)
	GetDeploymentTarget(context.Context, *codedeploy.GetDeploymentTargetInput, ...func(*codedeploy.Options)) (*codedeploy.GetDeploymentTargetOutput, error)
	StopDeployment(context.Context, *codedeploy.StopDeploymentInput, ...func(*codedeploy.Options)) (*codedeploy.StopDeploymentOutput, error)
	CreateDeployment(context.Context, *codedeploy.CreateDeploymentInput, ...func(*codedeploy.Options)) (*codedeploy.CreateDeploymentOutput, error)
}

// CloudWatch is the part of the CloudWatch API a Follower calls.
type CloudWatch interface {
	DescribeAlarms(context.Context, *cloudwatch.DescribeAlarmsInput, ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
}

// CloudFormation is the part of the CloudFormation API a Follower calls.
type CloudFormation interface {
	DescribeStacks(context.Context, *cfn.DescribeStacksInput, ...func(*cfn.Options)) (*cfn.DescribeStacksOutput, error)
	DescribeStackResources(context.Context, *cfn.DescribeStackResourcesInput, ...func(*cfn.Options)) (*cfn.DescribeStackResourcesOutput, error)
}

// Clients are the AWS API clients a Follower uses.
type Clients struct {
	CodeDeploy     CodeDeploy
	CloudWatch     CloudWatch
	CloudFormation CloudFormation
}

// Options say what to follow and how.
type Options struct {
	Stack        string    // the stack whose update started the deployments; "" with DeploymentID
	DeploymentID string    // follow this deployment only
	Since        time.Time // deployments created at or after this; zero: when the stack's update began
	Region       string    // for console links; "" prints none
	Poll         time.Duration
	// OnTimeoutStop stops the deployments still running when ctx's deadline
	// passes, with a rollback, and waits for that rollback.
	OnTimeoutStop bool
}

// DefaultPoll is how often AWS is asked: CodeDeploy's own waiter asks every 15 s;
// faster costs API calls and shows steps sooner.
const DefaultPoll = 5 * time.Second

// Watcher is told what a Follower sees.
type Watcher interface {
	Found(Deployment)   // a deployment joined the follow (its first sight)
	Changed(Deployment) // a later sight that differs from the one before
	Alarm(Deployment, AlarmState)
	Stack(StackState)
}

// Deployment is one deployment as the last poll saw it.
type Deployment struct {
	ID, Application, Group, Config string
	Status                         cdtypes.DeploymentStatus
	Creator                        string
	ErrorCode, ErrorMessage        string
	RollbackDeploymentID           string // the deployment that moved traffic back, if any
	CreateTime, CompleteTime       time.Time
	TargetID                       string // CodeDeploy's target id, <function>:<alias>
	Function, Alias                string
	CurrentVersion, TargetVersion  string
	TargetWeight                   float64
	Events                         []Event
	Alarms                         []AlarmState
	ConsoleURL                     string
}

// Event is a lifecycle event of a deployment.
type Event struct {
	Name, Status, Diagnostics string
}

// AlarmState is one alarm of the deployment's group.
type AlarmState struct {
	Name    string    `json:"name"`
	State   string    `json:"state"`
	Reason  string    `json:"reason"`
	Updated time.Time `json:"updated"`
}

// StackState is the stack as the last poll saw it.
type StackState struct {
	Name, Status, Reason string
	UpdateBegan          time.Time
}

// Done reports whether the deployment has ended.
func (d Deployment) Done() bool {
	switch d.Status {
	case cdtypes.DeploymentStatusSucceeded, cdtypes.DeploymentStatusFailed, cdtypes.DeploymentStatusStopped:
		return true
	}
	return false
}

// Outcome of a follow, as exit codes (the same family as `sluice deploy --wait`).
const (
	ExitSucceeded  = 0 // every deployment succeeded and the stack settled in a *_COMPLETE state
	ExitRolledBack = 2 // one failed or was stopped and traffic is on the previous version
	ExitStranded   = 3 // one failed without moving traffic back, or the stack failed to roll back
	ExitTimedOut   = 4 // the timeout passed first
)

// ResultOf is the exit code of one ended deployment: traffic moved back
// (a rollback deployment exists, or no traffic had moved) or not.
func ResultOf(d Deployment) int {
	switch {
	case d.Status == cdtypes.DeploymentStatusSucceeded:
		return ExitSucceeded
	case d.RollbackDeploymentID != "" || d.TargetWeight == 0:
		return ExitRolledBack
	}
	return ExitStranded
}

// StackPhase classifies a CloudFormation stack status.
type StackPhase int

const (
	StackBusy       StackPhase = iota // *_IN_PROGRESS: CloudFormation is still acting
	StackSettled                      // CREATE_COMPLETE, UPDATE_COMPLETE, IMPORT_COMPLETE
	StackRolledBack                   // the update was undone: *_ROLLBACK_COMPLETE
	StackFailed                       // *_FAILED: the stack needs a person
)

// PhaseOf classifies a stack status (CloudFormation's StackStatus values).
func PhaseOf(status string) StackPhase {
	switch {
	case status == "DELETE_COMPLETE":
		return StackFailed // the stack is gone, and what it deployed with it
	case strings.HasSuffix(status, "_IN_PROGRESS"):
		return StackBusy
	case strings.HasSuffix(status, "_FAILED"):
		return StackFailed
	case strings.HasSuffix(status, "ROLLBACK_COMPLETE"):
		return StackRolledBack
	}
	return StackSettled
}

// Result is the outcome of a whole follow: the worst of the deployments'
// results and the stack's.
func Result(ds []Deployment, stack *StackState, timedOut bool) int {
	if timedOut {
		return ExitTimedOut
	}
	code := ExitSucceeded
	for _, d := range ds {
		code = max(code, ResultOf(d))
	}
	if stack != nil {
		switch PhaseOf(stack.Status) {
		case StackRolledBack:
			code = max(code, ExitRolledBack)
		case StackFailed:
			code = max(code, ExitStranded)
		}
	}
	return code
}

// Report is what a follow ends with.
type Report struct {
	Stack       *StackState
	Since       time.Time
	Deployments []Deployment
	TimedOut    bool
	Stopped     []string // deployments stopped because the timeout passed
	ExitCode    int
}

// ErrNoStack says the stack does not exist.
var ErrNoStack = errors.New("stack not found")

// Follower follows deployments to their end.
type Follower struct {
	c    Clients
	opts Options
	w    Watcher
	now  func() time.Time // the follower talks about AWS's wall clock

	mu     sync.Mutex
	seen   map[string]Deployment
	order  []string
	groups map[string]groupInfo // by group name
}

type groupInfo struct {
	application string
	alarms      []string
}

// New returns a Follower; w may be nil.
func New(c Clients, opts Options, w Watcher) *Follower {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if w == nil {
		w = nopWatcher{}
	}
	return &Follower{c: c, opts: opts, w: w, now: time.Now, seen: map[string]Deployment{}, groups: map[string]groupInfo{}}
}

// Run follows until every deployment found has ended and the stack (if
// any) has settled, or until ctx ends. When ctx's deadline passes first the
// report says TimedOut; with OnTimeoutStop the deployments still running are
// stopped with a rollback first, and followed to that end.
func (f *Follower) Run(ctx context.Context) (Report, error) {
	rep := Report{}
	if f.opts.Stack != "" {
		st, err := f.stack(ctx)
		if err != nil {
			return rep, err
		}
		rep.Stack = &st
		if err := f.discoverGroups(ctx); err != nil {
			return rep, err
		}
		rep.Since = f.opts.Since
		if rep.Since.IsZero() {
			rep.Since = st.UpdateBegan
		}
	}
	err := f.loop(ctx, &rep)
	if errors.Is(err, context.DeadlineExceeded) {
		rep.TimedOut = true
		if f.opts.OnTimeoutStop {
			// A fresh context: the deadline that ended the wait must not end the stop.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
			defer cancel()
			if err := f.stopRunning(sctx, &rep); err != nil {
				return f.finish(rep), err
			}
		}
		return f.finish(rep), nil
	}
	if err != nil {
		return f.finish(rep), err
	}
	return f.finish(rep), nil
}

func (f *Follower) finish(rep Report) Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	rep.Deployments = rep.Deployments[:0]
	for _, id := range f.order {
		rep.Deployments = append(rep.Deployments, f.seen[id])
	}
	rep.ExitCode = Result(rep.Deployments, rep.Stack, rep.TimedOut)
	return rep
}

// loop polls until the follow is over: every deployment found has ended,
// and the stack (when following one) is no longer in progress.
func (f *Follower) loop(ctx context.Context, rep *Report) error {
	for {
		if err := f.poll(ctx, rep); err != nil {
			return err
		}
		if f.over(rep) {
			return nil
		}
		t := time.NewTimer(f.opts.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (f *Follower) over(rep *Report) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.seen {
		if !d.Done() {
			return false
		}
		// A rollback that has begun is part of the deployment it undoes.
		if r := d.RollbackDeploymentID; r != "" && !f.seen[r].Done() {
			return false
		}
	}
	if rep.Stack != nil && PhaseOf(rep.Stack.Status) == StackBusy {
		return false
	}
	return true
}

// poll looks once: new deployments, each running one's state, the stack.
func (f *Follower) poll(ctx context.Context, rep *Report) error {
	ids, err := f.find(ctx, rep.Since)
	if err != nil {
		return err
	}
	for _, id := range ids {
		f.mu.Lock()
		prev, known := f.seen[id]
		f.mu.Unlock()
		if known && prev.Done() {
			continue
		}
		d, err := f.describe(ctx, id, prev)
		if err != nil {
			return err
		}
		f.mu.Lock()
		f.seen[id] = d
		// A rollback is a deployment of its own on CodeDeploy; it is followed
		// to its end but reported through the deployment it rolled back.
		rollback := d.Creator == string(cdtypes.DeploymentCreatorCodeDeployRollback)
		if !known && !rollback {
			f.order = append(f.order, id)
		}
		f.mu.Unlock()
		if rollback {
			continue
		}
		if !known {
			f.w.Found(d)
		} else if changed(prev, d) {
			f.w.Changed(d)
		}
		for _, a := range d.Alarms {
			if i := slices.IndexFunc(prev.Alarms, func(p AlarmState) bool { return p.Name == a.Name }); !known || i < 0 || prev.Alarms[i].State != a.State {
				f.w.Alarm(d, a)
			}
		}
	}
	if rep.Stack != nil {
		st, err := f.stack(ctx)
		if err != nil {
			return err
		}
		if st.Status != rep.Stack.Status {
			f.w.Stack(st)
		}
		*rep.Stack = st
	}
	return nil
}

func changed(a, b Deployment) bool {
	return a.Status != b.Status || a.TargetWeight != b.TargetWeight || !slices.Equal(a.Events, b.Events) ||
		a.RollbackDeploymentID != b.RollbackDeploymentID || a.ErrorCode != b.ErrorCode
}

// find lists the deployments to follow.
func (f *Follower) find(ctx context.Context, since time.Time) ([]string, error) {
	if f.opts.DeploymentID != "" {
		ids := []string{f.opts.DeploymentID}
		f.mu.Lock()
		if r := f.seen[f.opts.DeploymentID].RollbackDeploymentID; r != "" {
			ids = append(ids, r)
		}
		f.mu.Unlock()
		return ids, nil
	}
	var ids []string
	names := make([]string, 0, len(f.groups))
	for name := range f.groups {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		app := f.groups[name].application
		in := &codedeploy.ListDeploymentsInput{ApplicationName: &app, DeploymentGroupName: &name}
		if !since.IsZero() {
			in.CreateTimeRange = &cdtypes.TimeRange{Start: &since}
		}
		for {
			out, err := f.c.CodeDeploy.ListDeployments(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("list the deployments of group %s: %w", name, err)
			}
			ids = append(ids, out.Deployments...)
			if out.NextToken == nil {
				break
			}
			in.NextToken = out.NextToken
		}
	}
	// ListDeployments answers newest first; follow in creation order.
	slices.Reverse(ids)
	return ids, nil
}

// discoverGroups reads the stack's CodeDeploy application(s) and groups.
func (f *Follower) discoverGroups(ctx context.Context) error {
	st, err := OpenStack(ctx, f.c, f.opts.Stack)
	if err != nil {
		return err
	}
	for _, g := range st.Groups {
		f.groups[g.Name] = groupInfo{application: g.Application, alarms: g.Alarms}
	}
	return nil
}

// describe reads one deployment, its target and its group's alarms.
func (f *Follower) describe(ctx context.Context, id string, prev Deployment) (Deployment, error) {
	out, err := f.c.CodeDeploy.GetDeployment(ctx, &codedeploy.GetDeploymentInput{DeploymentId: &id})
	if err != nil {
		return Deployment{}, fmt.Errorf("read deployment %s: %w", id, err)
	}
	info := out.DeploymentInfo
	d := Deployment{
		ID: id, Application: deref(info.ApplicationName), Group: deref(info.DeploymentGroupName),
		Config: deref(info.DeploymentConfigName), Status: info.Status, Creator: string(info.Creator),
		CreateTime: derefTime(info.CreateTime), CompleteTime: derefTime(info.CompleteTime),
	}
	if e := info.ErrorInformation; e != nil {
		d.ErrorCode, d.ErrorMessage = string(e.Code), deref(e.Message)
	}
	if r := info.RollbackInfo; r != nil {
		d.RollbackDeploymentID = deref(r.RollbackDeploymentId)
	}
	if f.opts.Region != "" {
		d.ConsoleURL = ConsoleURL(f.opts.Region, id)
	}
	d.TargetID = prev.TargetID
	if err := f.target(ctx, &d); err != nil {
		return Deployment{}, err
	}
	d.Alarms = prev.Alarms
	if err := f.alarms(ctx, &d); err != nil {
		return Deployment{}, err
	}
	return d, nil
}

// target reads the Lambda target: the alias, versions, weight and events.
func (f *Follower) target(ctx context.Context, d *Deployment) error {
	if d.TargetID == "" {
		out, err := f.c.CodeDeploy.ListDeploymentTargets(ctx, &codedeploy.ListDeploymentTargetsInput{DeploymentId: &d.ID})
		if err != nil {
			return fmt.Errorf("list the targets of deployment %s: %w", d.ID, err)
		}
		if len(out.TargetIds) == 0 {
			return nil // not started yet: CodeDeploy names the target once it has one
		}
		d.TargetID = out.TargetIds[0]
	}
	out, err := f.c.CodeDeploy.GetDeploymentTarget(ctx, &codedeploy.GetDeploymentTargetInput{DeploymentId: &d.ID, TargetId: &d.TargetID})
	if err != nil {
		return fmt.Errorf("read the target of deployment %s: %w", d.ID, err)
	}
	lt := out.DeploymentTarget.LambdaTarget
	if lt == nil {
		return fmt.Errorf("deployment %s is not a Lambda deployment", d.ID)
	}
	if fi := lt.LambdaFunctionInfo; fi != nil {
		d.Function, d.Alias = deref(fi.FunctionName), deref(fi.FunctionAlias)
		d.CurrentVersion, d.TargetVersion = deref(fi.CurrentVersion), deref(fi.TargetVersion)
		d.TargetWeight = fi.TargetVersionWeight
	}
	for _, ev := range lt.LifecycleEvents {
		e := Event{Name: deref(ev.LifecycleEventName), Status: string(ev.Status)}
		if ev.Diagnostics != nil {
			e.Diagnostics = deref(ev.Diagnostics.Message)
		}
		d.Events = append(d.Events, e)
	}
	return nil
}

// ConsoleURL is where the AWS console shows a deployment.
func ConsoleURL(region, id string) string {
	return fmt.Sprintf("https://%s.console.aws.amazon.com/codesuite/codedeploy/deployments/%s?region=%s", region, id, region)
}

func (f *Follower) alarms(ctx context.Context, d *Deployment) error {
	f.mu.Lock()
	names := f.groups[d.Group].alarms
	f.mu.Unlock()
	if len(names) == 0 || f.c.CloudWatch == nil {
		return nil
	}
	out, err := f.c.CloudWatch.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: names})
	if err != nil {
		return fmt.Errorf("read the alarms of group %s: %w", d.Group, err)
	}
	d.Alarms = alarmStates(names, out.MetricAlarms, out.CompositeAlarms)
	return nil
}

func alarmStates(names []string, metric []cwtypes.MetricAlarm, composite []cwtypes.CompositeAlarm) []AlarmState {
	byName := map[string]AlarmState{}
	for _, a := range metric {
		byName[deref(a.AlarmName)] = AlarmState{Name: deref(a.AlarmName), State: string(a.StateValue), Reason: deref(a.StateReason), Updated: derefTime(a.StateUpdatedTimestamp)}
	}
	for _, a := range composite {
		byName[deref(a.AlarmName)] = AlarmState{Name: deref(a.AlarmName), State: string(a.StateValue), Reason: deref(a.StateReason), Updated: derefTime(a.StateUpdatedTimestamp)}
	}
	states := make([]AlarmState, 0, len(names))
	for _, n := range names {
		s, ok := byName[n]
		if !ok {
			// CodeDeploy treats a missing alarm as a failure to read it.
			s = AlarmState{Name: n, State: "MISSING", Reason: "CloudWatch has no alarm of this name"}
		}
		states = append(states, s)
	}
	return states
}

// stack reads the stack's status.
func (f *Follower) stack(ctx context.Context) (StackState, error) {
	out, err := f.c.CloudFormation.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: &f.opts.Stack})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return StackState{}, fmt.Errorf("%w: %s (check --stack, --stage and --region)", ErrNoStack, f.opts.Stack)
		}
		return StackState{}, fmt.Errorf("read stack %s: %w", f.opts.Stack, err)
	}
	if len(out.Stacks) == 0 {
		return StackState{}, fmt.Errorf("%w: %s", ErrNoStack, f.opts.Stack)
	}
	return stackState(out.Stacks[0]), nil
}

func stackState(s cfntypes.Stack) StackState {
	st := StackState{Name: deref(s.StackName), Status: string(s.StackStatus), Reason: deref(s.StackStatusReason), UpdateBegan: derefTime(s.CreationTime)}
	if s.LastUpdatedTime != nil {
		st.UpdateBegan = *s.LastUpdatedTime
	}
	return st
}

// stopRunning stops what still runs, with a rollback, and follows the stop
// (and the stack's reaction) to its end.
func (f *Follower) stopRunning(ctx context.Context, rep *Report) error {
	f.mu.Lock()
	var running []string
	for _, id := range f.order {
		if !f.seen[id].Done() {
			running = append(running, id)
		}
	}
	f.mu.Unlock()
	for _, id := range running {
		rollback := true
		if _, err := f.c.CodeDeploy.StopDeployment(ctx, &codedeploy.StopDeploymentInput{DeploymentId: &id, AutoRollbackEnabled: &rollback}); err != nil {
			return fmt.Errorf("stop deployment %s: %w", id, err)
		}
		rep.Stopped = append(rep.Stopped, id)
	}
	return f.loop(ctx, rep)
}

type nopWatcher struct{}

func (nopWatcher) Found(Deployment)             {}
func (nopWatcher) Changed(Deployment)           {}
func (nopWatcher) Alarm(Deployment, AlarmState) {}
func (nopWatcher) Stack(StackState)             {}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
