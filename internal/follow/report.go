package follow

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Summary is a follow's report as `--output json` writes it.
type Summary struct {
	Stack       string              `json:"stack,omitempty"`
	StackStatus string              `json:"stackStatus,omitempty"`
	StackReason string              `json:"stackReason,omitempty"`
	Since       *time.Time          `json:"since,omitempty"`
	Deployments []DeploymentSummary `json:"deployments"`
	TimedOut    bool                `json:"timedOut"`
	Stopped     []string            `json:"stoppedOnTimeout,omitempty"`
	Result      string              `json:"result"`
	ExitCode    int                 `json:"exitCode"`
}

// DeploymentSummary is one deployment in a Summary.
type DeploymentSummary struct {
	DeploymentID         string       `json:"deploymentId"`
	Application          string       `json:"applicationName"`
	Group                string       `json:"deploymentGroupName"`
	Config               string       `json:"deploymentConfigName"`
	Function             string       `json:"functionName,omitempty"`
	Alias                string       `json:"functionAlias,omitempty"`
	CurrentVersion       string       `json:"currentVersion,omitempty"`
	TargetVersion        string       `json:"targetVersion,omitempty"`
	TargetWeight         float64      `json:"targetVersionWeight"`
	Status               string       `json:"status"`
	Creator              string       `json:"creator,omitempty"`
	ErrorCode            string       `json:"errorCode,omitempty"`
	ErrorMessage         string       `json:"errorMessage,omitempty"`
	RollbackDeploymentID string       `json:"rollbackDeploymentId,omitempty"`
	CreateTime           time.Time    `json:"createTime"`
	CompleteTime         *time.Time   `json:"completeTime,omitempty"`
	DurationSeconds      float64      `json:"durationSeconds,omitempty"`
	Alarms               []AlarmState `json:"alarms,omitempty"`
	ConsoleURL           string       `json:"consoleUrl,omitempty"`
	Result               string       `json:"result"`
}

// ResultName names an exit code.
func ResultName(code int) string {
	switch code {
	case ExitSucceeded:
		return "succeeded"
	case ExitRolledBack:
		return "rolledBack"
	case ExitStranded:
		return "failed"
	case ExitTimedOut:
		return "timedOut"
	}
	return fmt.Sprintf("exit %d", code)
}

// Summarize turns a report into its JSON form.
func Summarize(r Report) Summary {
	s := Summary{Deployments: []DeploymentSummary{}, TimedOut: r.TimedOut, Stopped: r.Stopped, ExitCode: r.ExitCode, Result: ResultName(r.ExitCode)}
	if r.Stack != nil {
		s.Stack, s.StackStatus, s.StackReason = r.Stack.Name, r.Stack.Status, r.Stack.Reason
	}
	if !r.Since.IsZero() {
		t := r.Since.UTC()
		s.Since = &t
	}
	for _, d := range r.Deployments {
		ds := DeploymentSummary{DeploymentID: d.ID, Application: d.Application, Group: d.Group, Config: d.Config,
			Function: d.Function, Alias: d.Alias, CurrentVersion: d.CurrentVersion, TargetVersion: d.TargetVersion,
			TargetWeight: d.TargetWeight, Status: string(d.Status), Creator: d.Creator, ErrorCode: d.ErrorCode, ErrorMessage: d.ErrorMessage,
			RollbackDeploymentID: d.RollbackDeploymentID, CreateTime: d.CreateTime, Alarms: d.Alarms, ConsoleURL: d.ConsoleURL}
		if !d.CompleteTime.IsZero() {
			t := d.CompleteTime
			ds.CompleteTime = &t
			ds.DurationSeconds = t.Sub(d.CreateTime).Seconds()
		}
		if d.Done() {
			ds.Result = ResultName(ResultOf(d))
		} else {
			ds.Result = "inProgress"
		}
		s.Deployments = append(s.Deployments, ds)
	}
	return s
}

// Explain is the text a person reads when a deployment did not succeed:
// CodeDeploy's error, the alarms that were in ALARM with their reasons,
// and the lifecycle events that failed.
func Explain(d Deployment) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s:%s) %s", d.ID, d.Function, d.Alias, d.Status)
	if d.ErrorCode != "" {
		fmt.Fprintf(&b, ": %s: %s", d.ErrorCode, d.ErrorMessage)
	}
	for _, a := range d.Alarms {
		if a.State == "ALARM" {
			fmt.Fprintf(&b, "\n  alarm %s: %s", a.Name, a.Reason)
		}
	}
	for _, e := range d.Events {
		if e.Status == "Failed" {
			fmt.Fprintf(&b, "\n  %s failed", e.Name)
			if e.Diagnostics != "" {
				fmt.Fprintf(&b, ": %s", e.Diagnostics)
			}
		}
	}
	if d.RollbackDeploymentID != "" {
		fmt.Fprintf(&b, "\n  traffic rolled back by deployment %s", d.RollbackDeploymentID)
	}
	return b.String()
}

// WriteJUnit writes the report as a JUnit XML test suite, one test case per
// deployment, which CI systems show as test results.
func WriteJUnit(w io.Writer, r Report) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *failure `xml:"failure,omitempty"`
	}
	type testsuite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	suite := testsuite{Name: "sluice follow"}
	class := "deployments"
	if r.Stack != nil {
		suite.Name += " " + r.Stack.Name
		class = r.Stack.Name
	}
	for _, d := range r.Deployments {
		tc := testcase{Name: fmt.Sprintf("%s:%s %s", d.Function, d.Alias, d.ID), Classname: class}
		if !d.CompleteTime.IsZero() {
			tc.Time = fmt.Sprintf("%.3f", d.CompleteTime.Sub(d.CreateTime).Seconds())
		} else {
			tc.Time = "0"
		}
		switch {
		case !d.Done():
			tc.Failure = &failure{Message: "still in progress when the follow ended", Type: "InProgress", Text: Explain(d)}
		case d.Status != "Succeeded":
			tc.Failure = &failure{Message: strings.TrimSpace(d.ErrorCode + " " + d.ErrorMessage), Type: string(d.Status), Text: Explain(d)}
		}
		if tc.Failure != nil {
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, tc)
	}
	if r.Stack != nil && PhaseOf(r.Stack.Status) != StackSettled {
		suite.Cases = append(suite.Cases, testcase{Name: "stack " + r.Stack.Name, Classname: class, Time: "0",
			Failure: &failure{Message: r.Stack.Status, Type: r.Stack.Status, Text: r.Stack.Reason}})
		suite.Failures++
	} else if r.Stack != nil {
		suite.Cases = append(suite.Cases, testcase{Name: "stack " + r.Stack.Name, Classname: class, Time: "0"})
	}
	suite.Tests = len(suite.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(suite); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
