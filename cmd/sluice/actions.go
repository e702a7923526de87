package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/progress"
)

// actionOptions are the options of promote and retry: commands that act
// on one function's deployment and follow it to its end.
type actionOptions struct {
	*globalOptions
	output outputFormat
}

func newPromoteCmd(g *globalOptions) *cobra.Command {
	o := &actionOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "promote <function>",
		Short: "Skip the rest of a deployment's schedule: all traffic to the new version now (local only)",
		Long: `promote moves the function's deployment in progress to 100% of traffic at once, skipping
the rest of its schedule and bake, as Argo Rollouts' promote --full does. Its AfterAllowTraffic
hook still runs, and it follows the deployment to its end: the exit code is the result, as
for deploy --wait (0, 2, 3; 130 when interrupted first).

promote exists only locally: on AWS, CodeDeploy can only stop a deployment, with or without
rollback (sluice stop), and the plugin-made deployment groups have no way to skip ahead.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeFunctions,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], (*control.Client).Promote, false)
		},
	}
	addOutputFlag(cmd, &o.output)
	return cmd
}

func newRetryCmd(g *globalOptions) *cobra.Command {
	o := &actionOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "retry <function>",
		Short: "Deploy again the version of the function's last deployment, which failed or was stopped",
		Long: `retry starts a new deployment of the version that the function's last deployment tried to
deploy, when that one failed or was stopped (a hook that timed out, an alarm that has since
recovered), and follows it to its end: the exit code is the result, as for deploy --wait
(0, 2, 3; 130 when interrupted first).`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeFunctions,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], (*control.Client).Retry, true)
		},
	}
	addOutputFlag(cmd, &o.output)
	return cmd
}

// run calls act on the function and follows the deployment it answers
// with, showing its progress; starts says act starts a new deployment.
func (o *actionOptions) run(ctx context.Context, out, errOut io.Writer, function string,
	act func(c *control.Client, ctx context.Context, function string, wait bool) (deploy.Deployment, error), starts bool) error {
	disp, err := o.display(o.output, out)
	if err != nil {
		return err
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
	t := progress.New(out, progress.Config{Display: disp, Timeline: o.timeline()})
	watchErr, err := client.Follow(ctx, t.Update)
	if err != nil {
		return err
	}
	d, err := act(client, ctx, fn, false)
	if err != nil {
		return o.plainError(fn, err)
	}
	if starts { // a new deployment: its id goes to stdout
		t.Published(progress.Change{Function: d.Target.FunctionName, FromVersion: d.Target.CurrentVersion, ToVersion: d.Target.TargetVersion, DeploymentID: d.ID})
	}
	t.Track(d)
	return finishWait(ctx, t, watchErr, false)
}
