package deploy

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/store"
)

// run is one deployment in progress: a goroutine that feeds advance its
// inputs (timer ticks, hook reports, alarm changes, requests) and carries
// out the effects it decides. Only the goroutine touches st; readers load
// snap, an immutable snapshot of the last committed record.
type run struct {
	c  *Controller
	g  *Group
	id string

	st   state
	snap atomic.Pointer[Deployment]

	inbox chan request
	done  chan struct{} // closed when the goroutine stops taking inputs
}

// request is an input, with where to send advance's verdict on it.
type request struct {
	in    Input
	reply chan error // nil: nobody waits
}

func newRun(c *Controller, g *Group, d Deployment) *run {
	r := &run{c: c, g: g, id: d.ID, st: state{D: d.clone(), HookTimeout: g.HookTimeout},
		inbox: make(chan request, 16), done: make(chan struct{})}
	snap := d.clone()
	r.snap.Store(&snap)
	return r
}

// snapshot is the deployment as last committed; callers may keep it.
func (r *run) snapshot() Deployment { return r.snap.Load().clone() }

// send hands an input to the goroutine, unless it has stopped.
func (r *run) send(in Input) {
	select {
	case r.inbox <- request{in: in}:
	case <-r.done:
	}
}

// request sends an input and waits for advance's verdict. If the goroutine
// stops first (the deployment ended), ended gives the answer.
func (r *run) request(in Input, ended func() error) error {
	req := request{in: in, reply: make(chan error, 1)}
	select {
	case r.inbox <- req:
	case <-r.done:
		return ended()
	}
	select {
	case err := <-req.reply:
		return err
	case <-r.done:
		select {
		case err := <-req.reply: // answered just before the end
			return err
		default:
			return ended()
		}
	}
}

// due is a channel that is always ready: a tick that is due now.
var due = func() chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// loop runs the deployment to its end, or until the controller closes
// (which leaves it for Recover, as a crash would).
func (r *run) loop() {
	defer r.c.wg.Done()
	var cancels []func()
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
	}()
	// Runs before the cancels above: a watcher blocked handing over an
	// input is released before its watch is cancelled.
	defer close(r.done)

	start := Input{Kind: InStart}
	if !r.st.D.IgnoreAlarms {
		// States heard while the watches are being set up (Watch reports
		// the current state at once) are the alarms at the start; later
		// ones are inputs of their own.
		var mu sync.Mutex
		started := false
		for _, name := range r.g.Alarms {
			cancel, err := r.c.alarms.Watch(name, func(st AlarmState) {
				mu.Lock()
				if !started {
					start.Alarms = append(start.Alarms, st)
					mu.Unlock()
					return
				}
				mu.Unlock()
				if st.State == "ALARM" {
					// time.Now, not the clock: this measures the engine's own reaction.
					r.send(Input{Kind: InAlarm, Alarm: st, AlarmAt: time.Now()})
				}
			})
			if err != nil {
				start.WatchErr = fmt.Errorf("alarm %s cannot be watched: %w", name, err)
				break
			}
			cancels = append(cancels, cancel)
		}
		mu.Lock()
		started = true
		mu.Unlock()
	}
	r.feed(request{in: start})

	var timer clock.Timer
	var wake time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for r.st.D.Phase != PhaseEnded {
		if at := r.st.WakeAt(); !at.Equal(wake) {
			if timer != nil {
				timer.Stop()
				timer = nil
			}
			if wake = at; !at.IsZero() {
				timer = r.c.clock.NewTimer(max(at.Sub(r.c.clock.Now()), 0))
			}
		}
		var tick <-chan time.Time
		if timer != nil {
			tick = timer.C()
		}
		if !wake.IsZero() && !r.c.clock.Now().Before(wake) {
			// Already due: the clock may have moved between reading it and
			// arming the timer, which then waits too long.
			tick = due
		}
		select {
		case req := <-r.inbox:
			r.feed(req)
		case <-tick:
			if timer != nil {
				timer.Stop()
			}
			timer, wake = nil, time.Time{}
			// Inputs already waiting (an alarm) come before the tick: an
			// alarm must stop the deployment before the next step moves traffic.
			for pending := true; pending && r.st.D.Phase != PhaseEnded; {
				select {
				case req := <-r.inbox:
					r.feed(req)
				default:
					pending = false
				}
			}
			if r.st.D.Phase != PhaseEnded {
				r.feed(request{in: Input{Kind: InTick}})
			}
		case <-r.c.closing:
			r.c.release(r)
			return
		}
	}
}

