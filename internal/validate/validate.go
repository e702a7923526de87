// Package validate checks a loaded service for mistakes the framework and
// its plugins let through: gradual-deployment settings that would deploy
// something other than what was meant, or fail only once on AWS.
package validate

import (
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/schedule"
)

// MaxAlarms is CodeDeploy's limit of alarms per deployment group.
const MaxAlarms = 10

// validAlias is Lambda's alias name rule, narrowed to what can also appear
// in the CloudFormation logical ID <Fn>LambdaFunctionAlias<alias>: 1 to 128
// letters and digits. (A loop, not a regexp: the regexp's {1,128} compiles
// into 128 states at start-up, on every command.)
func validAlias(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

var triggerEvents = []string{"DeploymentStart", "DeploymentSuccess", "DeploymentFailure", "DeploymentStop", "DeploymentRollback", "DeploymentReady"}

// Service returns every finding about svc, in file order.
func Service(svc *config.Service) config.Diagnostics {
	v := &validator{svc: svc, seen: map[string]bool{}}
	compiled, diags := alerts.Compile(svc)
	v.diags = append(v.diags, diags...)
	for _, f := range svc.Functions {
		if f.DeploymentSettings != nil {
			v.deployment(f, compiled)
			v.canary(f, compiled)
		}
	}
	v.diags.Sort()
	return v.diags
}

type validator struct {
	svc   *config.Service
	diags config.Diagnostics
	seen  map[string]bool // paths already reported (global settings apply to many functions)
}

func (v *validator) report(sev config.Severity, path, msg, hint string) {
	key := path + "\x00" + msg
	if v.seen[key] {
		return
	}
	v.seen[key] = true
	v.diags = append(v.diags, v.svc.Diag(sev, path, msg, hint))
}

func (v *validator) deployment(f *config.Function, compiled *alerts.Compiled) {
	svc, ds := v.svc, f.DeploymentSettings
	own := "functions." + f.Key + ".deploymentSettings"
	if !svc.Provider.VersionFunctions {
		v.report(config.SeverityError, own, "gradual deployment needs function versions, but provider.versionFunctions is false",
			"remove versionFunctions: false (an alias can only shift traffic between published versions)")
	}
	switch {
	case ds.Type == "":
		v.report(config.SeverityError, own, "no deployment type", "add `type: Linear10PercentEvery1Minute` (or Canary10Percent5Minutes, AllAtOnce, …)")
	default:
		if _, err := schedule.Parse(ds.Type); err != nil {
			v.report(config.SeverityError, svc.SettingPath(f, "type"), err.Error(), "")
		}
	}
	switch {
	case ds.Alias == "":
		v.report(config.SeverityError, own, "no alias", "add `alias: Live`: traffic shifts on this alias, and event sources are pointed at it")
	case !validAlias(ds.Alias):
		v.report(config.SeverityError, svc.SettingPath(f, "alias"), fmt.Sprintf("alias %q cannot be used: it becomes part of the logical ID %sLambdaFunctionAlias%s, which CloudFormation allows only letters and digits in", ds.Alias, f.LogicalID(), ds.Alias),
			"use letters and digits only, e.g. Live")
	case isDigits(ds.Alias):
		v.report(config.SeverityError, svc.SettingPath(f, "alias"), fmt.Sprintf("alias %q is all digits, which Lambda reserves for versions", ds.Alias), "use a name such as Live")
	}
	for _, hook := range []struct{ key, fn string }{{"preTrafficHook", ds.PreTrafficHook}, {"postTrafficHook", ds.PostTrafficHook}} {
		if hook.fn == "" {
			continue
		}
		path := svc.SettingPath(f, hook.key)
		switch h := svc.Function(hook.fn); {
		case h == nil:
			v.report(config.SeverityError, path, fmt.Sprintf("hook function %q does not exist", hook.fn), "name one of the functions: "+functionKeys(svc))
		case h == f:
			v.report(config.SeverityError, path, fmt.Sprintf("%s is its own %s", f.Key, hook.key), "use a separate function that tests this one")
		case h.DeploymentSettings != nil:
			v.report(config.SeverityWarning, path, fmt.Sprintf("hook function %q is itself deployed gradually", hook.fn),
				"CodeDeploy invokes the hook's $LATEST version directly; remove its deploymentSettings")
		}
	}
	if len(ds.Alarms) > MaxAlarms {
		v.report(config.SeverityError, svc.SettingPath(f, "alarms"), fmt.Sprintf("%d alarms; CodeDeploy allows at most %d per deployment group", len(ds.Alarms), MaxAlarms), "combine alarms, e.g. with a composite alarm")
	}
	for i, a := range ds.Alarms {
		if a.LogicalID == "" || v.alarmDefined(f, a.LogicalID, compiled) {
			continue
		}
		path := svc.SettingPath(f, "alarms")
		if strings.HasPrefix(path, "functions.") || strings.HasPrefix(path, "custom.") {
			path = fmt.Sprintf("%s.%d", path, i)
		}
		v.report(config.SeverityWarning, path, fmt.Sprintf("no alarm %q is defined in resources or by custom.alerts", a.LogicalID),
			"check the logical ID (a Ref to a missing resource fails the stack), or name an alarm definition of this function such as functionErrors")
	}
	for i, tc := range ds.TriggerConfigurations {
		v.trigger(svc.SettingPath(f, "triggerConfigurations"), i, tc)
	}
}

// alarmDefined reports whether an alarms entry names an alarm that exists:
// a resource in `resources`, or an aws-alerts alarm (by logical ID, or by
// its name for this function).
func (v *validator) alarmDefined(f *config.Function, id string, compiled *alerts.Compiled) bool {
	if res, ok := v.svc.Resources["Resources"].(map[string]any); ok {
		if _, ok := res[id]; ok {
			return true
		}
	}
	for _, a := range compiled.Alarms {
		if a.LogicalID == id || (a.Function == f.Key && a.Name == id) {
			return true
		}
	}
	return false
}

func (v *validator) trigger(path string, i int, tc any) {
	p := fmt.Sprintf("%s.%d", path, i)
	m, ok := tc.(map[string]any)
	if !ok {
		v.report(config.SeverityError, p, "a trigger configuration must be a mapping", "write TriggerName, TriggerEvents and TriggerTargetArn")
		return
	}
	if _, ok := m[MisspelledTriggerTarget]; ok {
		// The canary plugin's own fixtures spell it so, and pass it
		// through; CloudFormation then fails the stack on it.
		v.report(config.SeverityError, p+"."+MisspelledTriggerTarget, MisspelledTriggerTarget+" is not a property of a CodeDeploy trigger; CloudFormation rejects it",
			"rename it to TriggerTargetArn (as in AWS::CodeDeploy::DeploymentGroup TriggerConfig)")
	}
	for _, k := range []string{"TriggerName", "TriggerEvents", "TriggerTargetArn"} {
		if _, ok := m[k]; !ok && (k != "TriggerTargetArn" || m[MisspelledTriggerTarget] == nil) {
			v.report(config.SeverityError, p, "the trigger configuration has no "+k, "write TriggerName, TriggerEvents and TriggerTargetArn")
		}
	}
	events, _ := m["TriggerEvents"].([]any)
	for _, e := range events {
		if s, _ := e.(string); !contains(triggerEvents, s) {
			v.report(config.SeverityError, p, fmt.Sprintf("unknown trigger event %v", e), "use "+strings.Join(triggerEvents, ", "))
		}
	}
}

// MisspelledTriggerTarget is how serverless-plugin-canary-deployments'
// fixtures spell TriggerTargetArn.
const MisspelledTriggerTarget = "TargetTriggerArn"

func functionKeys(svc *config.Service) string {
	keys := make([]string, len(svc.Functions))
	for i, f := range svc.Functions {
		keys[i] = f.Key
	}
	return strings.Join(keys, ", ")
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
