package awscfn

import (
	"fmt"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/jsvalue"
	"github.com/sluice-dev/sluice/internal/schedule"
)

func (c *canary) addApplication() {
	c.resources[c.appID] = map[string]any{
		"Type":       "AWS::CodeDeploy::Application",
		"Properties": map[string]any{"ComputePlatform": "Lambda"},
	}
}

// addServiceRole adds the role CodeDeploy assumes, unless the service
// names its own (custom.deploymentSettings.codeDeployRole).
func (c *canary) addServiceRole() {
	global := c.svc.DeploymentSettings
	if global != nil && jsvalue.Truthy(global.CodeDeployRole) {
		return
	}
	policies := []any{
		"arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited",
		"arn:aws:iam::aws:policy/AWSLambda_FullAccess",
	}
	for _, g := range c.gradual {
		// Triggers publish to SNS. JavaScript truthiness: the plugin adds
		// the policy for an empty list, too.
		if jsvalue.Truthy(g.settings.Raw["triggerConfigurations"]) {
			policies = append(policies, "arn:aws:iam::aws:policy/AmazonSNSFullAccess")
			break
		}
	}
	p := map[string]any{
		"ManagedPolicyArns": policies,
		"AssumeRolePolicyDocument": map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Action":    []any{"sts:AssumeRole"},
				"Effect":    "Allow",
				"Principal": map[string]any{"Service": []any{"codedeploy.amazonaws.com"}},
			}},
		},
	}
	if global != nil && jsvalue.Truthy(global.CodeDeployRolePermissionsBoundary) {
		p["PermissionsBoundary"] = global.CodeDeployRolePermissionsBoundary
	}
	c.resources[codeDeployRoleID] = map[string]any{"Type": "AWS::IAM::Role", "Properties": p}
}

// addHookPermission lets the hook functions report their result
// (PutLifecycleEventHookExecutionStatus) for the deployment groups that
// have hooks, on the framework's shared execution role.
func (c *canary) addHookPermission() {
	var groups []any
	var hooked *gradual // the first function with a hook
	for _, g := range c.gradual {
		if g.settings.PreTrafficHook != "" || g.settings.PostTrafficHook != "" {
			groups = append(groups, map[string]any{
				"Fn::Sub": fmt.Sprintf("arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${%s}/%s", c.appID, g.groupName),
			})
			if hooked == nil {
				hooked = g
			}
		}
	}
	if hooked == nil {
		return
	}
	role := obj(c.resources[executionRoleID])
	stmts, ok := at(firstOf(list(at(role, "Properties", "Policies"))), "PolicyDocument", "Statement").([]any)
	if !ok {
		// An existing role (provider.iam.role) or one without an inline
		// policy: not ours to change (the plugin leaves it, too), so say
		// what the hooks need.
		c.report(config.SeverityWarning, "functions."+hooked.fn.Key+".deploymentSettings",
			"the template has no inline policy on "+executionRoleID+" to grant the hooks codedeploy:PutLifecycleEventHookExecutionStatus",
			"allow that action in the hook functions' own role, or the deployment waits an hour for the hook and fails")
		return
	}
	policies := ownList(props(c.own(executionRoleID)), "Policies")
	doc := ownObj(ownItem(policies, 0), "PolicyDocument")
	doc["Statement"] = append(stmts[:len(stmts):len(stmts)], map[string]any{
		"Action":   []any{"codedeploy:PutLifecycleEventHookExecutionStatus"},
		"Effect":   "Allow",
		"Resource": groups,
	})
}

func firstOf(l []any) any {
	if len(l) == 0 {
		return nil
	}
	return l[0]
}

// addDeploymentConfigs adds an AWS::CodeDeploy::DeploymentConfig for each
// distinct custom deployment type, and returns their logical IDs by type.
// The plugin always writes CodeDeployDefault.Lambda<type>, which exists
// only for the nine predefined types.
func (c *canary) addDeploymentConfigs() map[schedule.Type]string {
	configs := map[schedule.Type]string{}
	for _, g := range c.gradual {
		t := g.typ
		if t.Predefined {
			continue
		}
		key := schedule.Type{Kind: t.Kind, Percent: t.Percent, Interval: t.Interval}
		if _, ok := configs[key]; ok {
			continue
		}
		id := customConfigName(t) + "DeploymentConfig"
		configs[key] = id
		minutes := int(t.Interval.Minutes())
		routing := map[string]any{}
		switch t.Kind {
		case schedule.Canary:
			routing["Type"] = "TimeBasedCanary"
			routing["TimeBasedCanary"] = map[string]any{"CanaryPercentage": t.Percent, "CanaryInterval": minutes}
		case schedule.Linear:
			routing["Type"] = "TimeBasedLinear"
			routing["TimeBasedLinear"] = map[string]any{"LinearPercentage": t.Percent, "LinearInterval": minutes}
		default:
			routing["Type"] = "AllAtOnce"
		}
		// No DeploymentConfigName: CloudFormation generates one unique to
		// the stack (config names are per account and region), and Ref
		// returns it.
		c.resources[id] = map[string]any{
			"Type": "AWS::CodeDeploy::DeploymentConfig",
			"Properties": map[string]any{
				"ComputePlatform":      "Lambda",
				"TrafficRoutingConfig": routing,
			},
		}
	}
	return configs
}

