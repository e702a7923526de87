// Package deploy runs gradual deployments of a Lambda alias with AWS
// CodeDeploy's semantics: lifecycle events with hooks, traffic shifted on a
// schedule, alarms that stop a deployment, and automatic rollback recorded
// as a deployment of its own.
//
// The decisions are one pure function, advance (core.go): from a
// deployment's state (its record, with an explicit Phase), an input (a
// timer tick, a hook report, an alarm, a stop or promote request, crash
// recovery) and the time, to the next state and the effects to carry out
// (commit the record, moving the alias in the same transaction; invoke a
// hook; send a notification). Inputs a phase does not take, and moves
// between phases that are not in its transition table, are rejected there
// and nowhere else. testdata/scenarios.txt pins the lifecycle input by
// input.
//
// Each deployment in progress has a goroutine (run.go) that only feeds
// advance and carries out its effects. Readers get immutable snapshots of
// the last committed record; no lock is held across I/O. Every state change
// is written to the store before anyone hears of it, and an alias move is
// written in the same transaction as the step that made it. Versions are
// numbers; CodeDeploy's API carries them as strings, converted in
// internal/awsapi.
package deploy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/schedule"
)

// Status is a deployment's status, as CodeDeploy names them.
type Status string

const (
	StatusCreated    Status = "Created"    // recorded, not yet started
	StatusQueued     Status = "Queued"     // waiting for another deployment of its group
	StatusInProgress Status = "InProgress" // walking its lifecycle events
	StatusSucceeded  Status = "Succeeded"  // all traffic on the target version, hooks passed
	StatusFailed     Status = "Failed"     // a hook failed or timed out, or the engine stopped mid-way
	StatusStopped    Status = "Stopped"    // stopped by an alarm or by request
)

// Done reports whether the status is final.
func (s Status) Done() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusStopped
}

// Lifecycle event names of a Lambda deployment, in order.
const (
	EventStart              = "Start"
	EventBeforeAllowTraffic = "BeforeAllowTraffic"
	EventAllowTraffic       = "AllowTraffic"
	EventAfterAllowTraffic  = "AfterAllowTraffic"
	EventEnd                = "End"
)

var lifecycle = []string{EventStart, EventBeforeAllowTraffic, EventAllowTraffic, EventAfterAllowTraffic, EventEnd}

// EventStatus is a lifecycle event's status.
type EventStatus string

const (
	EventPending    EventStatus = "Pending"    // not reached yet
	EventInProgress EventStatus = "InProgress" // running (a hook invoked and not yet reported)
	EventSucceeded  EventStatus = "Succeeded"  //
	EventFailed     EventStatus = "Failed"     //
	EventSkipped    EventStatus = "Skipped"    // never reached: the deployment ended first
)

// ErrorCode says why a deployment did not succeed (CodeDeploy's codes).
type ErrorCode string

const (
	ErrAlarmActive   ErrorCode = "ALARM_ACTIVE"           // an alarm of the group went into ALARM
	ErrHookFailure   ErrorCode = "HOOK_EXECUTION_FAILURE" // a hook reported Failed, or could not be invoked
	ErrTimeout       ErrorCode = "TIMEOUT"                // a hook did not report in time
	ErrManualStop    ErrorCode = "MANUAL_STOP"            // stopped by request
	ErrInternalError ErrorCode = "INTERNAL_ERROR"         // the engine stopped during the deployment
)

// Creators of deployments.
const (
	CreatorUser     = "user"
	CreatorRollback = "codeDeployRollback"
)

// AutoRollback events: which ends of a deployment move traffic back.
const (
	RollbackOnFailure = "DEPLOYMENT_FAILURE"
	RollbackOnAlarm   = "DEPLOYMENT_STOP_ON_ALARM"
	RollbackOnRequest = "DEPLOYMENT_STOP_ON_REQUEST"
)

// DefaultAutoRollback is what serverless-plugin-canary-deployments configures.
var DefaultAutoRollback = []string{RollbackOnFailure, RollbackOnAlarm, RollbackOnRequest}

// DefaultHookTimeout is how long CodeDeploy waits for a hook's report.
const DefaultHookTimeout = time.Hour

// Group is a deployment group: one function's alias and how it is deployed.
type Group struct {
	Application     string        // e.g. OrdersdevDeploymentApplication
	Name            string        // e.g. orders-dev-CreateLambdaFunctionDeploymentGroup
	Function        string        // the function's deployed name
	Alias           string        // e.g. Live
	Type            schedule.Type // the traffic shifting
	PreTrafficHook  string        // function name of the BeforeAllowTraffic hook, or ""
	PostTrafficHook string        // function name of the AfterAllowTraffic hook, or ""
	Alarms          []string      // alarm names that stop a deployment
	AutoRollback    []string      // RollbackOn… events; empty: no automatic rollback
	Triggers        []Trigger     // notifications of deployment events
	HookTimeout     time.Duration // 0: DefaultHookTimeout
}

// Trigger is a CodeDeploy trigger configuration.
type Trigger struct {
	Name   string   `json:"triggerName"`
	Events []string `json:"triggerEvents"` // DeploymentStart, DeploymentSuccess, …
	Target string   `json:"triggerTargetArn"`
}

