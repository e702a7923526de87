// Package progress shows deployments as they happen — progress bars on a
// terminal, plain lines in logs, JSON for tools — and turns their ends into
// an exit code. The CLI and the demo both use it.
package progress

import (
	"context"
	"errors"
	"os"

	"encoding/json"
	"fmt"
	"github.com/mattn/go-isatty"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
)

// Exit codes of commands that wait for deployments.
const (
	ExitSucceeded  = 0 // every deployment succeeded
	ExitRolledBack = 2 // one failed or was stopped; its traffic is on the previous version
	ExitStranded   = 3 // one failed or was stopped and traffic was not moved back
)

// Mode is how progress is shown.
type Mode int

const (
	TTY   Mode = iota // progress bars redrawn in place
	Plain             // one line per change, for logs and pipes
	JSON              // one JSON object per change
)

// Tracker follows deployments to their end and shows their progress.
type Tracker struct {
	out  io.Writer
	mode Mode

	mu     sync.Mutex
	order  []string
	latest map[string]deploy.Deployment
	lines  map[string]string // last plain line per deployment
	drawn  int               // lines drawn last time (TTY)
	early  map[string]deploy.Deployment
	// changed is signalled on every change, for waiters.
	changed chan struct{}
}

func NewTracker(out io.Writer, mode Mode) *Tracker {
	return &Tracker{out: out, mode: mode, latest: map[string]deploy.Deployment{}, lines: map[string]string{},
		early: map[string]deploy.Deployment{}, changed: make(chan struct{}, 1)}
}

// Track starts following a deployment (updates seen before are replayed).
func (t *Tracker) Track(d deploy.Deployment) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.latest[d.ID]; ok {
		return
	}
	t.order = append(t.order, d.ID)
	t.latest[d.ID] = d
	if e, ok := t.early[d.ID]; ok && !e.CreateTime.IsZero() {
		t.latest[d.ID] = e
	}
	t.renderLocked(d.ID)
}

// Update records a change; changes of deployments not (yet) tracked are
// kept in case track follows.
func (t *Tracker) Update(d deploy.Deployment) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.latest[d.ID]; !ok {
		t.early[d.ID] = d
		return
	}
	t.latest[d.ID] = d
	t.renderLocked(d.ID)
}

// Done reports whether every tracked deployment has ended.
func (t *Tracker) Done() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range t.order {
		if !t.latest[id].Status.Done() {
			return false
		}
	}
	return true
}

// ExitCode is the result of the tracked deployments.
func (t *Tracker) ExitCode() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	code := ExitSucceeded
	for _, id := range t.order {
		code = max(code, ResultCode(t.latest[id]))
	}
	return code
}

func ResultCode(d deploy.Deployment) int {
	switch {
	case d.Status == deploy.StatusSucceeded:
		return ExitSucceeded
	case d.RolledBack() || d.StepReached == 0:
		return ExitRolledBack
	}
	return ExitStranded
}

func (t *Tracker) renderLocked(id string) {
	select {
	case t.changed <- struct{}{}:
	default:
	}
	d := t.latest[id]
	switch t.mode {
	case JSON:
		b, _ := json.Marshal(progressRecord(d))
		fmt.Fprintln(t.out, string(b))
	case Plain:
		line := Describe(d, false)
		if t.lines[id] != line {
			t.lines[id] = line
			fmt.Fprintln(t.out, line)
		}
	case TTY:
		// Move up over the block drawn last time and draw it again.
		if t.drawn > 0 {
			fmt.Fprintf(t.out, "\x1b[%dA", t.drawn)
		}
		for _, id := range t.order {
			fmt.Fprintf(t.out, "\x1b[2K%s\n", Describe(t.latest[id], true))
		}
		t.drawn = len(t.order)
	}
}

// progressRecord is one line of `--output json` progress.
func progressRecord(d deploy.Deployment) map[string]any {
	rec := map[string]any{
		"deploymentId": d.ID, "function": d.Target.FunctionName, "alias": d.Target.FunctionAlias,
		"status": d.Status, "currentVersion": d.Target.CurrentVersion, "targetVersion": d.Target.TargetVersion,
		"targetVersionWeight": d.Target.TargetVersionWeight, "lifecycleEvent": Phase(d),
	}
	if d.ErrorInformation != nil {
		rec["error"] = d.ErrorInformation
	}
	if d.RollbackInfo != nil {
		rec["rollbackInfo"] = d.RollbackInfo
	}
	if d.RollbackReaction > 0 {
		rec["rollbackReactionMillis"] = float64(d.RollbackReaction.Microseconds()) / 1000
	}
	return rec
}

