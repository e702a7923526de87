package deploy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/schedule"
	"github.com/sluice-dev/sluice/internal/store"
)

// run is one deployment in progress: a goroutine walking the lifecycle.
type run struct {
	e  *Engine
	g  *Group
	id string

	mu sync.Mutex
	d  Deployment

	events   chan runEvent
	done     chan struct{} // closed when the loop stops taking events
	resolved map[string]bool
}

func newRun(e *Engine, g *Group, d Deployment) *run {
	d = d.clone() // the run owns its record; the caller keeps (and may publish) its own copy
	return &run{e: e, g: g, id: d.ID, d: d, events: make(chan runEvent, 16), done: make(chan struct{}), resolved: map[string]bool{}}
}

type evKind int

const (
	evHookReport evKind = iota // PutLifecycleEventHookExecutionStatus
	evHookDone                 // the hook function's invocation ended
	evAlarm                    // an alarm of the group entered ALARM
	evStop                     // StopDeployment
	evShutdown                 // the engine is closing; leave the deployment for Recover
)

type runEvent struct {
	kind     evKind
	execID   string
	status   EventStatus
	err      error
	alarm    AlarmState
	at       time.Time // wall time the engine learnt of an alarm, for the reaction figure
	rollback bool
	ack      chan error
}

// ending is how a deployment ends short of success.
type ending struct {
	status   Status
	info     *ErrorInfo
	rollback bool // move traffic back if it moved
	alarmAt  time.Time
	ack      chan error // a stop request waiting for the result
	shutdown bool
}

// send hands an event to the loop, unless the loop has ended.
func (r *run) send(ev runEvent) {
	select {
	case r.events <- ev:
	case <-r.done:
	}
}

// request sends an event that wants an answer and waits for it. If the
// loop ends without answering (the deployment finished first), ended gives
// the answer.
func (r *run) request(ev runEvent, ended func() error) error {
	ev.ack = make(chan error, 1)
	r.send(ev)
	select {
	case err := <-ev.ack:
		return err
	case <-r.done:
		select {
		case err := <-ev.ack: // answered just before the end
			return err
		default:
			return ended()
		}
	}
}

func (r *run) snapshot() Deployment {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.d.clone()
}

// clone deep-copies a deployment, so callers never share its slices.
func (d *Deployment) clone() Deployment {
	b, _ := json.Marshal(d)
	var c Deployment
	json.Unmarshal(b, &c)
	return c
}

// update changes the deployment, records it and tells subscribers.
func (r *run) update(fn func(d *Deployment)) {
	r.mu.Lock()
	fn(&r.d)
	err := r.e.save(&r.d)
	d := r.d.clone()
	r.mu.Unlock()
	if err != nil {
		r.e.log.Error("record deployment", "deployment", r.id, "err", err)
	}
	r.e.publish(d)
}

func (r *run) now() *time.Time {
	t := r.e.clock.Now()
	return &t
}

func (r *run) loop() {
	var cancels []func()
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
	}()
	// Runs before the cancels above: a watcher blocked handing over an
	// event is released before its watch is cancelled.
	defer close(r.done)
	r.update(func(d *Deployment) {
		d.Status, d.StartTime = StatusInProgress, r.now()
		ev := d.event(EventStart)
		ev.Status, ev.StartTime, ev.EndTime = EventSucceeded, d.StartTime, d.StartTime
	})
	r.e.notify.send(r.g, r.snapshot(), "DeploymentStart")

	alarms := r.g.Alarms
	if r.snapshot().IgnoreAlarms {
		alarms = nil
	}
	for _, name := range alarms {
		cancel, err := r.e.alarms.Watch(name, func(st AlarmState) {
			if st.State == "ALARM" {
				// time.Now, not the clock: this measures the engine's own reaction.
				r.send(runEvent{kind: evAlarm, alarm: st, at: time.Now()})
			}
		})
		if err != nil {
			r.finish(ending{status: StatusFailed, info: &ErrorInfo{Code: ErrInternalError,
				Message: fmt.Sprintf("alarm %s cannot be watched: %v", name, err)}, rollback: r.g.rollsBackOn(RollbackOnFailure)})
			return
		}
		cancels = append(cancels, cancel)
	}

	for _, step := range []func() *ending{
		func() *ending { return r.hook(EventBeforeAllowTraffic) },
		r.allowTraffic,
		func() *ending { return r.hook(EventAfterAllowTraffic) },
	} {
		if end := step(); end != nil {
			if end.shutdown {
				r.e.release(r)
				return
			}
			r.finish(*end)
			return
		}
	}
	r.update(func(d *Deployment) {
		ev := d.event(EventEnd)
		ev.Status, ev.StartTime, ev.EndTime = EventSucceeded, r.now(), r.now()
	})
	r.finish(ending{status: StatusSucceeded})
}

