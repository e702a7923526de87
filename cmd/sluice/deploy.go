package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/progress"
)

type deployOptions struct {
	*globalOptions
	wait    bool
	output  string
	timeout time.Duration
}

func newDeployCmd(g *globalOptions) *cobra.Command {
	o := &deployOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Publish what changed and deploy it gradually through the running engine",
		Long: `deploy asks the engine serving --config (started with sluice serve) to re-read the
service, publish a new version of each function whose code or configuration changed, and
start a deployment for each function with deploymentSettings (the others switch at once).

With --wait it follows the deployments to their end and its exit code is the result:
  0  every deployment succeeded
  2  a deployment failed or was stopped (alarm, hook, timeout) and traffic is back on the
     previous version
  3  a deployment failed or was stopped and traffic was NOT moved back`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.wait, "wait", "w", false, "follow the deployments to their end; the exit code is the result")
	f.StringVarP(&o.output, "output", "o", "", "progress as text (bars on a terminal, lines otherwise) or json")
	f.DurationVar(&o.timeout, "timeout", 0, "with --wait, give up waiting after this long (the deployments go on)")
	return cmd
}

func (o *deployOptions) run(ctx context.Context, out, errOut io.Writer) error {
	mode, err := progress.ModeFor(o.output, out)
	if err != nil {
		return err
	}
	client, err := o.dialEngine()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	return runDeploy(ctx, client, out, errOut, mode, o.wait)
}

func runDeploy(ctx context.Context, client *control.Client, out, errOut io.Writer, mode progress.Mode, wait bool) error {
	t := progress.NewTracker(out, mode)
	var watchErr <-chan error
	if wait {
		var err error
		if watchErr, err = client.Follow(ctx, t.Update); err != nil {
			return err
		}
	}
	res, err := client.Deploy(ctx)
	if err != nil {
		return err
	}
	if len(res.Changes) == 0 {
		fmt.Fprintln(errOut, "nothing changed: every function already runs its current code and configuration")
		return nil
	}
	failed := false
	for _, c := range res.Changes {
		switch {
		case c.Error != "":
			failed = true
			fmt.Fprintf(errOut, "%s: version %d published, but not deployed: %s\n", c.Function, c.ToVersion, c.Error)
		case c.DeploymentID != "":
			if mode != progress.JSON {
				fmt.Fprintf(errOut, "%s: version %d → %d, deployment %s\n", c.Function, c.FromVersion, c.ToVersion, c.DeploymentID)
			}
		default:
			if mode != progress.JSON {
				fmt.Fprintf(errOut, "%s: version %d → %d, switched at once\n", c.Function, c.FromVersion, c.ToVersion)
			}
		}
	}
	if mode == progress.JSON && !wait {
		return json.NewEncoder(out).Encode(res)
	}
	if !wait {
		if failed {
			return &exitError{code: 1}
		}
		return nil
	}
	for _, c := range res.Changes {
		if c.DeploymentID == "" {
			continue
		}
		d, err := client.Deployment(ctx, c.DeploymentID)
		if err != nil {
			return err
		}
		t.Track(d)
	}
	return waitForTracker(ctx, t, watchErr, failed)
}

// waitForTracker follows the tracked deployments to their end; the exit
// code is their result.
func waitForTracker(ctx context.Context, t *progress.Tracker, watchErr <-chan error, failed bool) error {
	code, err := t.Wait(ctx, watchErr)
	if err != nil {
		return err
	}
	if failed && code == progress.ExitSucceeded {
		code = 1
	}
	if code != progress.ExitSucceeded {
		return &exitError{code: code}
	}
	return nil
}
