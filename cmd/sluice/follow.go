package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/follow"
	"github.com/sluice-dev/sluice/internal/progress"
)

// followOptions are `sluice follow`'s flags.
type followOptions struct {
	*globalOptions
	profile, stack, deploymentID, since string
	timeout                             time.Duration
	onTimeout                           string
	output                              outputFormat
	junit, endpointURL                  string
	poll                                time.Duration
}

func newFollowCmd(g *globalOptions) *cobra.Command {
	o := followOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "follow",
		Short: "Watch the CodeDeploy deployments a stack update started, on AWS, and gate CI on their result",
		Long: `follow finds the CodeDeploy deployments that the latest update of the service's
CloudFormation stack started (the stack is provider.stackName, else <service>-<stage>, or
--stack), follows them all to their end with the progress of sluice deploy --wait, explains
a failure (the alarm and its reason, the hook, the timeout), then waits until the stack
itself has settled, so the next CI step never meets a stack that is still rolling back.

It calls AWS with the standard credential chain (environment, shared config and --profile,
SSO, container and instance roles). --endpoint-url (or AWS_ENDPOINT_URL) points it at another
endpoint, such as a local sluice serve's API.

Exit status:
  0  every deployment succeeded and the stack settled
  2  a deployment failed or was stopped and traffic is back on the previous version
     (or the stack update was rolled back)
  3  a deployment failed and traffic was NOT moved back, or the stack failed to roll back
  4  --timeout passed first (--on-timeout stop stops the deployments with a rollback first)
  1  usage, credentials or API errors`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFollow(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.profile, "profile", "", "the AWS shared-config profile")
	f.StringVar(&o.stack, "stack", "", "the CloudFormation stack (default: from serverless.yml, provider.stackName or <service>-<stage>)")
	f.StringVar(&o.deploymentID, "deployment-id", "", "follow this deployment only")
	f.StringVar(&o.since, "since", "", "deployments created since this time (RFC 3339) or this long ago (30m); default: when the stack's last update began")
	f.DurationVar(&o.timeout, "timeout", 0, "stop waiting after this long (exit status 4); 0 waits for as long as it takes")
	f.StringVar(&o.onTimeout, "on-timeout", "detach", "at --timeout: detach (leave the deployments running) or stop (stop them with a rollback and wait for it)")
	f.StringVar(&o.junit, "junit", "", "also write the result as a JUnit XML report to this file, for CI test reports")
	f.StringVar(&o.endpointURL, "endpoint-url", "", "send every AWS call to this endpoint (default: AWS, or AWS_ENDPOINT_URL)")
	f.DurationVar(&o.poll, "poll-interval", follow.DefaultPoll, "how often to ask AWS")
	f.MarkHidden("poll-interval")
	addOutputFlag(cmd, &o.output)
	cmd.RegisterFlagCompletionFunc("on-timeout", cobra.FixedCompletions([]string{"detach", "stop"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runFollow(cmd *cobra.Command, o followOptions) error {
	if o.onTimeout != "detach" && o.onTimeout != "stop" {
		return fmt.Errorf("--on-timeout %q: use detach or stop", o.onTimeout)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()

	opts := follow.Options{Stack: o.stack, DeploymentID: o.deploymentID, Poll: o.poll, OnTimeoutStop: o.onTimeout == "stop"}
	region := o.region
	if opts.Stack == "" && opts.DeploymentID == "" {
		svc, _, err := o.loadService(cmd.ErrOrStderr(), false)
		if err != nil {
			return fmt.Errorf("%w\n(or name the stack with --stack)", err)
		}
		opts.Stack = svc.StackName()
		if region == "" {
			region = svc.Region
		}
	}
	if o.since != "" {
		t, err := parseSince(o.since, time.Now())
		if err != nil {
			return err
		}
		opts.Since = t
	}
	clients, resolvedRegion, local, err := follow.NewClients(ctx, region, o.profile, o.endpointURL)
	if err != nil {
		return err
	}
	if !local {
		opts.Region = resolvedRegion // console links only where the console can show them
	}

	out := cmd.OutOrStdout()
	var watcher follow.Watcher
	if o.output == outputText {
		display, err := o.display(o.output, out)
		if err != nil {
			return err
		}
		watcher = follow.Progress{Tracker: progress.New(out, progress.Config{Display: display})}
	}
	runCtx := ctx
	if o.timeout > 0 {
		var cancelTimeout context.CancelFunc
		runCtx, cancelTimeout = context.WithTimeout(ctx, o.timeout)
		defer cancelTimeout()
	}
	rep, err := follow.New(clients, opts, watcher).Run(runCtx)
	if errors.Is(err, context.Canceled) {
		return &exitError{code: exitSignaled, err: errors.New("stopped following; the deployments go on")}
	}
	if err != nil {
		return err
	}
	if o.junit != "" {
		if err := writeFileWith(o.junit, func(w io.Writer) error { return follow.WriteJUnit(w, rep) }); err != nil {
			return fmt.Errorf("write the JUnit report: %w", err)
		}
	}
	if o.output == outputText {
		printFollowEnd(cmd.ErrOrStderr(), rep)
	} else if err := o.output.print(out, follow.Summarize(rep), nil); err != nil {
		return err
	}
	if rep.ExitCode != 0 {
		return &exitError{code: rep.ExitCode}
	}
	return nil
}

// printFollowEnd explains each deployment that did not succeed, and the result.
func printFollowEnd(w io.Writer, rep follow.Report) {
	if len(rep.Deployments) == 0 {
		since := ""
		if !rep.Since.IsZero() {
			since = " since " + rep.Since.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "no deployments were created%s: nothing to follow\n", since)
	}
	for _, d := range rep.Deployments {
		if d.Done() && d.Status != "Succeeded" {
			fmt.Fprintln(w, follow.Explain(d))
		}
	}
	if len(rep.Stopped) > 0 {
		fmt.Fprintf(w, "--timeout passed: stopped %v with a rollback\n", rep.Stopped)
	} else if rep.TimedOut {
		fmt.Fprintln(w, "--timeout passed: stopped following; the deployments go on")
	}
	if rep.Stack != nil {
		fmt.Fprintf(w, "stack %s: %s\n", rep.Stack.Name, rep.Stack.Status)
	}
	fmt.Fprintf(w, "result: %s (exit status %d)\n", follow.ResultName(rep.ExitCode), rep.ExitCode)
}

// writeFileWith writes a file whole: to a temporary file, renamed at the end.
func writeFileWith(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sluice-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