// next waits for the timer (nil: no timer) or an event. Alarm, stop and
// shutdown events end the deployment whatever it is doing, so they come back
// as an ending; hook events are returned to the caller.
func (r *run) next(t clock.Timer) (ev runEvent, fired bool, end *ending) {
	var tc <-chan time.Time
	if t != nil {
		tc = t.C()
	}
	select {
	case <-tc:
		return runEvent{}, true, nil
	case ev := <-r.events:
		return ev, false, r.ending(ev)
	}
}

// poll takes the events already waiting, without blocking: an alarm that
// was in ALARM when the deployment started must stop it before any traffic
// moves, even when no step waits for the clock.
func (r *run) poll() *ending {
	for {
		select {
		case ev := <-r.events:
			if end := r.ending(ev); end != nil {
				return end
			}
			r.reject(ev)
		default:
			return nil
		}
	}
}

// ending is the end an event brings, or nil for hook events.
func (r *run) ending(ev runEvent) *ending {
	switch ev.kind {
	case evAlarm:
		return &ending{status: StatusStopped, rollback: r.g.rollsBackOn(RollbackOnAlarm), alarmAt: ev.at,
			info: &ErrorInfo{Code: ErrAlarmActive, Message: fmt.Sprintf("The deployment was stopped because alarm %s went into ALARM: %s", ev.alarm.Name, ev.alarm.Reason)}}
	case evStop:
		return &ending{status: StatusStopped, rollback: ev.rollback, ack: ev.ack,
			info: &ErrorInfo{Code: ErrManualStop, Message: "The deployment was stopped by request"}}
	case evShutdown:
		return &ending{shutdown: true}
	}
	return nil
}

// reject answers hook events nobody is waiting for.
func (r *run) reject(ev runEvent) {
	if ev.kind == evHookReport && ev.ack != nil {
		ev.ack <- fmt.Errorf("%w: %s", ErrHookAlreadyCompleted, ev.execID)
	}
}

