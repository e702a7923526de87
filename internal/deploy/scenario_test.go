package deploy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/schedule"
)

// TestScenarios replays testdata/scenarios.txt through advance: inputs at
// times, and the state and effects each must produce. advance is pure, so
// a scenario needs no goroutine, no store and no clock.
func TestScenarios(t *testing.T) {
	f, err := os.Open("testdata/scenarios.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sc *scenario
	count := 0
	scanner := bufio.NewScanner(f)
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cmd, arg, _ := strings.Cut(text, " ")
		if cmd == "scenario" {
			sc = &scenario{name: arg, group: &Group{Application: "App", Name: "grp", Function: "fn", Alias: "Live",
				AutoRollback: DefaultAutoRollback}}
			count++
			continue
		}
		if sc == nil {
			t.Fatalf("scenarios.txt:%d: %q before the first scenario", line, text)
		}
		if err := sc.do(cmd, arg); err != nil {
			t.Errorf("scenarios.txt:%d: scenario %q: %s: %v", line, sc.name, text, err)
			sc.failed = true
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if count == 0 {
		t.Fatal("no scenarios")
	}
}

// scenario is the state of one scenario of testdata/scenarios.txt.
type scenario struct {
	name    string
	group   *Group
	ignore  bool
	now     time.Duration // since epoch
	st      state
	saved   Deployment // the last record committed, what a crash leaves
	inputs  int
	effects []Effect
	err     error
	failed  bool
}

func (sc *scenario) do(cmd, arg string) error {
	if sc.failed && cmd != "group" {
		return nil // one failure per scenario is enough
	}
	args := strings.Fields(arg)
	switch cmd {
	case "group":
		return sc.configure(args)
	case "deploy":
		if len(args) != 2 {
			return errors.New("want: deploy <from> <to>")
		}
		from, err1 := strconv.Atoi(args[0])
		to, err2 := strconv.Atoi(args[1])
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		c := &Controller{clock: clock.NewFake(epoch.Add(sc.now))}
		d := c.newDeployment(sc.group, from, to, CreatorUser, sc.group.Type)
		d.ID, d.IgnoreAlarms = "d-1", sc.ignore
		sc.st, sc.saved = state{D: d, HookTimeout: sc.group.HookTimeout}, d.clone()
		return nil
	case "at":
		d, err := time.ParseDuration(arg)
		if err != nil {
			return err
		}
		sc.now = d
		return nil
	case "crash":
		// What survives is the last committed record, as the store has it.
		b, err := json.Marshal(sc.saved)
		if err != nil {
			return err
		}
		var d Deployment
		if err := json.Unmarshal(b, &d); err != nil {
			return err
		}
		sc.st = state{D: d}
		return nil
	case "effects":
		var got []string
		for _, e := range sc.effects {
			got = append(got, describeEffect(e))
		}
		if g := strings.Join(got, "; "); g != arg && !(arg == "none" && g == "") {
			return fmt.Errorf("effects\n got: %s\nwant: %s", g, arg)
		}
		return nil
	case "rejected":
		if sc.err == nil || !strings.Contains(sc.err.Error(), arg) {
			return fmt.Errorf("last input: err = %v, want one containing %q", sc.err, arg)
		}
		return nil
	case "expect":
		return sc.expect(args)
	}
	in, err := sc.input(cmd, args)
	if err != nil {
		return err
	}
	sc.inputs++
	in.IDs = IDs{HookExecution: fmt.Sprintf("x%d", sc.inputs), Rollback: fmt.Sprintf("d-R%d", sc.inputs)}
	next, effects, err := advance(sc.st, in, epoch.Add(sc.now))
	sc.effects, sc.err = effects, err
	if err != nil {
		if next.D.Phase != sc.st.D.Phase || len(effects) > 0 {
			return errors.New("a rejected input changed the state or had effects")
		}
		return nil
	}
	sc.st = next
	for _, e := range effects {
		if e.Kind == EffCommit {
			sc.saved = e.Record.clone()
		}
	}
	return nil
}

func (sc *scenario) configure(args []string) error {
	if len(args) == 0 {
		return errors.New("want: group <type> [pre=F] [post=F] [rollback=none] [alarms=A,…] [timeout=D] [ignoreAlarms]")
	}
	typ, err := schedule.Parse(args[0])
	if err != nil {
		return err
	}
	sc.group.Type = typ
	for _, a := range args[1:] {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "pre":
			sc.group.PreTrafficHook = v
		case "post":
			sc.group.PostTrafficHook = v
		case "rollback":
			if v == "none" {
				sc.group.AutoRollback = nil
			} else {
				sc.group.AutoRollback = strings.Split(v, ",")
			}
		case "timeout":
			if sc.group.HookTimeout, err = time.ParseDuration(v); err != nil {
				return err
			}
		case "ignoreAlarms":
			sc.ignore = true
		default:
			return fmt.Errorf("unknown group setting %q", a)
		}
	}
	return nil
}

func (sc *scenario) input(cmd string, args []string) (Input, error) {
	switch cmd {
	case "start":
		in := Input{Kind: InStart, Alarms: []AlarmState{{Name: "Errors", State: "OK"}}}
		for _, a := range args {
			switch a {
			case "ALARM":
				in.Alarms = append(in.Alarms, AlarmState{Name: "Latency", State: "ALARM", Reason: "already firing"})
			case "unwatchable":
				in.WatchErr = errors.New("alarm Latency cannot be watched: no such alarm")
			default:
				return in, fmt.Errorf("start takes ALARM or unwatchable, not %q", a)
			}
		}
		return in, nil
	case "tick":
		return Input{Kind: InTick}, nil
	case "report":
		if len(args) != 2 {
			return Input{}, errors.New("want: report <exec> <status>")
		}
		return Input{Kind: InHookReport, ExecID: args[0], Status: EventStatus(args[1])}, nil
	case "hookdone":
		if len(args) == 0 {
			return Input{}, errors.New("want: hookdone <exec> [error]")
		}
		in := Input{Kind: InHookDone, ExecID: args[0]}
		if len(args) > 1 {
			in.Err = errors.New(strings.Join(args[1:], " "))
		}
		return in, nil
	case "alarm":
		return Input{Kind: InAlarm, Alarm: AlarmState{Name: "Errors", State: "ALARM", Reason: "Threshold Crossed"}, AlarmAt: epoch}, nil
	case "stop":
		return Input{Kind: InStop, Rollback: len(args) == 1 && args[0] == "rollback"}, nil
	case "promote":
		return Input{Kind: InPromote}, nil
	case "fail":
		return Input{Kind: InFail, Reason: strings.Join(args, " ")}, nil
	case "recover":
		return Input{Kind: InRecover}, nil
	}
	return Input{}, fmt.Errorf("unknown command %q", cmd)
}

func (sc *scenario) expect(args []string) error {
	d := &sc.st.D
	for _, a := range args {
		k, want, _ := strings.Cut(a, "=")
		var got string
		switch k {
		case "phase":
			got = d.Phase.String()
		case "status":
			got = string(d.Status)
		case "step":
			got = strconv.Itoa(d.StepReached)
		case "weight":
			got = strconv.FormatFloat(d.Target.TargetVersionWeight, 'g', -1, 64)
		case "error":
			got = "none"
			if d.ErrorInformation != nil {
				got = string(d.ErrorInformation.Code)
			}
		case "events":
			for _, ev := range d.LifecycleEvents {
				got += map[EventStatus]string{EventPending: "P", EventInProgress: "I", EventSucceeded: "S", EventFailed: "F", EventSkipped: "-"}[ev.Status]
			}
		case "wake":
			got = "none"
			if w := sc.st.WakeAt(); !w.IsZero() {
				got = w.Sub(epoch).String()
				if d, err := time.ParseDuration(want); err == nil && d == w.Sub(epoch) {
					got = want
				}
			}
		case "rolledBack":
			got = strconv.FormatBool(d.RolledBack())
		case "diagnostics":
			// want is a word that must appear in some event's diagnostics.
			for _, ev := range d.LifecycleEvents {
				if strings.Contains(ev.Diagnostics, want) {
					got = want
				}
			}
		default:
			return fmt.Errorf("unknown expectation %q", k)
		}
		if got != want {
			return fmt.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	return nil
}

// describeEffect writes an effect as scenarios.txt spells it.
func describeEffect(e Effect) string {
	switch e.Kind {
	case EffCommit:
		s := "save"
		if r := e.Route; r != nil {
			s += " alias=" + strconv.Itoa(r.Version)
			if r.Additional != 0 {
				s += "+" + strconv.Itoa(r.Additional) + "@" + strconv.FormatFloat(r.Weight, 'g', -1, 64)
			}
		}
		if e.Rollback != nil {
			s += " rollback=" + e.Rollback.ID + fmt.Sprintf("(v%d→v%d)", e.Rollback.Target.CurrentVersion, e.Rollback.Target.TargetVersion)
		}
		if !e.ReactionFrom.IsZero() {
			s += " reaction"
		}
		return s
	case EffInvokeHook:
		return "invoke " + e.Hook + " " + e.ExecID
	case EffNotify:
		return "notify " + e.Event
	}
	return fmt.Sprintf("effect(%d)", e.Kind)
}
