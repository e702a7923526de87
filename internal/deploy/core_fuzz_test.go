package deploy

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/schedule"
)

// FuzzAdvance feeds advance arbitrary input sequences and checks what must
// hold whatever happens: no panic; a rejected input changes nothing; phases
// only move forward; a deployment is done exactly when it has ended; the
// alias only ever points at the two versions, with a weight in [0, 1]; and
// traffic is rolled back only if it moved.
func FuzzAdvance(f *testing.F) {
	f.Add([]byte{0, 1, 1, 1, 1})
	f.Add([]byte{0, 2, 2, 1, 5, 1})
	f.Add([]byte{0, 6, 8})
	f.Add([]byte{4, 0, 7, 3})
	types := []string{"AllAtOnce", "Canary10Percent5Minutes", "Linear10PercentEvery1Minute"}
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) == 0 {
			return
		}
		typ, _ := schedule.Parse(types[int(script[0])%len(types)])
		g := &Group{Name: "grp", Function: "fn", Alias: "Live", Type: typ, AutoRollback: DefaultAutoRollback, HookTimeout: 10 * time.Minute}
		if script[0]&4 != 0 {
			g.PreTrafficHook = "pre"
		}
		if script[0]&8 != 0 {
			g.PostTrafficHook = "post"
		}
		c := &Controller{clock: clock.NewFake(epoch)}
		d := c.newDeployment(g, 1, 2, CreatorUser, typ)
		d.ID = "d-1"
		s := state{D: d, HookTimeout: g.HookTimeout}
		now := epoch
		for i, b := range script[1:] {
			now = now.Add(time.Duration(b>>4) * time.Minute)
			in := fuzzInput(b&15, s, i)
			next, effects, err := advance(s, in, now)
			if err != nil {
				if len(effects) != 0 || next.D.Phase != s.D.Phase {
					t.Fatalf("input %d (%s) rejected (%v) but changed the state", i, in.Kind, err)
				}
				continue
			}
			if next.D.Phase < s.D.Phase {
				t.Fatalf("input %d (%s): phase went back from %s to %s", i, in.Kind, s.D.Phase, next.D.Phase)
			}
			if next.D.Status.Done() != (next.D.Phase == PhaseEnded) {
				t.Fatalf("input %d (%s): status %s in phase %s", i, in.Kind, next.D.Status, next.D.Phase)
			}
			if next.D.StepReached > len(next.D.Steps) {
				t.Fatalf("step %d of %d", next.D.StepReached, len(next.D.Steps))
			}
			for _, e := range effects {
				if err := checkEffect(e, next.D); err != nil {
					t.Fatalf("input %d (%s): %v", i, in.Kind, err)
				}
			}
			s = next
		}
	})
}

func fuzzInput(k byte, s state, i int) Input {
	exec := ""
	if ev := s.D.current(); ev != nil {
		exec = ev.HookExecutionID
	}
	in := Input{IDs: IDs{HookExecution: fmt.Sprintf("x%d", i), Rollback: fmt.Sprintf("d-R%d", i)}}
	switch k {
	case 0:
		in.Kind = InStart
	case 1, 9:
		in.Kind = InTick
	case 2:
		in.Kind, in.ExecID, in.Status = InHookReport, exec, EventSucceeded
	case 3:
		in.Kind, in.ExecID, in.Status = InHookReport, exec, EventFailed
	case 4:
		in.Kind, in.ExecID = InHookDone, exec
	case 5:
		in.Kind, in.ExecID, in.Err = InHookDone, exec, errors.New("crashed")
	case 6:
		in.Kind, in.Alarm, in.AlarmAt = InAlarm, AlarmState{Name: "A", State: "ALARM"}, epoch
	case 7:
		in.Kind, in.Rollback = InStop, i%2 == 0
	case 8:
		in.Kind = InPromote
	case 10:
		in.Kind = InRecover
	case 11:
		in.Kind, in.Reason = InFail, "disk"
	case 12:
		in.Kind, in.ExecID, in.Status = InHookReport, "nope", EventSucceeded
	default:
		in.Kind, in.Alarms = InStart, []AlarmState{{Name: "A", State: "ALARM"}}
	}
	return in
}

func checkEffect(e Effect, d Deployment) error {
	if e.Kind != EffCommit {
		return nil
	}
	if r := e.Route; r != nil {
		if r.Weight < 0 || r.Weight > 1 {
			return fmt.Errorf("alias weight %v", r.Weight)
		}
		ok := (r.Version == 1 && (r.Additional == 2 || r.Additional == 0)) || (r.Version == 2 && r.Additional == 0)
		if !ok {
			return fmt.Errorf("alias moved to %+v: not the deployment's versions", *r)
		}
	}
	if e.Rollback != nil && e.Record.StepReached == 0 {
		return errors.New("a rollback although no traffic had moved")
	}
	return nil
}
