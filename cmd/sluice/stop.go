package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/progress"
)

type stopOptions struct {
	*globalOptions
	noRollback bool
	output     outputFormat
	aws        awsOptions
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
			if o.aws.enabled {
				return runStopAWS(cmd.Context(), o.globalOptions, &o.aws, o.noRollback, cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0])
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	cmd.Flags().BoolVar(&o.noRollback, "no-rollback", false, "leave traffic where the deployment left it")
	addOutputFlag(cmd, &o.output)
	o.aws.bind(cmd)
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
