package awscfn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

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
func addAlarms(tpl Template, svc *config.Service) (*alerts.Compiled, config.Diagnostics, error) {
	compiled, diags := alerts.Compile(svc)
	if err := diags.Err(); err != nil {
		return nil, diags, err
	}
	resources := tpl["Resources"].(map[string]any)
	var user map[string]any
	if svc != nil {
		user, _ = svc.Resources["Resources"].(map[string]any)
	}
	var precompiled, differing []string
	for _, id := range config.SortedKeys(compiled.Resources) {
		res := compiled.Resources[id]
		existing, inTemplate := resources[id]
		own, byUser := user[id]
		switch {
		case byUser:
			resources[id] = alerts.Merge(res, alerts.Merge(nil, own))
		case inTemplate && compiledAlike(existing, res):
			// Serverless Framework v4 (4.15 and later) compiles custom.alerts
			// itself, plugin or not: the template holds this very resource
			// already. Keep one, sluice's (merging the two could mix, say,
			// a Statistic with an ExtendedStatistic).
			precompiled = append(precompiled, id)
			if !sameJSON(existing, res) {
				differing = append(differing, id)
			}
			resources[id] = res
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
	if len(precompiled) > 0 {
		msg := fmt.Sprintf("the template already has %d of the resources custom.alerts makes (%s), as Serverless Framework v4.15 and later compile custom.alerts themselves; each is kept once, as sluice makes it", len(precompiled), listIDs(precompiled))
		if len(differing) > 0 {
			msg += fmt.Sprintf("; %d differed from sluice's (%s), which replaced them", len(differing), listIDs(differing))
		}
		diags = append(diags, &config.Diagnostic{
			Severity: config.SeverityWarning,
			Pos:      svc.Pos("custom.alerts"),
			Path:     "custom.alerts",
			Msg:      msg,
			Hint:     "nothing to fix; packaged with sluice, the framework's own alarms are not needed",
		})
	}
	addAlertConditions(resources, svc, compiled)
	return compiled, diags, nil
}

// listIDs names up to three logical IDs, then how many more.
func listIDs(ids []string) string {
	if len(ids) <= 3 {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:3], ", "), len(ids)-3)
}

// sameJSON reports whether a and b are the same JSON value (numbers
// compare by value whether json.Number, int or float64).
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// compiledAlike reports whether a resource found in the template is one
// a compiler of custom.alerts made from the same definition as res: the
// same resource, or an alarm on the same metric (Serverless Framework v4
// may write one a little differently, e.g. without sluice's fixes).
func compiledAlike(existing, res any) bool {
	if str(at(existing, "Type")) != str(at(res, "Type")) {
		return false
	}
	if sameJSON(existing, res) {
		return true
	}
	if str(at(res, "Type")) != "AWS::CloudWatch::Alarm" {
		return false
	}
	metric := func(r any) [2]any {
		return [2]any{at(r, "Properties", "Namespace"), at(r, "Properties", "MetricName")}
	}
	m := metric(existing)
	return m[1] != nil && sameJSON(m, metric(res))
}
