package dashboard

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/metrics"
)

// The view models: what the page shows, derived from the engine's state by
// pure functions, with every time turned into wall time for people.

// Overview is the front page: one row per function.
type Overview struct {
	Scale     float64       `json:"scale"` // how much faster than the wall clock the engine runs
	Functions []FunctionRow `json:"functions"`
}

// FunctionRow is one function's split, deployment and alarms.
type FunctionRow struct {
	Name    string       `json:"name"`
	Alias   string       `json:"alias,omitempty"`
	Latest  int          `json:"latestVersion"`
	Split   []Share      `json:"split"`
	Active  *Summary     `json:"active,omitempty"`
	Last    *Summary     `json:"last,omitempty"`
	Alarms  []AlarmView  `json:"alarms"`
	Gradual bool         `json:"gradual"`
	Routing *RoutingView `json:"-"`
}

// Share is one version's share of an alias's traffic.
type Share struct {
	Version int     `json:"version"`
	Percent float64 `json:"percent"`
}

// RoutingView is an alias's routing, as the page reads it.
type RoutingView struct {
	Version, Additional int
	Weight              float64
}

// Summary is one deployment in a row or a list.
type Summary struct {
	ID             string    `json:"id"`
	Function       string    `json:"function"`
	Status         string    `json:"status"`
	Creator        string    `json:"creator"`
	Config         string    `json:"config"`
	From           string    `json:"fromVersion"`
	To             string    `json:"toVersion"`
	Weight         float64   `json:"targetWeight"`
	Step           int       `json:"step"`
	Steps          int       `json:"steps"`
	Event          string    `json:"lifecycleEvent,omitempty"`
	Hook           string    `json:"hook,omitempty"` // "pre (running)" …
	Created        time.Time `json:"created"`
	DurationSecond float64   `json:"durationSeconds"` // wall seconds
	Why            string    `json:"why,omitempty"`
	RolledBack     bool      `json:"rolledBack"`
}

// AlarmView is an alarm with how close it is to tripping.
type AlarmView struct {
	Name       string   `json:"name"`
	State      string   `json:"state"`
	Reason     string   `json:"reason"`
	Metric     string   `json:"metric"`
	Statistic  string   `json:"statistic"`
	Operator   string   `json:"operator"`
	Threshold  float64  `json:"threshold"`
	Value      *float64 `json:"value,omitempty"` // the newest datapoint it evaluated
	Canary     bool     `json:"canary"`          // watches one version through the alias
	Dimensions string   `json:"dimensions"`
}

// Wall maps the engine's clock to wall time.
type Wall interface {
	Wall(time.Time) time.Time
	Scale(time.Time) float64
}

// summarize is a deployment as a row: wall times, the step reached and
// the running hook.
func summarize(d deploy.Deployment, w Wall) Summary {
	s := Summary{ID: d.ID, Function: d.Target.FunctionName, Status: string(d.Status), Creator: d.Creator,
		Config: strings.TrimPrefix(d.DeploymentConfigName, "CodeDeployDefault.Lambda"),
		From:   fmt.Sprint(d.Target.CurrentVersion), To: fmt.Sprint(d.Target.TargetVersion), Weight: d.Target.TargetVersionWeight,
		Step: d.StepReached, Steps: len(d.Steps), Created: w.Wall(d.CreateTime), RolledBack: d.RolledBack()}
	end := d.CompleteTime
	if end != nil {
		s.DurationSecond = w.Wall(*end).Sub(s.Created).Seconds()
	}
	for _, e := range d.LifecycleEvents {
		if e.Status == deploy.EventInProgress {
			s.Event = e.Name
			if e.Hook != "" {
				s.Hook = e.Hook + " running"
			}
		}
	}
	if d.Status.Done() {
		s.Why = Why(d)
	}
	return s
}

