package deploy

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/schedule"
	"github.com/sluice-dev/sluice/internal/store"
)

// Invoker invokes hook functions. It is the engine's only way into the
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
)

// Engine runs deployments.
type Engine struct {
	clock  clock.Clock
	reg    *registry.Registry
	db     *store.DB
	hooks  Invoker
	alarms Alarms
	log    *slog.Logger
	notify *notifier

	mu        sync.Mutex
	groups    map[string]*Group // by name
	active    map[string]*run   // by group name
	runs      map[string]*run   // active, by deployment id
	hookExecs map[string]*run   // by hook execution id
	subs      map[int]func(Deployment)
	nextSub   int
	wg        sync.WaitGroup

	rollbackMu sync.Mutex // serializes Rollback
}

// Config wires an Engine.
type Config struct {
	Clock    clock.Clock
	Registry *registry.Registry
	Store    *store.DB
	Hooks    Invoker
	Alarms   Alarms
	Logger   *slog.Logger
	Groups   []*Group
}

// New returns an engine with the given groups. Call Recover before
// creating deployments, so deployments a previous engine left unfinished
// are settled first.
func New(c Config) *Engine {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	e := &Engine{clock: c.Clock, reg: c.Registry, db: c.Store, hooks: c.Hooks, alarms: c.Alarms, log: log,
		groups: map[string]*Group{}, active: map[string]*run{}, runs: map[string]*run{}, hookExecs: map[string]*run{},
		subs: map[int]func(Deployment){}}
	e.notify = newNotifier(log)
	for _, g := range c.Groups {
		e.groups[g.Name] = g
	}
	return e
}

// SetGroups replaces the deployment groups, for a reloaded configuration.
// Deployments in progress keep the group they started with, and a group
// with one in progress stays busy under the same name.
func (e *Engine) SetGroups(groups []*Group) {
	m := make(map[string]*Group, len(groups))
	for _, g := range groups {
		m[g.Name] = g
	}
	e.mu.Lock()
	e.groups = m
	e.mu.Unlock()
}

// Groups returns the deployment groups by name.
func (e *Engine) Groups() []*Group {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Group, 0, len(e.groups))
	for _, g := range e.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Group returns the named group, or the group deploying the named function.
func (e *Engine) Group(name string) *Group {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g := e.groups[name]; g != nil {
		return g
	}
	for _, g := range e.groups {
		if g.Function == name {
			return g
		}
	}
	return nil
}

// Subscribe calls fn with a copy of a deployment each time it changes,
// until cancel is called. fn must not block.
func (e *Engine) Subscribe(fn func(Deployment)) (cancel func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := e.nextSub
	e.nextSub++
	e.subs[id] = fn
	return func() {
		e.mu.Lock()
		delete(e.subs, id)
		e.mu.Unlock()
	}
}

