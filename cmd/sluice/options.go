package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/control"
)

// globalOptions are the flags every command shares, and what they lead to.
type globalOptions struct {
	config      string
	stage       string
	region      string
	stateDirArg string
	params      []string // --param key=value: ${param:key}
	vars        []string // --var 'ssm:/path=value': a local value for an AWS-only variable
}

func (g *globalOptions) bindFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVarP(&g.config, "config", "c", "", "the service definition (default: serverless.yml, serverless.yaml or serverless.json in this directory), or the service loaded to JSON")
	f.StringVarP(&g.stage, "stage", "s", "", "the stage (default: provider.stage, else dev)")
	f.StringVarP(&g.region, "region", "r", "", "the region (default: provider.region, else us-east-1)")
	f.StringVar(&g.stateDirArg, "state-dir", "", "where the local engine keeps its state (default: .sluice beside the service definition)")
	f.StringArrayVar(&g.params, "param", nil, "a value for ${param:`key=value`} (repeatable; wins over params.<stage> and params.default)")
	f.StringArrayVar(&g.vars, "var", nil, "a local value for a variable only AWS resolves, e.g. `'ssm:/path=value'` (repeatable; wins over sluice.local.yml)")
	root.PersistentPreRun = func(*cobra.Command, []string) {
		// Without --config, every command names the serverless.yml, .yaml or
		// .json found here; when none is, the empty name makes the loader say so.
		if g.config == "" {
			g.config, _ = config.Find("")
		}
	}
}

// loadOptions are the config.Options of the shared flags. local is set by
// commands that run the functions here.
func (g *globalOptions) loadOptions(local bool) (config.Options, error) {
	params, err := config.ParseAssignments("param", g.params)
	if err != nil {
		return config.Options{}, err
	}
	vars, err := config.ParseAssignments("var", g.vars)
	if err != nil {
		return config.Options{}, err
	}
	return config.Options{Stage: g.stage, Region: g.region, Params: params, Vars: vars, Local: local}, nil
}

// stateDir is where the engine for --config keeps its state: --state-dir,
// else .sluice beside the service definition.
func (g *globalOptions) stateDir() string {
	if g.stateDirArg != "" {
		return g.stateDirArg
	}
	return filepath.Join(filepath.Dir(g.config), ".sluice")
}

// dialEngine connects to the engine running for --config.
func (g *globalOptions) dialEngine() (*control.Client, error) {
	return control.Dial(g.stateDir())
}

// loadService loads the --config service with the shared flags, writing
// warnings to w. local is set by commands that run the functions here.
func (g *globalOptions) loadService(w io.Writer, local bool) (*config.Service, config.Diagnostics, error) {
	opts, err := g.loadOptions(local)
	if err != nil {
		return nil, nil, err
	}
	path, err := config.Find(g.config)
	if err != nil {
		return nil, nil, err
	}
	svc, diags, err := config.Load(path, opts)
	for _, d := range diags.Warnings() {
		fmt.Fprintln(w, d.Error())
	}
	if err != nil {
		return nil, diags, fmt.Errorf("%s is not valid:\n%w", path, err)
	}
	return svc, diags, nil
}

// functionName maps a function's key in serverless.yml (api) to its
// deployed name (orders-dev-api); other names pass through.
func (g *globalOptions) functionName(name string) string {
	opts, err := g.loadOptions(false)
	if err != nil {
		return name
	}
	svc, _, err := config.Load(g.config, opts)
	if err != nil {
		return name
	}
	if f := svc.Function(name); f != nil {
		return f.Name
	}
	return name
}
