package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/progress"
)

type stopOptions struct {
	*globalOptions
	noRollback bool
}

func newStopCmd(g *globalOptions) *cobra.Command {
	o := &stopOptions{globalOptions: g}
	stop := &cobra.Command{
		Use:   "stop <deployment-id>",
		Short: "Stop a deployment in progress and move its traffic back (or leave it, with --no-rollback)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	stop.Flags().BoolVar(&o.noRollback, "no-rollback", false, "leave traffic where the deployment left it")
	return stop
}

func (o *stopOptions) run(ctx context.Context, out io.Writer, id string) error {
	client, err := o.dialEngine()
	if err != nil {
		return err
	}
	d, err := client.Stop(ctx, id, !o.noRollback)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, progress.Describe(d, false))
	return nil
}

type rollbackOptions struct {
	*globalOptions
}

func newRollbackCmd(g *globalOptions) *cobra.Command {
	o := &rollbackOptions{globalOptions: g}
	rollback := &cobra.Command{
		Use:   "rollback <function>",
		Short: "Move a function's alias back to the version it served before, at once",
		Long: `rollback stops the function's deployment in progress with rollback, or else deploys the
previous version all at once (no hooks; the alarms still watch). The function is named by
its key in serverless.yml (api) or its deployed name (orders-dev-api).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	return rollback
}

func (o *rollbackOptions) run(ctx context.Context, out io.Writer, function string) error {
	client, err := o.dialEngine()
	if err != nil {
		return err
	}
	d, err := client.Rollback(ctx, o.functionName(function))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, progress.Describe(d, false))
	return nil
}
