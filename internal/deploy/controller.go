package deploy

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/schedule"
	"github.com/sluice-dev/sluice/internal/store"
)

// Invoker invokes hook functions. It is the controller's only way into the
// functions it deploys, which keeps this package free of process handling.
type Invoker interface {
	// InvokeHook invokes the function asynchronously (invocation type
	// Event) with payload, and calls done when the invocation has ended,
	// with the function's error if it failed.
	InvokeHook(function string, payload []byte, done func(error))
}

// AlarmState is an alarm's state as a deployment sees it.
type AlarmState struct {
	Name   string
	State  string // OK, ALARM or INSUFFICIENT_DATA
	Reason string
}

// Alarms is how deployments learn of alarm states.
type Alarms interface {
	// Watch calls fn with the named alarm's current state at once and then
	// on every change, until cancel is called; an unknown name is an error.
	Watch(name string, fn func(AlarmState)) (cancel func(), err error)
}

// Errors callers tell apart (the CodeDeploy API maps them to AWS error codes).
var (
	ErrDeploymentNotFound    = errors.New("deployment does not exist")
	ErrGroupNotFound         = errors.New("deployment group does not exist")
	ErrAlreadyInProgress     = errors.New("a deployment is already in progress for the group")
	ErrAlreadyCompleted      = errors.New("deployment is already completed")
	ErrHookExecutionNotFound = errors.New("lifecycle event hook execution does not exist")
	ErrHookAlreadyCompleted  = errors.New("lifecycle event already completed")
	ErrInvalidHookStatus     = errors.New("invalid lifecycle event status")
	ErrNothingToDeploy       = errors.New("nothing to deploy")
	ErrInvalidTarget         = errors.New("invalid deployment target")
	ErrNoDeploymentActive    = errors.New("no deployment is in progress")
	ErrCannotPromote         = errors.New("the deployment cannot be promoted")
	ErrNothingToRetry        = errors.New("nothing to retry")
)

// Controller runs the deployments of a set of deployment groups.
type Controller struct {
	clock   clock.Clock
	reg     *registry.Registry
	db      *store.DB
	hooks   Invoker
	alarms  Alarms
	log     *slog.Logger
	notify  *notifier
	closing chan struct{} // closed by Close: deployments stop where they are
	wg      sync.WaitGroup

	// mu guards the maps below; it is never held across I/O.
	mu     sync.Mutex
	groups map[string]*Group // by name
	active map[string]*run   // by group name
	runs   map[string]*run   // in progress, by deployment id

	subMu   sync.Mutex
	subs    map[int]func(Deployment)
	nextSub int

	// rollbacks serializes the rollbacks of each group: deciding whether
	// one is already under way and starting one must not interleave. Only
	// rollbacks of the same group wait on it.
	rollbacks map[string]*sync.Mutex
}

// Config wires a Controller.
type Config struct {
	Clock    clock.Clock
	Registry *registry.Registry
	Store    *store.DB
	Hooks    Invoker
	Alarms   Alarms
	Logger   *slog.Logger
	Groups   []*Group
}

// New returns a controller of the given groups. Call Recover before
// creating deployments, so deployments a previous engine left unfinished
// are settled first.
func New(c Config) *Controller {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	ctl := &Controller{clock: c.Clock, reg: c.Registry, db: c.Store, hooks: c.Hooks, alarms: c.Alarms, log: log,
		closing: make(chan struct{}), groups: map[string]*Group{}, active: map[string]*run{}, runs: map[string]*run{},
		subs: map[int]func(Deployment){}, rollbacks: map[string]*sync.Mutex{}}
	ctl.notify = newNotifier(log)
	for _, g := range c.Groups {
		ctl.groups[g.Name] = g
	}
	return ctl
}