// customConfigName spells a custom type canonically, so Canary25Percent1Minute
// and Canary25Percent1Minutes share one config.
func customConfigName(t schedule.Type) string {
	minutes := int(t.Interval.Minutes())
	unit := "Minutes"
	if minutes == 1 {
		unit = "Minute"
	}
	switch t.Kind {
	case schedule.Canary:
		return fmt.Sprintf("Canary%dPercent%d%s", t.Percent, minutes, unit)
	case schedule.Linear:
		return fmt.Sprintf("Linear%dPercentEvery%d%s", t.Percent, minutes, unit)
	}
	return "AllAtOnce"
}

func (c *canary) addDeploymentGroup(g *gradual, configs map[schedule.Type]string) {
	ds := g.settings
	var configName any
	if g.typ.Predefined {
		// The plugin's form, kept byte for byte; the type is spelled the
		// way CodeDeploy names it (Canary10Percent5Minute would not exist).
		configName = map[string]any{"Fn::Sub": []any{"CodeDeployDefault.Lambda${ConfigName}", map[string]any{"ConfigName": g.typ.Name}}}
	} else {
		configName = ref(configs[schedule.Type{Kind: g.typ.Kind, Percent: g.typ.Percent, Interval: g.typ.Interval}])
	}
	var role any = getAtt(codeDeployRoleID, "Arn")
	if jsvalue.Truthy(ds.CodeDeployRole) {
		role = ds.CodeDeployRole
	}
	p := map[string]any{
		"ApplicationName": ref(c.appID),
		"AutoRollbackConfiguration": map[string]any{
			"Enabled": true,
			"Events":  []any{"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM", "DEPLOYMENT_STOP_ON_REQUEST"},
		},
		"DeploymentGroupName":  g.groupName,
		"DeploymentConfigName": configName,
		"DeploymentStyle": map[string]any{
			"DeploymentType":   "BLUE_GREEN",
			"DeploymentOption": "WITH_TRAFFIC_CONTROL",
		},
		"ServiceRoleArn": role,
	}
	// An empty alarms list would be AlarmConfiguration {Enabled: true,
	// Alarms: []}, which CodeDeploy rejects; the plugin emits it.
	if len(ds.Alarms) > 0 {
		alarms := make([]any, len(ds.Alarms))
		for i, a := range ds.Alarms {
			if a.LogicalID != "" {
				alarms[i] = map[string]any{"Name": ref(c.alarmID(g, i, a.LogicalID))}
			} else {
				alarms[i] = map[string]any{"Name": a.Name}
			}
		}
		p["AlarmConfiguration"] = map[string]any{"Alarms": alarms, "Enabled": true}
	}
	if tc := ds.Raw["triggerConfigurations"]; jsvalue.Truthy(tc) {
		p["TriggerConfigurations"] = tc
	}
	c.resources[g.groupID] = map[string]any{"Type": "AWS::CodeDeploy::DeploymentGroup", "Properties": p}
}

func (c *canary) addAlias(g *gradual) {
	update := map[string]any{
		"ApplicationName":     ref(c.appID),
		"DeploymentGroupName": ref(g.groupID),
	}
	// The plugin drops absent hooks (omit-empty).
	if id := hookID(g.settings.PreTrafficHook); id != "" {
		update["BeforeAllowTrafficHook"] = ref(id)
	}
	if id := hookID(g.settings.PostTrafficHook); id != "" {
		update["AfterAllowTrafficHook"] = ref(id)
	}
	props := map[string]any{
		"FunctionVersion": getAtt(g.versionID, "Version"),
		"FunctionName":    ref(g.functionID),
		"Name":            g.settings.Alias,
	}
	if g.provisioned != nil {
		props["ProvisionedConcurrencyConfig"] = g.provisioned
	}
	c.resources[g.aliasID] = map[string]any{
		"Type":         "AWS::Lambda::Alias",
		"Properties":   props,
		"UpdatePolicy": map[string]any{"CodeDeployLambdaAliasUpdate": update},
	}
}
