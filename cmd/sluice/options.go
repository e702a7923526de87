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
}

func (g *globalOptions) bindFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVarP(&g.config, "config", "c", "serverless.yml", "the service definition: serverless.yml, or the service loaded to JSON")
	f.StringVarP(&g.stage, "stage", "s", "", "the stage (default: provider.stage, else dev)")
	f.StringVarP(&g.region, "region", "r", "", "the region (default: provider.region, else us-east-1)")
	f.StringVar(&g.stateDirArg, "state-dir", "", "where the local engine keeps its state (default: .sluice beside the service definition)")
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
	svc, diags, err := config.Load(g.config, config.Options{Stage: g.stage, Region: g.region, Local: local})
	for _, d := range diags.Warnings() {
		fmt.Fprintln(w, d.Error())
	}
	if err != nil {
		return nil, diags, fmt.Errorf("%s is not valid:\n%w", g.config, err)
	}
	return svc, diags, nil
}

// functionName maps a function's key in serverless.yml (api) to its
// deployed name (orders-dev-api); other names pass through.
func (g *globalOptions) functionName(name string) string {
	svc, _, err := config.Load(g.config, config.Options{Stage: g.stage, Region: g.region})
	if err != nil {
		return name
	}
	if f := svc.Function(name); f != nil {
		return f.Name
	}
	return name
}
