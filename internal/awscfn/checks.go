package awscfn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
)

// alarmID resolves a string entry of deploymentSettings.alarms to the
// logical ID the deployment group refers to: a resource in the template,
// or the alarm that custom.alerts defines for the function under that name
// (e.g. functionErrors → HelloFunctionErrorsAlarm). Anything else is kept
// as written, as the plugin does, with a warning: a Ref to a missing
// resource fails the stack on AWS.
func (c *canary) alarmID(g *gradual, i int, id string) string {
	if _, ok := c.resources[id]; ok {
		return id
	}
	if c.alerts == nil {
		c.alerts, _ = alerts.Compile(c.svc) // its findings are reported by addAlarms
	}
	if c.alerts != nil {
		for _, a := range c.alerts.Alarms {
			if a.Function == g.fn.Key && a.Name == id {
				return a.LogicalID
			}
		}
	}
	path := c.svc.SettingPath(g.fn, "alarms")
	if strings.HasSuffix(path, ".alarms") {
		path = fmt.Sprintf("%s.%d", path, i)
	}
	c.report(config.SeverityWarning, path, fmt.Sprintf("alarm %q is not in the template, so the deployment group's Ref to it fails the stack on AWS", id),
		"define it in resources or with custom.alerts, or name an alarm definition of this function such as functionErrors")
	return id
}

// passive are resource types that may name a function's ARN without
// invoking it (policies, alarm dimensions, versions, …).
var passive = []string{"AWS::IAM::", "AWS::CloudWatch::", "AWS::CodeDeploy::", "AWS::Lambda::", "AWS::Logs::MetricFilter", "AWS::SSM::Parameter"}

// bypass is a resource left invoking a gradually deployed function
// directly: whatever it sends runs on $LATEST, outside the alias, its
// traffic shifting and its alarms. The index finds them among the resource
// types that are neither event sources (those are re-pointed) nor passive.
type bypass struct {
	g      *gradual
	id, as string
}

// findBypasses records the bypasses of resource id. The framework's own
// custom resources for existing S3 buckets, Cognito pools and event buses
// name the function by its name.
func (c *canary) findBypasses(id, typ string, r map[string]any) {
	if isPassive(typ) {
		return
	}
	var last *gradual
	walkArnRefs(r["Properties"], func(fn string) {
		if g := c.byID[fn]; g != nil && g != last {
			last = g
			c.bypasses = append(c.bypasses, bypass{g, id, fmt.Sprintf(`Fn::GetAtt %s.Arn`, fn)})
		}
	})
	if strings.HasPrefix(typ, "Custom::") {
		name := str(at(r, "Properties", "FunctionName"))
		for _, g := range c.gradual {
			if name != "" && g.fn.Name == name && g != last {
				c.bypasses = append(c.bypasses, bypass{g, id, "its FunctionName " + name})
			}
		}
	}
}

// reportBypasses warns about the bypasses found, in resource order.
func (c *canary) reportBypasses() {
	sort.Slice(c.bypasses, func(i, j int) bool { return c.bypasses[i].id < c.bypasses[j].id })
	for _, b := range c.bypasses {
		typ := str(at(c.resources[b.id], "Type"))
		c.report(config.SeverityWarning, "functions."+b.g.fn.Key,
			fmt.Sprintf("%s (%s) invokes the function directly (%s), not alias %s: what it sends bypasses the gradual deployment", b.id, typ, b.as, b.g.settings.Alias),
			fmt.Sprintf(`point it at {"Ref": %q} if it should follow the alias`, b.g.aliasID))
	}
}

func isPassive(typ string) bool {
	for _, p := range passive {
		if strings.HasPrefix(typ, p) {
			return true
		}
	}
	return false
}

// walkArnRefs calls visit with X for every {"Fn::GetAtt": [X, "Arn"]} in v.
func walkArnRefs(v any, visit func(string)) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			if id, attr := getAttTarget(v); id != "" {
				if attr == "Arn" {
					visit(id)
				}
				return
			}
		}
		for _, x := range v {
			walkArnRefs(x, visit)
		}
	case []any:
		for _, x := range v {
			walkArnRefs(x, visit)
		}
	}
}
