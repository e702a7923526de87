package alarm

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/metrics"
)

// ratioExpression is the one shape of metric math sluice evaluates:
// [k *] a / b, with a and b the IDs of two metric queries.
var ratioExpression = regexp.MustCompile(`^\s*(?:(\d+(?:\.\d+)?)\s*\*\s*)?([a-z][A-Za-z0-9_]*)\s*/\s*([a-z][A-Za-z0-9_]*)\s*$`)

// errorRate reads the Metrics of an alarm on the error rate of Lambda
// invocations, k·Sum(Errors)/Sum(Invocations) over the same dimensions, into
// spec as k·Average(Errors). The two are equal here: sluice records one
// Errors datapoint, 0 or 1, for every invocation it counts, so
// Sum(Errors)/Sum(Invocations) is the average of the Errors datapoints, and a
// period without invocations has no datapoint in either form. Any other
// metric math is an error.
func (p *cfnReader) errorRate(v any, spec *Spec) {
	fail := func(msg string) {
		p.errs = append(p.errs, fmt.Errorf("Metrics: %s; sluice evaluates only the error rate k * errors / invocations over Sum(Errors) and Sum(Invocations) of AWS/Lambda with the same dimensions", msg))
	}
	queries, ok := v.([]any)
	if !ok {
		fail("want a list of metric queries")
		return
	}
	byID := map[string]map[string]any{}
	var expr map[string]any
	for _, q := range queries {
		m, ok := q.(map[string]any)
		if !ok {
			fail("a metric query must be a mapping")
			return
		}
		id, _ := m["Id"].(string)
		byID[id] = m
		if _, ok := m["Expression"]; ok && m["ReturnData"] != false {
			if expr != nil {
				fail("more than one expression returns data")
				return
			}
			expr = m
		}
	}
	if expr == nil {
		fail("no expression returns data")
		return
	}
	text, _ := expr["Expression"].(string)
	parts := ratioExpression.FindStringSubmatch(text)
	if parts == nil {
		fail(fmt.Sprintf("expression %q is not a ratio", text))
		return
	}
	scale := 1.0
	if parts[1] != "" {
		scale, _ = strconv.ParseFloat(parts[1], 64)
	}
	type stat struct {
		namespace, metric, stat string
		period                  int
		dims                    []metrics.Dimension
	}
	read := func(id string) (stat, bool) {
		q := byID[id]
		ms, _ := q["MetricStat"].(map[string]any)
		metric, _ := ms["Metric"].(map[string]any)
		if q == nil || metric == nil {
			fail(fmt.Sprintf("%s names no metric query with a MetricStat", id))
			return stat{}, false
		}
		s := stat{namespace: p.str(metric, "Namespace"), metric: p.str(metric, "MetricName"), stat: p.str(ms, "Stat"),
			period: p.integer(ms, "Period"), dims: p.dimensions(metric["Dimensions"])}
		return s, true
	}
	num, ok1 := read(parts[2])
	den, ok2 := read(parts[3])
	if !ok1 || !ok2 {
		return
	}
	switch {
	case num.namespace != metrics.NamespaceLambda || den.namespace != metrics.NamespaceLambda:
		fail("both metrics must be in AWS/Lambda")
	case num.metric != metrics.MetricErrors || den.metric != metrics.MetricInvocations:
		fail(fmt.Sprintf("the ratio is %s / %s, not Errors / Invocations", num.metric, den.metric))
	case num.stat != "Sum" || den.stat != "Sum":
		fail(fmt.Sprintf("the statistics are %s and %s, not Sum and Sum", num.stat, den.stat))
	case num.period != den.period:
		fail(fmt.Sprintf("the periods differ (%d and %d)", num.period, den.period))
	case !reflect.DeepEqual(num.dims, den.dims):
		fail("the two metrics have different dimensions")
	default:
		spec.Namespace, spec.MetricName, spec.Dimensions = num.namespace, num.metric, num.dims
		spec.Period = time.Duration(num.period) * time.Second
		spec.Statistic, spec.Scale = "Average", scale
	}
}

// errNoScale is reported for a Scale that is not a positive finite number.
var errNoScale = errors.New("Scale must be a positive finite number (0 means 1)")