// Deployment is one deployment, shaped as CodeDeploy's GetDeployment and
// GetDeploymentTarget return it. It is stored as JSON.
type Deployment struct {
	ID                   string           `json:"deploymentId"`
	ApplicationName      string           `json:"applicationName"`
	DeploymentGroupName  string           `json:"deploymentGroupName"`
	DeploymentConfigName string           `json:"deploymentConfigName"`
	Status               Status           `json:"status"`
	Creator              string           `json:"creator"`
	Description          string           `json:"description,omitempty"`
	CreateTime           time.Time        `json:"createTime"`
	StartTime            *time.Time       `json:"startTime,omitempty"`
	CompleteTime         *time.Time       `json:"completeTime,omitempty"`
	ErrorInformation     *ErrorInfo       `json:"errorInformation,omitempty"`
	RollbackInfo         *RollbackInfo    `json:"rollbackInfo,omitempty"`
	AutoRollback         []string         `json:"autoRollbackEvents,omitempty"`
	Target               LambdaTarget     `json:"lambdaTarget"`
	LifecycleEvents      []LifecycleEvent `json:"lifecycleEvents"`
	// Phase is where the deployment is in its lifecycle (see Phase).
	Phase Phase `json:"phase"`
	// Steps is the traffic schedule, with the step reached (for status and crash recovery).
	Steps       []schedule.Step `json:"steps"`
	StepReached int             `json:"stepReached"` // steps applied so far
	// ManualRollback marks a deployment made by `sluice rollback`.
	ManualRollback bool `json:"manualRollback,omitempty"`
	// IgnoreAlarms: the group's alarms do not stop this deployment (a
	// manual rollback, or a deploy with --ignore-alarms).
	IgnoreAlarms bool `json:"ignoreAlarms,omitempty"`
	// RollbackReaction is how long the engine took from an alarm entering
	// ALARM to the alias being back on the original version (wall time).
	RollbackReaction time.Duration `json:"rollbackReactionNanos,omitempty"`
}

// ErrorInfo says why a deployment failed or stopped.
type ErrorInfo struct {
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
}

// RollbackInfo links a deployment and its rollback.
type RollbackInfo struct {
	RollbackDeploymentID           string `json:"rollbackDeploymentId,omitempty"`
	RollbackTriggeringDeploymentID string `json:"rollbackTriggeringDeploymentId,omitempty"`
	RollbackMessage                string `json:"rollbackMessage,omitempty"`
}

// LambdaTarget is the alias the deployment shifts. Versions are numbers
// here; CodeDeploy's API carries them as strings, and internal/awsapi
// converts them at that edge.
type LambdaTarget struct {
	FunctionName        string  `json:"functionName"`
	FunctionAlias       string  `json:"functionAlias"`
	CurrentVersion      int     `json:"currentVersion"`
	TargetVersion       int     `json:"targetVersion"`
	TargetVersionWeight float64 `json:"targetVersionWeight"`
}

// UnmarshalJSON reads versions as numbers, or as the strings that records
// written by sluice before 2026-12 hold.
func (t *LambdaTarget) UnmarshalJSON(b []byte) error {
	type plain LambdaTarget
	var v struct {
		plain
		CurrentVersion json.RawMessage `json:"currentVersion"`
		TargetVersion  json.RawMessage `json:"targetVersion"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*t = LambdaTarget(v.plain)
	var err error
	if t.CurrentVersion, err = versionNumber(v.CurrentVersion); err != nil {
		return fmt.Errorf("currentVersion: %w", err)
	}
	if t.TargetVersion, err = versionNumber(v.TargetVersion); err != nil {
		return fmt.Errorf("targetVersion: %w", err)
	}
	return nil
}

func versionNumber(raw json.RawMessage) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		return n, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

// LifecycleEvent is one lifecycle event's record.
type LifecycleEvent struct {
	Name            string      `json:"lifecycleEventName"`
	Status          EventStatus `json:"status"`
	StartTime       *time.Time  `json:"startTime,omitempty"`
	EndTime         *time.Time  `json:"endTime,omitempty"`
	Hook            string      `json:"hook,omitempty"`            // the hook function, if any
	HookExecutionID string      `json:"hookExecutionId,omitempty"` // set once the hook is invoked
	Diagnostics     string      `json:"diagnostics,omitempty"`
}

// Overview counts lifecycle events by status (CodeDeploy's deploymentOverview).
type Overview struct {
	Pending    int `json:"Pending"`
	InProgress int `json:"InProgress"`
	Succeeded  int `json:"Succeeded"`
	Failed     int `json:"Failed"`
	Skipped    int `json:"Skipped"`
	Ready      int `json:"Ready"`
}

// Overview derives the deployment overview from the lifecycle events.
func (d *Deployment) Overview() Overview {
	var o Overview
	for _, e := range d.LifecycleEvents {
		switch e.Status {
		case EventPending:
			o.Pending++
		case EventInProgress:
			o.InProgress++
		case EventSucceeded:
			o.Succeeded++
		case EventFailed:
			o.Failed++
		case EventSkipped:
			o.Skipped++
		}
	}
	return o
}

func (d *Deployment) event(name string) *LifecycleEvent {
	for i := range d.LifecycleEvents {
		if d.LifecycleEvents[i].Name == name {
			return &d.LifecycleEvents[i]
		}
	}
	return nil
}

// RolledBack reports whether traffic was returned to the original version.
func (d *Deployment) RolledBack() bool {
	return d.RollbackInfo != nil && d.RollbackInfo.RollbackDeploymentID != ""
}
