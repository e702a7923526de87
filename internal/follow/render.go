package follow

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/progress"
	"github.com/sluice-dev/sluice/internal/schedule"
)

// Progress shows a follow with the renderer of `sluice deploy --wait`:
// each deployment's line or bar, with alarm and stack changes as notes.
type Progress struct {
	Tracker *progress.Tracker
}

func (p Progress) Found(d Deployment) {
	p.Tracker.Track(AsDeployment(d))
	if d.ConsoleURL != "" {
		p.Tracker.Note(fmt.Sprintf("%s: %s", d.ID, d.ConsoleURL))
	}
}

func (p Progress) Changed(d Deployment) { p.Tracker.Update(AsDeployment(d)) }

func (p Progress) Alarm(d Deployment, a AlarmState) {
	line := fmt.Sprintf("%s: alarm %s is %s", d.ID, a.Name, a.State)
	if a.State == "ALARM" && a.Reason != "" {
		line += ": " + a.Reason
	}
	p.Tracker.Note(line)
}

func (p Progress) Stack(s StackState) {
	line := fmt.Sprintf("stack %s: %s", s.Name, s.Status)
	if s.Reason != "" {
		line += " (" + s.Reason + ")"
	}
	p.Tracker.Note(line)
}

// AsDeployment is what the follower saw in the local engine's own terms,
// which the progress renderer draws. The traffic steps come from the
// deployment config's name; a custom config's are unknown.
func AsDeployment(d Deployment) deploy.Deployment {
	// CodeDeploy's API carries versions as strings; the engine's as numbers.
	current, _ := strconv.Atoi(d.CurrentVersion)
	target, _ := strconv.Atoi(d.TargetVersion)
	out := deploy.Deployment{
		ID: d.ID, ApplicationName: d.Application, DeploymentGroupName: d.Group, DeploymentConfigName: d.Config,
		Status: deploy.Status(d.Status), Creator: d.Creator, CreateTime: d.CreateTime,
		Target: deploy.LambdaTarget{FunctionName: d.Function, FunctionAlias: d.Alias, CurrentVersion: current,
			TargetVersion: target, TargetVersionWeight: d.TargetWeight},
	}
	if !d.CompleteTime.IsZero() {
		t := d.CompleteTime
		out.CompleteTime = &t
	}
	if d.ErrorCode != "" || d.ErrorMessage != "" {
		out.ErrorInformation = &deploy.ErrorInfo{Code: deploy.ErrorCode(d.ErrorCode), Message: d.ErrorMessage}
	}
	if d.RollbackDeploymentID != "" {
		out.RollbackInfo = &deploy.RollbackInfo{RollbackDeploymentID: d.RollbackDeploymentID}
	}
	for _, e := range d.Events {
		out.LifecycleEvents = append(out.LifecycleEvents, deploy.LifecycleEvent{Name: e.Name, Status: deploy.EventStatus(e.Status), Diagnostics: e.Diagnostics})
	}
	if t, err := schedule.Parse(strings.TrimPrefix(d.Config, "CodeDeployDefault.Lambda")); err == nil {
		out.Steps = t.Steps()
	}
	for _, s := range out.Steps {
		if s.Weight <= d.TargetWeight || d.Status == "Succeeded" {
			out.StepReached++
		}
	}
	if d.TargetWeight > 0 && out.StepReached == 0 {
		out.StepReached = 1 // traffic moved: a rollback can tell "no traffic had moved" apart
	}
	return out
}
