package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/validate"
)

func init() {
	var local bool
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check serverless.yml: load it, resolve variables and validate deployment settings and alarms",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, err := checkedService(cmd, local)
			if err != nil {
				return err
			}
			gradual := 0
			for _, f := range svc.Functions {
				if f.DeploymentSettings != nil {
					gradual++
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is valid: service %s, stage %s, %d functions, %d deployed gradually\n",
				global.config, svc.Name, svc.Stage, len(svc.Functions), gradual)
			return nil
		},
	}
	cmd.Flags().BoolVar(&local, "local", false, "also require what running locally needs (every environment variable resolvable)")
	rootCmd.AddCommand(cmd)
}

// checkedService loads and validates the --config service, printing every
// finding to stderr; it fails when there is an error among them.
func checkedService(cmd *cobra.Command, local bool) (*config.Service, error) {
	stderr := cmd.ErrOrStderr()
	svc, _, err := loadService(stderr, local)
	if err != nil {
		return nil, err
	}
	diags := validate.Service(svc)
	for _, d := range diags.Warnings() {
		fmt.Fprintln(stderr, d.Error())
	}
	if err := diags.Err(); err != nil {
		return nil, fmt.Errorf("%s is not valid:\n%w", global.config, err)
	}
	return svc, nil
}
