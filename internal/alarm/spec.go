// Package alarm evaluates CloudWatch metric alarms over a metrics.Store with
// CloudWatch's semantics: M out of N datapoints, the four ways of treating
// missing data (including the wider "evaluation range" and the premature-
// alarm rule), state reasons in CloudWatch's words, and SetAlarmState.
//
// Evaluation is event-driven. An Evaluator re-evaluates an alarm at every
// period boundary (clock timers, so a fake clock makes tests exact) and,
// where the outcome of the period in progress can no longer change, as soon
// as a datapoint arrives: `Sum(Errors) >= 1` trips on the first error.
// Listeners are called on every state change.
package alarm

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/metrics"
)

// State is an alarm's state.
type State uint8

const (
	StateInsufficientData State = iota // not enough data to decide; every alarm starts here
	StateOK                            // the metric is within the threshold
	StateAlarm                         // the metric breached the threshold
)

var stateNames = [...]string{"INSUFFICIENT_DATA", "OK", "ALARM"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// ParseState parses OK, ALARM or INSUFFICIENT_DATA.
func ParseState(s string) (State, error) {
	if i := slices.Index(stateNames[:], s); i >= 0 {
		return State(i), nil
	}
	return 0, fmt.Errorf("unknown alarm state %q: use OK, ALARM or INSUFFICIENT_DATA", s)
}

// ComparisonOperator compares a statistic with the threshold; the zero value
// is unset and invalid.
type ComparisonOperator uint8

const (
	GreaterThanOrEqualToThreshold ComparisonOperator = iota + 1 // breaching when value >= threshold
	GreaterThanThreshold                                        // breaching when value > threshold
	LessThanThreshold                                           // breaching when value < threshold
	LessThanOrEqualToThreshold                                  // breaching when value <= threshold
)

var operatorNames = [...]string{"", "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"}

// operatorPhrases are the words CloudWatch's state reasons use.
var operatorPhrases = [...]string{"", "greater than or equal to", "greater than", "less than", "less than or equal to"}

func (op ComparisonOperator) String() string {
	if int(op) < len(operatorNames) && op != 0 {
		return operatorNames[op]
	}
	return fmt.Sprintf("ComparisonOperator(%d)", op)
}

// ParseComparisonOperator parses one of the four threshold operators.
func ParseComparisonOperator(s string) (ComparisonOperator, error) {
	if i := slices.Index(operatorNames[:], s); i > 0 {
		return ComparisonOperator(i), nil
	}
	return 0, fmt.Errorf("unknown comparison operator %q: use %s", s, strings.Join(operatorNames[1:], ", "))
}

// breaches reports whether v is on the alarming side of threshold t.
func (op ComparisonOperator) breaches(v, t float64) bool {
	switch op {
	case GreaterThanOrEqualToThreshold:
		return v >= t
	case GreaterThanThreshold:
		return v > t
	case LessThanThreshold:
		return v < t
	case LessThanOrEqualToThreshold:
		return v <= t
	}
	return false
}

func (op ComparisonOperator) greater() bool {
	return op == GreaterThanOrEqualToThreshold || op == GreaterThanThreshold
}

// TreatMissingData says how periods without datapoints count.
type TreatMissingData uint8

const (
	TreatMissing      TreatMissingData = iota // "missing" (default): decide on the data there is; INSUFFICIENT_DATA when there is none
	TreatNotBreaching                         // "notBreaching": a missing period is good
	TreatBreaching                            // "breaching": a missing period is bad
	TreatIgnore                               // "ignore": keep the current state when data is missing
)

var treatNames = [...]string{"missing", "notBreaching", "breaching", "ignore"}

func (t TreatMissingData) String() string {
	if int(t) < len(treatNames) {
		return treatNames[t]
	}
	return fmt.Sprintf("TreatMissingData(%d)", t)
}

// ParseTreatMissingData parses missing, notBreaching, breaching or ignore;
// an empty string is the default, missing.
func ParseTreatMissingData(s string) (TreatMissingData, error) {
	if s == "" {
		return TreatMissing, nil
	}
	if i := slices.Index(treatNames[:], s); i >= 0 {
		return TreatMissingData(i), nil
	}
	return 0, fmt.Errorf("unknown TreatMissingData %q: use missing, notBreaching, breaching or ignore", s)
}

// Spec is a CloudWatch metric alarm (PutMetricAlarm's single-metric form).
type Spec struct {
	Name               string
	Namespace          string
	MetricName         string
	Dimensions         []metrics.Dimension
	Period             time.Duration // 10, 20 or 30 seconds, or a multiple of 60 seconds
	EvaluationPeriods  int           // N: how many recent periods are evaluated
	DatapointsToAlarm  int           // M: breaching periods among the N that trip the alarm; 0 means N
	Statistic          string        // SampleCount, Average, Sum, Minimum or Maximum …
	ExtendedStatistic  string        // … or an extended statistic such as p99 or tm90 (exactly one of the two)
	Threshold          float64
	ComparisonOperator ComparisonOperator
	TreatMissingData   TreatMissingData
	// Scale multiplies the statistic before it is compared: 100 for the
	// error rate 100 * errors / invocations, which sluice evaluates as
	// 100·Average(Errors) (see math.go). 0 means 1.
	Scale float64
}

// scale is the effective Scale.
func (s Spec) scale() float64 {
	if s.Scale == 0 {
		return 1
	}
	return s.Scale
}

// M is the effective DatapointsToAlarm.
func (s Spec) M() int {
	if s.DatapointsToAlarm == 0 {
		return s.EvaluationPeriods
	}
	return s.DatapointsToAlarm
}

// SeriesID is the metric the alarm watches.
func (s Spec) SeriesID() metrics.SeriesID {
	return metrics.SeriesID{Namespace: s.Namespace, MetricName: s.MetricName, Dimensions: s.Dimensions}
}

// stat returns the statistic of a valid spec.
func (s Spec) stat() (metrics.Stat, error) {
	switch {
	case s.Statistic != "" && s.ExtendedStatistic != "":
		return metrics.Stat{}, fmt.Errorf("both Statistic (%s) and ExtendedStatistic (%s) are set: keep one", s.Statistic, s.ExtendedStatistic)
	case s.Statistic != "":
		st, err := metrics.ParseStat(s.Statistic)
		if err != nil || st.Extended() {
			return metrics.Stat{}, fmt.Errorf("Statistic %q: use SampleCount, Average, Sum, Minimum or Maximum (extended statistics such as p99 go in ExtendedStatistic)", s.Statistic)
		}
		return st, nil
	case s.ExtendedStatistic != "":
		st, err := metrics.ParseStat(s.ExtendedStatistic)
		if err != nil {
			return metrics.Stat{}, fmt.Errorf("ExtendedStatistic: %w", err)
		}
		if !st.Extended() {
			return metrics.Stat{}, fmt.Errorf("ExtendedStatistic %q is a standard statistic: put it in Statistic", s.ExtendedStatistic)
		}
		return st, nil
	}
	return metrics.Stat{}, errors.New("no statistic: set Statistic (e.g. Sum) or ExtendedStatistic (e.g. p99)")
}

// Validate reports every reason CloudWatch would reject the alarm.
func (s Spec) Validate() error {
	var errs []error
	switch {
	case s.Name == "":
		errs = append(errs, errors.New("the alarm has no name"))
	case len(s.Name) > 255:
		errs = append(errs, fmt.Errorf("name is %d characters long, at most 255 are allowed", len(s.Name)))
	case strings.ContainsFunc(s.Name, func(r rune) bool { return r > 127 }):
		errs = append(errs, errors.New("name contains non-ASCII characters, which CloudWatch does not allow"))
	}
	if err := s.SeriesID().Validate(); err != nil {
		errs = append(errs, err)
	}
	if !periodAllowed(s.Period) {
		errs = append(errs, fmt.Errorf("Period %v is not allowed: use 10, 20 or 30 seconds, or a multiple of 60 seconds", s.Period))
	}
	if s.EvaluationPeriods < 1 {
		errs = append(errs, fmt.Errorf("EvaluationPeriods is %d: it must be at least 1", s.EvaluationPeriods))
	}
	if s.DatapointsToAlarm < 0 || s.DatapointsToAlarm > s.EvaluationPeriods {
		errs = append(errs, fmt.Errorf("DatapointsToAlarm %d must be between 1 and EvaluationPeriods (%d): it is the M of \"M out of N\"", s.DatapointsToAlarm, s.EvaluationPeriods))
	}
	if limit := maxEvaluationInterval(s.Period); s.EvaluationPeriods > 0 && periodAllowed(s.Period) && s.Period*time.Duration(s.EvaluationPeriods) > limit {
		errs = append(errs, fmt.Errorf("Period × EvaluationPeriods is %v: it may not exceed %v", s.Period*time.Duration(s.EvaluationPeriods), limit))
	}
	if _, err := s.stat(); err != nil {
		errs = append(errs, err)
	}
	if s.ComparisonOperator == 0 || int(s.ComparisonOperator) >= len(operatorNames) {
		errs = append(errs, fmt.Errorf("ComparisonOperator is not set: use %s", strings.Join(operatorNames[1:], ", ")))
	}
	if math.IsNaN(s.Threshold) || math.IsInf(s.Threshold, 0) {
		errs = append(errs, fmt.Errorf("Threshold %v is not a finite number", s.Threshold))
	}
	if s.Scale < 0 || math.IsNaN(s.Scale) || math.IsInf(s.Scale, 0) {
		errs = append(errs, errNoScale)
	}
	if int(s.TreatMissingData) >= len(treatNames) {
		errs = append(errs, fmt.Errorf("TreatMissingData %d is unknown: use missing, notBreaching, breaching or ignore", s.TreatMissingData))
	}
	if len(errs) > 0 {
		return fmt.Errorf("alarm %q: %w", s.Name, errors.Join(errs...))
	}
	return nil
}

// periodAllowed reports whether CloudWatch accepts p as an alarm period.
func periodAllowed(p time.Duration) bool {
	switch p {
	case 10 * time.Second, 20 * time.Second, 30 * time.Second:
		return true
	}
	return p >= time.Minute && p%time.Minute == 0
}

// maxEvaluationInterval is CloudWatch's limit on Period × EvaluationPeriods:
// one day, or seven days for periods of an hour or more.
func maxEvaluationInterval(p time.Duration) time.Duration {
	if p >= time.Hour {
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// lambdaMetricsRecorded are the AWS/Lambda metrics `sluice serve` records.
var lambdaMetricsRecorded = []string{metrics.MetricInvocations, metrics.MetricErrors, metrics.MetricThrottles, metrics.MetricDuration, metrics.MetricConcurrentExecutions}

// Warnings lists what looks wrong with a valid alarm: settings CloudWatch
// accepts but that make the alarm fire never, always, or not as intended.
func (s Spec) Warnings() []string {
	var w []string
	stat, err := s.stat()
	if err != nil || s.Namespace != metrics.NamespaceLambda {
		return nil
	}
	metric := s.MetricName + " (" + stat.String() + ")"
	if !slices.Contains(lambdaMetricsRecorded, s.MetricName) {
		w = append(w, fmt.Sprintf("sluice serve records only %s of AWS/Lambda: %s stays INSUFFICIENT_DATA locally",
			strings.Join(lambdaMetricsRecorded, ", "), s.MetricName))
	}
	if !lambdaDimensionSet(s.Dimensions) {
		w = append(w, "Lambda publishes its metrics under no dimension, FunctionName, FunctionName+Resource or FunctionName+Resource+ExecutedVersion only: with these dimensions the alarm never sees data")
	} else if len(s.Dimensions) == 0 {
		w = append(w, "the alarm has no FunctionName dimension: it watches every function of the account together")
	}
	if s.Period < time.Minute {
		w = append(w, fmt.Sprintf("Period %v is shorter than the minute at which Lambda publishes metrics: on AWS most periods would be missing (sluice serve evaluates %v periods as asked)", s.Period, s.Period))
	}

	if s.scale() != 1 {
		return w // a rate in percent (math.go): the ranges below are of the raw statistic
	}
	// Every AWS/Lambda value is non-negative; Errors and Throttles are 0 or
	// 1 per invocation and Invocations is always 1, so most statistics of
	// them lie between 0 and 1.
	zeroOne := slices.Contains([]string{metrics.MetricErrors, metrics.MetricThrottles, metrics.MetricInvocations}, s.MetricName)
	unitStat := !slices.Contains([]string{"Sum", "SampleCount"}, stat.String()) &&
		!strings.HasPrefix(stat.String(), "ts") && !strings.HasPrefix(stat.String(), "tc") &&
		!strings.HasPrefix(stat.String(), "TS(") && !strings.HasPrefix(stat.String(), "TC(") && !strings.HasPrefix(stat.String(), "PR(")
	t, op := s.Threshold, s.ComparisonOperator
	switch {
	case op.greater() && zeroOne && unitStat && !op.breaches(1, t):
		w = append(w, fmt.Sprintf("%s lies between 0 and 1, so %s %v never fires: for a count use Sum, for a rate use a threshold below 1 (e.g. 0.05 for 5%%)",
			metric, operatorPhrases[op], t))
	case op.greater() && op.breaches(0, t):
		w = append(w, fmt.Sprintf("%s is never negative, so %s %v fires whenever there is any datapoint", metric, operatorPhrases[op], t))
	case !op.greater() && !op.breaches(0, t):
		w = append(w, fmt.Sprintf("%s is never negative, so %s %v never fires", metric, operatorPhrases[op], t))
	case !op.greater() && zeroOne && unitStat && op.breaches(1, t):
		w = append(w, fmt.Sprintf("%s is at most 1, so %s %v fires whenever there is any datapoint", metric, operatorPhrases[op], t))
	}
	if op.greater() && zeroOne && s.MetricName != metrics.MetricInvocations && stat.String() == "Minimum" && op.breaches(1, t) && !op.breaches(0, t) {
		w = append(w, fmt.Sprintf("Minimum of %s is 1 only when every invocation in the period failed, so the alarm fires only then: use Sum to fire on any %s, or Average for a rate",
			s.MetricName, strings.ToLower(strings.TrimSuffix(s.MetricName, "s"))))
	}
	return w
}

// lambdaDimensionSet reports whether dims is a set Lambda publishes under.
func lambdaDimensionSet(dims []metrics.Dimension) bool {
	names := make([]string, len(dims))
	for i, d := range dims {
		names[i] = d.Name
	}
	slices.Sort(names)
	switch strings.Join(names, ",") {
	case "", "FunctionName", "FunctionName,Resource", "ExecutedVersion,FunctionName,Resource":
		return true
	}
	return false
}
