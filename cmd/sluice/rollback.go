package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/progress"
)

type rollbackOptions struct {
	*globalOptions
	output outputFormat
	to     int
	aws    awsOptions
}

func newRollbackCmd(g *globalOptions) *cobra.Command {
	o := &rollbackOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "rollback <function> [--to <version>]",
		Short: "Move a function's alias back to the version it served before, at once",
		Long: `rollback stops the function's deployment in progress with rollback, or else deploys the
previous version all at once (no hooks). It is an emergency action: alarms in ALARM do not
stop it. It waits for the result: exit 0 when the alias serves the previous version, 1 when
the rollback failed, 130 when interrupted first (the rollback goes on). The function is
named by its key in serverless.yml (api) or its deployed name (orders-dev-api). --to goes
back to a given version instead of the one served before.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeFunctions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.aws.enabled {
				return runRollbackAWS(cmd.Context(), o.globalOptions, &o.aws, cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0])
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	addOutputFlag(cmd, &o.output)
	cmd.Flags().IntVar(&o.to, "to", 0, "the version to go back to (default: the version the alias served before)")
	o.aws.bind(cmd)
	return cmd
}

func (o *rollbackOptions) run(ctx context.Context, out io.Writer, function string) error {
	if o.to < 0 {
		return fmt.Errorf("--to %d: give a version number (1, 2, …)", o.to)
	}
	fn, err := o.gradualFunction(function)
	if err != nil {
		return err
	}
	client, err := o.dialEngine()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return o.startAndWait(ctx, client, out, o.output, rollbackCode, func() (deploy.Deployment, error) {
		d, err := client.RollbackWith(ctx, fn, control.RollbackRequest{ToVersion: o.to}, false)
		return d, o.plainError(fn, err)
	})
}

// rollbackCode: 0 when the alias is back, 1 when the rollback failed.
func rollbackCode(d deploy.Deployment) int {
	if d.Status == deploy.StatusSucceeded {
		return 0
	}
	return exitFailure
}

// startAndWait starts a deployment with start and follows it to its end,
// printing its final state as output says; code turns that state into the
// exit code. An interrupt ends the wait, not the deployment (exit 130).
func (g *globalOptions) startAndWait(ctx context.Context, client *control.Client, out io.Writer, output outputFormat, code func(deploy.Deployment) int, start func() (deploy.Deployment, error)) error {
	t := progress.New(io.Discard, progress.Config{})
	watchErr, err := client.Follow(ctx, t.Update)
	if err != nil {
		return err
	}
	d, err := start()
	if err != nil {
		return err
	}
	t.Track(d)
	if _, err := t.Wait(ctx, watchErr); err != nil {
		if err == progress.ErrStoppedWaiting {
			return &exitError{code: exitSignaled, err: stoppedWaiting("interrupted", []string{d.ID})}
		}
		return err
	}
	if d, err = client.Deployment(ctx, d.ID); err != nil {
		return err
	}
	if err := output.print(out, progress.View(d, g.timeline()), func(w io.Writer) error {
		_, err := fmt.Fprintln(w, progress.Describe(d, false))
		return err
	}); err != nil {
		return err
	}
	if c := code(d); c != 0 {
		return &exitError{code: c}
	}
	return nil
}