// SetGroups replaces the deployment groups, for a reloaded configuration.
// Deployments in progress keep the group they started with, and a group
// with one in progress stays busy under the same name.
func (c *Controller) SetGroups(groups []*Group) {
	m := make(map[string]*Group, len(groups))
	for _, g := range groups {
		m[g.Name] = g
	}
	c.mu.Lock()
	c.groups = m
	c.mu.Unlock()
}

// Groups returns the deployment groups by name.
func (c *Controller) Groups() []*Group {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Group returns the named group, or the group deploying the named function.
func (c *Controller) Group(name string) *Group {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[name]; g != nil {
		return g
	}
	for _, g := range c.groups {
		if g.Function == name {
			return g
		}
	}
	return nil
}

func (c *Controller) group(name string) (*Group, error) {
	if g := c.Group(name); g != nil {
		return g, nil
	}
	return nil, fmt.Errorf("%w: %s (function %s has no deploymentSettings, or no such function)", ErrGroupNotFound, name, name)
}

// Subscribe calls fn with a snapshot of a deployment each time it changes,
// until cancel is called. fn must not block.
func (c *Controller) Subscribe(fn func(Deployment)) (cancel func()) {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	id := c.nextSub
	c.nextSub++
	c.subs[id] = fn
	return func() {
		c.subMu.Lock()
		delete(c.subs, id)
		c.subMu.Unlock()
	}
}

func (c *Controller) publish(d Deployment) {
	c.subMu.Lock()
	subs := make([]func(Deployment), 0, len(c.subs))
	for _, fn := range c.subs {
		subs = append(subs, fn)
	}
	c.subMu.Unlock()
	for _, fn := range subs {
		fn(d.clone())
	}
}

// CreateInput describes a deployment to create.
type CreateInput struct {
	Group         string // group name, or the function it deploys
	TargetVersion int
	// CurrentVersion, when set, must be the version the alias points at
	// (an AppSpec's CurrentVersion); 0 takes whatever it points at.
	CurrentVersion int
	// PreTrafficHook and PostTrafficHook, when not nil, replace the group's
	// hooks for this deployment (an AppSpec's Hooks).
	PreTrafficHook, PostTrafficHook *string
	Description                     string
	// IgnoreAlarms: the group's alarms do not stop this deployment. It is
	// recorded in the deployment (ignoreAlarms) and logged as a warning.
	IgnoreAlarms bool
	// Type, when set, replaces the group's traffic shifting for this
	// deployment (e.g. AllAtOnce for an emergency fix).
	Type *schedule.Type
}

// Create starts a deployment of a group's alias to a target version, from
// the version the alias points at now. A group with a deployment in
// progress refuses.
func (c *Controller) Create(in CreateInput) (Deployment, error) {
	g, err := c.group(in.Group)
	if err != nil {
		return Deployment{}, err
	}
	fn := c.reg.Function(g.Function)
	if fn == nil {
		return Deployment{}, fmt.Errorf("%w: function %s has no versions", ErrNothingToDeploy, g.Function)
	}
	alias := fn.Alias(g.Alias)
	if alias == nil {
		return Deployment{}, fmt.Errorf("%w: %s has no alias %s yet", ErrNothingToDeploy, g.Function, g.Alias)
	}
	if fn.Version(in.TargetVersion) == nil {
		return Deployment{}, fmt.Errorf("%w: %s has no version %d", registry.ErrVersionNotFound, g.Function, in.TargetVersion)
	}
	rt := alias.Routing()
	if in.CurrentVersion != 0 && (rt.Version.Number != in.CurrentVersion || rt.Additional != nil) {
		return Deployment{}, fmt.Errorf("%w: alias %s of %s points at version %d, not the CurrentVersion %d",
			ErrInvalidTarget, g.Alias, g.Function, rt.Version.Number, in.CurrentVersion)
	}
	if rt.Additional == nil && rt.Version.Number == in.TargetVersion {
		return Deployment{}, fmt.Errorf("%w: alias %s of %s already points at version %d", ErrNothingToDeploy, g.Alias, g.Function, in.TargetVersion)
	}
	typ := g.Type
	if in.Type != nil {
		typ = *in.Type
	}
	d := c.newDeployment(g, rt.Version.Number, in.TargetVersion, CreatorUser, typ)
	d.Description, d.IgnoreAlarms = in.Description, in.IgnoreAlarms
	for i := range d.LifecycleEvents {
		ev := &d.LifecycleEvents[i]
		if ev.Name == EventBeforeAllowTraffic && in.PreTrafficHook != nil {
			ev.Hook = *in.PreTrafficHook
		}
		if ev.Name == EventAfterAllowTraffic && in.PostTrafficHook != nil {
			ev.Hook = *in.PostTrafficHook
		}
	}
	if in.IgnoreAlarms && len(g.Alarms) > 0 {
		c.log.Warn("deployment ignores its alarms", "deployment", d.ID, "function", g.Function, "alarms", strings.Join(g.Alarms, ","))
	}
	return c.start(g, d)
}

func (c *Controller) newDeployment(g *Group, current, target int, creator string, typ schedule.Type) Deployment {
	now := c.clock.Now()
	d := Deployment{
		ID: newDeploymentID(), ApplicationName: g.Application, DeploymentGroupName: g.Name,
		DeploymentConfigName: configName(typ), Status: StatusCreated, Creator: creator, CreateTime: now,
		AutoRollback: g.AutoRollback, Steps: typ.Steps(), Phase: PhaseCreated,
		Target: LambdaTarget{FunctionName: g.Function, FunctionAlias: g.Alias, CurrentVersion: current, TargetVersion: target},
	}
	for _, name := range lifecycle {
		ev := LifecycleEvent{Name: name, Status: EventPending}
		switch name {
		case EventBeforeAllowTraffic:
			ev.Hook = g.PreTrafficHook
		case EventAfterAllowTraffic:
			ev.Hook = g.PostTrafficHook
		}
		d.LifecycleEvents = append(d.LifecycleEvents, ev)
	}
	return d
}

// start records a new deployment and starts its goroutine. The group is
// reserved under the lock, the record written outside it.
func (c *Controller) start(g *Group, d Deployment) (Deployment, error) {
	r := newRun(c, g, d)
	c.mu.Lock()
	if cur := c.activeRun(g.Name); cur != nil {
		c.mu.Unlock()
		return Deployment{}, fmt.Errorf("%w: %s (deployment %s); wait for it to finish or stop it with `sluice stop %s`",
			ErrAlreadyInProgress, g.Name, cur.id, cur.id)
	}
	c.active[g.Name] = r
	c.mu.Unlock()
	if err := c.save(&d); err != nil {
		c.mu.Lock()
		delete(c.active, g.Name)
		c.mu.Unlock()
		return Deployment{}, fmt.Errorf("record deployment: %w", err)
	}
	c.mu.Lock()
	c.runs[d.ID] = r
	c.wg.Add(1)
	c.mu.Unlock()
	c.publish(d)
	go r.loop()
	return d.clone(), nil
}

// save writes a deployment record.
func (c *Controller) save(d *Deployment) error {
	return c.db.Update(func(tx *store.Tx) error { return saveTx(tx, d) })
}

func saveTx(tx *store.Tx, d *Deployment) error {
	doc, err := json.Marshal(d)
	if err != nil {
		return err
	}
	updated := d.CreateTime
	for _, t := range []*time.Time{d.StartTime, d.CompleteTime} {
		if t != nil && t.After(updated) {
			updated = *t
		}
	}
	return tx.PutDeployment(store.DeploymentRecord{ID: d.ID, Function: d.Target.FunctionName, Status: string(d.Status),
		Created: d.CreateTime, Updated: updated, Doc: doc})
}

// Get returns a deployment.
func (c *Controller) Get(id string) (Deployment, error) {
	c.mu.Lock()
	r := c.runs[id]
	c.mu.Unlock()
	if r != nil {
		return r.snapshot(), nil
	}
	rec, err := c.db.Deployment(id)
	if errors.Is(err, store.ErrNotFound) {
		return Deployment{}, fmt.Errorf("%w: %s", ErrDeploymentNotFound, id)
	}
	if err != nil {
		return Deployment{}, err
	}
	return decode(rec)
}

func decode(rec store.DeploymentRecord) (Deployment, error) {
	var d Deployment
	if err := json.Unmarshal(rec.Doc, &d); err != nil {
		return d, fmt.Errorf("deployment %s has an unreadable record: %w", rec.ID, err)
	}
	if d.Status.Done() {
		d.Phase = PhaseEnded // records written before phases were recorded
	}
	return d, nil
}

// Wait waits until the deployment has ended, or ctx ends, and returns it.
func (c *Controller) Wait(ctx context.Context, id string) (Deployment, error) {
	changed := make(chan struct{}, 1)
	cancel := c.Subscribe(func(d Deployment) {
		if d.ID == id {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	for {
		d, err := c.Get(id)
		if err != nil || d.Status.Done() {
			return d, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return d, ctx.Err()
		}
	}
}

// List returns deployments oldest first, of one group (by group or function
// name) or of all when group is "".
func (c *Controller) List(group string) ([]Deployment, error) {
	function := ""
	if group != "" {
		g, err := c.group(group)
		if err != nil {
			return nil, err
		}
		function = g.Function
	}
	out, err := History(c.db, function)
	if err != nil {
		return nil, err
	}
	for i, d := range out {
		if !d.Status.Done() {
			if live, err := c.Get(d.ID); err == nil {
				out[i] = live
			}
		}
	}
	return out, nil
}

// History reads the recorded deployments of a function ("" for all),
// oldest first, without an engine: `sluice history` works whether or not
// one is running.
func History(db *store.DB, function string) ([]Deployment, error) {
	recs, err := db.Deployments(function)
	if err != nil {
		return nil, err
	}
	out := make([]Deployment, 0, len(recs))
	for _, rec := range recs {
		d, err := decode(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Stop stops a deployment in progress, named by its id or by its group or
// function (its deployment in progress); with rollback, traffic returns to
// the original version. It returns the stopped deployment.
func (c *Controller) Stop(idOrFunction string, rollback bool) (Deployment, error) {
	r, err := c.runOf(idOrFunction)
	if err != nil {
		return Deployment{}, err
	}
	err = r.request(Input{Kind: InStop, Rollback: rollback}, func() error {
		return fmt.Errorf("%w: %s", ErrAlreadyCompleted, r.id)
	})
	if err != nil {
		return Deployment{}, err
	}
	return c.Get(r.id)
}

// Promote skips the rest of a deployment's traffic schedule: all traffic
// moves to the target version now, and the AfterAllowTraffic hook still
// runs. The deployment is named as for Stop. AWS has no such operation
// (only stop, and stop with rollback); it exists locally to save waiting.
func (c *Controller) Promote(idOrFunction string) (Deployment, error) {
	r, err := c.runOf(idOrFunction)
	if err != nil {
		return Deployment{}, err
	}
	err = r.request(Input{Kind: InPromote}, func() error {
		return fmt.Errorf("%w: %s", ErrAlreadyCompleted, r.id)
	})
	if err != nil {
		return Deployment{}, err
	}
	return c.Get(r.id)
}

// runOf finds the deployment in progress named by id, group or function.
func (c *Controller) runOf(idOrFunction string) (*run, error) {
	c.mu.Lock()
	r := c.runs[idOrFunction]
	c.mu.Unlock()
	if r != nil {
		return r, nil
	}
	if g := c.Group(idOrFunction); g != nil {
		c.mu.Lock()
		r = c.activeRun(g.Name)
		c.mu.Unlock()
		if r == nil {
			return nil, fmt.Errorf("%w for %s; `sluice history %s` lists its deployments", ErrNoDeploymentActive, g.Function, g.Function)
		}
		return r, nil
	}
	if _, err := c.Get(idOrFunction); err != nil {
		if strings.HasPrefix(idOrFunction, "d-") {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s is neither a deployment id nor a function with deploymentSettings", ErrDeploymentNotFound, idOrFunction)
	}
	return nil, fmt.Errorf("%w: %s", ErrAlreadyCompleted, idOrFunction)
}

// PutHookStatus records a hook's report (PutLifecycleEventHookExecutionStatus).
func (c *Controller) PutHookStatus(deploymentID, execID, status string) error {
	in := Input{Kind: InHookReport, ExecID: execID, Status: EventStatus(status)}
	c.mu.Lock()
	r := c.runs[deploymentID]
	c.mu.Unlock()
	if r == nil {
		return c.completedHookError(deploymentID, in)
	}
	return r.request(in, func() error { return c.completedHookError(deploymentID, in) })
}

// completedHookError answers a report on a deployment that has ended.
func (c *Controller) completedHookError(deploymentID string, in Input) error {
	d, err := c.Get(deploymentID)
	if err != nil {
		if in.Status != EventSucceeded && in.Status != EventFailed {
			return fmt.Errorf("%w: %q; report Succeeded or Failed", ErrInvalidHookStatus, in.Status)
		}
		return err
	}
	return check(state{D: d}, in)
}

// RollbackGrace is how long after a rollback of a group ends that another
// rollback request returns it instead of rolling back further (wall time;
// on a scaled clock it is scaled too). It makes `sluice rollback`
// idempotent: five people (or five retries) asking at once get one
// rollback, not five versions back.
const RollbackGrace = 5 * time.Second

// RollbackInput says which alias to move back, and where.
type RollbackInput struct {
	Group string // group name, or the function it deploys
	// ToVersion, when set, is the version to go back to; 0 is the version
	// the alias served before (see Rollback).
	ToVersion int
}

// Rollback moves the group's alias back, at once. It is an emergency
// action: the group's alarms do not stop it, and it runs no hooks (they
// test a new version; a rollback restores one that served before).
//
//   - A rollback of the group in progress, or one that ended less than
//     RollbackGrace ago, is returned as is: Rollback is idempotent.
//   - A deployment in progress is stopped with rollback; the rollback
//     deployment that moved the traffic back is returned (the stopped
//     deployment itself if no traffic had moved).
//   - Otherwise a new all-at-once deployment to the previous version (or
//     in.ToVersion) is made: the version the alias served before the last
//     succeeded deployment to its current version, else the one below it.
func (c *Controller) Rollback(in RollbackInput) (Deployment, error) {
	g, err := c.group(in.Group)
	if err != nil {
		return Deployment{}, err
	}
	// One rollback decision at a time per group: the check for a recent
	// rollback and the creation of a new one must not interleave.
	c.mu.Lock()
	lock := c.rollbacks[g.Name]
	if lock == nil {
		lock = &sync.Mutex{}
		c.rollbacks[g.Name] = lock
	}
	c.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	if d, ok, err := c.recentRollback(g); err != nil || ok {
		return d, err
	}
	c.mu.Lock()
	r := c.activeRun(g.Name)
	c.mu.Unlock()
	if r != nil {
		d, err := c.Stop(r.id, true)
		if errors.Is(err, ErrAlreadyCompleted) {
			d, err = c.Get(r.id)
		}
		if err != nil || in.ToVersion == 0 || in.ToVersion == d.Target.CurrentVersion {
			if err == nil && d.RolledBack() {
				return c.Get(d.RollbackInfo.RollbackDeploymentID)
			}
			return d, err
		}
		// Back where the deployment started; go on to the version asked for.
	}
	fn := c.reg.Function(g.Function)
	var alias *registry.Alias
	if fn != nil {
		alias = fn.Alias(g.Alias)
	}
	if alias == nil {
		return Deployment{}, fmt.Errorf("%w: %s has no alias %s", ErrNothingToDeploy, g.Function, g.Alias)
	}
	rt := alias.Routing()
	cur, to := rt.Version.Number, in.ToVersion
	switch {
	case to == 0:
		if to, err = c.previousVersion(g, cur); err != nil {
			return Deployment{}, err
		}
	case fn.Version(to) == nil:
		return Deployment{}, fmt.Errorf("%w: %s has no version %d; `sluice history %s` lists the versions deployed",
			registry.ErrVersionNotFound, g.Function, to, g.Function)
	case to == cur && rt.Additional == nil:
		return Deployment{}, fmt.Errorf("%w: alias %s of %s already points at version %d", ErrNothingToDeploy, g.Alias, g.Function, to)
	}
	d := c.newDeployment(g, cur, to, CreatorUser, schedule.Type{})
	d.Description = fmt.Sprintf("rollback of %s:%s from version %d to %d", g.Function, g.Alias, cur, to)
	d.ManualRollback, d.IgnoreAlarms = true, true
	for i := range d.LifecycleEvents {
		d.LifecycleEvents[i].Hook = ""
	}
	return c.start(g, d)
}

// recentRollback is the group's rollback in progress or ended less than
// RollbackGrace ago: a manual rollback, or the rollback deployment of a
// deployment that was stopped or failed.
func (c *Controller) recentRollback(g *Group) (Deployment, bool, error) {
	recs, err := c.db.Deployments(g.Function)
	if err != nil || len(recs) == 0 {
		return Deployment{}, false, err
	}
	last, err := c.Get(recs[len(recs)-1].ID) // the live snapshot if in progress
	if err != nil {
		return Deployment{}, false, err
	}
	if !last.ManualRollback && last.Creator != CreatorRollback {
		return Deployment{}, false, nil
	}
	if !last.Status.Done() {
		return last, true, nil
	}
	grace := time.Duration(float64(RollbackGrace) * clock.Scale(c.clock))
	if last.CompleteTime != nil && c.clock.Now().Sub(*last.CompleteTime) < grace {
		return last, true, nil
	}
	return Deployment{}, false, nil
}

// previousVersion is the version the alias served before cur: the current
// version of the last succeeded deployment that targeted cur, else cur-1.
func (c *Controller) previousVersion(g *Group, cur int) (int, error) {
	ds, err := c.List(g.Name)
	if err != nil {
		return 0, err
	}
	// Only ever back to an older version: after a rollback from 2 to 1,
	// "the previous version" is not the 2 that was just rolled back.
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		if d.Status == StatusSucceeded && d.Target.TargetVersion == cur && d.Target.CurrentVersion < cur {
			return d.Target.CurrentVersion, nil
		}
	}
	if cur > 1 {
		return cur - 1, nil
	}
	return 0, fmt.Errorf("%w: %s:%s is at version 1; there is no earlier version", ErrNothingToDeploy, g.Function, g.Alias)
}

// Retry deploys again the target of the group's last deployment, when that
// one failed or was stopped, with the group's settings. Rollbacks do not
// count as deployments here.
func (c *Controller) Retry(group string) (Deployment, error) {
	g, err := c.group(group)
	if err != nil {
		return Deployment{}, err
	}
	ds, err := c.List(g.Name)
	if err != nil {
		return Deployment{}, err
	}
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		if d.Creator == CreatorRollback || d.ManualRollback {
			continue
		}
		if d.Status != StatusFailed && d.Status != StatusStopped {
			return Deployment{}, fmt.Errorf("%w: the last deployment of %s, %s, is %s", ErrNothingToRetry, g.Function, d.ID, d.Status)
		}
		return c.Create(CreateInput{Group: g.Name, TargetVersion: d.Target.TargetVersion,
			Description: fmt.Sprintf("retry of %s", d.ID)})
	}
	return Deployment{}, fmt.Errorf("%w: %s has no deployment yet", ErrNothingToRetry, g.Function)
}

// Recover settles deployments a previous engine left unfinished (it was
// killed mid-deployment). sluice does not resume them: the metrics the
// alarms were judging and any hook in flight died with the old engine, so
// going on would shift traffic unwatched. Each is marked Failed
// (INTERNAL_ERROR) and, when traffic had moved and the group rolls back on
// failure, rolled back to its original version — the safe end CodeDeploy
// itself takes when a deployment cannot complete.
func (c *Controller) Recover() ([]Deployment, error) {
	recs, err := c.db.Deployments("")
	if err != nil {
		return nil, err
	}
	var settled []Deployment
	for _, rec := range recs {
		if Status(rec.Status).Done() {
			continue
		}
		d, err := decode(rec)
		if err != nil {
			return settled, err
		}
		g := c.Group(d.DeploymentGroupName)
		if g == nil {
			// The group is gone from the configuration; its record still
			// says where the alias was going, which is all a rollback needs.
			g = &Group{Name: d.DeploymentGroupName, Application: d.ApplicationName, Function: d.Target.FunctionName,
				Alias: d.Target.FunctionAlias, AutoRollback: d.AutoRollback}
		}
		r := newRun(c, g, d)
		r.feed(request{in: Input{Kind: InRecover}})
		settled = append(settled, r.snapshot())
	}
	return settled, nil
}

// Close stops the deployment goroutines where they are and waits for
// them; deployments still in progress are left for Recover, as a crash
// would leave them.
func (c *Controller) Close() {
	c.mu.Lock()
	select {
	case <-c.closing:
	default:
		close(c.closing)
	}
	c.mu.Unlock()
	c.wg.Wait()
	c.notify.wait()
}

// activeRun is the group's deployment in progress, or nil. A run that has
// recorded its end but not yet released the group counts as ended.
// Called with c.mu held.
func (c *Controller) activeRun(group string) *run {
	r := c.active[group]
	if r == nil || r.snap.Load().Status.Done() {
		return nil
	}
	return r
}

func (c *Controller) release(r *run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active[r.g.Name] == r {
		delete(c.active, r.g.Name)
	}
	delete(c.runs, r.id)
}

// ConfigName is the group's CodeDeploy deployment config name.
func (g *Group) ConfigName() string { return configName(g.Type) }

// configName is CodeDeployDefault.Lambda<Type> for predefined types (and
// AllAtOnce), else the custom type's name.
func configName(t schedule.Type) string {
	if t.Predefined || t.Name == "" {
		name := t.Name
		if name == "" {
			name = "AllAtOnce"
		}
		return "CodeDeployDefault.Lambda" + name
	}
	return t.Name
}

// newDeploymentID makes an ID shaped like CodeDeploy's: d- and nine
// characters from A–Z and 0–9.
func newDeploymentID() string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 9)
	rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return "d-" + string(b)
}

// newHookExecutionID makes an opaque ID like CodeDeploy's lifecycle event
// hook execution IDs.
func newHookExecutionID() string {
	b := make([]byte, 48)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// current is the lifecycle event in progress, else the next pending one.
func (d *Deployment) current() *LifecycleEvent {
	for i := range d.LifecycleEvents {
		if d.LifecycleEvents[i].Status == EventInProgress {
			return &d.LifecycleEvents[i]
		}
	}
	for i := range d.LifecycleEvents {
		if d.LifecycleEvents[i].Status == EventPending {
			return &d.LifecycleEvents[i]
		}
	}
	return nil
}

// Active returns the deployments in progress.
func (c *Controller) Active() []Deployment {
	c.mu.Lock()
	runs := make([]*run, 0, len(c.runs))
	for _, r := range c.runs {
		runs = append(runs, r)
	}
	c.mu.Unlock()
	out := make([]Deployment, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.snapshot())
	}
	slices.SortFunc(out, func(a, b Deployment) int { return a.CreateTime.Compare(b.CreateTime) })
	return out
}
