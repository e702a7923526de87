package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
)

// alarmSet is the alarms the engine evaluates locally: every alarm
// `sluice package` would add for the service (aws-alerts) and the
// AWS::CloudWatch::Alarm resources written in `resources`. Both are read
// from their CloudFormation form, so local evaluation judges exactly what
// would be deployed.
type alarmSet struct {
	specs       []alarm.Spec
	byLogicalID map[string]string // logical ID → alarm name
	names       map[string]bool
	compiled    *alerts.Compiled
	// canary are the functions' canaryAlarms by deployed function name,
	// put on a version by the engine (canary.go); ref resolves their Refs.
	canary map[string][]alerts.CanaryAlarm
	ref    alarm.RefResolver
}

// buildAlarms collects the service's alarms. Alarms that cannot be
// evaluated here (log-pattern alarms, anomaly detection, metric math, or
// metrics of other namespaces) are reported as warnings and left out.
func buildAlarms(svc *config.Service) (*alarmSet, config.Diagnostics) {
	set := &alarmSet{byLogicalID: map[string]string{}, names: map[string]bool{}}
	compiled, diags := alerts.Compile(svc)
	set.compiled = compiled
	ref := func(logicalID string) (string, error) {
		for _, f := range svc.Functions {
			if logicalID == f.LogicalID()+"LambdaFunction" {
				return f.Name, nil
			}
		}
		return "", fmt.Errorf("{Ref: %s} names no function of the service", logicalID)
	}
	set.ref = ref
	canary, canaryDiags := buildCanaryAlarms(svc, svc.GradualStage())
	diags = append(diags, canaryDiags...)
	set.canary = canary
	for _, list := range canary {
		for _, a := range list {
			if set.names[a.AlarmName] {
				diags = append(diags, svc.Diag(config.SeverityError, a.Path, fmt.Sprintf("two alarms are named %s", a.AlarmName), "rename one of them"))
			}
			set.names[a.AlarmName] = true
		}
	}
	add := func(logicalID string, props map[string]any, path string) {
		if ns, _ := props["Namespace"].(string); ns != "" && ns != "AWS/Lambda" {
			diags = append(diags, svc.Diag(config.SeverityWarning, path,
				fmt.Sprintf("alarm %s watches namespace %s, which sluice does not record locally; it stays INSUFFICIENT_DATA here", logicalID, ns),
				"alarm on AWS/Lambda metrics (Errors, Duration, Throttles, Invocations, ConcurrentExecutions) to have it judged locally"))
			return
		}
		spec, err := alarm.FromCloudFormation(logicalID, props, ref)
		if err != nil {
			diags = append(diags, svc.Diag(config.SeverityWarning, path, fmt.Sprintf("alarm %s is not evaluated locally: %v", logicalID, err), ""))
			return
		}
		if set.names[spec.Name] {
			diags = append(diags, svc.Diag(config.SeverityError, path, fmt.Sprintf("two alarms are named %s", spec.Name), "give each alarm its own AlarmName"))
			return
		}
		set.names[spec.Name] = true
		set.byLogicalID[logicalID] = spec.Name
		set.specs = append(set.specs, spec)
	}
	for _, a := range compiled.Alarms {
		props, _ := compiled.Resources[a.LogicalID].(map[string]any)["Properties"].(map[string]any)
		path := "functions." + a.Function + ".alarms"
		if a.Pattern != "" {
			diags = append(diags, svc.Diag(config.SeverityWarning, path,
				fmt.Sprintf("alarm %s counts log lines matching a pattern, which sluice does not evaluate locally", a.LogicalID), ""))
			continue
		}
		if a.Kind == alerts.AnomalyDetection {
			diags = append(diags, svc.Diag(config.SeverityWarning, path,
				fmt.Sprintf("alarm %s uses anomaly detection, which sluice does not evaluate locally", a.LogicalID), ""))
			continue
		}
		add(a.LogicalID, props, path)
	}
	res, _ := svc.Resources["Resources"].(map[string]any)
	for _, id := range config.SortedKeys(res) {
		r, _ := res[id].(map[string]any)
		if r["Type"] != "AWS::CloudWatch::Alarm" {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		add(id, props, "resources.Resources."+id)
	}
	return set, diags
}

// groupAlarms resolves a function's deploymentSettings.alarms to alarm
// names: logical IDs of alarm resources, aws-alerts alarm names of the
// function (functionErrors), or {name: …} objects naming an alarm or
// Ref-ing one.
func (s *alarmSet) groupAlarms(svc *config.Service, f *config.Function) ([]string, config.Diagnostics) {
	var names []string
	var diags config.Diagnostics
	path := svc.SettingPath(f, "alarms")
	for _, ref := range f.DeploymentSettings.Alarms {
		var name string
		switch {
		case ref.LogicalID != "":
			name = s.byLogicalID[ref.LogicalID]
			if id, ok := s.compiled.LogicalID(f.Key, ref.LogicalID); name == "" && ok {
				name = s.byLogicalID[id]
			}
		default:
			switch n := ref.Name.(type) {
			case string:
				if s.names[n] {
					name = n
				}
			case map[string]any:
				if id, ok := n["Ref"].(string); ok {
					name = s.byLogicalID[id]
				}
			}
		}
		if name == "" {
			diags = append(diags, svc.Diag(config.SeverityWarning, path,
				fmt.Sprintf("deployments of %s will not watch alarm %s: no alarm of that name is evaluated locally", f.Key, describeRef(ref)),
				"define it in custom.alerts or as an AWS::CloudWatch::Alarm in resources"))
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, a := range s.canary[f.Name] {
		names = append(names, a.AlarmName)
	}
	return names, diags
}

func describeRef(ref config.AlarmRef) string {
	if ref.LogicalID != "" {
		return ref.LogicalID
	}
	return strings.TrimSpace(fmt.Sprint(ref.Name))
}
