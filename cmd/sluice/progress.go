package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
)

// Exit codes of commands that wait for deployments.
const (
	exitSucceeded  = 0 // every deployment succeeded
	exitRolledBack = 2 // one failed or was stopped; its traffic is on the previous version
	exitStranded   = 3 // one failed or was stopped and traffic was not moved back
)

// outputMode is how progress is shown.
type outputMode int

const (
	outputTTY   outputMode = iota // progress bars redrawn in place
	outputPlain                   // one line per change, for logs and pipes
	outputJSON                    // one JSON object per change
)

// tracker follows deployments to their end and shows their progress.
type tracker struct {
	out  io.Writer
	mode outputMode

	mu     sync.Mutex
	order  []string
	latest map[string]deploy.Deployment
	lines  map[string]string // last plain line per deployment
	drawn  int               // lines drawn last time (TTY)
	early  map[string]deploy.Deployment
	// changed is signalled on every change, for waiters.
	changed chan struct{}
}

func newTracker(out io.Writer, mode outputMode) *tracker {
	return &tracker{out: out, mode: mode, latest: map[string]deploy.Deployment{}, lines: map[string]string{},
		early: map[string]deploy.Deployment{}, changed: make(chan struct{}, 1)}
}

// track starts following a deployment (updates seen before are replayed).
func (t *tracker) track(d deploy.Deployment) {
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

// update records a change; changes of deployments not (yet) tracked are
// kept in case track follows.
func (t *tracker) update(d deploy.Deployment) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.latest[d.ID]; !ok {
		t.early[d.ID] = d
		return
	}
	t.latest[d.ID] = d
	t.renderLocked(d.ID)
}

// done reports whether every tracked deployment has ended.
func (t *tracker) done() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range t.order {
		if !t.latest[id].Status.Done() {
			return false
		}
	}
	return true
}

// exitCode is the result of the tracked deployments.
func (t *tracker) exitCode() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	code := exitSucceeded
	for _, id := range t.order {
		code = max(code, resultCode(t.latest[id]))
	}
	return code
}

func resultCode(d deploy.Deployment) int {
	switch {
	case d.Status == deploy.StatusSucceeded:
		return exitSucceeded
	case d.RolledBack() || d.StepReached == 0:
		return exitRolledBack
	}
	return exitStranded
}

func (t *tracker) renderLocked(id string) {
	select {
	case t.changed <- struct{}{}:
	default:
	}
	d := t.latest[id]
	switch t.mode {
	case outputJSON:
		b, _ := json.Marshal(progressRecord(d))
		fmt.Fprintln(t.out, string(b))
	case outputPlain:
		line := describe(d, false)
		if t.lines[id] != line {
			t.lines[id] = line
			fmt.Fprintln(t.out, line)
		}
	case outputTTY:
		// Move up over the block drawn last time and draw it again.
		if t.drawn > 0 {
			fmt.Fprintf(t.out, "\x1b[%dA", t.drawn)
		}
		for _, id := range t.order {
			fmt.Fprintf(t.out, "\x1b[2K%s\n", describe(t.latest[id], true))
		}
		t.drawn = len(t.order)
	}
}

// progressRecord is one line of `--output json` progress.
func progressRecord(d deploy.Deployment) map[string]any {
	rec := map[string]any{
		"deploymentId": d.ID, "function": d.Target.FunctionName, "alias": d.Target.FunctionAlias,
		"status": d.Status, "currentVersion": d.Target.CurrentVersion, "targetVersion": d.Target.TargetVersion,
		"targetVersionWeight": d.Target.TargetVersionWeight, "lifecycleEvent": phase(d),
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

// phase is the lifecycle event in progress, or the last one reached.
func phase(d deploy.Deployment) string {
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

// describe is a deployment's one-line progress.
func describe(d deploy.Deployment, bar bool) string {
	name := fmt.Sprintf("%-24s", d.Target.FunctionName+":"+d.Target.FunctionAlias)
	w := d.Target.TargetVersionWeight
	cur, tgt := "v"+d.Target.CurrentVersion, "v"+d.Target.TargetVersion
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
	status := phase(d)
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

// sortedDeployments orders deployments oldest first.
func sortedDeployments(ds []deploy.Deployment) []deploy.Deployment {
	out := append([]deploy.Deployment(nil), ds...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreateTime.Before(out[j].CreateTime) })
	return out
}
