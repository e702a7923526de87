package alerts

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/jsvalue"
)

var (
	staticOperators    = []string{"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"}
	anomalyOperators   = []string{"LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold", "GreaterThanUpperThreshold"}
	treatMissingValues = []string{"missing", "notBreaching", "breaching", "ignore"}

	// Extended statistics CloudWatch alarms accept: percentiles and trimmed
	// or winsorized means/counts/sums (p99, tm90, TM(10%:90%), PR(:300), IQM).
	shortExtended = regexp.MustCompile(`^(p|tm|tc|ts|wm)(\d{1,2}(\.\d{1,10})?|100(\.0{1,10})?)$`)
	rangeExtended = regexp.MustCompile(`^(TM|TC|TS|WM|PR)\((\d+(\.\d+)?%?)?:(\d+(\.\d+)?%?)?\)$`)

	// lambdaMetrics are the AWS/Lambda metric names, to catch wrong case
	// (the plugin's own README writes `metric: errors`, which has no data).
	lambdaMetrics = []string{
		"Invocations", "Errors", "DeadLetterErrors", "DestinationDeliveryFailures", "Throttles",
		"OversizedRecordCount", "ProvisionedConcurrencyInvocations", "ProvisionedConcurrencySpilloverInvocations",
		"RecursiveInvocationsDropped", "Duration", "PostRuntimeExtensionsDuration", "IteratorAge", "OffsetLag",
		"ConcurrentExecutions", "ProvisionedConcurrentExecutions", "ProvisionedConcurrencyUtilization",
		"UnreservedConcurrentExecutions", "ClaimedAccountConcurrency", "AsyncEventsReceived", "AsyncEventAge",
		"AsyncEventsDropped", "SignatureValidationErrors",
	}
)

// validStatistic reports whether s is a statistic a CloudWatch alarm accepts.
func validStatistic(s string) bool {
	if slices.Contains(standardStatistics, s) || s == "IQM" || rangeExtended.MatchString(s) {
		return true
	}
	if m := shortExtended.FindStringSubmatch(s); m != nil {
		f, err := strconv.ParseFloat(m[2], 64)
		return err == nil && f <= 100
	}
	return false
}

// check validates an enabled alarm and reads the settings the local engine
// needs; problems go to the diagnostics.
func (c *compiler) check(f *config.Function, e *entry) (a Alarm) {

	a.Kind = Static
	if t, _ := e.get("type"); t == string(AnomalyDetection) {
		a.Kind = AnomalyDetection
	} else if t != string(Static) {
		c.errorf(e.path("type"), "use static or anomalyDetection", "unknown alarm type %s", jsQuote(t))
	}
	if v, ok := e.get("enabled"); ok {
		if _, isBool := v.(bool); !isBool {
			c.warnf(e.path("enabled"), "write true or false", "is %s, not a boolean; %s counts as enabled", kindOf(v), jsQuote(v))
		}
	}
	pattern := c.checkPattern(f, e, &a)
	c.checkMetric(f, e, &a, pattern)
	c.checkStatistic(e, &a)
	c.checkThreshold(e, &a)
	c.checkPeriods(e, &a)
	c.checkComparison(e, &a)
	c.checkMisc(e)
	if !pattern {
		a.Dimensions = c.checkDimensions(f, e)
	}
	c.checkNames(e)
	c.lambdaSemantics(e, &a, pattern)
	return a
}

func jsQuote(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return jsString(v, false)
}

// str reads an optional string setting; an intrinsic is accepted and
// yields "".
func (c *compiler) str(e *entry, key, hint string) (string, bool) {
	v, ok := e.get(key)
	if !ok {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case map[string]any:
		if isIntrinsic(v) {
			return "", true
		}
	}
	c.errorf(e.path(key), hint, "must be a string, not %s", kindOf(v))
	return "", true
}

