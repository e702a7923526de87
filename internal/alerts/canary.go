package alerts

import (
	"strconv"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/jsvalue"
)

// ErrorRate is the built-in canary alarm on the share of the new version's
// invocations that failed, in percent: metric math 100·Errors/Invocations
// over Sum of each. Its defaults: threshold 5 (%), period 60 s, one
// evaluation period, GreaterThanOrEqualToThreshold, and TreatMissingData
// notBreaching, because a period in which the new version ran no
// invocation has no datapoint (Lambda publishes nothing), and a canary that
// received no traffic has shown no error.
const ErrorRate = "errorRate"

// errorRateExpression is the metric math of ErrorRate, over the query IDs
// of the two metrics.
const errorRateExpression = "100 * errors / invocations"

// CanaryAlarm is one item of a function's deploymentSettings.canaryAlarms:
// an alarm on the metrics Lambda publishes per executed version of an
// alias, so it watches only the version a deployment shifts traffic to.
type CanaryAlarm struct {
	Alarm            // the settings; Dimensions are the three per-version ones
	Path      string // where the item is written, e.g. functions.hello.deploymentSettings.canaryAlarms.0
	ErrorRate bool   // metric math 100·Errors/Invocations (Metric is Errors)
	// Resource is the AWS::CloudWatch::Alarm, with ExecutedVersion
	// {"Fn::GetAtt": [<version logical ID>, "Version"]}.
	Resource map[string]any
}

// CanaryAlarmName is the literal AlarmName of a canary alarm: the
// deployment group lists it by name (a Ref could close a dependency
// cycle), so it is fixed by the stack, the function and the item's name.
func CanaryAlarmName(svc *config.Service, f *config.Function, name string) string {
	return svc.StackName() + "-" + f.Key + "-canary-" + name
}

// CanaryAlarmID is the logical ID of a canary alarm: HelloCanaryErrorRateAlarm.
func CanaryAlarmID(f *config.Function, name string) string {
	return f.LogicalID() + "Canary" + config.NormalizeName(name) + "Alarm"
}

// ExecutedVersionDimension is the dimension that makes an alarm a canary
// alarm: the version that ran an invocation through the alias.
const ExecutedVersionDimension = "ExecutedVersion"

// CanaryAlarms resolves f's deploymentSettings.canaryAlarms. Definitions
// are the aws-alerts built-ins, errorRate and custom.alerts.definitions,
// whether or not custom.alerts is active on this stage (canary alarms
// follow deploymentSettings.stages). versionID is the logical ID of the
// function's AWS::Lambda::Version.
func CanaryAlarms(svc *config.Service, f *config.Function, versionID string) ([]CanaryAlarm, config.Diagnostics) {
	ds := f.DeploymentSettings
	if ds == nil || len(ds.CanaryAlarms) == 0 {
		return nil, nil
	}
	cfg := svc.Alerts
	if cfg == nil {
		cfg = map[string]any{}
	}
	c := &compiler{svc: svc, cfg: cfg, out: &Compiled{Resources: map[string]any{}, byName: map[fnAlarm]string{}}, seen: map[string]bool{}, ids: map[string]string{}}
	c.definitions()
	if _, custom := c.defs[ErrorRate]; !custom {
		c.defs[ErrorRate] = &entry{props: errorRateDefinition(), from: map[string]string{}}
	} else {
		c.defs[ErrorRate].props = Merge(errorRateDefinition(), c.defs[ErrorRate].props).(map[string]any)
	}
	if svc.Alerts != nil && c.activeOnStage() {
		// The topics aws-alerts creates on this stage notify canary alarms
		// too; their own problems are reported by Compile.
		c.compileTopics()
	}
	c.diags, c.seen = nil, map[string]bool{}

	base := svc.SettingPath(f, "canaryAlarms")
	var out []CanaryAlarm
	names := map[string]string{}
	for i, item := range ds.CanaryAlarms {
		at := base + "." + strconv.Itoa(i)
		e := c.resolve(item, at)
		if e == nil {
			continue
		}
		if !jsvalue.Truthy(e.props["enabled"]) {
			continue
		}
		name := e.name()
		if prev, dup := names[name]; dup {
			c.errorf(e.namePath(), "list each alarm once, or give the inline one another name", "canary alarm %q is already listed at %s", name, prev)
			continue
		}
		names[name] = at
		if a, ok := c.canaryAlarm(svc, f, e, versionID); ok {
			a.Path = at
			out = append(out, a)
		}
	}
	c.diags.Sort()
	return out, c.diags
}

func errorRateDefinition() map[string]any {
	return map[string]any{
		"namespace":          "AWS/Lambda",
		"enabled":            true,
		"actionsEnabled":     true,
		"type":               string(Static),
		"metric":             "Errors",
		"statistic":          "Sum",
		"threshold":          5.0,
		"period":             60.0,
		"evaluationPeriods":  1.0,
		"datapointsToAlarm":  1.0,
		"comparisonOperator": "GreaterThanOrEqualToThreshold",
		"treatMissingData":   "notBreaching",
	}
}

