package alerts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/config"
)

// entry is an alarm definition, or an alarm resolved from one, as plain
// JSON values, with where each of its keys is written.
type entry struct {
	props map[string]any
	from  map[string]string // key → config path of the value that won; absent for the plugin's defaults
	at    string            // config path of the definition, or of the list item naming the alarm
	def   string            // config path of the custom definition the alarm is based on, if any
}

func (e *entry) get(k string) (any, bool) {
	v, ok := e.props[k]
	return v, ok
}

// statistic is the alarm's statistic and the key it is written under.
// aws-alerts reads only `statistic` and silently drops `extendedStatistic`
// (CloudWatch then rejects the alarm for having no statistic); sluice takes
// extendedStatistic as what it evidently means, over a statistic the user
// did not write (a default definition's).
func (e *entry) statistic() (key string, v any, ok bool) {
	if v, ok := e.get("extendedStatistic"); ok {
		return "extendedStatistic", v, true
	}
	v, ok = e.get("statistic")
	return "statistic", v, ok
}

// path is where the value of key k is written (or should be): its own key
// when the user wrote it, else the custom definition the alarm is based on,
// else the place the alarm is listed.
func (e *entry) path(k string) string {
	if p, ok := e.from[k]; ok {
		return p
	}
	if e.def != "" {
		return e.def
	}
	return e.at
}

// namePath is where the alarm's name is written: the list item, or its name key.
func (e *entry) namePath() string {
	if p, ok := e.from["name"]; ok {
		return p
	}
	return e.at
}

// name is the alarm's name (validated to be a string when resolved).
func (e *entry) name() string { s, _ := e.props["name"].(string); return s }

// defaultDefinitions are the plugin's defaults/definitions.js.
func defaultDefinitions() map[string]map[string]any {
	def := func(metric string, threshold float64, statistic string) map[string]any {
		return map[string]any{
			"namespace":          "AWS/Lambda",
			"enabled":            true,
			"actionsEnabled":     true,
			"type":               string(Static),
			"metric":             metric,
			"threshold":          threshold,
			"statistic":          statistic,
			"period":             60.0,
			"evaluationPeriods":  1.0,
			"datapointsToAlarm":  1.0,
			"comparisonOperator": "GreaterThanOrEqualToThreshold",
		}
	}
	return map[string]map[string]any{
		"functionInvocations": def("Invocations", 100, "Sum"),
		"functionErrors":      def("Errors", 1, "Sum"),
		"functionDuration":    def("Duration", 500, "Average"),
		"functionThrottles":   def("Throttles", 1, "Sum"),
	}
}

// alarmKeys are the keys an alarm or definition may have.
var alarmKeys = []string{
	"actionsEnabled", "alarmActions", "comparisonOperator", "datapointsToAlarm", "description", "dimensions",
	"enabled", "evaluateLowSampleCountPercentile", "evaluationPeriods", "extendedStatistic", "insufficientDataActions", "metric",
	"name", "nameTemplate", "namespace", "okActions", "omitDefaultDimension", "pattern", "period",
	"prefixTemplate", "statistic", "threshold", "treatMissingData", "type",
}

// definitions merges custom.alerts.definitions over the defaults
// (lodash merge, as getDefinitions).
func (c *compiler) definitions() {
	c.defs = map[string]*entry{}
	for name, d := range defaultDefinitions() {
		c.defs[name] = &entry{props: d, from: map[string]string{}}
	}
	raw, ok := c.cfg["definitions"]
	if !ok || raw == nil {
		return
	}
	path := alertsPath + ".definitions"
	custom, ok := raw.(map[string]any)
	if !ok {
		c.errorf(path, "write a mapping of definition names to alarm settings", "must be a mapping, not %s", kindOf(raw))
		return
	}
	for _, name := range config.SortedKeys(custom) {
		dp := path + "." + name
		m, ok := custom[name].(map[string]any)
		if !ok {
			if custom[name] != nil {
				c.errorf(dp, "give the alarm's settings, e.g. metric, threshold, statistic", "a definition must be a mapping, not %s", kindOf(custom[name]))
			}
			continue
		}
		c.unknownKeys(m, dp)
		e := c.defs[name]
		if e == nil {
			e = &entry{props: map[string]any{}, from: map[string]string{}}
			c.defs[name] = e
		}
		e.at = dp
		e.props = Merge(e.props, m).(map[string]any)
		for k := range m {
			e.from[k] = dp + "." + k
		}
	}
}

