package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
)

// loadFlags are the loader's inputs besides --config, --stage and --region.
var loadFlags struct {
	params []string // --param key=value: ${param:key}
	vars   []string // --var 'ssm:/path=value': a local value for an AWS-only variable
}

func init() {
	f := rootCmd.PersistentFlags()
	f.StringArrayVar(&loadFlags.params, "param", nil, "a value for ${param:`key=value`} (repeatable; wins over params.<stage> and params.default)")
	f.StringArrayVar(&loadFlags.vars, "var", nil, "a local value for a variable only AWS resolves, e.g. `'ssm:/path=value'` (repeatable; wins over sluice.local.yml)")
	cobra.OnInitialize(findConfig)
}

// findConfig picks serverless.yml, .yaml or .json in the current directory
// when --config is not given, so every command names the same file.
func findConfig() {
	if rootCmd.PersistentFlags().Changed("config") {
		return
	}
	// When none is found, the empty name makes the loader say so.
	global.config, _ = config.Find("")
}

// loadOptions are the config.Options of the shared flags. local is set by
// commands that run the functions here.
func loadOptions(local bool) (config.Options, error) {
	params, err := config.ParseAssignments("param", loadFlags.params)
	if err != nil {
		return config.Options{}, err
	}
	vars, err := config.ParseAssignments("var", loadFlags.vars)
	if err != nil {
		return config.Options{}, err
	}
	return config.Options{Stage: global.stage, Region: global.region, Params: params, Vars: vars, Local: local}, nil
}

// loadService loads the --config service with the shared flags, writing
// warnings to w. local is set by commands that run the functions here.
func loadService(w io.Writer, local bool) (*config.Service, config.Diagnostics, error) {
	opts, err := loadOptions(local)
	if err != nil {
		return nil, nil, err
	}
	path, err := config.Find(global.config)
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