// Why is the one sentence that says why a deployment ended as it did:
// the alarm with its reason, the hook, the timeout or the stop request,
// then where the traffic is.
func Why(d deploy.Deployment) string {
	tgt := fmt.Sprint(d.Target.TargetVersion)
	cur := fmt.Sprint(d.Target.CurrentVersion)
	if d.Status == deploy.StatusSucceeded {
		if d.Creator == deploy.CreatorRollback {
			return fmt.Sprintf("This rollback moved all traffic back to version %s.", tgt)
		}
		return fmt.Sprintf("Version %s passed every check and serves all traffic.", tgt)
	}
	cause := map[deploy.ErrorCode]string{
		deploy.ErrAlarmActive:   "an alarm went into ALARM",
		deploy.ErrHookFailure:   "a lifecycle hook failed",
		deploy.ErrTimeout:       "a lifecycle hook did not report in time",
		deploy.ErrManualStop:    "it was stopped by request",
		deploy.ErrInternalError: "the engine stopped during the deployment",
	}
	reason := "it " + strings.ToLower(string(d.Status))
	if e := d.ErrorInformation; e != nil {
		if c, ok := cause[e.Code]; ok {
			reason = c
		}
		// The engine's message already says what happened ("The deployment
		// was stopped because alarm X went into ALARM: Threshold Crossed …"):
		// keep what follows its preamble.
		msg := strings.TrimSuffix(e.Message, ".")
		for _, preamble := range []string{"The deployment was stopped because ", "The deployment failed because "} {
			msg = strings.TrimPrefix(msg, preamble)
		}
		if msg != "" {
			reason = msg
		}
	}
	var after string
	switch {
	case d.RolledBack():
		after = fmt.Sprintf("Traffic was rolled back to version %s.", cur)
	case d.StepReached == 0:
		after = fmt.Sprintf("No traffic had moved: version %s serves all of it.", cur)
	default:
		after = fmt.Sprintf("Traffic was NOT rolled back: version %s has %.0f%% of it.", tgt, d.Target.TargetVersionWeight*100)
	}
	verb := "failed"
	if d.Status == deploy.StatusStopped {
		verb = "was stopped"
	}
	return fmt.Sprintf("Version %s %s because %s. %s", tgt, verb, reason, after)
}

// alarmView reads an alarm's spec, state and its newest evaluated datapoint.
func alarmView(spec alarm.Spec, st alarm.StateInfo) AlarmView {
	v := AlarmView{Name: spec.Name, State: st.Value.String(), Reason: st.Reason, Metric: spec.MetricName,
		Statistic: spec.Statistic + spec.ExtendedStatistic, Operator: spec.ComparisonOperator.String(), Threshold: spec.Threshold}
	var dims []string
	for _, d := range spec.Dimensions {
		dims = append(dims, d.Name+"="+d.Value)
		if d.Name == metrics.DimExecutedVersion {
			v.Canary = true
		}
	}
	v.Dimensions = strings.Join(dims, ", ")
	var data struct {
		RecentDatapoints []float64 `json:"recentDatapoints"`
	}
	if json.Unmarshal([]byte(st.ReasonData), &data) == nil && len(data.RecentDatapoints) > 0 {
		x := data.RecentDatapoints[0]
		v.Value = &x
	}
	return v
}

// groupAlarms lists the alarms that watch function fn: the group's alarms
// and any alarm dimensioned by the function's name.
func groupAlarms(all []AlarmView, names []string, fn string) []AlarmView {
	var out []AlarmView
	for _, a := range all {
		if slices.Contains(names, a.Name) || strings.Contains(a.Dimensions, metrics.DimFunctionName+"="+fn) {
			out = append(out, a)
		}
	}
	return out
}

// Detail is the deployment view.
type Detail struct {
	Summary  Summary       `json:"summary"`
	Scale    float64       `json:"scale"`
	Timeline []Mark        `json:"timeline"`
	Hooks    []HookView    `json:"hooks"`
	Charts   []Chart       `json:"charts"`
	Alarms   []AlarmView   `json:"alarms"`
	Rollback *Summary      `json:"rollback,omitempty"`
	Trigger  *Summary      `json:"triggeredBy,omitempty"`
	Window   [2]time.Time  `json:"window"` // wall times the charts cover
	Period   time.Duration `json:"-"`
}

// Mark is one moment of the timeline.
type Mark struct {
	At    time.Time `json:"at"`
	Label string    `json:"label"`
	Kind  string    `json:"kind"` // event, step, end
}

// HookView is one hook's result.
type HookView struct {
	Event    string `json:"event"`
	Function string `json:"function"`
	Status   string `json:"status"`
	Detail   string `json:"detail,omitempty"`
	LogsURL  string `json:"logsUrl"`
}

// Chart is one metric for the old and the new version, side by side.
type Chart struct {
	Title     string    `json:"title"`
	Unit      string    `json:"unit"`
	Series    []Line    `json:"series"`
	Threshold *float64  `json:"threshold,omitempty"` // the alarm's, when one watches this metric
	Alarm     string    `json:"alarm,omitempty"`
	Breaches  []float64 `json:"breaches,omitempty"` // x (seconds into the window) of datapoints that breached
}

// Line is one version's points: x is wall seconds into the window.
type Line struct {
	Label  string       `json:"label"`
	Points [][2]float64 `json:"points"`
}

