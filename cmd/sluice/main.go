// Command sluice is safe, gradual deployment for serverless functions.
//
// Every command is built by a constructor, newXxxCmd(g *globalOptions),
// that binds its flags to an xxxOptions struct (embedding the shared
// *globalOptions) and runs its run method: no package-level state, so
// tests build a fresh tree per run.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes that are not a deployment's result (those are in
// internal/progress).
const (
	exitFailure  = 1   // an error
	exitTimeout  = 124 // --timeout ended the wait, as timeout(1) exits
	exitSignaled = 130 // Ctrl-C ended the wait: 128 + SIGINT
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs sluice with args and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(&globalOptions{})
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := exitFailure
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
	}
	return code
}

// newRootCmd builds the whole command tree over g, the shared flags.
func newRootCmd(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Safe, gradual deployments for serverless functions",
		Long: `sluice reads a Serverless Framework serverless.yml and
  - packages it for AWS with CodeDeploy canary deployments and CloudWatch alarms
    (sluice package), a drop-in for serverless-plugin-canary-deployments and
    serverless-plugin-aws-alerts;
  - runs it on this machine (sluice serve) and deploys new versions gradually with
    CodeDeploy's semantics: hooks, alarms and automatic rollback (sluice deploy).`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("sluice {{.Version}}\n")
	g.bindFlags(root)
	root.AddCommand(
		newServeCmd(g),
		newDeployCmd(g),
		newStatusCmd(g),
		newHistoryCmd(g),
		newStopCmd(g),
		newRollbackCmd(g),
		newPromoteCmd(g),
		newRetryCmd(g),
		newPlanCmd(g),
		newValidateCmd(g),
		newLogsCmd(g),
		newInvokeCmd(g),
		newPackageCmd(g),
		newDemoCmd(g),
		newRehearseCmd(g),
		newFollowCmd(g),
	)
	return root
}

// exitError ends the command with a specific exit code after printing err
// (when not nil): `sluice deploy --wait` tells a rollback from a failure.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }
