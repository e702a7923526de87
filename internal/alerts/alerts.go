// Package alerts reads serverless-plugin-aws-alerts configuration
// (custom.alerts and each function's alarms) into the CloudWatch alarms it
// defines, as that plugin (1.7.5) would create them.
//
// Both paths use it: `sluice package` adds the resources to the template,
// and the local engine evaluates the same alarms against local metrics.
//
// The plugin's resolution order is kept exactly: default definitions deep
// merged with custom.alerts.definitions; the global alarm lists
// (alarms, global, function) then each function's own list; a string names a
// definition, an object is merged over the definition of the same name; a
// later alarm of the same name replaces an earlier one and `enabled: false`
// removes it. Where the plugin would crash, write a template CloudFormation
// rejects, or silently ignore what the user wrote, Compile reports a
// positioned diagnostic instead.
package alerts

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/jsvalue"
)

// Kind is the type of an alarm (the plugin's `type`).
type Kind string

const (
	Static           Kind = "static"           // compares a statistic with a fixed threshold
	AnomalyDetection Kind = "anomalyDetection" // compares it with a band CloudWatch learns from history
)

// Alarm is one alarm created for one function: its identity in the
// template and the settings the local engine evaluates.
type Alarm struct {
	LogicalID string // CloudFormation logical ID, e.g. HelloFunctionErrorsAlarm
	Function  string // the function's key, e.g. hello
	Name      string // the alarm's name in the configuration, e.g. functionErrors
	// AlarmName is the AlarmName property (from nameTemplate/prefixTemplate);
	// empty when CloudFormation generates the name.
	AlarmName string
	Kind      Kind

	// The metric. Settings given as CloudFormation intrinsics have no value
	// before deployment and are left zero here.
	Namespace  string      // AWS/Lambda; the stack name for pattern alarms
	Metric     string      // MetricName, e.g. Errors (pattern alarms: BarExceptionsHelloLambdaFunction)
	Dimensions []Dimension // FunctionName → the function's deployed name, unless omitDefaultDimension
	Pattern    string      // CloudWatch Logs filter pattern whose matches are the metric; "" for AWS metrics

	Statistic         string        // Sum, Average, Minimum, Maximum, SampleCount, or an extended one (p99, tm90, …)
	Threshold         float64       // the threshold; for anomaly detection the band width in standard deviations
	Period            time.Duration // 10 s, 20 s, 30 s or a multiple of a minute
	EvaluationPeriods int           // N: how many recent periods are looked at
	DatapointsToAlarm int           // M of those N must breach (defaults to N)
	Comparison        string        // GreaterThanOrEqualToThreshold, …
	TreatMissingData  string        // missing, notBreaching, breaching or ignore
}

// Dimension is one metric dimension with a literal value.
type Dimension struct{ Name, Value string }

// Compiled is what the configuration adds to a template.
type Compiled struct {
	Alarms []Alarm // in function order, then the order the alarms are listed
	// Resources are the CloudFormation resources to merge into the template:
	// AWS::CloudWatch::Alarm, AWS::Logs::MetricFilter, AWS::SNS::Topic and
	// AWS::CloudWatch::Dashboard, by logical ID.
	Resources map[string]any
	// Of maps the logical ID of each resource made for one function (its
	// alarms and metric filters) to that function's key; topics and
	// dashboards serve the whole service and are not in it.
	Of map[string]string

	byName map[fnAlarm]string
}

type fnAlarm struct{ function, name string }

// LogicalID returns the logical ID of the alarm called name (e.g.
// functionErrors) created for the function with key function, and whether
// there is one. The canary settings use it to let deploymentSettings.alarms
// name an alarm the way custom.alerts does.
func (c *Compiled) LogicalID(function, name string) (string, bool) {
	if c == nil {
		return "", false
	}
	id, ok := c.byName[fnAlarm{function, name}]
	return id, ok
}

// Compile resolves the service's aws-alerts configuration at its stage.
// Diagnostics name the key of every problem (e.g. an alarm naming a
// definition that does not exist); when they hold errors, the Compiled value
// is incomplete and must not be deployed.
func Compile(svc *config.Service) (*Compiled, config.Diagnostics) {
	out := &Compiled{Resources: map[string]any{}, Of: map[string]string{}, byName: map[fnAlarm]string{}}
	if svc == nil {
		return out, nil
	}
	if svc.Alerts == nil {
		return out, unusedAlarms(svc)
	}
	c := &compiler{svc: svc, cfg: svc.Alerts, out: out, seen: map[string]bool{}, ids: map[string]string{}}
	active := c.activeOnStage()
	c.compile()
	if !active {
		// The plugin does nothing on this stage. Problems still get reported
		// (they would break the stages that do get alarms) but do not stop
		// this one.
		for _, d := range c.diags {
			if d.Severity == config.SeverityError {
				d.Severity = config.SeverityWarning
				d.Msg += fmt.Sprintf(" (alerts are off on stage %s, so this stops only the stages in custom.alerts.stages)", svc.Stage)
			}
		}
		*out = Compiled{Resources: map[string]any{}, Of: map[string]string{}, byName: map[fnAlarm]string{}}
	}
	c.diags.Sort()
	return out, c.diags
}