// hook runs a lifecycle event's hook: invoke it once, asynchronously, and
// wait for its report, a failed invocation, or the timeout.
func (r *run) hook(name string) *ending {
	if end := r.poll(); end != nil {
		return end
	}
	snap := r.snapshot()
	hook, execID := snap.event(name).Hook, ""
	if hook != "" {
		// Registered before the record shows it, so a report can never
		// arrive for an execution the engine does not know. (e.mu is never
		// taken while holding r.mu: activeRun takes them the other way.)
		execID = newHookExecutionID()
		r.e.mu.Lock()
		r.e.hookExecs[execID] = r
		r.e.mu.Unlock()
	}
	r.update(func(d *Deployment) {
		ev := d.event(name)
		ev.Status, ev.StartTime, ev.HookExecutionID = EventInProgress, r.now(), execID
		if hook == "" {
			ev.Status, ev.EndTime = EventSucceeded, ev.StartTime
		}
	})
	if hook == "" {
		return nil
	}
	defer func() {
		r.e.mu.Lock()
		delete(r.e.hookExecs, execID)
		r.e.mu.Unlock()
		r.resolved[execID] = true
	}()

	payload, _ := json.Marshal(map[string]string{"DeploymentId": r.id, "LifecycleEventHookExecutionId": execID})
	r.e.hooks.InvokeHook(hook, payload, func(err error) {
		r.send(runEvent{kind: evHookDone, execID: execID, err: err})
	})
	timeout := r.g.HookTimeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	timer := r.e.clock.NewTimer(timeout)
	defer timer.Stop()
	fail := func(code ErrorCode, diag string) *ending {
		r.update(func(d *Deployment) {
			ev := d.event(name)
			ev.Status, ev.EndTime, ev.Diagnostics = EventFailed, r.now(), diag
		})
		return &ending{status: StatusFailed, rollback: r.g.rollsBackOn(RollbackOnFailure), info: &ErrorInfo{Code: code, Message: diag}}
	}
	for {
		ev, fired, end := r.next(timer)
		switch {
		case fired:
			return fail(ErrTimeout, fmt.Sprintf("The %s hook %s did not report a status within %s (call PutLifecycleEventHookExecutionStatus)", name, hook, timeout))
		case end != nil:
			return end
		case ev.execID != execID:
			r.reject(ev)
		case ev.kind == evHookDone:
			if ev.err != nil {
				return fail(ErrHookFailure, fmt.Sprintf("The %s hook %s failed before reporting a status: %v", name, hook, ev.err))
			}
			// Returned without reporting (yet): keep waiting, as CodeDeploy
			// does, but say so now rather than at the timeout.
			r.update(func(d *Deployment) {
				d.event(name).Diagnostics = fmt.Sprintf("the hook returned without reporting a status (PutLifecycleEventHookExecutionStatus); waiting up to %s for a report", timeout)
			})
		case ev.kind == evHookReport:
			// Unregister before answering: a repeated report must find the
			// execution completed (LifecycleEventAlreadyCompletedException).
			r.e.mu.Lock()
			delete(r.e.hookExecs, execID)
			r.e.mu.Unlock()
			ev.ack <- nil
			if ev.status == EventFailed {
				return fail(ErrHookFailure, fmt.Sprintf("The %s hook %s reported Failed", name, hook))
			}
			r.update(func(d *Deployment) {
				e := d.event(name)
				e.Status, e.EndTime = EventSucceeded, r.now()
			})
			return nil
		}
	}
}

// allowTraffic walks the traffic schedule, moving the alias at each step.
func (r *run) allowTraffic() *ending {
	var start time.Time
	var steps []schedule.Step
	var current, target int
	r.update(func(d *Deployment) {
		ev := d.event(EventAllowTraffic)
		ev.Status, ev.StartTime = EventInProgress, r.now()
		start, steps = *ev.StartTime, d.Steps
		current, _ = strconv.Atoi(d.Target.CurrentVersion)
		target, _ = strconv.Atoi(d.Target.TargetVersion)
	})
	for i, step := range steps {
		if wait := start.Add(step.Offset).Sub(r.e.clock.Now()); wait > 0 {
			timer := r.e.clock.NewTimer(wait)
			for fired := false; !fired; {
				ev, f, end := r.next(timer)
				if end != nil {
					timer.Stop()
					return end
				}
				fired = f
				if !fired {
					r.reject(ev)
				}
			}
		}
		if end := r.poll(); end != nil {
			return end
		}
		version, additional, weight := current, target, step.Weight
		if weight >= 1 {
			version, additional, weight = target, 0, 0
		}
		r.mu.Lock()
		r.d.StepReached, r.d.Target.TargetVersionWeight = i+1, step.Weight
		_, err := r.e.reg.SetAlias(r.g.Function, r.g.Alias, version, additional, weight, func(tx *store.Tx) error { return saveTx(tx, &r.d) })
		d := r.d.clone()
		r.mu.Unlock()
		if err != nil {
			return &ending{status: StatusFailed, rollback: r.g.rollsBackOn(RollbackOnFailure),
				info: &ErrorInfo{Code: ErrInternalError, Message: fmt.Sprintf("shift traffic to %.0f%%: %v", step.Weight*100, err)}}
		}
		r.e.publish(d)
	}
	r.update(func(d *Deployment) {
		ev := d.event(EventAllowTraffic)
		ev.Status, ev.EndTime = EventSucceeded, r.now()
	})
	return nil
}

