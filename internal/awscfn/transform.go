// Package awscfn rewrites the Serverless Framework's compiled CloudFormation
// template so the service deploys gradually: what the plugins
// serverless-plugin-aws-alerts and serverless-plugin-canary-deployments do,
// in the order the framework runs them, with their known gaps closed.
package awscfn

import (
	"fmt"

	"github.com/sluice-dev/sluice/internal/config"
)

// Template is a CloudFormation template as the plain JSON values
// encoding/json produces (map[string]any, []any, string, float64 or
// json.Number, bool, nil).
type Template = map[string]any

// Transform returns a copy of tpl with the service's alarms and gradual
// deployment resources added. The input is not modified; the result shares
// the values it leaves unchanged with it, so treat both as read-only (or
// copy them) afterwards. Diagnostics hold
// warnings about configurations that look wrong; err is set when the
// template cannot be produced (the diagnostics then hold the errors, with
// the place in serverless.yml to fix).
func Transform(tpl Template, svc *config.Service) (Template, config.Diagnostics, error) {
	resources, ok := tpl["Resources"].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("the template has no Resources section; pass the framework's compiled template (.serverless/cloudformation-template-update-stack.json)")
	}
	// Copy-on-write (see cloneMap): the steps add resources to this copy of
	// Resources and replace the ones they change, but never change a value
	// of tpl in place.
	out := cloneMap(tpl)
	out["Resources"] = cloneMap(resources)
	var diags config.Diagnostics
	// aws-alerts runs at package:compileEvents, before the canary plugin
	// (after:aws:package:finalize:mergeCustomProviderResources), so the
	// canary settings can refer to the alarms it creates.
	compiled, ds, err := addAlarms(out, svc)
	diags = append(diags, ds...)
	if err != nil {
		return nil, diags, err
	}
	ds, err = addCanary(out, svc, compiled)
	diags = append(diags, ds...)
	if err != nil {
		return nil, diags, err
	}
	return out, diags, nil
}