// unusedAlarms warns about functions that list alarms in a service with
// no custom.alerts: aws-alerts 1.7.5 then returns before reading them and
// generates nothing, in silence; sluice generates nothing too, but says so.
func unusedAlarms(svc *config.Service) config.Diagnostics {
	var diags config.Diagnostics
	for _, f := range svc.Functions {
		if len(f.Alarms) == 0 {
			continue
		}
		path := "functions." + f.Key + ".alarms"
		diags = append(diags, svc.Diag(config.SeverityWarning, path,
			fmt.Sprintf("function %s lists alarms, but the service has no custom.alerts, so none is created (as with serverless-plugin-aws-alerts)", f.Key),
			"add `custom: {alerts: {}}` to create them from the default definitions (functionErrors, …), or remove `alarms:`"))
	}
	return diags
}

// compiler holds the state of one Compile.
type compiler struct {
	svc   *config.Service
	cfg   map[string]any // custom.alerts
	out   *Compiled
	diags config.Diagnostics
	seen  map[string]bool   // diagnostics already reported (a global alarm is checked once per function)
	errs  int               // errors found, counting repeats the report left out
	ids   map[string]string // alarm logical ID → which function and alarm made it
	defs  map[string]*entry // definitions by name: the defaults merged with custom.alerts.definitions
	topic topics
}

const alertsPath = "custom.alerts"

func (c *compiler) report(sev config.Severity, path, hint, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	key := path + "\x00" + msg
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.diags = append(c.diags, c.svc.Diag(sev, path, msg, hint))
}

func (c *compiler) errorf(path, hint, format string, args ...any) {
	c.errs++
	c.report(config.SeverityError, path, hint, format, args...)
}

func (c *compiler) warnf(path, hint, format string, args ...any) {
	c.report(config.SeverityWarning, path, hint, format, args...)
}

// activeOnStage applies custom.alerts.stages: listed stages only.
func (c *compiler) activeOnStage() bool {
	v, ok := c.cfg["stages"]
	if !ok || !jsvalue.Truthy(v) {
		return true
	}
	path := alertsPath + ".stages"
	switch v := v.(type) {
	case []any:
		return slices.Contains(v, any(c.svc.Stage))
	case string:
		// The plugin calls String.prototype.includes here, a substring
		// test ("production" would enable stage "prod"). sluice reads a
		// string as the one stage it names.
		c.warnf(path, "write a list: stages: ["+v+"]", "is a string, not a list of stages")
		return v == c.svc.Stage
	default:
		c.errorf(path, "write a list of stage names, e.g. stages: [production]", "must be a list of stage names, not %s", kindOf(v))
		return true
	}
}

func (c *compiler) compile() {
	if es, ok := c.cfg["externalStack"]; ok && jsvalue.Truthy(es) {
		c.errorf(alertsPath+".externalStack", "remove externalStack to create the alarms in the service's own stack",
			"sluice package does not deploy a separate alerts stack")
	}
	for _, k := range config.SortedKeys(c.cfg) {
		if !slices.Contains(configKeys, k) {
			c.warnf(alertsPath+"."+k, "known keys: "+strings.Join(configKeys, ", "), "unknown custom.alerts key %q is ignored", k)
		}
	}
	for _, k := range []string{"nameTemplate", "prefixTemplate"} {
		if v, ok := c.cfg[k]; ok {
			if _, isStr := v.(string); !isStr {
				c.errorf(alertsPath+"."+k, "write a string such as $[functionName]-$[metricName]", "must be a string, not %s", kindOf(v))
			}
		}
	}
	c.definitions()
	c.compileTopics()
	c.alarms()
	if d, ok := c.cfg["dashboards"]; ok && jsvalue.Truthy(d) {
		c.dashboards(d)
	}
}

// configKeys are the keys of custom.alerts the plugin reads.
var configKeys = []string{"alarms", "dashboards", "definitions", "externalStack", "function", "global", "nameTemplate", "prefixTemplate", "stages", "topics"}

// add merges a freshly built resource into the output as the plugin's
// addCfResources does.
func (c *compiler) add(id string, res any) {
	if prev, ok := c.out.Resources[id]; ok {
		res = Merge(prev, res)
	}
	c.out.Resources[id] = res
}

// kindOf names the JSON type of v for messages.
func kindOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		if isIntrinsic(v) {
			return "a CloudFormation intrinsic"
		}
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}

// isIntrinsic reports whether v is a CloudFormation function ({Ref: …},
// {Fn::…: …}), whose value exists only once deployed.
func isIntrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// stackName is the framework's getStackName: provider.stackName, else
// <service>-<stage>.