// unknownKeys warns about keys of an alarm or definition the plugin does not read.
func (c *compiler) unknownKeys(m map[string]any, path string) {
	for _, k := range config.SortedKeys(m) {
		if slices.Contains(alarmKeys, k) {
			continue
		}
		hint := "known keys: " + strings.Join(alarmKeys, ", ")
		for _, known := range alarmKeys {
			if strings.EqualFold(k, known) {
				hint = "did you mean " + known + "? (keys are case-sensitive)"
			}
		}
		c.warnf(path+"."+k, hint, "unknown alarm key %q is ignored", k)
	}
}

// globalAlarms is getGlobalAlarms: the union of custom.alerts.alarms,
// global and function, resolved.
func (c *compiler) globalAlarms() []*entry {
	lists := []string{"alarms", "global", "function"}
	raw := make([]any, len(lists))
	for i, k := range lists {
		v, ok := c.cfg[k]
		if !ok || v == nil {
			continue
		}
		if _, isList := v.([]any); !isList {
			// lodash.union skips anything that is not a list: the plugin
			// would silently create no alarm.
			c.errorf(alertsPath+"."+k, "write a list, e.g. "+k+": [functionErrors]", "must be a list of alarms, not %s", kindOf(v))
		}
		raw[i] = v
	}
	var out []*entry
	for _, it := range union(raw...) {
		if e := c.resolve(it.value, fmt.Sprintf("%s.%s.%d", alertsPath, lists[it.list], it.index)); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// functionAlarms is getFunctionAlarms for one function.
func (c *compiler) functionAlarms(f *config.Function) []*entry {
	var out []*entry
	for i, a := range f.Alarms {
		if e := c.resolve(a, "functions."+f.Key+".alarms."+strconv.Itoa(i)); e != nil {
			out = append(out, e)
		}
	}
	return out
}

// resolve is getAlarms for one list item: a definition's name, or an object
// merged over the definition of the same name.
func (c *compiler) resolve(item any, at string) *entry {
	base := map[string]any{"enabled": true, "type": string(Static)}
	switch a := item.(type) {
	case string:
		def := c.defs[a]
		if def == nil {
			c.errorf(at, "define it under custom.alerts.definitions, or use one of: "+strings.Join(config.SortedKeys(c.defs), ", "),
				"alarm definition %q does not exist", a)
			return nil
		}
		// Object.assign: a shallow copy of the definition.
		for k, v := range def.props {
			base[k] = v
		}
		base["name"] = a
		return &entry{props: base, from: def.from, at: at, def: def.at}
	case map[string]any:
		name, ok := a["name"].(string)
		if !ok {
			if _, has := a["name"]; has {
				c.errorf(at+".name", "write the alarm's name as a string", "must be a string, not %s", kindOf(a["name"]))
			} else {
				c.errorf(at, "add `name: <alarm name>`; it names the alarm and picks the definition it is merged over", "the alarm has no name")
			}
			return nil
		}
		c.unknownKeys(a, at)
		from, defAt := map[string]string{}, ""
		if def := c.defs[name]; def != nil {
			defAt = def.at
			base = Merge(base, def.props).(map[string]any)
			for k, p := range def.from {
				from[k] = p
			}
		}
		base = Merge(base, a).(map[string]any)
		for k := range a {
			from[k] = at + "." + k
		}
		return &entry{props: base, from: from, at: at, def: defAt}
	default:
		c.errorf(at, "write a definition's name (e.g. functionErrors) or a mapping with a name", "an alarm must be a string or a mapping, not %s", kindOf(item))
		return nil
	}
}
