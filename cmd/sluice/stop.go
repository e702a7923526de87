package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/progress"
)

type stopOptions struct {
	*globalOptions
	noRollback bool
	output     outputFormat
}

func newStopCmd(g *globalOptions) *cobra.Command {
	o := &stopOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "stop <deployment-id | function>",
		Short: "Stop a deployment in progress and move its traffic back (or leave it, with --no-rollback)",
		Long: `stop stops a deployment in progress, named by its id (d-…) or by its function (the key in
serverless.yml, api, or the deployed name, orders-dev-api), and moves its traffic back to the
version it started from, unless --no-rollback. On AWS, stop and stop-with-rollback are the
only ways to end a CodeDeploy deployment early.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeDeployments,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	cmd.Flags().BoolVar(&o.noRollback, "no-rollback", false, "leave traffic where the deployment left it")
	addOutputFlag(cmd, &o.output)
	return cmd
}

func (o *stopOptions) run(ctx context.Context, out io.Writer, target string) error {
	id, err := o.deploymentOf(target)
	if err != nil {
		return err
	}
	client, err := o.dialEngine()
	if err != nil {
		return err
	}
	d, err := client.Stop(ctx, id, !o.noRollback)
	if err != nil {
		return err
	}
	return o.output.print(out, progress.View(d, o.timeline()), func(w io.Writer) error {
		_, err := fmt.Fprintln(w, progress.Describe(d, false))
		return err
	})
}

// deploymentOf is the deployment that target names: an id as it is, or
// the deployment in progress of a function.
func (g *globalOptions) deploymentOf(target string) (string, error) {
	if strings.HasPrefix(target, "d-") {
		return target, nil
	}
	fn, err := g.functionName(target)
	if err != nil {
		return "", fmt.Errorf("%w, or a deployment id (d-…)", err)
	}
	ds, err := control.ReadHistory(g.stateDir(), fn)
	if err != nil {
		return "", err
	}
	for i := len(ds) - 1; i >= 0; i-- {
		if !ds[i].Status.Done() {
			return ds[i].ID, nil
		}
	}
	return "", fmt.Errorf("%s has no deployment in progress: nothing to stop (`sluice status` shows the latest; `sluice rollback %s` moves traffic back)", fn, target)
}

type rollbackOptions struct {
	*globalOptions
	output outputFormat
}

func newRollbackCmd(g *globalOptions) *cobra.Command {
	o := &rollbackOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "rollback <function>",
		Short: "Move a function's alias back to the version it served before, at once",
		Long: `rollback stops the function's deployment in progress with rollback, or else deploys the
previous version all at once (no hooks). It is an emergency action: alarms in ALARM do not
stop it. It waits for the result: exit 0 when the alias serves the previous version, 1 when
the rollback failed, 130 when interrupted first (the rollback goes on). The function is
named by its key in serverless.yml (api) or its deployed name (orders-dev-api).`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeFunctions,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	addOutputFlag(cmd, &o.output)
	return cmd
}

func (o *rollbackOptions) run(ctx context.Context, out io.Writer, function string) error {
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
	return o.waitFor(ctx, client, out, func() (deploy.Deployment, error) {
		return client.Rollback(ctx, fn)
	})
}

// waitFor starts a deployment with start and follows it to its end,
// printing the final state; the exit code is 0 when it succeeded, 1 when
// it did not.
func (o *rollbackOptions) waitFor(ctx context.Context, client *control.Client, out io.Writer, start func() (deploy.Deployment, error)) error {
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
	if err := o.output.print(out, progress.View(d, o.timeline()), func(w io.Writer) error {
		_, err := fmt.Fprintln(w, progress.Describe(d, false))
		return err
	}); err != nil {
		return err
	}
	if d.Status != deploy.StatusSucceeded {
		return &exitError{code: exitFailure}
	}
	return nil
}
