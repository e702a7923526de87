package awscfn

import (
	"fmt"

	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
)

// maxGroupAlarms is CodeDeploy's limit of alarms per deployment group.
const maxGroupAlarms = 10

// planCanaryAlarms resolves every function's deploymentSettings.canaryAlarms
// before anything is added, so a mistake in one leaves the template as it was.
func (c *canary) planCanaryAlarms() error {
	c.canaryAlarms = map[*gradual][]alerts.CanaryAlarm{}
	for _, g := range c.gradual {
		list, diags := alerts.CanaryAlarms(c.svc, g.fn, g.versionID)
		for _, d := range diags {
			c.report(d.Severity, d.Path, d.Msg, d.Hint)
		}
		for _, a := range list {
			if _, taken := c.resources[a.LogicalID]; taken {
				c.report(config.SeverityError, a.Path, fmt.Sprintf("the template already has a resource %s", a.LogicalID), "rename the canary alarm, or the resource in `resources`")
			}
		}
		if n := len(g.settings.Alarms) + len(list); n > maxGroupAlarms {
			c.report(config.SeverityError, c.svc.SettingPath(g.fn, "canaryAlarms"),
				fmt.Sprintf("%s's deployment group would watch %d alarms (%d in alarms, %d in canaryAlarms); CodeDeploy allows at most %d", g.fn.Key, n, len(g.settings.Alarms), len(list), maxGroupAlarms),
				"drop the function-wide alarms the canary alarms replace, or combine alarms with a composite alarm")
		}
		c.canaryAlarms[g] = list
	}
	return c.diags.Err()
}

// addCanaryAlarms adds g's canary alarms: one AWS::CloudWatch::Alarm each,
// on the metrics Lambda publishes for the version that ran an invocation
// through the alias. The deployment group lists them by their literal
// AlarmName (a Ref would make the group depend on the alarm, which depends
// on the version: a cycle once anything else links them), and the alias
// depends on them, so every alarm already watches the new version when
// CodeDeploy starts shifting traffic to it.
func (c *canary) addCanaryAlarms(g *gradual) {
	canaryAlarms := c.canaryAlarms[g]
	if len(canaryAlarms) == 0 {
		return
	}
	group := props(obj(c.resources[g.groupID]))
	cfg, _ := group["AlarmConfiguration"].(map[string]any)
	if cfg == nil {
		cfg = map[string]any{"Alarms": []any{}, "Enabled": true}
		group["AlarmConfiguration"] = cfg
	}
	names := list(cfg["Alarms"])
	alias := obj(c.resources[g.aliasID])
	var deps []any
	switch d := alias["DependsOn"].(type) { // keep what the alias already waits for
	case string:
		deps = append(deps, d)
	case []any:
		deps = append(deps, d...)
	}
	for _, a := range canaryAlarms {
		c.resources[a.LogicalID] = a.Resource
		names = append(names, map[string]any{"Name": a.AlarmName})
		deps = append(deps, a.LogicalID)
	}
	cfg["Alarms"] = names
	alias["DependsOn"] = deps
}
