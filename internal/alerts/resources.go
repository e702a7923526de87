package alerts

import (
	"slices"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/jsvalue"
)

// alarms is compileAlarms: every function gets the global alarms followed
// by its own, by logical ID; a later alarm with the same ID replaces an
// earlier one and a disabled one removes it.
func (c *compiler) alarms() {
	global := c.globalAlarms()
	for _, f := range c.svc.Functions {
		var order []string
		final := map[string]*entry{}
		for _, e := range append(slices.Clone(global), c.functionAlarms(f)...) {
			e = c.withNameDefaults(e)
			id := config.NormalizeName(f.Key) + config.NormalizeName(e.name()) + "Alarm"
			if !jsvalue.Truthy(e.props["enabled"]) {
				delete(final, id)
				continue
			}
			if _, ok := final[id]; !ok {
				order = append(order, id)
			}
			final[id] = e
		}
		for _, id := range order {
			if e := final[id]; e != nil {
				c.alarm(f, id, e)
			}
		}
	}
}

// withNameDefaults gives the alarm custom.alerts' nameTemplate and
// prefixTemplate unless it has its own.
func (c *compiler) withNameDefaults(e *entry) *entry {
	out := &entry{props: make(map[string]any, len(e.props)+2), from: make(map[string]string, len(e.from)+2), at: e.at, def: e.def}
	for _, k := range []string{"nameTemplate", "prefixTemplate"} {
		if v, ok := c.cfg[k]; ok {
			out.props[k] = v
			out.from[k] = alertsPath + "." + k
		}
	}
	for k, v := range e.props {
		out.props[k] = v
	}
	for k, p := range e.from {
		out.from[k] = p
	}
	return out
}

// alarm checks one enabled alarm of function f and adds its resources.
func (c *compiler) alarm(f *config.Function, id string, e *entry) {
	name := e.name()
	if !isLogicalID(id) {
		c.errorf(e.namePath(), "use letters, digits, - and _ in alarm names", "makes the logical ID %q, which CloudFormation rejects", id)
		return
	}
	if prev, dup := c.ids[id]; dup {
		c.errorf(e.namePath(), "rename one of the alarms (or functions)", "makes the logical ID %s, which %s already makes", id, prev)
		return
	}
	c.ids[id] = "alarm " + name + " of function " + f.Key

	before := c.errs
	a := c.check(f, e)
	a.LogicalID, a.Function, a.Name = id, f.Key, name
	res := c.alarmResource(f, e, &a)
	if c.errs != before {
		return
	}
	c.add(id, res)
	c.of(id, f)
	if pattern, ok := e.get("pattern"); ok && jsvalue.Truthy(pattern) {
		c.metricFilters(f, e)
	}
	c.out.Alarms = append(c.out.Alarms, a)
	c.out.byName[fnAlarm{f.Key, name}] = id
}

// alarmResource is getAlarmCloudFormation. Keys whose value the user left
// undefined are absent, as in the plugin's JSON.
func (c *compiler) alarmResource(f *config.Function, e *entry, a *Alarm) map[string]any {
	fnRef := f.LogicalID() + "LambdaFunction"
	pattern := jsvalue.Truthy(e.props["pattern"])
	metric, hasMetric := e.get("metric")
	namespace, hasNamespace := e.get("namespace")
	metricID, hasMetricID := metric, hasMetric
	dimensions := []any{}
	if pattern {
		namespace, hasNamespace = c.svc.StackName(), true
		metricID, hasMetricID = patternMetricName(metric, fnRef), true
	} else {
		dimensions = c.dimensions(e, fnRef)
	}
	treatMissing := e.props["treatMissingData"]
	if !jsvalue.Truthy(treatMissing) {
		treatMissing = "missing"
	}

	props := map[string]any{}
	set := func(key string, v any, present bool) {
		if present {
			props[key] = clone(v)
		}
	}
	prop := func(key, from string) { v, ok := e.get(from); set(key, v, ok) }

	prop("ActionsEnabled", "actionsEnabled")
	prop("AlarmDescription", "description")
	prop("EvaluationPeriods", "evaluationPeriods")
	prop("DatapointsToAlarm", "datapointsToAlarm")
	prop("ComparisonOperator", "comparisonOperator")
	set("TreatMissingData", treatMissing, true)
	set("OKActions", c.actions(e, "ok", "okActions"), true)
	set("AlarmActions", c.actions(e, "alarm", "alarmActions"), true)
	set("InsufficientDataActions", c.actions(e, "insufficientData", "insufficientDataActions"), true)

	if e.props["type"] == string(AnomalyDetection) {
		stat := map[string]any{}
		metricSpec := map[string]any{"Dimensions": dimensions}
		if hasNamespace {
			metricSpec["Namespace"] = clone(namespace)
		}
		if hasMetricID {
			metricSpec["MetricName"] = clone(metricID)
		}
		stat["Metric"] = metricSpec
		if v, ok := e.get("period"); ok {
			stat["Period"] = clone(v)
		}
		if _, v, ok := e.statistic(); ok {
			stat["Stat"] = clone(v)
		}
		threshold, hasThreshold := e.get("threshold")
		props["Metrics"] = []any{
			map[string]any{"Id": "m1", "ReturnData": true, "MetricStat": stat},
			map[string]any{
				"Id":         "ad1",
				"Expression": "ANOMALY_DETECTION_BAND(m1, " + jsString(threshold, !hasThreshold) + ")",
				"Label":      jsString(metricID, !hasMetricID) + " (expected)",
				"ReturnData": true,
			},
		}
		props["ThresholdMetricId"] = "ad1"
	} else {
		set("Namespace", namespace, hasNamespace)
		set("MetricName", metricID, hasMetricID)
		prop("Threshold", "threshold")
		prop("Period", "period")
		set("Dimensions", dimensions, true)
		_, stat, hasStat := e.statistic()
		if s, ok := stat.(string); ok && slices.Contains(standardStatistics, s) {
			props["Statistic"] = s
		} else {
			set("ExtendedStatistic", stat, hasStat)
			prop("EvaluateLowSampleCountPercentile", "evaluateLowSampleCountPercentile")
		}
	}

	if name, ok := c.alarmName(f, e, metricID, hasMetricID); ok {
		props["AlarmName"] = name
		a.AlarmName = name
	}
	return map[string]any{"Type": "AWS::CloudWatch::Alarm", "Properties": props}
}

