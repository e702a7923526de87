package progress

import (
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
)

// Timeline turns the times the engine records, on its possibly scaled
// clock, into wall times. The zero Timeline is the identity.
type Timeline interface {
	// Wall is the wall time at which the engine's clock read t.
	Wall(t time.Time) time.Time
	// Scale is how much faster than the wall clock the engine's clock ran at t.
	Scale(t time.Time) float64
}

type identity struct{}

func (identity) Wall(t time.Time) time.Time { return t }
func (identity) Scale(time.Time) float64    { return 1 }

// Deployment is how a deployment is shown to people and tools: the same
// fields in every command's json and yaml, camelCase keys, wall-clock
// RFC 3339 times and durations in seconds.
type Deployment struct {
	ID             string     `json:"deploymentId"`
	Function       string     `json:"function"`
	Alias          string     `json:"alias"`
	FromVersion    int        `json:"fromVersion"`
	ToVersion      int        `json:"toVersion"`
	Type           string     `json:"type"`
	Status         string     `json:"status"`
	Creator        string     `json:"creator"`
	CreateTime     time.Time  `json:"createTime"`
	StartTime      *time.Time `json:"startTime,omitempty"`
	CompleteTime   *time.Time `json:"completeTime,omitempty"`
	Seconds        *float64   `json:"durationSeconds,omitempty"` // wall seconds from start to end
	TimeScale      float64    `json:"timeScale,omitempty"`       // set when the engine's clock ran faster than the wall's
	Weight         float64    `json:"weight"`                    // the share of traffic on toVersion
	Step           int        `json:"step"`                      // traffic steps applied so far
	Steps          int        `json:"steps"`
	LifecycleEvent string     `json:"lifecycleEvent,omitempty"`
	Hook           string     `json:"hook,omitempty"` // the hook running now
	ErrorCode      string     `json:"errorCode,omitempty"`
	Error          string     `json:"error,omitempty"`
	RolledBack     bool       `json:"rolledBack"`
	IgnoreAlarms   bool       `json:"ignoreAlarms,omitempty"` // deployed with --ignore-alarms
	RollbackID     string     `json:"rollbackDeploymentId,omitempty"`
	RollbackOf     string     `json:"rollbackOf,omitempty"`
	// RollbackReactionSeconds is how long traffic took to move back after
	// the alarm, in wall seconds.
	RollbackReactionSeconds float64 `json:"rollbackReactionSeconds,omitempty"`
}

// View is d as shown, its times converted to wall time by tl (nil: as recorded).
func View(d deploy.Deployment, tl Timeline) Deployment {
	if tl == nil {
		tl = identity{}
	}
	from, to := d.Target.CurrentVersion, d.Target.TargetVersion
	v := Deployment{ID: d.ID, Function: d.Target.FunctionName, Alias: d.Target.FunctionAlias, FromVersion: from, ToVersion: to,
		Type: d.DeploymentConfigName, Status: string(d.Status), Creator: d.Creator, CreateTime: tl.Wall(d.CreateTime).UTC(),
		Weight: d.Target.TargetVersionWeight, Step: d.StepReached, Steps: len(d.Steps), LifecycleEvent: Phase(d),
		RolledBack: d.RolledBack(), IgnoreAlarms: d.IgnoreAlarms, RollbackReactionSeconds: d.RollbackReaction.Seconds()}
	if s := tl.Scale(d.CreateTime); s != 1 {
		v.TimeScale = s
	}
	wall := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		w := tl.Wall(*t).UTC()
		return &w
	}
	v.StartTime, v.CompleteTime = wall(d.StartTime), wall(d.CompleteTime)
	if v.StartTime != nil && v.CompleteTime != nil {
		s := v.CompleteTime.Sub(*v.StartTime).Seconds()
		v.Seconds = &s
	}
	for _, e := range d.LifecycleEvents {
		if e.Status == deploy.EventInProgress && e.Hook != "" {
			v.Hook = e.Hook
		}
	}
	if d.ErrorInformation != nil {
		v.ErrorCode, v.Error = string(d.ErrorInformation.Code), d.ErrorInformation.Message
	}
	if d.RollbackInfo != nil {
		v.RollbackID, v.RollbackOf = d.RollbackInfo.RollbackDeploymentID, d.RollbackInfo.RollbackTriggeringDeploymentID
	}
	return v
}

// Duration is how long d took in wall time, or false while it runs.
func Duration(d deploy.Deployment, tl Timeline) (time.Duration, bool) {
	if d.StartTime == nil || d.CompleteTime == nil {
		return 0, false
	}
	if tl == nil {
		tl = identity{}
	}
	return tl.Wall(*d.CompleteTime).Sub(tl.Wall(*d.StartTime)), true
}
