package awscfn

import (
	"fmt"

	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/schedule"
)

// Logical IDs the framework and the plugin use.
const (
	executionRoleID  = "IamRoleLambdaExecution" // the framework's shared function role
	codeDeployRoleID = "CodeDeployServiceRole"  // the role CodeDeploy assumes, unless codeDeployRole is set
)

// gradual is one function deployed through an alias by CodeDeploy.
type gradual struct {
	fn         *config.Function
	settings   *config.DeploymentSettings
	typ        schedule.Type
	functionID string // HelloLambdaFunction
	aliasID    string // HelloLambdaFunctionAliasLive
	groupID    string // HelloLambdaFunctionDeploymentGroup
	groupName  string // <stack>-HelloLambdaFunctionDeploymentGroup, at most 100 characters
	versionID  string // the function's AWS::Lambda::Version
	// provisioned is the ProvisionedConcurrencyConfig of the framework's
	// `provisioned` alias, merged into this one (see targetalias.go).
	provisioned any
	// targets are the resources whose properties mention functionID where
	// an event source names the function it invokes.
	targets []target
}

type target struct {
	id  string
	src *eventSource
}

// canary is one run of the canary transform over a template.
type canary struct {
	svc       *config.Service
	resources map[string]any
	appID     string // <Stack>DeploymentApplication
	gradual   []*gradual
	byID      map[string]*gradual // by function logical ID
	diags     config.Diagnostics
	seen      map[string]bool  // diagnostics already reported (global settings apply to many functions)
	alerts    *alerts.Compiled // custom.alerts as addAlarms compiled it, to resolve alarm names
	owned     map[string]bool  // resources already copied for changing (see cloneMap)
	bypasses  []bypass
	// canaryAlarms are each function's deploymentSettings.canaryAlarms (see canaryalarms.go).
	canaryAlarms map[*gradual][]alerts.CanaryAlarm
}

// own replaces resource id with a copy whose Properties are a copy too,
// and returns it, ready to change.
func (c *canary) own(id string) map[string]any {
	if c.owned[id] {
		return obj(c.resources[id])
	}
	r := cloneMap(obj(c.resources[id]))
	if r == nil {
		return nil
	}
	ownObj(r, "Properties")
	c.resources[id] = r
	c.owned[id] = true
	return r
}

// addCanary does what serverless-plugin-canary-deployments 0.8.0 does at
// after:aws:package:finalize:mergeCustomProviderResources: for every
// function with its own deploymentSettings, a CodeDeploy deployment group
// and an alias whose UpdatePolicy lets CodeDeploy shift traffic, and every
// event source re-pointed from the function to the alias. Where the plugin
// leaves a gap (see eventSources and addDeploymentConfigs), it is closed.
func addCanary(tpl Template, svc *config.Service, compiled *alerts.Compiled) (config.Diagnostics, error) {
	c := &canary{svc: svc, resources: obj(tpl["Resources"]), byID: map[string]*gradual{}, seen: map[string]bool{}, owned: map[string]bool{}, alerts: compiled}
	for _, f := range svc.Functions {
		if f.DeploymentSettings != nil {
			c.plan(f)
		}
	}
	if len(c.gradual) == 0 && len(c.diags) == 0 || !svc.GradualStage() {
		return nil, nil
	}
	c.appID = svc.DeploymentApplicationName()
	if r := obj(c.resources[c.appID]); r != nil && r["Type"] == "AWS::CodeDeploy::Application" {
		return nil, fmt.Errorf("the template already has the CodeDeploy application %s: it was packaged for gradual deployment before (by serverless-plugin-canary-deployments, or by sluice); remove the plugin from `plugins` in serverless.yml and run `serverless package` again", c.appID)
	}
	c.mergeTargetAliases()
	c.index()
	if err := c.finish(); err != nil {
		return c.diags, err
	}
	if err := c.planCanaryAlarms(); err != nil {
		return c.diags, err
	}

	c.addApplication()
	c.addServiceRole()
	c.addHookPermission()
	configs := c.addDeploymentConfigs()
	for _, g := range c.gradual {
		c.addDeploymentGroup(g, configs)
		c.addAlias(g)
		c.addCanaryAlarms(g)
		c.addCondition(g)
	}
	for _, g := range c.gradual {
		for _, t := range g.targets {
			t.src.retarget(c.own(t.id), g)
		}
	}
	c.reportBypasses()
	c.diags.Sort()
	return c.diags, nil
}

