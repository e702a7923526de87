package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/progress"
)

func init() {
	var noRollback bool
	stop := &cobra.Command{
		Use:   "stop <deployment-id>",
		Short: "Stop a deployment in progress and move its traffic back (or leave it, with --no-rollback)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := dialEngine()
			if err != nil {
				return err
			}
			d, err := client.Stop(context.Background(), args[0], !noRollback)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), progress.Describe(d, false))
			return nil
		},
	}
	stop.Flags().BoolVar(&noRollback, "no-rollback", false, "leave traffic where the deployment left it")
	rootCmd.AddCommand(stop)

	rollback := &cobra.Command{
		Use:   "rollback <function>",
		Short: "Move a function's alias back to the version it served before, at once",
		Long: `rollback stops the function's deployment in progress with rollback, or else deploys the
previous version all at once (no hooks; the alarms still watch). The function is named by
its key in serverless.yml (api) or its deployed name (orders-dev-api).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := dialEngine()
			if err != nil {
				return err
			}
			d, err := client.Rollback(context.Background(), functionName(args[0]))
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), progress.Describe(d, false))
			return nil
		},
	}
	rootCmd.AddCommand(rollback)
}