// finish ends the deployment: records its end, moves traffic back when it
// should (as a rollback deployment, written in the same transaction as the
// alias move), sends triggers and frees the group.
func (r *run) finish(end ending) {
	now := r.e.clock.Now()
	r.mu.Lock()
	d := &r.d
	d.Status, d.ErrorInformation, d.CompleteTime = end.status, end.info, &now
	for i := range d.LifecycleEvents {
		ev := &d.LifecycleEvents[i]
		switch ev.Status {
		case EventInProgress:
			ev.Status, ev.EndTime = EventFailed, &now
			if end.info != nil && ev.Diagnostics == "" {
				ev.Diagnostics = end.info.Message
			}
		case EventPending:
			ev.Status = EventSkipped
		}
	}
	var rb *Deployment
	var rbErr error
	if end.status != StatusSucceeded && end.rollback && d.StepReached > 0 {
		rb, rbErr = r.rollBack(d, now, end.alarmAt)
	}
	if err := r.e.save(d); err != nil {
		r.e.log.Error("record deployment", "deployment", r.id, "err", err)
	}
	final := d.clone()
	r.mu.Unlock()

	if rbErr != nil {
		r.e.log.Error("roll back", "deployment", r.id, "err", rbErr)
	}
	r.e.release(r)
	r.e.log.Info("deployment ended", "deployment", r.id, "function", r.g.Function, "status", final.Status,
		"rolledBack", final.RolledBack(), "reason", errorMessage(final.ErrorInformation))
	r.e.publish(final)
	if rb != nil {
		r.e.publish(rb.clone())
		r.e.notify.send(r.g, *rb, "DeploymentRollback")
	}
	switch final.Status {
	case StatusSucceeded:
		r.e.notify.send(r.g, final, "DeploymentSuccess")
	case StatusFailed:
		r.e.notify.send(r.g, final, "DeploymentFailure")
	case StatusStopped:
		r.e.notify.send(r.g, final, "DeploymentStop")
	}
	if end.ack != nil {
		end.ack <- nil
	}
}

// rollBack moves all traffic back to d's original version, recording the
// rollback as its own deployment (creator codeDeployRollback) linked to d.
// Called with r.mu held.
// The reaction to an alarm (alarmAt set) is written in the same transaction.
func (r *run) rollBack(d *Deployment, now, alarmAt time.Time) (*Deployment, error) {
	current, _ := strconv.Atoi(d.Target.CurrentVersion)
	target, _ := strconv.Atoi(d.Target.TargetVersion)
	rb := r.e.newDeployment(r.g, target, current, CreatorRollback, []schedule.Step{{Offset: 0, Weight: 1}})
	rb.ApplicationName, rb.DeploymentGroupName, rb.DeploymentConfigName = d.ApplicationName, d.DeploymentGroupName, "CodeDeployDefault.LambdaAllAtOnce"
	rb.Status, rb.StartTime, rb.CompleteTime, rb.StepReached = StatusSucceeded, &now, &now, 1
	rb.Target.TargetVersionWeight = 1
	for i := range rb.LifecycleEvents {
		ev := &rb.LifecycleEvents[i]
		ev.Hook = "" // hooks test a new version; a rollback restores the one that served before
		ev.Status, ev.StartTime, ev.EndTime = EventSucceeded, &now, &now
		if ev.Name == EventBeforeAllowTraffic || ev.Name == EventAfterAllowTraffic {
			ev.Status, ev.StartTime, ev.EndTime = EventSkipped, nil, nil
		}
	}
	rb.RollbackInfo = &RollbackInfo{RollbackTriggeringDeploymentID: d.ID,
		RollbackMessage: fmt.Sprintf("Rollback of deployment %s: traffic returned to version %d", d.ID, current)}
	d.RollbackInfo = &RollbackInfo{RollbackDeploymentID: rb.ID,
		RollbackMessage: fmt.Sprintf("Deployment %s has been rolled back by %s", d.ID, rb.ID)}
	d.Target.TargetVersionWeight = 0
	_, err := r.e.reg.SetAlias(d.Target.FunctionName, d.Target.FunctionAlias, current, 0, 0, func(tx *store.Tx) error {
		if !alarmAt.IsZero() {
			// time.Now, not the clock: this measures the engine's own reaction.
			d.RollbackReaction = time.Since(alarmAt)
		}
		if err := saveTx(tx, d); err != nil {
			return err
		}
		return saveTx(tx, &rb)
	})
	if err != nil {
		d.RollbackInfo, d.RollbackReaction = nil, 0
		return nil, err
	}
	return &rb, nil
}

func errorMessage(info *ErrorInfo) string {
	if info == nil {
		return ""
	}
	return string(info.Code) + ": " + info.Message
}
