package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/validate"
)

type validateOptions struct {
	*globalOptions
	local  bool
	output outputFormat
}

// validation is what `validate -o json|yaml` prints when the service is valid.
type validation struct {
	Valid     bool   `json:"valid"`
	Config    string `json:"config"`
	Service   string `json:"service"`
	Stage     string `json:"stage"`
	Region    string `json:"region"`
	Functions int    `json:"functions"`
	Gradual   int    `json:"gradual"` // functions with deploymentSettings
	// Findings are the errors and warnings, each where it is written.
	Findings []finding `json:"findings"`
}

// finding is one diagnostic: severity error or warning.
type finding struct {
	Severity string `json:"severity"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Column   int    `json:"column,omitempty"`
	Key      string `json:"key,omitempty"`
	Message  string `json:"message"`
	Hint     string `json:"hint,omitempty"`
}

func findings(ds config.Diagnostics) []finding {
	out := []finding{}
	for _, d := range ds {
		sev := "error"
		if d.Severity == config.SeverityWarning {
			sev = "warning"
		}
		out = append(out, finding{Severity: sev, File: d.Pos.File, Line: d.Pos.Line, Column: d.Pos.Col, Key: d.Path, Message: d.Msg, Hint: d.Hint})
	}
	return out
}

func newValidateCmd(g *globalOptions) *cobra.Command {
	o := &validateOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check serverless.yml: load it, resolve variables and validate deployment settings and alarms",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&o.local, "local", false, "also require what running locally needs (every environment variable resolvable)")
	addOutputFlag(cmd, &o.output)
	return cmd
}

func (o *validateOptions) run(out, errOut io.Writer) error {
	if o.output != outputText {
		return o.runStructured(out)
	}
	svc, err := o.checkedService(errOut, o.local)
	if err != nil {
		return err
	}
	gradual := 0
	for _, f := range svc.Functions {
		if f.DeploymentSettings != nil {
			gradual++
		}
	}
	v := validation{Valid: true, Config: o.config, Service: svc.Name, Stage: svc.Stage, Region: svc.Region, Functions: len(svc.Functions), Gradual: gradual}
	return o.output.print(out, v, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s is valid: service %s, stage %s, %d functions, %d deployed gradually\n",
			o.config, svc.Name, svc.Stage, len(svc.Functions), gradual)
		return err
	})
}

// checkedService loads and validates the --config service, printing every
// finding to stderr; it fails when there is an error among them.
func (g *globalOptions) checkedService(stderr io.Writer, local bool) (*config.Service, error) {
	svc, _, err := g.loadService(stderr, local)
	if err != nil {
		return nil, err
	}
	diags := validate.Service(svc)
	for _, d := range diags.Warnings() {
		fmt.Fprintln(stderr, d.Error())
	}
	if err := diags.Err(); err != nil {
		return nil, fmt.Errorf("%s is not valid:\n%w", g.config, err)
	}
	return svc, nil
}

// runStructured prints the verdict with every finding as json or yaml,
// valid or not; the exit code is 1 when there is an error among them.
func (o *validateOptions) runStructured(out io.Writer) error {
	v := validation{Config: o.config}
	opts, err := o.loadOptions(o.local)
	if err != nil {
		return err
	}
	svc, diags, err := config.Load(o.config, opts)
	if err != nil {
		var loadDiags config.Diagnostics
		if !errors.As(err, &loadDiags) {
			return fmt.Errorf("%s is not valid:\n%w", o.config, err)
		}
		diags = append(diags.Warnings(), loadDiags...)
	} else {
		diags = append(diags.Warnings(), validate.Service(svc)...)
		v.Service, v.Stage, v.Region, v.Functions = svc.Name, svc.Stage, svc.Region, len(svc.Functions)
		for _, f := range svc.Functions {
			if f.DeploymentSettings != nil {
				v.Gradual++
			}
		}
	}
	diags.Sort()
	v.Findings = findings(diags)
	v.Valid = diags.Err() == nil
	if err := o.output.print(out, v, nil); err != nil {
		return err
	}
	if !v.Valid {
		n := len(diags.Errors())
		return &exitError{code: exitFailure, err: fmt.Errorf("%s is not valid: %d %s (listed on standard output)", o.config, n, plural(n, "error", "errors"))}
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
