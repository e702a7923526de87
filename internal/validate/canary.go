package validate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/schedule"
)

// scope is what part of a function's invocations an alarm sees.
type scope int

const (
	scopeUnknown  scope = iota // not an AWS/Lambda alarm, or not readable before deployment
	scopeFunction              // FunctionName (or no dimension): every version, every alias
	scopeAlias                 // FunctionName + Resource=<function>:<alias>: both versions behind the alias
	scopeVersion               // + ExecutedVersion: the version that ran the invocation through the alias
	scopeNever                 // dimensions Lambda never publishes an alias invocation under
)

// groupAlarm is one alarm a deployment group watches, in its template form.
type groupAlarm struct {
	id    string         // logical ID, or the canary alarm's name
	props map[string]any // AWS::CloudWatch::Alarm Properties
	path  string         // where serverless.yml adds it to the group
}

// canary checks function f's deployment group's alarms as a whole:
// canaryAlarms themselves, the scope of every alarm, the bake time against
// each alarm's evaluation window, and CodeDeploy's limit.
func (v *validator) canary(f *config.Function, compiled *alerts.Compiled) {
	svc, ds := v.svc, f.DeploymentSettings
	canary, diags := alerts.CanaryAlarms(svc, f, f.LogicalID()+"LambdaVersion")
	for _, d := range diags {
		v.report(d.Severity, d.Path, d.Msg, d.Hint)
	}
	alarms := v.groupAlarms(f, compiled)
	for _, a := range canary {
		alarms = append(alarms, groupAlarm{id: a.AlarmName, props: a.Resource["Properties"].(map[string]any), path: a.Path})
	}
	if n := len(ds.Alarms) + len(ds.CanaryAlarms); len(ds.Alarms) <= MaxAlarms && n > MaxAlarms {
		v.report(config.SeverityError, svc.SettingPath(f, "canaryAlarms"),
			fmt.Sprintf("%d alarms (%d in alarms, %d in canaryAlarms); CodeDeploy allows at most %d per deployment group, counting both", n, len(ds.Alarms), len(ds.CanaryAlarms), MaxAlarms),
			"drop the function-wide alarms the canary alarms replace, or combine alarms with a composite alarm")
	}

	wide, known := 0, 0
	for _, a := range alarms {
		sc, why := alarmScope(a.props, f, ds.Alias)
		switch sc {
		case scopeUnknown:
			continue
		case scopeFunction, scopeAlias:
			wide++
		case scopeNever:
			v.report(config.SeverityWarning, a.path, fmt.Sprintf("alarm %s watches %s, which Lambda never publishes for invocations through alias %s: it stays INSUFFICIENT_DATA and passes every canary", a.id, why, ds.Alias),
				"watch the new version with canaryAlarms (dimensions FunctionName, Resource=<function>:"+ds.Alias+", ExecutedVersion)")
		}
		known++
		v.bake(f, a)
	}
	if known > 0 && wide == known {
		v.report(config.SeverityWarning, svc.SettingPath(f, "alarms"),
			fmt.Sprintf("every alarm of %s's deployment group watches the whole function or alias: the new version's errors are diluted by the traffic still on the old one, and an old version that keeps failing keeps the alarm in ALARM, which stops the deployment of its own fix", f.Key),
			"add canaryAlarms: [functionErrors] (or errorRate) to watch only the version being deployed; see docs/canary-alarms.md")
	}
}

// bake warns when an alarm's evaluation window is longer than the time
// each share of traffic stays before the next one moves.
func (v *validator) bake(f *config.Function, a groupAlarm) {
	typ, err := schedule.Parse(f.DeploymentSettings.Type)
	if err != nil || typ.Kind == schedule.AllAtOnce {
		return
	}
	period, n := alarmWindow(a.props)
	if period == 0 || n == 0 {
		return
	}
	window := period * time.Duration(n)
	if window <= typ.Interval {
		return
	}
	what := "the canary interval"
	if typ.Kind == schedule.Linear {
		what = "each linear step"
	}
	v.report(config.SeverityWarning, a.path,
		fmt.Sprintf("alarm %s evaluates %v (period %v × %d evaluation periods), longer than %s of %s (%v): it cannot fire before the traffic has moved on", a.id, window, period, n, what, f.DeploymentSettings.Type, typ.Interval),
		"shorten the period or evaluationPeriods, or use a longer deployment type")
}