// number reads a numeric setting: a number, a string holding one (the
// framework's variables yield strings), or an intrinsic (intrinsic=true,
// known only once deployed).
func number(v any) (f float64, ok, intrinsic bool) {
	switch v := v.(type) {
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0), false
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0), false
	case map[string]any:
		return 0, false, isIntrinsic(v)
	}
	return 0, false, false
}

// integer reads a whole-number setting of at least min. present is false
// when the key is absent; ok is false when it is not a usable literal.
func (c *compiler) integer(e *entry, key string, min int, hint string) (n int, present, ok bool) {
	v, present := e.get(key)
	if !present {
		return 0, false, false
	}
	f, isNum, intrinsic := number(v)
	if intrinsic {
		return 0, true, false
	}
	if !isNum || f != math.Trunc(f) || f < float64(min) || f > math.MaxInt32 {
		c.errorf(e.path(key), hint, "must be a whole number of at least %d, not %s", min, jsQuote(v))
		return 0, true, false
	}
	return int(f), true, true
}

func (c *compiler) checkPattern(f *config.Function, e *entry, a *Alarm) bool {
	v, _ := e.get("pattern")
	if !jsvalue.Truthy(v) {
		return false
	}
	if s, ok := v.(string); ok {
		a.Pattern = s
	} else {
		c.errorf(e.path("pattern"), "write a CloudWatch Logs filter pattern, e.g. '{$.level > 40}' or 'ERROR'", "must be a string, not %s", kindOf(v))
	}
	if id := f.LogicalID() + "LambdaFunction" + upperFirst(e.name()) + "LogMetricFilterOK"; !isLogicalID(id) {
		c.errorf(e.namePath(), "use letters and digits only in the names of pattern alarms",
			"makes the log metric filter logical ID %q (the plugin does not spell - and _ out here), which CloudFormation rejects", id)
	}
	if jsvalue.Truthy(f.Raw["disableLogs"]) {
		c.errorf(e.path("pattern"), "remove disableLogs from functions."+f.Key+", or drop the pattern alarm",
			"a pattern alarm reads the function's logs, but functions.%s has disableLogs: true", f.Key)
	}
	if _, own := e.from["namespace"]; own {
		c.warnf(e.path("namespace"), "remove it", "is ignored for a pattern alarm: its metric is published in the stack's namespace %s", c.svc.StackName())
	}
	a.Namespace = c.svc.StackName()
	return true
}

func (c *compiler) checkMetric(f *config.Function, e *entry, a *Alarm, pattern bool) {
	metric, hasMetric := c.str(e, "metric", "write the metric's name, e.g. Errors")
	if pattern {
		a.Metric = patternMetricName(e.props["metric"], f.LogicalID()+"LambdaFunction")
		return
	}
	a.Metric = metric
	if !hasMetric || (metric == "" && !isIntrinsic(e.props["metric"])) {
		c.errorf(e.path("metric"), "add `metric: <MetricName>`, e.g. Errors, or name a definition that has one", "the alarm has no metric")
	}
	ns, hasNS := c.str(e, "namespace", "write the metric's namespace, e.g. AWS/Lambda")
	if !hasNS || (ns == "" && !isIntrinsic(e.props["namespace"])) {
		c.errorf(e.path("namespace"), "add `namespace: AWS/Lambda` (or the metric's namespace)", "the alarm has no namespace")
	}
	a.Namespace = ns
	if ns == "AWS/Lambda" && metric != "" && !slices.Contains(lambdaMetrics, metric) {
		for _, m := range lambdaMetrics {
			if strings.EqualFold(m, metric) {
				c.warnf(e.path("metric"), "write "+m+" (metric names are case-sensitive)", "AWS/Lambda has no metric %q, so the alarm never gets data", metric)
			}
		}
	}
}