// canaryAlarm checks one resolved item and builds its resource.
func (c *compiler) canaryAlarm(svc *config.Service, f *config.Function, e *entry, versionID string) (CanaryAlarm, bool) {
	name := e.name()
	id := CanaryAlarmID(f, name)
	if !isLogicalID(id) {
		c.errorf(e.namePath(), "use letters, digits, - and _ in alarm names", "makes the logical ID %q, which CloudFormation rejects", id)
		return CanaryAlarm{}, false
	}
	if jsvalue.Truthy(e.props["pattern"]) {
		c.errorf(e.path("pattern"), "alarm on a Lambda metric (Errors, Duration, Throttles, Invocations) or use errorRate", "a canary alarm cannot count log lines: Lambda's per-version metrics are the only ones that tell the versions apart")
		return CanaryAlarm{}, false
	}
	if e.props["type"] == string(AnomalyDetection) {
		c.errorf(e.path("type"), "use a static threshold", "a canary alarm cannot use anomaly detection: a new version has no history to learn a band from")
		return CanaryAlarm{}, false
	}
	if _, ok := e.props["namespace"]; !ok {
		e.props["namespace"] = "AWS/Lambda" // an inline alarm of no definition
	}
	if ns, _ := e.props["namespace"].(string); ns != "AWS/Lambda" {
		c.errorf(e.path("namespace"), "use namespace AWS/Lambda", "a canary alarm watches Lambda's per-version metrics, not namespace %s", jsQuote(e.props["namespace"]))
		return CanaryAlarm{}, false
	}
	for _, k := range []string{"dimensions", "omitDefaultDimension", "nameTemplate", "prefixTemplate"} {
		if _, ok := e.from[k]; ok {
			c.warnf(e.path(k), "remove it from the canary alarm", "%s is ignored: a canary alarm's dimensions are FunctionName, Resource (the alias) and ExecutedVersion, and its name is fixed", k)
		}
		delete(e.props, k)
	}
	// Canary alarms default to notBreaching: a canary period with no
	// invocation of the new version has shown nothing wrong.
	if !jsvalue.Truthy(e.props["treatMissingData"]) {
		e.props["treatMissingData"] = "notBreaching"
	}
	errorRate := name == ErrorRate

	before := c.errs
	a := c.check(f, e)
	a.Function, a.Name, a.LogicalID = f.Key, name, id
	a.AlarmName = CanaryAlarmName(svc, f, name)
	res := c.alarmResource(f, e, &a)
	if c.errs != before {
		return CanaryAlarm{}, false
	}
	fnRef := map[string]any{"Ref": f.LogicalID() + "LambdaFunction"}
	dims := []any{
		map[string]any{"Name": "FunctionName", "Value": fnRef},
		map[string]any{"Name": "Resource", "Value": map[string]any{"Fn::Join": []any{":", []any{clone(fnRef), f.DeploymentSettings.Alias}}}},
		map[string]any{"Name": ExecutedVersionDimension, "Value": map[string]any{"Fn::GetAtt": []any{versionID, "Version"}}},
	}
	props := res["Properties"].(map[string]any)
	props["AlarmName"] = a.AlarmName
	a.Dimensions = []Dimension{{"FunctionName", f.Name}, {"Resource", f.Name + ":" + f.DeploymentSettings.Alias}, {ExecutedVersionDimension, ""}}
	if errorRate {
		period := props["Period"]
		for _, k := range []string{"Namespace", "MetricName", "Statistic", "ExtendedStatistic", "EvaluateLowSampleCountPercentile", "Period", "Dimensions"} {
			delete(props, k)
		}
		query := func(id, metric string) map[string]any {
			return map[string]any{
				"Id": id,
				"MetricStat": map[string]any{
					"Metric": map[string]any{"Namespace": "AWS/Lambda", "MetricName": metric, "Dimensions": clone(dims)},
					"Period": clone(period),
					"Stat":   "Sum",
				},
				"ReturnData": false,
			}
		}
		props["Metrics"] = []any{
			query("errors", "Errors"),
			query("invocations", "Invocations"),
			map[string]any{"Id": "errorRate", "Expression": errorRateExpression, "Label": "Error rate of the new version (%)", "ReturnData": true},
		}
		a.Metric, a.Statistic = "Errors", "Sum"
	} else {
		props["Dimensions"] = dims
	}
	return CanaryAlarm{Alarm: a, ErrorRate: errorRate, Resource: res}, true
}

// WithExecutedVersion returns a copy of the alarm's Properties with the
// ExecutedVersion dimension set to version: what CloudFormation makes of
// Fn::GetAtt <Version>.Version, for the local engine.
func (a CanaryAlarm) WithExecutedVersion(version string) map[string]any {
	props := clone(a.Resource["Properties"]).(map[string]any)
	setDims := func(dims any) {
		for _, d := range asList(dims) {
			if m, ok := d.(map[string]any); ok && m["Name"] == ExecutedVersionDimension {
				m["Value"] = version
			}
		}
	}
	setDims(props["Dimensions"])
	for _, q := range asList(props["Metrics"]) {
		m, _ := q.(map[string]any)
		stat, _ := m["MetricStat"].(map[string]any)
		metric, _ := stat["Metric"].(map[string]any)
		setDims(metric["Dimensions"])
	}
	return props
}

func asList(v any) []any { l, _ := v.([]any); return l }