// timeline lists the lifecycle events and the traffic steps, in wall time.
func timeline(d deploy.Deployment, w Wall) []Mark {
	var marks []Mark
	var allow *time.Time
	for _, e := range d.LifecycleEvents {
		if e.StartTime != nil {
			marks = append(marks, Mark{At: w.Wall(*e.StartTime), Label: e.Name + " started", Kind: "event"})
			if e.Name == deploy.EventAllowTraffic {
				allow = e.StartTime
			}
		}
		if e.EndTime != nil {
			marks = append(marks, Mark{At: w.Wall(*e.EndTime), Label: e.Name + " " + strings.ToLower(string(e.Status)), Kind: "event"})
		}
	}
	if allow != nil {
		for i, s := range d.Steps {
			if i >= d.StepReached {
				break
			}
			marks = append(marks, Mark{At: w.Wall(allow.Add(s.Offset)), Label: fmt.Sprintf("version %v at %.0f%%", d.Target.TargetVersion, s.Weight*100), Kind: "step"})
		}
	}
	if d.CompleteTime != nil {
		marks = append(marks, Mark{At: w.Wall(*d.CompleteTime), Label: string(d.Status), Kind: "end"})
	}
	slices.SortStableFunc(marks, func(a, b Mark) int { return a.At.Compare(b.At) })
	return marks
}

// chartPeriod picks a period that gives about 60 points over span.
func chartPeriod(span time.Duration) time.Duration {
	p := span / 60
	for _, c := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute} {
		if p <= c {
			return c
		}
	}
	return 10 * time.Minute
}

// versionStats are one version's datapoints over the window.
type versionStats struct {
	label  string
	points []metrics.Datapoint // Invocations (SampleCount, Sum), Errors, Duration with p50/p99
	errs   []metrics.Datapoint
	dur    []metrics.Datapoint
}

// charts builds the per-version charts from the ExecutedVersion series.
func charts(stats []versionStats, from time.Time, w Wall, alarms []AlarmView, breaches map[string][]time.Time) []Chart {
	x := func(t time.Time) float64 { return w.Wall(t).Sub(w.Wall(from)).Seconds() }
	inv := Chart{Title: "Invocations", Unit: "per period"}
	errs := Chart{Title: "Errors", Unit: "per period"}
	rate := Chart{Title: "Error rate", Unit: "%"}
	p50 := Chart{Title: "Duration p50", Unit: "ms"}
	p99 := Chart{Title: "Duration p99", Unit: "ms"}
	for _, s := range stats {
		var li, le, lr, l50, l99 Line
		li.Label, le.Label, lr.Label, l50.Label, l99.Label = s.label, s.label, s.label, s.label, s.label
		for _, p := range s.points {
			li.Points = append(li.Points, [2]float64{x(p.Timestamp), p.Sum})
		}
		for _, p := range s.errs {
			le.Points = append(le.Points, [2]float64{x(p.Timestamp), p.Sum})
			if p.SampleCount > 0 {
				lr.Points = append(lr.Points, [2]float64{x(p.Timestamp), 100 * p.Sum / p.SampleCount})
			}
		}
		for _, p := range s.dur {
			if v, ok := p.ExtendedStatistics["p50"]; ok {
				l50.Points = append(l50.Points, [2]float64{x(p.Timestamp), v})
			}
			if v, ok := p.ExtendedStatistics["p99"]; ok {
				l99.Points = append(l99.Points, [2]float64{x(p.Timestamp), v})
			}
		}
		inv.Series, errs.Series, rate.Series = append(inv.Series, li), append(errs.Series, le), append(rate.Series, lr)
		p50.Series, p99.Series = append(p50.Series, l50), append(p99.Series, l99)
	}
	out := []*Chart{&inv, &errs, &rate, &p50, &p99}
	// Each alarm's threshold goes on the chart of its metric, with the
	// datapoints that breached it.
	for _, a := range alarms {
		var c *Chart
		switch {
		case a.Metric == metrics.MetricErrors && a.Statistic == "Average":
			c = &rate // Average(Errors) is the error rate as a fraction
		case a.Metric == "errorRate" || strings.HasPrefix(a.Name, "errorRate"):
			c = &rate
		case a.Metric == metrics.MetricErrors:
			c = &errs
		case a.Metric == metrics.MetricInvocations:
			c = &inv
		case a.Metric == metrics.MetricDuration && a.Statistic == "p50":
			c = &p50
		case a.Metric == metrics.MetricDuration:
			c = &p99
		}
		if c == nil || c.Threshold != nil {
			continue
		}
		th := a.Threshold
		if c == &rate && a.Metric == metrics.MetricErrors {
			th *= 100
		}
		c.Threshold, c.Alarm = &th, a.Name
		for _, t := range breaches[a.Name] {
			c.Breaches = append(c.Breaches, x(t))
		}
	}
	var list []Chart
	for _, c := range out {
		list = append(list, *c)
	}
	return list
}

// hookViews lists the hooks of a deployment with links to their logs.
func hookViews(d deploy.Deployment) []HookView {
	var hooks []HookView
	for _, e := range d.LifecycleEvents {
		if e.Hook == "" {
			continue
		}
		hooks = append(hooks, HookView{Event: e.Name, Function: e.Hook, Status: string(e.Status), Detail: e.Diagnostics,
			LogsURL: "logs?function=" + e.Hook + "&since=" + strconv.FormatInt(d.CreateTime.Unix(), 10)})
	}
	return hooks
}
