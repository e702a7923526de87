package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/progress"
)

// globalOptions are the flags every command shares, and what they lead to.
type globalOptions struct {
	config      string
	stage       string
	region      string
	stateDirArg string
	params      []string // --param key=value: ${param:key}
	vars        []string // --var 'ssm:/path=value': a local value for an AWS-only variable
	color       string
	env         progress.Env // os.Getenv; tests pass their own
}

func (g *globalOptions) bindFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVarP(&g.config, "config", "c", "", "the service definition (default: serverless.yml, serverless.yaml or serverless.json in this directory), or the service loaded to JSON")
	f.StringVarP(&g.stage, "stage", "s", "", "the stage (default: provider.stage, else dev)")
	f.StringVarP(&g.region, "region", "r", "", "the region (default: provider.region, else us-east-1)")
	f.StringVar(&g.stateDirArg, "state-dir", "", "where the local engine keeps its state (default: .sluice beside the service definition)")
	f.StringArrayVar(&g.params, "param", nil, "a value for ${param:key}, given as `key=value` (repeatable; wins over params.<stage> and params.default)")
	f.StringArrayVar(&g.vars, "var", nil, "a local value for a variable only AWS resolves, e.g. `'ssm:/path=value'` (repeatable; wins over sluice.local.yml)")
	root.PersistentPreRun = func(*cobra.Command, []string) {
		// Without --config, every command names the serverless.yml, .yaml or
		// .json found here; when none is, the empty name makes the loader say so.
		if g.config == "" {
			g.config, _ = config.Find("")
		}
	}
	f.StringVar(&g.color, "color", "auto", "colour progress: auto (on a terminal, unless NO_COLOR is set or TERM=dumb), always or never")
	root.RegisterFlagCompletionFunc("stage", g.completeStages)
	root.RegisterFlagCompletionFunc("config", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"yml", "yaml", "json"}, cobra.ShellCompDirectiveFilterFileExt
	})
	root.RegisterFlagCompletionFunc("color", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
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

// display is how progress shows on w for --output and --color.
func (g *globalOptions) display(output outputFormat, w io.Writer) (progress.Display, error) {
	return progress.Detect(string(output), g.color, w, g.env)
}

// timeline turns the engine's (scaled) clock into wall time; without a
// readable clock file, times show as recorded.
func (g *globalOptions) timeline() control.Timeline {
	tl, _ := control.ReadTimeline(g.stateDir())
	return tl
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
// deployed name (orders-dev-api). A name that is neither is an error that
// lists the keys; when the service cannot be loaded, the name passes
// through for the engine to judge.
func (g *globalOptions) functionName(name string) (string, error) {
	svc := g.service()
	if svc == nil {
		return name, nil
	}
	if f := svc.Function(name); f != nil {
		return f.Name, nil
	}
	for _, f := range svc.Functions {
		if f.Name == name {
			return name, nil
		}
	}
	return "", fmt.Errorf("%s has no function %q: use one of %s", g.config, name, functionKeys(svc))
}

func functionKeys(svc *config.Service) string {
	keys := make([]string, len(svc.Functions))
	for i, f := range svc.Functions {
		keys[i] = f.Key
	}
	return strings.Join(keys, ", ")
}

// gradualFunction is functionName for commands that act on a function's
// deployments: it must have deploymentSettings (else nothing deploys it
// gradually, and there is nothing to roll back, promote or retry).
func (g *globalOptions) gradualFunction(name string) (string, error) {
	fn, err := g.functionName(name)
	if err != nil {
		return "", err
	}
	if svc := g.service(); svc != nil {
		for _, f := range svc.Functions {
			if f.Name == fn && f.DeploymentSettings == nil {
				return "", fmt.Errorf("function %s has no deploymentSettings in %s: its new versions serve all traffic at once, so it has no deployments to act on (add deploymentSettings to deploy it gradually)", f.Key, g.config)
			}
		}
	}
	return fn, nil
}

// plainError says an engine error about function in the service's terms:
// the engine speaks of deployment groups, the service of deploymentSettings.
func (g *globalOptions) plainError(function string, err error) error {
	if code := control.ErrorCode(err); code != "GroupNotFound" && code != "DeploymentNotFound" {
		return err
	}
	stage := g.stage
	if svc := g.service(); svc != nil {
		stage = svc.Stage
	}
	return fmt.Errorf("function %s has no deploymentSettings in the running engine (for stage %s, if custom.deploymentSettings.stages leaves it out, it deploys at once; after adding them, run sluice deploy): %w", function, stage, err)
}
