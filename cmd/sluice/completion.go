package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/control"
)

// Dynamic shell completion (cobra's `sluice completion bash|zsh|fish|powershell`):
// function keys from serverless.yml, deployment ids from the state, stages
// from the service.

// service loads --config quietly for completion; nil when it cannot.
func (g *globalOptions) service() *config.Service {
	opts, err := g.loadOptions(false)
	if err != nil {
		return nil
	}
	svc, _, err := config.Load(g.config, opts)
	if err != nil {
		return nil
	}
	return svc
}

// completeFunctions completes the first argument with the function keys of
// serverless.yml.
func (g *globalOptions) completeFunctions(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return g.functionKeys(prefix), cobra.ShellCompDirectiveNoFileComp
}

func (g *globalOptions) functionKeys(prefix string) []cobra.Completion {
	svc := g.service()
	if svc == nil {
		return nil
	}
	var out []cobra.Completion
	for _, f := range svc.Functions {
		if strings.HasPrefix(f.Key, prefix) {
			out = append(out, cobra.CompletionWithDesc(f.Key, f.Name))
		}
	}
	return out
}

// completeFunctionFlag completes a flag that takes a function key.
func (g *globalOptions) completeFunctionFlag(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return g.functionKeys(prefix), cobra.ShellCompDirectiveNoFileComp
}

// completeDeployments completes the first argument with the ids of the
// deployments in progress (all of them when none is), newest first, and
// the function keys (stop takes either).
func (g *globalOptions) completeDeployments(_ *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ds, err := control.ReadHistory(g.stateDir(), "")
	if err != nil {
		return g.functionKeys(prefix), cobra.ShellCompDirectiveNoFileComp
	}
	slices.Reverse(ds)
	var active, all []cobra.Completion
	for _, d := range ds {
		if !strings.HasPrefix(d.ID, prefix) {
			continue
		}
		c := cobra.CompletionWithDesc(d.ID, d.Target.FunctionName+" "+string(d.Status))
		all = append(all, c)
		if !d.Status.Done() {
			active = append(active, c)
		}
	}
	if len(active) > 0 {
		all = active
	}
	return append(all, g.functionKeys(prefix)...), cobra.ShellCompDirectiveNoFileComp
}

// completeStages completes --stage with the service's stage and those
// custom.deploymentSettings.stages names.
func (g *globalOptions) completeStages(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
	svc := g.service()
	if svc == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	stages := []string{svc.Stage}
	if svc.DeploymentSettings != nil {
		stages = append(stages, svc.DeploymentSettings.Stages...)
	}
	slices.Sort(stages)
	var out []cobra.Completion
	for _, s := range slices.Compact(stages) {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