func (c *compiler) checkStatistic(e *entry, a *Alarm) {
	key, v, ok := e.statistic()
	if !ok {
		c.errorf(e.path("statistic"), "add `statistic: Sum` (or Average, Minimum, Maximum, SampleCount, p99, …)", "the alarm has no statistic")
		return
	}
	if key == "extendedStatistic" {
		if _, both := e.from["statistic"]; both {
			c.errorf(e.path(key), "keep one of them: statistic takes p99 as well", "statistic and extendedStatistic are both given; CloudWatch takes only one")
			return
		}
		if s, _ := v.(string); slices.Contains(standardStatistics, s) {
			c.errorf(e.path(key), "write `statistic: "+s+"`", "%s is not an extended statistic", s)
			return
		}
	}
	s, isStr := v.(string)
	if !isStr || !validStatistic(s) {
		c.errorf(e.path(key), "use SampleCount, Average, Sum, Minimum, Maximum, or an extended statistic such as p99, tm90, TM(10%:90%) or IQM",
			"unknown statistic %s", jsQuote(v))
		return
	}
	a.Statistic = s
	lowSample, has := e.get("evaluateLowSampleCountPercentile")
	if !has {
		return
	}
	switch {
	case a.Kind == AnomalyDetection:
		c.warnf(e.path("evaluateLowSampleCountPercentile"), "remove it", "is ignored for anomaly detection alarms")
	case slices.Contains(standardStatistics, s):
		c.warnf(e.path("evaluateLowSampleCountPercentile"), "remove it, or use a percentile statistic", "applies only to percentile statistics; it is ignored with %s", s)
	case lowSample != "evaluate" && lowSample != "ignore":
		c.errorf(e.path("evaluateLowSampleCountPercentile"), "use evaluate or ignore", "must be evaluate or ignore, not %s", jsQuote(lowSample))
	}
}

func (c *compiler) checkThreshold(e *entry, a *Alarm) {
	v, ok := e.get("threshold")
	if !ok {
		c.errorf(e.path("threshold"), "add `threshold: <number>`", "the alarm has no threshold")
		return
	}
	f, isNum, intrinsic := number(v)
	switch {
	case intrinsic:
	case !isNum:
		c.errorf(e.path("threshold"), "write a number", "must be a number, not %s", jsQuote(v))
	case a.Kind == AnomalyDetection && f <= 0:
		c.errorf(e.path("threshold"), "use a band width such as 2 (standard deviations)", "an anomaly detection threshold must be above 0, not %s", jsNumber(f))
	default:
		a.Threshold = f
	}
}

func (c *compiler) checkPeriods(e *entry, a *Alarm) {
	period, hasPeriod, periodOK := c.integer(e, "period", 1, "use 10, 20, 30 or a multiple of 60 seconds")
	switch {
	case !hasPeriod:
		c.errorf(e.path("period"), "add `period: 60`", "the alarm has no period")
	case periodOK && period != 10 && period != 20 && period != 30 && period%60 != 0:
		c.errorf(e.path("period"), "use 10, 20, 30 or a multiple of 60 seconds", "CloudWatch alarms cannot have a period of %d seconds", period)
		periodOK = false
	}
	evals, hasEvals, evalsOK := c.integer(e, "evaluationPeriods", 1, "use a whole number of at least 1")
	if !hasEvals {
		c.errorf(e.path("evaluationPeriods"), "add `evaluationPeriods: 1`", "the alarm has no evaluationPeriods")
	}
	dps, hasDps, dpsOK := c.integer(e, "datapointsToAlarm", 1, "use a whole number from 1 to evaluationPeriods")
	if dpsOK && evalsOK && dps > evals {
		c.errorf(e.path("datapointsToAlarm"), fmt.Sprintf("use at most %d, or raise evaluationPeriods", evals),
			"datapointsToAlarm (%d) is more than evaluationPeriods (%d): the alarm could never fire", dps, evals)
	}
	if periodOK && evalsOK {
		limit := 86400
		if period >= 3600 {
			limit = 604800
		}
		if period*evals > limit {
			c.errorf(e.path("evaluationPeriods"), fmt.Sprintf("lower evaluationPeriods to at most %d", limit/period),
				"period × evaluationPeriods is %d seconds; CloudWatch allows at most %d (%s) with a period of %d seconds", period*evals, limit, time.Duration(limit)*time.Second, period)
		}
	}
	if periodOK {
		a.Period = time.Duration(period) * time.Second
	}
	a.EvaluationPeriods = evals
	a.DatapointsToAlarm = evals
	if hasDps && dpsOK {
		a.DatapointsToAlarm = dps
	}
}