// Phase is the lifecycle event in progress, or the last one reached.
func Phase(d deploy.Deployment) string {
	last := ""
	for _, e := range d.LifecycleEvents {
		switch e.Status {
		case deploy.EventInProgress:
			return e.Name
		case deploy.EventSucceeded, deploy.EventFailed:
			last = e.Name
		}
	}
	return last
}

// Describe is a deployment's one-line progress.
func Describe(d deploy.Deployment, bar bool) string {
	name := fmt.Sprintf("%-24s", d.Target.FunctionName+":"+d.Target.FunctionAlias)
	w := d.Target.TargetVersionWeight
	cur, tgt := "v"+strconv.Itoa(d.Target.CurrentVersion), "v"+strconv.Itoa(d.Target.TargetVersion)
	switch d.Status {
	case deploy.StatusSucceeded:
		return fmt.Sprintf("%s ✔ %s serves all traffic (%s, %s)", name, tgt, d.ID, d.DeploymentConfigName)
	case deploy.StatusFailed, deploy.StatusStopped:
		reason := ""
		if d.ErrorInformation != nil {
			reason = strings.TrimSuffix(d.ErrorInformation.Message, ".")
		}
		var after string
		switch {
		case d.RolledBack():
			after = fmt.Sprintf("traffic rolled back to %s", cur)
			if d.RollbackReaction > 0 {
				after += fmt.Sprintf(" %s after the alarm", roundDuration(d.RollbackReaction))
			}
		case d.StepReached == 0:
			after = fmt.Sprintf("no traffic had moved: %s still serves all of it", cur)
		default:
			after = fmt.Sprintf("traffic NOT rolled back: %s %.0f%%, %s %.0f%% (`sluice rollback %s`)", cur, (1-w)*100, tgt, w*100, d.Target.FunctionName)
		}
		return fmt.Sprintf("%s ✘ %s (%s): %s; %s", name, d.Status, d.ID, reason, after)
	}
	status := Phase(d)
	if status == "" {
		status = string(d.Status)
	}
	for _, e := range d.LifecycleEvents {
		if e.Status == deploy.EventInProgress && e.Hook != "" {
			status += " (hook " + e.Hook + ")"
		}
	}
	steps := fmt.Sprintf("step %d/%d", d.StepReached, len(d.Steps))
	if !bar {
		return fmt.Sprintf("%s %s → %s: %3.0f%% of traffic, %s, %s (%s)", name, cur, tgt, w*100, steps, status, d.ID)
	}
	const width = 20
	filled := int(w*width + 0.5)
	return fmt.Sprintf("%s [%s%s] %3.0f%% %s → %s  %s  %s", name, strings.Repeat("█", filled), strings.Repeat("░", width-filled), w*100, cur, tgt, steps, status)
}

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// ModeFor picks how progress is shown: json when asked, bars on a
// terminal, plain lines otherwise.
func ModeFor(output string, w io.Writer) (Mode, error) {
	switch output {
	case "json":
		return JSON, nil
	case "", "text":
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			return TTY, nil
		}
		return Plain, nil
	}
	return 0, fmt.Errorf("--output %q: use text or json", output)
}

// ErrStoppedWaiting says the wait ended before the deployments did.
var ErrStoppedWaiting = errors.New("stopped waiting; the deployments go on: follow them with `sluice status`, stop one with `sluice stop <id>`")

// Wait blocks until every tracked deployment has ended and returns their
// exit code. It fails when ctx ends first, or when watchErr (the watch
// feeding Update) reports that the watch stopped.
func (t *Tracker) Wait(ctx context.Context, watchErr <-chan error) (int, error) {
	for !t.Done() {
		select {
		case err := <-watchErr:
			if err == nil {
				err = errors.New("stopped watching before the deployments ended")
			}
			return 0, err
		case <-ctx.Done():
			return 0, ErrStoppedWaiting
		case <-t.changed:
		}
	}
	return t.ExitCode(), nil
}
