package progress

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/deploy"
)

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

// Describe is a deployment's one-line progress, with the full reason of
// a failure.
func Describe(d deploy.Deployment, bar bool) string { return describe(d, bar, true) }

// describe leaves the reason out for trackers, which print it once at the end.
func describe(d deploy.Deployment, bar, reason bool) string {
	name := fmt.Sprintf("%-24s", d.Target.FunctionName+":"+d.Target.FunctionAlias)
	w := d.Target.TargetVersionWeight
	cur, tgt := fmt.Sprintf("v%d", d.Target.CurrentVersion), fmt.Sprintf("v%d", d.Target.TargetVersion)
	switch d.Status {
	case deploy.StatusSucceeded:
		return fmt.Sprintf("%s ✔ %s serves all traffic (%s, %s)", name, tgt, d.ID, d.DeploymentConfigName)
	case deploy.StatusFailed, deploy.StatusStopped:
		why := ""
		if reason && d.ErrorInformation != nil {
			why = ": " + strings.TrimSuffix(d.ErrorInformation.Message, ".")
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
		return fmt.Sprintf("%s ✘ %s (%s)%s; %s", name, d.Status, d.ID, why, after)
	}
	status := Phase(d)
	if status == "" {
		status = string(d.Status)
	}
	for _, e := range d.LifecycleEvents {
		if e.Status == deploy.EventInProgress && e.Hook != "" {
			status += " (hook " + e.Hook + ")"
			if e.Diagnostics != "" {
				status += ": " + e.Diagnostics
			}
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

// Cut shortens line to at most width characters, ending a cut one in "…".
// Every character sluice prints takes one column.
func Cut(line string, width int) string {
	if width < 1 {
		width = 1
	}
	if utf8.RuneCountInString(line) <= width {
		return line
	}
	r := []rune(line)
	return string(r[:width-1]) + "…"
}

const (
	green  = "\x1b[32m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	reset  = "\x1b[0m"
)

// paint colours a progress line of d: its ✔ green, its ✘ red, the part
// after the name yellow while traffic shifts. Colour goes on after Cut,
// so escape sequences never count towards the width.
func paint(line string, d deploy.Deployment, color bool) string {
	if !color {
		return line
	}
	switch {
	case strings.Contains(line, "✔"):
		return strings.Replace(line, "✔", green+"✔"+reset, 1)
	case strings.Contains(line, "✘"):
		return strings.Replace(line, "✘", red+"✘"+reset, 1)
	case !d.Status.Done():
		name := fmt.Sprintf("%-24s", d.Target.FunctionName+":"+d.Target.FunctionAlias)
		if rest, ok := strings.CutPrefix(line, name); ok {
			return name + yellow + rest + reset
		}
	}
	return line
}

func paintMark(mark string, color bool) string {
	if !color {
		return mark
	}
	if mark == "✔" {
		return green + mark + reset
	}
	return red + mark + reset
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
