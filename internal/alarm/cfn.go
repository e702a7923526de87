package alarm

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/metrics"
)

// RefResolver returns the value {"Ref": logicalID} stands for in the
// template (for a Lambda function, its name), or an error when it cannot.
type RefResolver func(logicalID string) (string, error)

// alarmProperties are the AWS::CloudWatch::Alarm properties sluice reads.
var alarmProperties = []string{
	"AlarmName", "Namespace", "MetricName", "Dimensions", "Period", "EvaluationPeriods", "DatapointsToAlarm",
	"Statistic", "ExtendedStatistic", "Threshold", "ComparisonOperator", "TreatMissingData",
}

// ignoredProperties are valid properties that do not change evaluation.
var ignoredProperties = []string{
	"AlarmDescription", "AlarmActions", "OKActions", "InsufficientDataActions", "ActionsEnabled",
	"Unit", "EvaluateLowSampleCountPercentile", "Tags",
}

// FromCloudFormation reads the Properties of an AWS::CloudWatch::Alarm
// resource (as decoded from template JSON or YAML) into a validated Spec.
// Numbers may be given as numbers or numeric strings, as CloudFormation
// accepts. Values may be {"Ref": …}, resolved by ref, or {"Fn::Join": …} of
// such values. Without AlarmName the alarm is named after logicalID, which
// is also what {"Ref": logicalID} of the alarm resolves to in sluice.
func FromCloudFormation(logicalID string, props map[string]any, ref RefResolver) (Spec, error) {
	p := cfnReader{ref: ref}
	for _, k := range sortedKeys(props) {
		switch {
		case slices.Contains(alarmProperties, k), slices.Contains(ignoredProperties, k):
		case k == "Metrics":
			// read below: the error rate of Lambda invocations (math.go)
		case k == "ThresholdMetricId":
			p.errs = append(p.errs, fmt.Errorf("%s: alarms on anomaly detection bands are not supported: alarm on a fixed Threshold", k))
		default:
			p.errs = append(p.errs, fmt.Errorf("unknown property %s: AWS::CloudWatch::Alarm has %s", k, strings.Join(append(slices.Clone(alarmProperties), ignoredProperties...), ", ")))
		}
	}
	spec := Spec{
		Name:              logicalID,
		Namespace:         p.str(props, "Namespace"),
		MetricName:        p.str(props, "MetricName"),
		Statistic:         p.str(props, "Statistic"),
		ExtendedStatistic: p.str(props, "ExtendedStatistic"),
		Period:            time.Duration(p.integer(props, "Period")) * time.Second,
		EvaluationPeriods: p.integer(props, "EvaluationPeriods"),
		DatapointsToAlarm: p.integer(props, "DatapointsToAlarm"),
		Threshold:         p.number(props, "Threshold"),
	}
	if name := p.str(props, "AlarmName"); name != "" {
		spec.Name = name
	}
	if props["DatapointsToAlarm"] != nil && spec.DatapointsToAlarm == 0 {
		p.errs = append(p.errs, errors.New("DatapointsToAlarm: must be at least 1 (leave it out to use EvaluationPeriods)"))
	}
	if op := p.str(props, "ComparisonOperator"); op != "" {
		var err error
		if spec.ComparisonOperator, err = ParseComparisonOperator(op); err != nil {
			p.errs = append(p.errs, fmt.Errorf("ComparisonOperator: %w", err))
		}
	}
	var err error
	if spec.TreatMissingData, err = ParseTreatMissingData(p.str(props, "TreatMissingData")); err != nil {
		p.errs = append(p.errs, fmt.Errorf("TreatMissingData: %w", err))
	}
	spec.Dimensions = p.dimensions(props["Dimensions"])
	if m, ok := props["Metrics"]; ok {
		for _, k := range []string{"Namespace", "MetricName", "Dimensions", "Period", "Statistic", "ExtendedStatistic"} {
			if props[k] != nil {
				p.errs = append(p.errs, fmt.Errorf("%s: an alarm on metric math (Metrics) sets it in its metric queries", k))
			}
		}
		p.errorRate(m, &spec)
	}
	for _, req := range []string{"Namespace", "MetricName", "Period", "EvaluationPeriods", "Threshold", "ComparisonOperator"} {
		if props[req] == nil && props["Metrics"] == nil {
			p.errs = append(p.errs, fmt.Errorf("%s is required", req))
		}
	}
	if len(p.errs) == 0 {
		if err := spec.Validate(); err != nil {
			return Spec{}, err
		}
		return spec, nil
	}
	return Spec{}, fmt.Errorf("alarm %s (AWS::CloudWatch::Alarm): %w", logicalID, errors.Join(p.errs...))
}