var standardStatistics = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}

// patternMetricName is the metric a pattern alarm's log filters publish:
// upperFirst(metric) + the function's logical ID.
func patternMetricName(metric any, fnRef string) string {
	return upperFirst(lodashString(metric)) + fnRef
}

// dimensions is getDimensionsList: the alarm's dimensions plus
// FunctionName = the function, unless omitDefaultDimension.
func (c *compiler) dimensions(e *entry, fnRef string) []any {
	raw, _ := e.get("dimensions")
	list, _ := raw.([]any)
	if jsvalue.Truthy(e.props["omitDefaultDimension"]) {
		return clone(list).([]any)
	}
	out := make([]any, 0, len(list)+1)
	for _, d := range list {
		if m, ok := d.(map[string]any); ok && m["Name"] == "FunctionName" {
			continue
		}
		out = append(out, clone(d))
	}
	return append(out, map[string]any{"Name": "FunctionName", "Value": map[string]any{"Ref": fnRef}})
}

// alarmName is the AlarmName the plugin sets from nameTemplate or
// prefixTemplate (getAlarmName); ok is false when neither is set.
func (c *compiler) alarmName(f *config.Function, e *entry, metricID any, hasMetricID bool) (string, bool) {
	tmpl, _ := e.props["nameTemplate"].(string)
	prefix, hasPrefix := e.props["prefixTemplate"].(string)
	if !jsvalue.Truthy(tmpl) && !jsvalue.Truthy(prefix) {
		return "", false
	}
	metric, hasMetric := e.get("metric")
	if !jsvalue.Truthy(tmpl) {
		// With only a prefix the plugin names the alarm after itself.
		tmpl = "$[functionName]-$[metricName]"
		if n := e.name(); n != "" {
			metric, hasMetric = n, true
		}
	}
	s := replaceFirst(tmpl, "$[functionName]", f.Key)
	s = replaceFirst(s, "$[functionId]", f.LogicalID()+"LambdaFunction")
	s = replaceFirst(s, "$[metricName]", jsString(metric, !hasMetric))
	s = replaceFirst(s, "$[metricId]", jsString(metricID, !hasMetricID))
	if !hasPrefix {
		prefix = "$[stackName]"
	}
	prefix = replaceFirst(prefix, "$[stackName]", c.svc.StackName())
	if prefix == "" {
		return s, true
	}
	return prefix + "-" + s, true
}

// metricFilters adds a pattern alarm's two log metric filters: 1 for each
// log event matching the pattern, 0 for every event, so the metric has a
// datapoint (0) whenever the function logs and no match happened.
// of records that resource id was made for function f.
func (c *compiler) of(id string, f *config.Function) {
	if c.out.Of == nil {
		c.out.Of = map[string]string{}
	}
	c.out.Of[id] = f.Key
}

func (c *compiler) metricFilters(f *config.Function, e *entry) {
	fnRef := f.LogicalID() + "LambdaFunction"
	base := fnRef + upperFirst(e.name()) + "LogMetricFilter"
	metric, _ := e.get("metric")
	filter := func(pattern any, value float64) map[string]any {
		return map[string]any{
			"Type":      "AWS::Logs::MetricFilter",
			"DependsOn": f.LogicalID() + "LogGroup",
			"Properties": map[string]any{
				"FilterPattern": clone(pattern),
				"LogGroupName":  "/aws/lambda/" + f.Name,
				"MetricTransformations": []any{map[string]any{
					"MetricValue":     value,
					"MetricNamespace": c.svc.StackName(),
					"MetricName":      patternMetricName(metric, fnRef),
				}},
			},
		}
	}
	c.add(base+"ALERT", filter(e.props["pattern"], 1))
	c.add(base+"OK", filter("", 0))
	c.of(base+"ALERT", f)
	c.of(base+"OK", f)
}