func (e *Engine) publish(d Deployment) {
	e.mu.Lock()
	subs := make([]func(Deployment), 0, len(e.subs))
	for _, fn := range e.subs {
		subs = append(subs, fn)
	}
	e.mu.Unlock()
	for _, fn := range subs {
		fn(d)
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
}

// Create starts a deployment of a group's alias to a target version, from
// the version the alias points at now. A group with a deployment in
// progress refuses.
func (e *Engine) Create(in CreateInput) (Deployment, error) {
	g := e.Group(in.Group)
	if g == nil {
		return Deployment{}, fmt.Errorf("%w: %s", ErrGroupNotFound, in.Group)
	}
	fn := e.reg.Function(g.Function)
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
	d := e.newDeployment(g, rt.Version.Number, in.TargetVersion, CreatorUser, g.Type.Steps())
	d.Description = in.Description
	for i := range d.LifecycleEvents {
		ev := &d.LifecycleEvents[i]
		if ev.Name == EventBeforeAllowTraffic && in.PreTrafficHook != nil {
			ev.Hook = *in.PreTrafficHook
		}
		if ev.Name == EventAfterAllowTraffic && in.PostTrafficHook != nil {
			ev.Hook = *in.PostTrafficHook
		}
	}
	return e.start(g, d)
}

func (e *Engine) newDeployment(g *Group, current, target int, creator string, steps []schedule.Step) Deployment {
	now := e.clock.Now()
	d := Deployment{
		ID: newDeploymentID(), ApplicationName: g.Application, DeploymentGroupName: g.Name,
		DeploymentConfigName: g.ConfigName(), Status: StatusCreated, Creator: creator, CreateTime: now,
		AutoRollback: g.AutoRollback, Steps: steps,
		Target: LambdaTarget{FunctionName: g.Function, FunctionAlias: g.Alias,
			CurrentVersion: strconv.Itoa(current), TargetVersion: strconv.Itoa(target)},
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

func (e *Engine) start(g *Group, d Deployment) (Deployment, error) {
	e.mu.Lock()
	if cur := e.activeRun(g.Name); cur != nil {
		e.mu.Unlock()
		return Deployment{}, fmt.Errorf("%w: %s (deployment %s); wait for it to finish or stop it with `sluice stop %s`",
			ErrAlreadyInProgress, g.Name, cur.id, cur.id)
	}
	r := newRun(e, g, d)
	if err := e.save(&r.d); err != nil {
		e.mu.Unlock()
		return Deployment{}, fmt.Errorf("record deployment: %w", err)
	}
	e.active[g.Name] = r
	e.runs[d.ID] = r
	e.wg.Add(1)
	e.mu.Unlock()
	e.publish(d)
	go func() {
		defer e.wg.Done()
		r.loop()
	}()
	return d, nil
}

// save writes a deployment record.
func (e *Engine) save(d *Deployment) error {
	return e.db.Update(func(tx *store.Tx) error { return saveTx(tx, d) })
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
func (e *Engine) Get(id string) (Deployment, error) {
	e.mu.Lock()
	r := e.runs[id]
	e.mu.Unlock()
	if r != nil {
		return r.snapshot(), nil
	}
	rec, err := e.db.Deployment(id)
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
	return d, nil
}

// List returns deployments oldest first, of one group (by group or function
// name) or of all when group is "".
func (e *Engine) List(group string) ([]Deployment, error) {
	function := ""
	if group != "" {
		g := e.Group(group)
		if g == nil {
			return nil, fmt.Errorf("%w: %s", ErrGroupNotFound, group)
		}
		function = g.Function
	}
	out, err := History(e.db, function)
	if err != nil {
		return nil, err
	}
	for i, d := range out {
		if !d.Status.Done() {
			if live, err := e.Get(d.ID); err == nil {
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

// Stop stops a deployment in progress; with rollback, traffic returns to
// the original version.
func (e *Engine) Stop(id string, rollback bool) error {
	e.mu.Lock()
	r := e.runs[id]
	e.mu.Unlock()
	if r == nil {
		if _, err := e.Get(id); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s", ErrAlreadyCompleted, id)
	}
	return r.request(runEvent{kind: evStop, rollback: rollback}, func() error {
		return fmt.Errorf("%w: %s", ErrAlreadyCompleted, id)
	})
}

// PutHookStatus records a hook's report (PutLifecycleEventHookExecutionStatus).
func (e *Engine) PutHookStatus(deploymentID, execID, status string) error {
	if status != string(EventSucceeded) && status != string(EventFailed) {
		return fmt.Errorf("%w: %q; report Succeeded or Failed", ErrInvalidHookStatus, status)
	}
	e.mu.Lock()
	r := e.hookExecs[execID]
	e.mu.Unlock()
	if r == nil || r.id != deploymentID {
		return e.completedHookError(deploymentID, execID)
	}
	return r.request(runEvent{kind: evHookReport, execID: execID, status: EventStatus(status)}, func() error {
		return e.completedHookError(deploymentID, execID)
	})
}

// completedHookError tells a report on a finished hook from a report on a
// hook that never was.
func (e *Engine) completedHookError(deploymentID, execID string) error {
	d, err := e.Get(deploymentID)
	if err != nil {
		return err
	}
	for _, ev := range d.LifecycleEvents {
		if ev.HookExecutionID == execID {
			return fmt.Errorf("%w: %s of %s is %s", ErrHookAlreadyCompleted, ev.Name, deploymentID, ev.Status)
		}
	}
	return fmt.Errorf("%w: %s in %s", ErrHookExecutionNotFound, execID, deploymentID)
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
func (e *Engine) Rollback(in RollbackInput) (Deployment, error) {
	g := e.Group(in.Group)
	if g == nil {
		return Deployment{}, fmt.Errorf("%w: %s", ErrGroupNotFound, in.Group)
	}
	// One rollback decision at a time: the check for a recent rollback and
	// the creation of a new one must not interleave.
	e.rollbackMu.Lock()
	defer e.rollbackMu.Unlock()
	if d, ok, err := e.recentRollback(g); err != nil || ok {
		return d, err
	}
	e.mu.Lock()
	r := e.activeRun(g.Name)
	e.mu.Unlock()
	if r != nil {
		if err := e.Stop(r.id, true); err != nil && !errors.Is(err, ErrAlreadyCompleted) {
			return Deployment{}, err
		}
		d, err := e.Get(r.id)
		if err != nil || in.ToVersion == 0 || in.ToVersion == versionOf(d.Target.CurrentVersion) {
			if err == nil && d.RolledBack() {
				return e.Get(d.RollbackInfo.RollbackDeploymentID)
			}
			return d, err
		}
		// Back where the deployment started; go on to the version asked for.
	}
	fn := e.reg.Function(g.Function)
	var alias *registry.Alias
	if fn != nil {
		alias = fn.Alias(g.Alias)
	}
	if alias == nil {
		return Deployment{}, fmt.Errorf("%w: %s has no alias %s", ErrNothingToDeploy, g.Function, g.Alias)
	}
	rt := alias.Routing()
	cur, to := rt.Version.Number, in.ToVersion
	if to == 0 {
		prev, err := e.previousVersion(g, cur)
		if err != nil {
			return Deployment{}, err
		}
		to = prev
	} else if fn.Version(to) == nil {
		return Deployment{}, fmt.Errorf("%w: %s has no version %d; `sluice history %s` lists the versions deployed",
			registry.ErrVersionNotFound, g.Function, to, g.Function)
	} else if to == cur && rt.Additional == nil {
		return Deployment{}, fmt.Errorf("%w: alias %s of %s already points at version %d", ErrNothingToDeploy, g.Alias, g.Function, to)
	}
	d := e.newDeployment(g, cur, to, CreatorUser, []schedule.Step{{Offset: 0, Weight: 1}})
	d.DeploymentConfigName = "CodeDeployDefault.LambdaAllAtOnce"
	d.Description = fmt.Sprintf("rollback of %s:%s from version %d to %d", g.Function, g.Alias, cur, to)
	d.ManualRollback, d.IgnoreAlarms = true, true
	for i := range d.LifecycleEvents {
		d.LifecycleEvents[i].Hook = ""
	}
	return e.start(g, d)
}

// recentRollback is the group's rollback in progress or ended less than
// RollbackGrace ago: a manual rollback, or the rollback deployment of a
// deployment that was stopped or failed.
func (e *Engine) recentRollback(g *Group) (Deployment, bool, error) {
	recs, err := e.db.Deployments(g.Function)
	if err != nil || len(recs) == 0 {
		return Deployment{}, false, err
	}
	last, err := e.Get(recs[len(recs)-1].ID) // the live copy if in progress
	if err != nil {
		return Deployment{}, false, err
	}
	if !last.ManualRollback && last.Creator != CreatorRollback {
		return Deployment{}, false, nil
	}
	if !last.Status.Done() {
		return last, true, nil
	}
	grace := time.Duration(float64(RollbackGrace) * clock.Scale(e.clock))
	if last.CompleteTime != nil && e.clock.Now().Sub(*last.CompleteTime) < grace {
		return last, true, nil
	}
	return Deployment{}, false, nil
}

func versionOf(s string) int {
	v, _ := strconv.Atoi(s)
	return v
}

// previousVersion is the version the alias served before cur: the current
// version of the last succeeded deployment that targeted cur, else cur-1.
func (e *Engine) previousVersion(g *Group, cur int) (int, error) {
	ds, err := e.List(g.Name)
	if err != nil {
		return 0, err
	}
	// Only ever back to an older version: after a rollback from 2 to 1,
	// "the previous version" is not the 2 that was just rolled back.
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		if d.Status == StatusSucceeded && d.Target.TargetVersion == strconv.Itoa(cur) {
			if v, err := strconv.Atoi(d.Target.CurrentVersion); err == nil && v < cur {
				return v, nil
			}
		}
	}
	if cur > 1 {
		return cur - 1, nil
	}
	return 0, fmt.Errorf("%w: %s:%s is at version 1; there is no earlier version", ErrNothingToDeploy, g.Function, g.Alias)
}

// Recover settles deployments a previous engine left unfinished (it was
// killed mid-deployment). sluice does not resume them: the metrics the
// alarms were judging and any hook in flight died with the old engine, so
// going on would shift traffic unwatched. Each is marked Failed
// (INTERNAL_ERROR) and, when traffic had moved and the group rolls back on
// failure, rolled back to its original version — the safe end CodeDeploy
// itself takes when a deployment cannot complete.
func (e *Engine) Recover() ([]Deployment, error) {
	recs, err := e.db.Deployments("")
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
		g := e.Group(d.DeploymentGroupName)
		if g == nil {
			// The group is gone from the configuration; its record still
			// says where the alias was going, which is all a rollback needs.
			g = &Group{Name: d.DeploymentGroupName, Application: d.ApplicationName, Function: d.Target.FunctionName,
				Alias: d.Target.FunctionAlias, AutoRollback: d.AutoRollback}
		}
		r := newRun(e, g, d)
		msg := "the engine stopped during the deployment"
		if cur := d.current(); cur != nil {
			msg += " in " + cur.Name
		}
		r.finish(ending{status: StatusFailed, rollback: g.rollsBackOn(RollbackOnFailure), info: &ErrorInfo{Code: ErrInternalError,
			Message: msg + "; it was not resumed because the alarms' metrics and any hook in flight were lost with the engine"}})
		settled = append(settled, r.snapshot())
	}
	return settled, nil
}

// Close waits for deployment goroutines to stop; call it after stopping or
// finishing deployments (shutting down without stopping leaves them for
// Recover, as a crash would).
func (e *Engine) Close() {
	e.mu.Lock()
	runs := make([]*run, 0, len(e.runs))
	for _, r := range e.runs {
		runs = append(runs, r)
	}
	e.mu.Unlock()
	for _, r := range runs {
		r.send(runEvent{kind: evShutdown})
	}
	e.wg.Wait()
	e.notify.wait()
}

// activeRun is the group's deployment in progress, or nil. A run that has
// recorded its end but not yet released the group counts as ended.
// Called with e.mu held.
func (e *Engine) activeRun(group string) *run {
	r := e.active[group]
	if r == nil || r.snapshot().Status.Done() {
		return nil
	}
	return r
}

func (e *Engine) release(r *run) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active[r.g.Name] == r {
		delete(e.active, r.g.Name)
	}
	delete(e.runs, r.id)
	for id, x := range e.hookExecs {
		if x == r {
			delete(e.hookExecs, id)
		}
	}
}

// ConfigName is the group's CodeDeploy deployment config name:
// CodeDeployDefault.Lambda<Type> for predefined types, else the custom name.
func (g *Group) ConfigName() string {
	if g.Type.Predefined || g.Type.Name == "" {
		name := g.Type.Name
		if name == "" {
			name = "AllAtOnce"
		}
		return "CodeDeployDefault.Lambda" + name
	}
	return g.Type.Name
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
func (e *Engine) Active() []Deployment {
	e.mu.Lock()
	runs := make([]*run, 0, len(e.runs))
	for _, r := range e.runs {
		runs = append(runs, r)
	}
	e.mu.Unlock()
	out := make([]Deployment, 0, len(runs))
	for _, r := range runs {
		out = append(out, r.snapshot())
	}
	slices.SortFunc(out, func(a, b Deployment) int { return a.CreateTime.Compare(b.CreateTime) })
	return out
}
