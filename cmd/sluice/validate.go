package main

import (
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