// cfnReader reads template values, collecting every error.
type cfnReader struct {
	ref  RefResolver
	errs []error
}

// scalar renders a literal, Ref or Fn::Join value as a string.
func (p *cfnReader) scalar(where string, v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		p.errs = append(p.errs, fmt.Errorf("%s is missing", where))
		return "", false
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	case map[string]any:
		if len(x) != 1 {
			break
		}
		if id, ok := x["Ref"]; ok {
			name, isStr := id.(string)
			if !isStr {
				p.errs = append(p.errs, fmt.Errorf("%s: Ref takes a logical ID, got %v", where, id))
				return "", false
			}
			if p.ref == nil {
				p.errs = append(p.errs, fmt.Errorf("%s: cannot resolve {\"Ref\": %q} here", where, name))
				return "", false
			}
			s, err := p.ref(name)
			if err != nil {
				p.errs = append(p.errs, fmt.Errorf("%s: {\"Ref\": %q}: %w", where, name, err))
				return "", false
			}
			return s, true
		}
		if args, ok := x["Fn::Join"].([]any); ok && len(args) == 2 {
			sep, sepOK := args[0].(string)
			parts, partsOK := args[1].([]any)
			if sepOK && partsOK {
				out := make([]string, len(parts))
				for i, part := range parts {
					s, ok := p.scalar(fmt.Sprintf("%s Fn::Join[%d]", where, i), part)
					if !ok {
						return "", false
					}
					out[i] = s
				}
				return strings.Join(out, sep), true
			}
		}
		for k := range x {
			p.errs = append(p.errs, fmt.Errorf("%s: %s is not supported here: use a literal value, {\"Ref\": …} or {\"Fn::Join\": …}", where, k))
			return "", false
		}
	}
	p.errs = append(p.errs, fmt.Errorf("%s: %v (%T) is not a value", where, v, v))
	return "", false
}

func (p *cfnReader) str(props map[string]any, key string) string {
	v, ok := props[key]
	if !ok || v == nil {
		return ""
	}
	s, _ := p.scalar(key, v)
	return s
}

func (p *cfnReader) number(props map[string]any, key string) float64 {
	s := p.str(props, key)
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.errs = append(p.errs, fmt.Errorf("%s: %q is not a number", key, s))
		return 0
	}
	return f
}

func (p *cfnReader) integer(props map[string]any, key string) int {
	if props[key] == nil {
		return 0
	}
	f := p.number(props, key)
	if f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		p.errs = append(p.errs, fmt.Errorf("%s: %v is not a whole number", key, f))
		return 0
	}
	return int(f)
}

func (p *cfnReader) dimensions(v any) []metrics.Dimension {
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		p.errs = append(p.errs, fmt.Errorf("Dimensions: want a list of {Name, Value}, got %T", v))
		return nil
	}
	dims := make([]metrics.Dimension, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			p.errs = append(p.errs, fmt.Errorf("Dimensions[%d]: want {Name, Value}, got %T", i, item))
			continue
		}
		for k := range m {
			if k != "Name" && k != "Value" {
				p.errs = append(p.errs, fmt.Errorf("Dimensions[%d]: unknown key %s: a dimension has Name and Value", i, k))
			}
		}
		name, ok1 := p.scalar(fmt.Sprintf("Dimensions[%d].Name", i), m["Name"])
		value, ok2 := p.scalar(fmt.Sprintf("Dimensions[%d].Value", i), m["Value"])
		if ok1 && ok2 {
			dims = append(dims, metrics.Dimension{Name: name, Value: value})
		}
	}
	return dims
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
