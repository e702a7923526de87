package control

import (
	"context"
	"net/http"
	"time"
)

// AlarmsPath is where a running engine serves its alarms' states.
const AlarmsPath = Prefix + "alarms"

// AlarmStatus is one alarm the engine evaluates.
type AlarmStatus struct {
	Name   string `json:"name"`
	State  string `json:"state"` // OK, ALARM or INSUFFICIENT_DATA
	Reason string `json:"reason"`
	// Function and ExecutedVersion are set for a canary alarm: it watches
	// the invocations of that version through the function's alias.
	Function        string    `json:"function,omitempty"`
	ExecutedVersion string    `json:"executedVersion,omitempty"`
	Updated         time.Time `json:"updated"`
}

// Alarms reads the alarms of the running engine.
func (c *Client) Alarms(ctx context.Context) ([]AlarmStatus, error) {
	var out []AlarmStatus
	err := c.call(ctx, http.MethodGet, AlarmsPath[len(Prefix):], nil, &out)
	return out, err
}

// ReadAlarms reads the alarms of the engine running for stateDir; with no
// engine running there are none (alarm states live in the engine).
func ReadAlarms(ctx context.Context, stateDir string) ([]AlarmStatus, error) {
	if _, err := ReadInfo(stateDir); err != nil {
		return nil, nil
	}
	c, err := Dial(stateDir)
	if err != nil {
		return nil, err
	}
	return c.Alarms(ctx)
}
