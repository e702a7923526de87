package awscfn

import (
	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
)

// functionCondition is the CloudFormation condition a function is created
// under: the Condition of its resource in the template (osls v4 writes a
// function's `condition` there, and on its version and log group), else
// the function's own `condition` key. "" when it has none.
func functionCondition(resources map[string]any, f *config.Function) string {
	if c := str(at(resources[f.LogicalID()+"LambdaFunction"], "Condition")); c != "" {
		return c
	}
	return str(f.Raw["condition"])
}

// setCondition puts resource id under cond, unless it has a condition of
// its own (one the user wrote in resources). The resource must be one the
// transform made, not a value shared with the input.
func setCondition(resources map[string]any, id, cond string) {
	r := obj(resources[id])
	if r == nil || cond == "" {
		return
	}
	if _, has := r["Condition"]; !has {
		r["Condition"] = cond
	}
}

// addCondition gives what was added for g's function its condition: where
// the condition is false the function does not exist, and an alias,
// deployment group or alarm of it would fail the stack.
func (c *canary) addCondition(g *gradual) {
	cond := functionCondition(c.resources, g.fn)
	if cond == "" {
		return
	}
	setCondition(c.resources, g.aliasID, cond)
	setCondition(c.resources, g.groupID, cond)
	for _, a := range c.canaryAlarms[g] {
		setCondition(c.resources, a.LogicalID, cond)
	}
}

// addAlertConditions gives each function's aws-alerts alarms and metric
// filters the function's condition.
func addAlertConditions(resources map[string]any, svc *config.Service, compiled *alerts.Compiled) {
	for id, key := range compiled.Of {
		if f := svc.Function(key); f != nil {
			setCondition(resources, id, functionCondition(resources, f))
		}
	}
}