func (c *compiler) checkComparison(e *entry, a *Alarm) {
	v, ok := e.get("comparisonOperator")
	if !ok {
		c.errorf(e.path("comparisonOperator"), "add `comparisonOperator: GreaterThanOrEqualToThreshold`", "the alarm has no comparisonOperator")
		return
	}
	valid := staticOperators
	if a.Kind == AnomalyDetection {
		valid = anomalyOperators
	}
	s, _ := v.(string)
	if !slices.Contains(valid, s) {
		c.errorf(e.path("comparisonOperator"), "use one of "+strings.Join(valid, ", "), "unknown comparison operator %s for a %s alarm", jsQuote(v), a.Kind)
		return
	}
	a.Comparison = s
	a.TreatMissingData = "missing"
	if t, ok := e.get("treatMissingData"); ok && jsvalue.Truthy(t) {
		s, _ := t.(string)
		if !slices.Contains(treatMissingValues, s) {
			c.errorf(e.path("treatMissingData"), "use one of "+strings.Join(treatMissingValues, ", "), "unknown treatMissingData %s", jsQuote(t))
			return
		}
		a.TreatMissingData = s
	}
}

func (c *compiler) checkMisc(e *entry) {
	if v, ok := e.get("actionsEnabled"); ok {
		if _, isBool := v.(bool); !isBool && v != "true" && v != "false" {
			c.errorf(e.path("actionsEnabled"), "write true or false", "must be a boolean, not %s", jsQuote(v))
		}
	}
	if s, ok := c.str(e, "description", "write a sentence describing the alarm"); ok && len(s) > 1024 {
		c.errorf(e.path("description"), "shorten it", "is %d characters long; CloudWatch allows 1024", len(s))
	}
}

// checkDimensions validates dimensions and returns the literal ones the
// metric is read with.
func (c *compiler) checkDimensions(f *config.Function, e *entry) []Dimension {
	var out []Dimension
	v, _ := e.get("dimensions")
	list, isList := v.([]any)
	if jsvalue.Truthy(v) && !isList {
		c.errorf(e.path("dimensions"), "write a list of {Name: …, Value: …}", "must be a list, not %s", kindOf(v))
	}
	for i, d := range list {
		ip := e.path("dimensions")
		if _, own := e.from["dimensions"]; own {
			ip += "." + strconv.Itoa(i)
		}
		m, _ := d.(map[string]any)
		name, hasName := m["Name"].(string)
		val, hasVal := m["Value"]
		if !hasName || !hasVal {
			c.errorf(ip, "write {Name: <dimension>, Value: <value>} (capitalized keys, as in CloudFormation)", "a dimension needs a Name and a Value")
			continue
		}
		if name == "FunctionName" && !jsvalue.Truthy(e.props["omitDefaultDimension"]) {
			c.warnf(ip, "remove it, or set omitDefaultDimension: true to use this value", "is replaced by the function's own FunctionName dimension")
			continue
		}
		if !usableDimensionValue(val) {
			c.errorf(ip, "write the dimension's value as a string, or an intrinsic such as {Ref: …}", "a dimension value must be a non-empty string, not %s", kindOf(val))
			continue
		}
		if s, ok := val.(string); ok {
			out = append(out, Dimension{name, s})
		}
	}
	if !jsvalue.Truthy(e.props["omitDefaultDimension"]) {
		out = append(out, Dimension{"FunctionName", f.Name})
	}
	if len(out) > 30 {
		c.errorf(e.path("dimensions"), "use at most 30", "CloudWatch metrics have at most 30 dimensions, not %d", len(out))
	}
	return out
}

