package awscfn

import (
	"fmt"

	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
)

// addAlarms adds the aws-alerts alarms (and their topics, metric filters
// and dashboards).
//
// The plugin merges its resources (lodash merge) into the compiled template
// at package:compileEvents; the framework merges the user's `resources`
// over the result later. tpl already holds the user's resources, so for a
// logical ID the user also defines, the alarm is merged under the user's
// definition again: the user's keys win, as with the plugin.
func addAlarms(tpl Template, svc *config.Service) (config.Diagnostics, error) {
	compiled, diags := alerts.Compile(svc)
	if err := diags.Err(); err != nil {
		return diags, err
	}
	resources := tpl["Resources"].(map[string]any)
	var user map[string]any
	if svc != nil {
		user, _ = svc.Resources["Resources"].(map[string]any)
	}
	for _, id := range config.SortedKeys(compiled.Resources) {
		res := compiled.Resources[id]
		existing, inTemplate := resources[id]
		own, byUser := user[id]
		switch {
		case byUser:
			resources[id] = alerts.Merge(res, alerts.Merge(nil, own))
		case inTemplate:
			diags = append(diags, &config.Diagnostic{
				Severity: config.SeverityWarning,
				Pos:      svc.Pos("custom.alerts"),
				Path:     "custom.alerts",
				Msg:      fmt.Sprintf("the template already has a resource %s; the alerts resource of that name is merged into it, as the plugin does", id),
				Hint:     "rename the alarm or the function if they are unrelated",
			})
			resources[id] = alerts.Merge(alerts.Merge(nil, existing), res) // never write into the input template
		default:
			resources[id] = res // Compile built it for this call alone
		}
	}
	addAlertConditions(resources, svc, compiled)
	return diags, nil
}
