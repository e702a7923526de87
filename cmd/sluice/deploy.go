package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
)

func init() {
	var wait bool
	var output string
	var timeout time.Duration
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
			mode, err := outputModeOf(output, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			client, err := dialEngine()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return runDeploy(ctx, client, cmd.OutOrStdout(), cmd.ErrOrStderr(), mode, wait)
		},
	}
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "follow the deployments to their end; the exit code is the result")
	cmd.Flags().StringVarP(&output, "output", "o", "", "progress as text (bars on a terminal, lines otherwise) or json")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait, give up waiting after this long (the deployments go on)")
	rootCmd.AddCommand(cmd)
}

// outputModeOf picks how progress is shown: json when asked, bars on a
// terminal, plain lines otherwise.
func outputModeOf(output string, w io.Writer) (outputMode, error) {
	switch output {
	case "json":
		return outputJSON, nil
	case "", "text":
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			return outputTTY, nil
		}
		return outputPlain, nil
	}
	return 0, fmt.Errorf("--output %q: use text or json", output)
}

func runDeploy(ctx context.Context, client *control.Client, out, errOut io.Writer, mode outputMode, wait bool) error {
	t := newTracker(out, mode)
	watchErr := make(chan error, 1)
	if wait {
		// Watch before deploying, so no change is missed.
		ready := make(chan struct{})
		go func() {
			watchErr <- client.Watch(ctx, func() { close(ready) }, t.update)
		}()
		select {
		case <-ready:
		case err := <-watchErr:
			return err
		case <-ctx.Done():
			return ctx.Err()
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
			if mode != outputJSON {
				fmt.Fprintf(errOut, "%s: version %d → %d, deployment %s\n", c.Function, c.FromVersion, c.ToVersion, c.DeploymentID)
			}
		default:
			if mode != outputJSON {
				fmt.Fprintf(errOut, "%s: version %d → %d, switched at once\n", c.Function, c.FromVersion, c.ToVersion)
			}
		}
	}
	if mode == outputJSON && !wait {
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
		t.track(d)
	}
	return waitForTracker(ctx, t, watchErr, errOut, failed)
}

// waitForTracker blocks until every tracked deployment has ended and turns
// the result into the exit code.
func waitForTracker(ctx context.Context, t *tracker, watchErr <-chan error, errOut io.Writer, failed bool) error {
	for !t.done() {
		select {
		case err := <-watchErr:
			if err != nil {
				return err
			}
			return fmt.Errorf("stopped watching before the deployments ended")
		case <-ctx.Done():
			fmt.Fprintln(errOut, "stopped waiting; the deployments go on: follow them with `sluice status`, stop one with `sluice stop <id>`")
			return &exitError{code: 1}
		case <-t.changed:
		}
	}
	code := t.exitCode()
	if failed && code == exitSucceeded {
		code = 1
	}
	if code != exitSucceeded {
		return &exitError{code: code}
	}
	return nil
}