// groupAlarms resolves the entries of f's deploymentSettings.alarms to the
// alarms in the template: aws-alerts alarms and resources.
func (v *validator) groupAlarms(f *config.Function, compiled *alerts.Compiled) []groupAlarm {
	var out []groupAlarm
	base := v.svc.SettingPath(f, "alarms")
	res, _ := v.svc.Resources["Resources"].(map[string]any)
	find := func(id string) map[string]any {
		for _, src := range []map[string]any{compiled.Resources, res} {
			if r, ok := src[id].(map[string]any); ok && r["Type"] == "AWS::CloudWatch::Alarm" {
				p, _ := r["Properties"].(map[string]any)
				return p
			}
		}
		return nil
	}
	for i, ref := range f.DeploymentSettings.Alarms {
		path := base
		if strings.HasSuffix(base, ".alarms") {
			path = base + "." + strconv.Itoa(i)
		}
		id := ref.LogicalID
		if m, ok := ref.Name.(map[string]any); ok {
			id, _ = m["Ref"].(string)
		}
		if id == "" {
			continue // a name: the alarm may live outside the stack
		}
		props := find(id)
		if props == nil {
			if lid, ok := compiled.LogicalID(f.Key, id); ok {
				id, props = lid, find(lid)
			}
		}
		if props != nil {
			out = append(out, groupAlarm{id: id, props: props, path: path})
		}
	}
	return out
}

// digitsOrLatest is a version qualifier.
var digitsOrLatest = regexp.MustCompile(`^(\d+|\$LATEST)$`)

// alarmScope classifies an alarm by its metric's dimensions; why names the
// unpublished dimensions for scopeNever.
func alarmScope(props map[string]any, f *config.Function, alias string) (scope, string) {
	ns, dims := metricOf(props)
	if ns != "AWS/Lambda" {
		return scopeUnknown, ""
	}
	names := map[string]any{}
	for _, d := range dims {
		m, _ := d.(map[string]any)
		if n, ok := m["Name"].(string); ok {
			names[n] = m["Value"]
		}
	}
	_, hasFn := names["FunctionName"]
	res, hasRes := names["Resource"]
	_, hasExec := names["ExecutedVersion"]
	switch {
	case len(names) == 0 || len(names) == 1 && hasFn:
		return scopeFunction, ""
	case hasFn && hasRes && (len(names) == 2 || len(names) == 3 && hasExec):
		switch qualifier(res) {
		case "version":
			return scopeNever, "Resource = <function>:<version>"
		case "alias":
			if hasExec {
				return scopeVersion, ""
			}
			return scopeAlias, ""
		}
		return scopeUnknown, ""
	}
	return scopeNever, "the dimensions " + strings.Join(config.SortedKeys(names), " + ")
}

// qualifier tells what a Resource dimension value names: "version",
// "alias" or "" when it cannot be told before deployment.
func qualifier(v any) string {
	switch x := v.(type) {
	case string:
		i := strings.LastIndex(x, ":")
		if i < 0 {
			return ""
		}
		if digitsOrLatest.MatchString(x[i+1:]) {
			return "version"
		}
		return "alias"
	case map[string]any:
		if join, ok := x["Fn::Join"].([]any); ok && len(join) == 2 {
			parts, _ := join[1].([]any)
			if len(parts) == 0 {
				return ""
			}
			last := parts[len(parts)-1]
			if s, ok := last.(string); ok {
				if s == "" {
					return ""
				}
				return qualifier(":" + strings.TrimPrefix(s, ":"))
			}
			if versionAttr(last) {
				return "version"
			}
		}
		if sub, ok := x["Fn::Sub"].(string); ok && strings.Contains(sub, ".Version}") {
			return "version"
		}
	}
	return ""
}

// versionAttr reports whether v is Fn::GetAtt <x>.Version.
func versionAttr(v any) bool {
	m, _ := v.(map[string]any)
	switch g := m["Fn::GetAtt"].(type) {
	case []any:
		return len(g) == 2 && g[1] == "Version"
	case string:
		return strings.HasSuffix(g, ".Version")
	}
	return false
}

// metricOf reads an alarm's namespace and dimensions, from its own
// properties or from the first metric query of metric math.
func metricOf(props map[string]any) (string, []any) {
	if qs, ok := props["Metrics"].([]any); ok {
		for _, q := range qs {
			m, _ := q.(map[string]any)
			stat, _ := m["MetricStat"].(map[string]any)
			metric, _ := stat["Metric"].(map[string]any)
			if metric != nil {
				ns, _ := metric["Namespace"].(string)
				dims, _ := metric["Dimensions"].([]any)
				return ns, dims
			}
		}
		return "", nil
	}
	ns, _ := props["Namespace"].(string)
	dims, _ := props["Dimensions"].([]any)
	return ns, dims
}

// alarmWindow reads Period and EvaluationPeriods; 0 when not literal.
func alarmWindow(props map[string]any) (time.Duration, int) {
	period := props["Period"]
	if qs, ok := props["Metrics"].([]any); ok {
		for _, q := range qs {
			m, _ := q.(map[string]any)
			if stat, ok := m["MetricStat"].(map[string]any); ok {
				period = stat["Period"]
				break
			}
		}
	}
	p, n := num(period), num(props["EvaluationPeriods"])
	return time.Duration(p) * time.Second, int(n)
}

func num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case string:
		f, _ := strconv.ParseFloat(x, 64)
		return f
	}
	return 0
}
