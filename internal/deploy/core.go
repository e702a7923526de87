package deploy

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/internal/schedule"
)

// This file is the deployment's decisions: advance, a pure function from a
// state, an input and the time to the next state and the effects to carry
// out. It does no I/O, takes no lock and reads no clock; run.go feeds it
// and carries out what it decides.

// Phase is where a deployment is in its lifecycle.
type Phase int

const (
	PhaseCreated            Phase = iota // recorded; waits for its start (its alarms being watched)
	PhaseBeforeAllowTraffic              // the BeforeAllowTraffic hook runs; waits for its report or its timeout
	PhaseAllowTraffic                    // traffic shifts step by step; waits for the next step's time
	PhaseAfterAllowTraffic               // all traffic on the target; the AfterAllowTraffic hook runs
	PhaseEnded                           // Succeeded, Failed or Stopped; no input changes it
)

var phaseNames = [...]string{"Created", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic", "Ended"}

func (p Phase) String() string {
	if p >= 0 && int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// MarshalText writes the phase's name.
func (p Phase) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a phase's name.
func (p *Phase) UnmarshalText(b []byte) error {
	i := slices.Index(phaseNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("unknown deployment phase %q", b)
	}
	*p = Phase(i)
	return nil
}

// transitions lists the phases each phase may move to; advance refuses
// any other move (a bug, reported as an error rather than acted on).
var transitions = map[Phase][]Phase{
	PhaseCreated:            {PhaseBeforeAllowTraffic, PhaseEnded},
	PhaseBeforeAllowTraffic: {PhaseAllowTraffic, PhaseEnded},
	PhaseAllowTraffic:       {PhaseAfterAllowTraffic, PhaseEnded},
	PhaseAfterAllowTraffic:  {PhaseEnded},
	PhaseEnded:              nil,
}

// InputKind is what happened.
type InputKind int

const (
	InStart      InputKind = iota // the goroutine started; Alarms holds the alarm states at that moment
	InTick                        // the time given by WakeAt was reached (or a timer fired early: harmless)
	InHookReport                  // PutLifecycleEventHookExecutionStatus for ExecID with Status
	InHookDone                    // the hook function's invocation ExecID ended, with Err if it failed
	InAlarm                       // alarm Alarm went into ALARM; AlarmAt is when the engine learnt it (wall time)
	InStop                        // StopDeployment, with Rollback
	InPromote                     // skip the rest of the traffic schedule: 100% now (sluice promote)
	InFail                        // the engine failed to carry out an effect (Reason)
	InRecover                     // a new engine found the deployment unfinished after a crash
)

var inputNames = [...]string{"start", "tick", "hook report", "hook done", "alarm", "stop", "promote", "fail", "recover"}

func (k InputKind) String() string { return inputNames[k] }

// accepts lists the inputs each phase takes; advance rejects the others in
// one place (check).
var accepts = map[Phase][]InputKind{
	PhaseCreated:            {InStart, InAlarm, InStop, InFail, InRecover},
	PhaseBeforeAllowTraffic: {InTick, InHookReport, InHookDone, InAlarm, InStop, InFail, InRecover},
	PhaseAllowTraffic:       {InTick, InAlarm, InStop, InPromote, InFail, InRecover},
	PhaseAfterAllowTraffic:  {InTick, InHookReport, InHookDone, InAlarm, InStop, InFail, InRecover},
	PhaseEnded:              nil,
}

// Input is one thing that happened to a deployment.
type Input struct {
	Kind     InputKind
	ExecID   string      // InHookReport, InHookDone
	Status   EventStatus // InHookReport: Succeeded or Failed
	Err      error       // InHookDone
	Alarm    AlarmState  // InAlarm
	AlarmAt  time.Time   // InAlarm: wall time, for the rollback reaction figure
	Alarms   []AlarmState
	WatchErr error  // InStart: an alarm could not be watched
	Rollback bool   // InStop
	Reason   string // InFail
	// IDs are fresh identifiers for whatever this input creates (a hook
	// execution, a rollback deployment): advance makes no random numbers.
	IDs IDs
}

// IDs are fresh identifiers handed to advance.
type IDs struct {
	HookExecution string
	Rollback      string
}

// Effect is something advance decided the engine must do, in order.
type Effect struct {
	Kind EffectKind
	// EffCommit: Record is written; with Route, the alias moves in the same
	// transaction; with Rollback, that record too. ReactionFrom, when set,
	// is when the engine learnt of the alarm the rollback answers: the
	// reaction is measured and written in the same transaction.
	Record       Deployment
	Route        *Route
	Rollback     *Deployment
	ReactionFrom time.Time
	// EffInvokeHook: Hook is invoked asynchronously for execution ExecID.
	Hook, ExecID string
	// EffNotify: the trigger event Event of Record (or of Rollback).
	Event string
}

// EffectKind is a kind of effect.
type EffectKind int

const (
	EffCommit     EffectKind = iota // write the record (and move the alias) in one transaction
	EffInvokeHook                   // invoke a hook function, once, asynchronously
	EffNotify                       // send the group's triggers for an event
)

// Route is where an alias points: Version, plus Additional at Weight.
type Route struct {
	Version, Additional int
	Weight              float64
}

// state is what advance decides over: the deployment's record, which holds
// its phase, and the group settings a decision needs.
type state struct {
	D           Deployment
	HookTimeout time.Duration // 0: DefaultHookTimeout
}

// ErrRejected wraps inputs that the deployment's phase does not take.
var ErrRejected = errors.New("input rejected")

// advance is the deployment's decision function: given its state, what
// happened and the time, it returns the next state and the effects to
// carry out, or an error (and the state unchanged) for an input the phase
// does not take.
func advance(s state, in Input, now time.Time) (state, []Effect, error) {
	if err := check(s, in); err != nil {
		return s, nil, err
	}
	a := &step{s: state{D: s.D.clone(), HookTimeout: s.HookTimeout}, now: now, ids: in.IDs}
	a.apply(in)
	if a.err != nil {
		return s, nil, a.err
	}
	return a.s, a.effects, nil
}

// check rejects the inputs the phase does not take, with the error the API
// reports for each.
func check(s state, in Input) error {
	d := &s.D
	if in.Kind == InHookReport {
		if in.Status != EventSucceeded && in.Status != EventFailed {
			return fmt.Errorf("%w: %q; report Succeeded or Failed", ErrInvalidHookStatus, in.Status)
		}
		for _, ev := range d.LifecycleEvents {
			if ev.HookExecutionID == in.ExecID && in.ExecID != "" {
				if ev.Status != EventInProgress {
					return fmt.Errorf("%w: %s of %s is %s", ErrHookAlreadyCompleted, ev.Name, d.ID, ev.Status)
				}
				return nil
			}
		}
		return fmt.Errorf("%w: %s in %s", ErrHookExecutionNotFound, in.ExecID, d.ID)
	}
	if slices.Contains(accepts[d.Phase], in.Kind) {
		if in.Kind == InHookDone && d.current() != nil && d.current().HookExecutionID != in.ExecID {
			return fmt.Errorf("%w: hook execution %s is not running", ErrRejected, in.ExecID)
		}
		return nil
	}
	if d.Phase == PhaseEnded {
		return fmt.Errorf("%w: %s", ErrAlreadyCompleted, d.ID)
	}
	if in.Kind == InPromote {
		return fmt.Errorf("%w: %s is in %s; promote skips only the traffic schedule's wait", ErrCannotPromote, d.ID, d.Phase)
	}
	return fmt.Errorf("%w: %s in phase %s", ErrRejected, in.Kind, d.Phase)
}

// step is one call of advance at work.
type step struct {
	s       state
	now     time.Time
	ids     IDs
	effects []Effect
	err     error
}

func (a *step) d() *Deployment { return &a.s.D }

// to moves to phase p, if the transition is legal.
func (a *step) to(p Phase) bool {
	if a.err != nil {
		return false
	}
	if !slices.Contains(transitions[a.d().Phase], p) {
		a.err = fmt.Errorf("deployment %s: illegal transition %s → %s", a.d().ID, a.d().Phase, p)
		return false
	}
	a.d().Phase = p
	return true
}

// commit records the deployment as it is now, moving the alias to route
// (nil: it stays). Commits in a row are merged where they can be: a plain
// record replaces the record of the commit just before it (it holds
// everything that one did, and a disk sync is saved); an alias move
// replaces a plain commit just before it.
func (a *step) commit(route *Route) { a.commitWith(Effect{Kind: EffCommit, Route: route}) }

func (a *step) commitWith(eff Effect) {
	eff.Record = a.d().clone()
	if n := len(a.effects); n > 0 && a.effects[n-1].Kind == EffCommit {
		last := &a.effects[n-1]
		switch {
		case eff.Route == nil && eff.Rollback == nil:
			last.Record = eff.Record
			return
		case last.Route == nil && last.Rollback == nil:
			*last = eff
			return
		}
	}
	a.effects = append(a.effects, eff)
}

func (a *step) notify(event string) {
	a.effects = append(a.effects, Effect{Kind: EffNotify, Record: a.d().clone(), Event: event})
}

func (a *step) at() *time.Time {
	t := a.now
	return &t
}

func (a *step) apply(in Input) {
	d := a.d()
	switch in.Kind {
	case InStart:
		d.Status, d.StartTime = StatusInProgress, a.at()
		ev := d.event(EventStart)
		ev.Status, ev.StartTime, ev.EndTime = EventSucceeded, d.StartTime, d.StartTime
		a.commit(nil)
		a.notify("DeploymentStart")
		if in.WatchErr != nil {
			a.end(ending{status: StatusFailed, rollback: d.rollsBackOn(RollbackOnFailure),
				info: &ErrorInfo{Code: ErrInternalError, Message: in.WatchErr.Error()}})
			return
		}
		if !d.IgnoreAlarms {
			for _, st := range in.Alarms {
				if st.State == "ALARM" {
					a.alarm(st, time.Time{})
					return
				}
			}
		}
		a.enterHook(PhaseBeforeAllowTraffic)
	case InTick:
		a.tick()
	case InHookReport:
		ev := d.current()
		if in.Status == EventFailed {
			a.failHook(ev, ErrHookFailure, fmt.Sprintf("The %s hook %s reported Failed", ev.Name, ev.Hook))
			return
		}
		ev.Status, ev.EndTime = EventSucceeded, a.at()
		a.next()
	case InHookDone:
		ev := d.current()
		if in.Err != nil {
			a.failHook(ev, ErrHookFailure, fmt.Sprintf("The %s hook %s failed before reporting a status: %v", ev.Name, ev.Hook, in.Err))
			return
		}
		// Returned without reporting (yet): keep waiting, as CodeDeploy
		// does, but say so now rather than at the timeout.
		ev.Diagnostics = fmt.Sprintf("the hook returned without reporting a status (PutLifecycleEventHookExecutionStatus); waiting up to %s for a report", a.s.hookTimeout())
		a.commit(nil)
	case InAlarm:
		if !d.IgnoreAlarms {
			a.alarm(in.Alarm, in.AlarmAt)
		}
	case InStop:
		a.end(ending{status: StatusStopped, rollback: in.Rollback,
			info: &ErrorInfo{Code: ErrManualStop, Message: "The deployment was stopped by request"}})
	case InPromote:
		ev := d.event(EventAllowTraffic)
		ev.Diagnostics = fmt.Sprintf("Promoted by request at step %d of %d: the rest of the traffic schedule was skipped", d.StepReached, len(d.Steps))
		a.shift(len(d.Steps) - 1)
		a.afterShift()
	case InFail:
		a.end(ending{status: StatusFailed, rollback: d.rollsBackOn(RollbackOnFailure),
			info: &ErrorInfo{Code: ErrInternalError, Message: in.Reason}})
	case InRecover:
		msg := "the engine stopped during the deployment"
		if cur := d.current(); cur != nil {
			msg += " in " + cur.Name
		}
		a.end(ending{status: StatusFailed, rollback: d.rollsBackOn(RollbackOnFailure), info: &ErrorInfo{Code: ErrInternalError,
			Message: msg + "; it was not resumed because the alarms' metrics and any hook in flight were lost with the engine"}})
	}
}

func (a *step) alarm(st AlarmState, at time.Time) {
	a.end(ending{status: StatusStopped, rollback: a.d().rollsBackOn(RollbackOnAlarm), alarmAt: at,
		info: &ErrorInfo{Code: ErrAlarmActive, Message: fmt.Sprintf("The deployment was stopped because alarm %s went into ALARM: %s", st.Name, st.Reason)}})
}

// enterHook starts a hook phase: its event runs its hook, or succeeds at
// once without one.
func (a *step) enterHook(p Phase) {
	if !a.to(p) {
		return
	}
	d := a.d()
	ev := d.event(p.String())
	ev.Status, ev.StartTime = EventInProgress, a.at()
	if ev.Hook == "" {
		ev.Status, ev.EndTime = EventSucceeded, ev.StartTime
		a.next()
		return
	}
	ev.HookExecutionID = a.ids.HookExecution
	a.commit(nil)
	a.effects = append(a.effects, Effect{Kind: EffInvokeHook, Hook: ev.Hook, ExecID: ev.HookExecutionID})
}

// next leaves the phase whose work is done.
func (a *step) next() {
	switch a.d().Phase {
	case PhaseBeforeAllowTraffic:
		a.enterAllowTraffic()
	case PhaseAfterAllowTraffic:
		a.succeed()
	}
}

func (a *step) enterAllowTraffic() {
	if !a.to(PhaseAllowTraffic) {
		return
	}
	ev := a.d().event(EventAllowTraffic)
	ev.Status, ev.StartTime = EventInProgress, a.at()
	a.commit(nil)
	a.tick()
}

// tick does what is due: a hook's timeout, or the traffic steps whose
// time has come.
func (a *step) tick() {
	d := a.d()
	switch d.Phase {
	case PhaseBeforeAllowTraffic, PhaseAfterAllowTraffic:
		ev := d.current()
		timeout := a.s.hookTimeout()
		if ev.StartTime != nil && !a.now.Before(ev.StartTime.Add(timeout)) {
			a.failHook(ev, ErrTimeout, fmt.Sprintf("The %s hook %s did not report a status within %s (call PutLifecycleEventHookExecutionStatus)", ev.Name, ev.Hook, timeout))
		}
	case PhaseAllowTraffic:
		start := *d.event(EventAllowTraffic).StartTime
		for d.StepReached < len(d.Steps) && !a.now.Before(start.Add(d.Steps[d.StepReached].Offset)) {
			a.shift(d.StepReached)
		}
		a.afterShift()
	}
}

// shift applies traffic step i.
func (a *step) shift(i int) {
	d := a.d()
	w := d.Steps[i].Weight
	route := &Route{Version: d.Target.CurrentVersion, Additional: d.Target.TargetVersion, Weight: w}
	if w >= 1 {
		route = &Route{Version: d.Target.TargetVersion}
	}
	d.StepReached, d.Target.TargetVersionWeight = i+1, w
	a.commit(route)
}

// afterShift leaves AllowTraffic once the last step is applied.
func (a *step) afterShift() {
	d := a.d()
	if d.StepReached < len(d.Steps) {
		return
	}
	ev := d.event(EventAllowTraffic)
	ev.Status, ev.EndTime = EventSucceeded, a.at()
	a.enterHook(PhaseAfterAllowTraffic)
}

func (a *step) succeed() {
	if !a.to(PhaseEnded) {
		return
	}
	d := a.d()
	ev := d.event(EventEnd)
	ev.Status, ev.StartTime, ev.EndTime = EventSucceeded, a.at(), a.at()
	d.Status, d.CompleteTime = StatusSucceeded, a.at()
	a.commit(nil)
	a.notify("DeploymentSuccess")
}

func (a *step) failHook(ev *LifecycleEvent, code ErrorCode, diag string) {
	ev.Status, ev.EndTime, ev.Diagnostics = EventFailed, a.at(), diag
	a.end(ending{status: StatusFailed, rollback: a.d().rollsBackOn(RollbackOnFailure), info: &ErrorInfo{Code: code, Message: diag}})
}

// ending is how a deployment ends short of success.
type ending struct {
	status   Status
	info     *ErrorInfo
	rollback bool      // move traffic back if it moved
	alarmAt  time.Time // when the engine learnt of the alarm that ended it (wall time)
}

// end ends the deployment: the events still open fail or are skipped, and
// traffic that moved goes back when it should, as a rollback deployment
// written in the same transaction as the alias move.
func (a *step) end(e ending) {
	if !a.to(PhaseEnded) {
		return
	}
	d := a.d()
	d.Status, d.ErrorInformation, d.CompleteTime = e.status, e.info, a.at()
	for i := range d.LifecycleEvents {
		ev := &d.LifecycleEvents[i]
		switch ev.Status {
		case EventInProgress:
			ev.Status, ev.EndTime = EventFailed, a.at()
			if e.info != nil && ev.Diagnostics == "" {
				ev.Diagnostics = e.info.Message
			}
		case EventPending:
			ev.Status = EventSkipped
		}
	}
	if !e.rollback || d.StepReached == 0 {
		a.commit(nil)
		a.notify(endEvent[e.status])
		return
	}
	rb := rollbackOf(d, a.ids.Rollback, a.now)
	d.RollbackInfo = &RollbackInfo{RollbackDeploymentID: rb.ID,
		RollbackMessage: fmt.Sprintf("Deployment %s has been rolled back by %s", d.ID, rb.ID)}
	d.Target.TargetVersionWeight = 0
	a.commitWith(Effect{Kind: EffCommit, Rollback: &rb, Route: &Route{Version: d.Target.CurrentVersion}, ReactionFrom: e.alarmAt})
	a.effects = append(a.effects, Effect{Kind: EffNotify, Record: rb.clone(), Event: "DeploymentRollback"})
	a.notify(endEvent[e.status])
}

var endEvent = map[Status]string{StatusSucceeded: "DeploymentSuccess", StatusFailed: "DeploymentFailure", StatusStopped: "DeploymentStop"}

// rollbackOf is the record of the rollback of d: all traffic back on d's
// original version at once, made by codeDeployRollback and linked to d.
func rollbackOf(d *Deployment, id string, now time.Time) Deployment {
	rb := Deployment{ID: id, ApplicationName: d.ApplicationName, DeploymentGroupName: d.DeploymentGroupName,
		DeploymentConfigName: "CodeDeployDefault.LambdaAllAtOnce", Status: StatusSucceeded, Creator: CreatorRollback,
		CreateTime: now, StartTime: &now, CompleteTime: &now, AutoRollback: d.AutoRollback, Phase: PhaseEnded,
		Steps: []schedule.Step{{Offset: 0, Weight: 1}}, StepReached: 1,
		Target: LambdaTarget{FunctionName: d.Target.FunctionName, FunctionAlias: d.Target.FunctionAlias,
			CurrentVersion: d.Target.TargetVersion, TargetVersion: d.Target.CurrentVersion, TargetVersionWeight: 1},
		RollbackInfo: &RollbackInfo{RollbackTriggeringDeploymentID: d.ID,
			RollbackMessage: fmt.Sprintf("Rollback of deployment %s: traffic returned to version %d", d.ID, d.Target.CurrentVersion)},
	}
	for _, name := range lifecycle {
		ev := LifecycleEvent{Name: name, Status: EventSucceeded, StartTime: &now, EndTime: &now}
		if name == EventBeforeAllowTraffic || name == EventAfterAllowTraffic {
			// Hooks test a new version; a rollback restores the one that served before.
			ev = LifecycleEvent{Name: name, Status: EventSkipped}
		}
		rb.LifecycleEvents = append(rb.LifecycleEvents, ev)
	}
	return rb
}

func (s state) hookTimeout() time.Duration {
	if s.HookTimeout > 0 {
		return s.HookTimeout
	}
	return DefaultHookTimeout
}

// WakeAt is when the deployment next needs a tick: its hook's timeout or
// its next traffic step; zero when only an input can move it.
func (s state) WakeAt() time.Time {
	d := &s.D
	switch d.Phase {
	case PhaseBeforeAllowTraffic, PhaseAfterAllowTraffic:
		if ev := d.current(); ev != nil && ev.StartTime != nil {
			return ev.StartTime.Add(s.hookTimeout())
		}
	case PhaseAllowTraffic:
		if ev := d.event(EventAllowTraffic); ev.StartTime != nil && d.StepReached < len(d.Steps) {
			return ev.StartTime.Add(d.Steps[d.StepReached].Offset)
		}
	}
	return time.Time{}
}

func (d *Deployment) rollsBackOn(event string) bool { return slices.Contains(d.AutoRollback, event) }

// clone deep-copies a deployment, so no two holders share its slices.
func (d *Deployment) clone() Deployment {
	c := *d
	c.StartTime, c.CompleteTime = clonePtr(d.StartTime), clonePtr(d.CompleteTime)
	c.ErrorInformation, c.RollbackInfo = clonePtr(d.ErrorInformation), clonePtr(d.RollbackInfo)
	c.AutoRollback, c.Steps = slices.Clone(d.AutoRollback), slices.Clone(d.Steps)
	c.LifecycleEvents = slices.Clone(d.LifecycleEvents)
	for i := range c.LifecycleEvents {
		ev := &c.LifecycleEvents[i]
		ev.StartTime, ev.EndTime = clonePtr(ev.StartTime), clonePtr(ev.EndTime)
	}
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