func (c *canary) report(sev config.Severity, path, msg, hint string) {
	key := path + "\x00" + msg
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	c.diags = append(c.diags, c.svc.Diag(sev, path, msg, hint))
}

// plan works out the logical IDs and names for f. Problems here are
// errors the validate package also reports; they are checked again so the
// transform never emits a template with holes (the plugin writes
// `undefined` into it).
func (c *canary) plan(f *config.Function) {
	ds := f.DeploymentSettings
	g := &gradual{fn: f, settings: ds, functionID: f.LogicalID() + "LambdaFunction"}
	ok := true
	typ, err := schedule.Parse(ds.Type)
	switch {
	case ds.Type == "":
		c.report(config.SeverityError, "functions."+f.Key+".deploymentSettings", "no deployment type", "add `type: Linear10PercentEvery1Minute` (or Canary10Percent5Minutes, AllAtOnce, …)")
		ok = false
	case err != nil:
		c.report(config.SeverityError, c.svc.SettingPath(f, "type"), err.Error(), "")
		ok = false
	}
	switch {
	case ds.Alias == "":
		c.report(config.SeverityError, "functions."+f.Key+".deploymentSettings", "no alias", "add `alias: Live`: traffic shifts on this alias, and event sources are pointed at it")
		ok = false
	case !isAlphaNumeric(ds.Alias):
		c.report(config.SeverityError, c.svc.SettingPath(f, "alias"), fmt.Sprintf("alias %q cannot be used: it becomes part of the logical ID %sAlias%s, which CloudFormation allows only letters and digits in", ds.Alias, g.functionID, ds.Alias), "use letters and digits only, e.g. Live")
		ok = false
	}
	for _, hook := range []struct{ key, fn string }{{"preTrafficHook", ds.PreTrafficHook}, {"postTrafficHook", ds.PostTrafficHook}} {
		if hook.fn != "" && c.svc.Function(hook.fn) == nil {
			c.report(config.SeverityError, c.svc.SettingPath(f, hook.key), fmt.Sprintf("hook function %q does not exist", hook.fn), "name one of the service's functions")
			ok = false
		}
	}
	if !ok {
		return
	}
	g.typ = typ
	g.aliasID = g.functionID + "Alias" + ds.Alias
	g.groupID = g.functionID + "DeploymentGroup"
	g.groupName = c.svc.DeploymentGroupName(g.fn)
	c.gradual = append(c.gradual, g)
	c.byID[g.functionID] = g
}

// index makes the one pass over the template that finds each function's
// version and the event sources that name it.
func (c *canary) index() {
	for id, v := range c.resources {
		r := obj(v)
		typ := str(r["Type"])
		if typ == "AWS::Lambda::Version" {
			if g := c.byID[refTarget(at(r, "Properties", "FunctionName"))]; g != nil && (g.versionID == "" || id < g.versionID) {
				g.versionID = id // the framework emits one; the least ID keeps the output stable if there are more
			}
			continue
		}
		src := eventSources[typ]
		if src == nil {
			c.findBypasses(id, typ, r)
			continue
		}
		var last *gradual
		eachString(at(props(r), src.path...), func(s string) {
			if g := c.byID[s]; g != nil && g != last {
				g.targets = append(g.targets, target{id: id, src: src})
				last = g
			}
		})
	}
}

// finish reports what the index found missing: a template the transform
// cannot complete.
func (c *canary) finish() error {
	for _, g := range c.gradual {
		path := "functions." + g.fn.Key
		if _, ok := c.resources[g.functionID]; !ok {
			c.report(config.SeverityError, path, fmt.Sprintf("the template has no resource %s for function %s", g.functionID, g.fn.Key),
				"pass the template the framework compiled from this serverless.yml (serverless package), at the same stage")
			continue
		}
		if g.versionID == "" {
			c.report(config.SeverityError, path+".deploymentSettings", fmt.Sprintf("the template has no AWS::Lambda::Version of %s, so the alias has no version to shift traffic to", g.functionID),
				"remove provider.versionFunctions: false and the function's versionFunction: false; gradual deployment needs published versions")
		}
	}
	return c.diags.Err()
}

// hookID is the logical ID of a hook function, or "" when there is none.
func hookID(key string) string {
	if key == "" {
		return ""
	}
	return config.NormalizeName(key) + "LambdaFunction"
}