// feed gives advance one input and carries out its effects.
func (r *run) feed(req request) {
	req.in.IDs = IDs{HookExecution: newHookExecutionID(), Rollback: newDeploymentID()}
	next, effects, err := advance(r.st, req.in, r.c.clock.Now())
	if err == nil {
		r.st = next
		r.carryOut(effects)
	}
	if req.reply != nil {
		req.reply <- err
	}
}

// carryOut does what advance decided, in order.
func (r *run) carryOut(effects []Effect) {
	for _, eff := range effects {
		switch eff.Kind {
		case EffCommit:
			if err := r.c.commit(&eff); err != nil {
				r.c.log.Error("record deployment", "deployment", r.id, "err", err)
				if eff.Route != nil && r.st.D.Phase != PhaseEnded {
					// The alias did not move: end the deployment rather than
					// go on with the record and the alias disagreeing.
					r.feed(request{in: Input{Kind: InFail, Reason: fmt.Sprintf("move alias %s: %v", r.g.Alias, err)}})
					return
				}
				continue
			}
			if !eff.ReactionFrom.IsZero() {
				r.st.D.RollbackReaction = eff.Record.RollbackReaction
			}
			snap := eff.Record.clone()
			r.snap.Store(&snap)
			if snap.Status.Done() {
				// Free the group before anyone hears of the end, so a
				// listener may start the next deployment at once.
				r.c.release(r)
				r.c.log.Info("deployment ended", "deployment", r.id, "function", r.g.Function, "status", snap.Status,
					"rolledBack", snap.RolledBack(), "reason", errorMessage(snap.ErrorInformation))
			}
			r.c.publish(snap)
			if eff.Rollback != nil {
				r.c.publish(eff.Rollback.clone())
			}
		case EffInvokeHook:
			payload, _ := json.Marshal(map[string]string{"DeploymentId": r.id, "LifecycleEventHookExecutionId": eff.ExecID})
			exec := eff.ExecID
			r.c.hooks.InvokeHook(eff.Hook, payload, func(err error) {
				r.send(Input{Kind: InHookDone, ExecID: exec, Err: err})
			})
		case EffNotify:
			r.c.notify.send(r.g, eff.Record, eff.Event)
		}
	}
}

// commit writes an effect's records, moving the alias in the same
// transaction when it has a route. The rollback reaction, when asked for,
// is measured inside the transaction and written with it.
func (c *Controller) commit(eff *Effect) error {
	write := func(tx *store.Tx) error {
		if !eff.ReactionFrom.IsZero() {
			// time.Now, not the clock: this measures the engine's own reaction.
			eff.Record.RollbackReaction = time.Since(eff.ReactionFrom)
		}
		if err := saveTx(tx, &eff.Record); err != nil {
			return err
		}
		if eff.Rollback != nil {
			return saveTx(tx, eff.Rollback)
		}
		return nil
	}
	if eff.Route == nil {
		return c.db.Update(write)
	}
	d := &eff.Record
	_, err := c.reg.SetAlias(d.Target.FunctionName, d.Target.FunctionAlias, eff.Route.Version, eff.Route.Additional, eff.Route.Weight, write)
	return err
}

func errorMessage(info *ErrorInfo) string {
	if info == nil {
		return ""
	}
	return string(info.Code) + ": " + info.Message
}
