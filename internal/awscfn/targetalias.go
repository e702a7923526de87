package awscfn

import (
	"strings"
)

// The framework gives a function with provisionedConcurrency its own alias,
// <Fn>ProvConcLambdaAlias named `provisioned`, carrying the
// ProvisionedConcurrencyConfig, and one with snapStart the alias
// <Fn>SnapStartLambdaAlias named `snapstart` (its "target alias"), and
// points every event source at it: the function's ARN joined with
// ":provisioned", DependsOn the alias. The canary plugin re-points none of
// that (plugin issue #94): traffic kept going to the framework's alias,
// outside the deployment. For a function that deploys gradually sluice
// merges the two: one alias, the deployment's, carries the
// ProvisionedConcurrencyConfig (if any) and the UpdatePolicy, and
// everything that named the framework's alias names it instead.

// frameworkAlias is an alias the framework creates and routes events to.
type frameworkAlias struct {
	suffix string // of the logical ID, after the normalized function name
	name   string
}

var frameworkAliases = []frameworkAlias{
	{"ProvConcLambdaAlias", "provisioned"},
	{"SnapStartLambdaAlias", "snapstart"},
}

// mergeTargetAliases takes the framework's alias of every gradual function
// out of the template, keeping its provisioned concurrency for addAlias,
// and re-points what named it at the deployment's alias.
func (c *canary) mergeTargetAliases() {
	p := &targetAliases{byAlias: map[string]*gradual{}, byFunction: map[string]*gradual{}, names: map[*gradual]string{}}
	for _, g := range c.gradual {
		for _, fa := range frameworkAliases {
			id := g.fn.LogicalID() + fa.suffix
			r := obj(c.resources[id])
			if str(r["Type"]) != "AWS::Lambda::Alias" {
				continue
			}
			if pc := at(r, "Properties", "ProvisionedConcurrencyConfig"); pc != nil {
				g.provisioned = pc
			}
			p.byAlias[id] = g
			p.byFunction[g.functionID] = g
			p.names[g] = str(at(r, "Properties", "Name"))
			delete(c.resources, id)
		}
	}
	if len(p.byAlias) == 0 {
		return
	}
	for id, v := range c.resources {
		r := obj(v)
		if r == nil {
			continue
		}
		changed := false
		out := r
		if nv, ch := p.rewrite(r["Properties"]); ch {
			out = cloneMap(r)
			out["Properties"] = nv
			changed = true
		}
		if nv, ch := p.dependsOn(r["DependsOn"]); ch {
			if !changed {
				out = cloneMap(r)
			}
			out["DependsOn"] = nv
			changed = true
		}
		if q := str(at(out, "Properties", "Qualifier")); q != "" {
			// An EventInvokeConfig or function URL of the framework's alias.
			fn := at(out, "Properties", "FunctionName")
			if fn == nil {
				fn = at(out, "Properties", "TargetFunctionArn")
			}
			if g := p.function(fn); g != nil && p.names[g] == q {
				if !changed {
					out = cloneMap(r)
				}
				props := cloneMap(obj(out["Properties"]))
				props["Qualifier"] = g.settings.Alias
				out["Properties"] = props
				changed = true
			}
		}
		if changed {
			c.resources[id] = out
		}
	}
}

// function is the gradual function v names (by Ref, by GetAtt Arn, or the
// deployment's alias after the rewrite), or nil.
func (p *targetAliases) function(v any) *gradual {
	if g := p.byFunction[refTarget(v)]; g != nil {
		return g
	}
	if id, attr := getAttTarget(v); attr == "Arn" {
		return p.byFunction[id]
	}
	for _, g := range p.byFunction {
		if refTarget(v) == g.aliasID {
			return g
		}
	}
	return nil
}

type targetAliases struct {
	byAlias, byFunction map[string]*gradual
	names               map[*gradual]string // the framework alias's name
}

// rewrite returns v with every reference to a framework alias replaced by
// one to the deployment's alias, and whether anything changed. Values it
// changes are copies: v is shared with the input template.
func (p *targetAliases) rewrite(v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if g := p.joinedArn(x); g != nil {
				return ref(g.aliasID), true // Ref of an alias is its ARN
			}
			if g := p.byAlias[refTarget(x)]; g != nil {
				return ref(g.aliasID), true
			}
			if id, attr := getAttTarget(x); p.byAlias[id] != nil {
				return getAtt(p.byAlias[id].aliasID, attr), true
			}
			if s, ok := x["Fn::Sub"].(string); ok {
				if ns, ch := p.sub(s); ch {
					return map[string]any{"Fn::Sub": ns}, true
				}
			}
		}
		var out map[string]any
		for k, item := range x {
			if nv, ch := p.rewrite(item); ch {
				if out == nil {
					out = cloneMap(x)
				}
				out[k] = nv
			}
		}
		if out != nil {
			return out, true
		}
	case []any:
		var out []any
		for i, item := range x {
			if nv, ch := p.rewrite(item); ch {
				if out == nil {
					out = append([]any(nil), x...)
				}
				out[i] = nv
			}
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}

// joinedArn matches the framework's ARN of its alias,
// {"Fn::Join": [":", [{"Fn::GetAtt": [<Fn>, "Arn"]}, "provisioned"]]}.
func (p *targetAliases) joinedArn(m map[string]any) *gradual {
	args := list(m["Fn::Join"])
	if len(args) != 2 || args[0] != ":" {
		return nil
	}
	parts := list(args[1])
	if len(parts) != 2 {
		return nil
	}
	if id, attr := getAttTarget(parts[0]); attr == "Arn" {
		if g := p.byFunction[id]; g != nil && parts[1] == p.names[g] {
			return g
		}
	}
	return nil
}

func (p *targetAliases) sub(s string) (string, bool) {
	changed := false
	for id, g := range p.byAlias {
		if strings.Contains(s, "${"+id+"}") {
			s = strings.ReplaceAll(s, "${"+id+"}", "${"+g.aliasID+"}")
			changed = true
		}
	}
	return s, changed
}

// dependsOn re-points a DependsOn on a framework alias.
func (p *targetAliases) dependsOn(v any) (any, bool) {
	switch d := v.(type) {
	case string:
		if g := p.byAlias[d]; g != nil {
			return g.aliasID, true
		}
	case []any:
		var out []any
		for i, item := range d {
			if g := p.byAlias[str(item)]; g != nil {
				if out == nil {
					out = append([]any(nil), d...)
				}
				out[i] = g.aliasID
			}
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}