// usableDimensionValue: strings, scalars CloudFormation turns into strings,
// and intrinsics.
func usableDimensionValue(v any) bool {
	switch v := v.(type) {
	case string:
		return v != ""
	case float64, bool:
		return true
	}
	return isIntrinsic(v)
}

func (c *compiler) checkNames(e *entry) {
	tmpl, hasTmpl := e.get("nameTemplate")
	if hasTmpl && tmpl != nil {
		if _, ok := tmpl.(string); !ok {
			c.errorf(e.path("nameTemplate"), "write a string such as $[functionName]-$[metricName]", "must be a string, not %s", kindOf(tmpl))
		}
	}
	prefix, hasPrefix := e.get("prefixTemplate")
	if hasPrefix {
		if _, ok := prefix.(string); !ok && (prefix != nil || jsvalue.Truthy(tmpl)) {
			c.errorf(e.path("prefixTemplate"), "write a string such as $[stackName], or '' for no prefix", "must be a string, not %s", kindOf(prefix))
		}
	}
}

// lambdaSemantics warns about alarms on AWS/Lambda metrics that cannot do
// what their author meant. Lambda emits Errors and Throttles as one 0 or 1
// per invocation and Invocations as 1, so several statistics of them are
// bounded or constant.
func (c *compiler) lambdaSemantics(e *entry, a *Alarm, pattern bool) {
	if pattern || a.Kind != Static || a.Namespace != "AWS/Lambda" || a.Statistic == "" || a.Comparison == "" {
		return
	}
	if _, isNum, _ := number(e.props["threshold"]); !isNum {
		return // unknown until deployed, or already reported
	}
	at := e.path("statistic")
	stat, t, op := a.Statistic, a.Threshold, a.Comparison
	counted := stat == "Sum" || stat == "SampleCount"
	greater := op == "GreaterThanThreshold" || op == "GreaterThanOrEqualToThreshold"
	switch a.Metric {
	case "Errors", "Throttles", "DeadLetterErrors", "DestinationDeliveryFailures":
		if counted {
			break
		}
		// Every other statistic of 0/1 values lies in [0, 1].
		switch {
		case greater && (t > 1 || t == 1 && op == "GreaterThanThreshold"):
			c.warnf(at, "use Sum to count "+a.Metric+", or Average with a threshold between 0 and 1 for a rate",
				"%s of %s is at most 1, so %s %s can never fire", stat, a.Metric, opSymbol(op), jsNumber(t))
			return
		case stat == "Minimum" && greater || stat == "Average" && greater && t == 1:
			c.warnf(at, "use Sum to alarm on any "+a.Metric+", or Average with a threshold below 1 for a rate",
				"%s of %s %s %s fires only when every invocation in a period fails", stat, a.Metric, opSymbol(op), jsNumber(t))
			return
		}
	case "Invocations":
		if !counted {
			c.warnf(at, "use Sum to count invocations", "%s of Invocations is always 1 (Lambda emits 1 per invocation)", stat)
			return
		}
	}
	if slices.Contains(lambdaMetrics, a.Metric) && (op == "GreaterThanOrEqualToThreshold" && t <= 0 || op == "GreaterThanThreshold" && t < 0) {
		c.warnf(e.path("threshold"), "raise the threshold, or use GreaterThanThreshold", "%s %s %s holds for every datapoint, so the alarm fires whenever the function runs", a.Metric, opSymbol(op), jsNumber(t))
		return
	}
	if greater && a.TreatMissingData == "breaching" && a.Metric != "ConcurrentExecutions" && slices.Contains(lambdaMetrics, a.Metric) {
		c.warnf(e.path("treatMissingData"), "use notBreaching or missing", "Lambda publishes %s only when the function runs, so with breaching the alarm fires whenever it is idle", a.Metric)
	}
}

func opSymbol(op string) string {
	switch op {
	case "GreaterThanOrEqualToThreshold":
		return "≥"
	case "GreaterThanThreshold":
		return ">"
	case "LessThanThreshold":
		return "<"
	case "LessThanOrEqualToThreshold":
		return "≤"
	}
	return op
}
