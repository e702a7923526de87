// Command sluice is safe, gradual deployment for serverless functions.
//
// Each subcommand lives in its own file and registers itself on rootCmd.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// globals are the flags every command shares.
type globals struct {
	config   string
	stage    string
	region   string
	stateDir string
}

var global globals

var rootCmd = &cobra.Command{
	Use:   "sluice",
	Short: "Safe, gradual deployments for serverless functions",
	Long: `sluice reads a Serverless Framework serverless.yml and
  - packages it for AWS with CodeDeploy canary deployments and CloudWatch alarms
    (sluice package), a drop-in for serverless-plugin-canary-deployments and
    serverless-plugin-aws-alerts;
  - runs it on this machine (sluice serve) and deploys new versions gradually with
    CodeDeploy's semantics: hooks, alarms and automatic rollback (sluice deploy).`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

func init() {
	f := rootCmd.PersistentFlags()
	f.StringVarP(&global.config, "config", "c", "", "the service definition (default: serverless.yml, serverless.yaml or serverless.json in this directory), or the service loaded to JSON")
	f.StringVarP(&global.stage, "stage", "s", "", "the stage (default: provider.stage, else dev)")
	f.StringVarP(&global.region, "region", "r", "", "the region (default: provider.region, else us-east-1)")
	f.StringVar(&global.stateDir, "state-dir", "", "where the local engine keeps its state (default: .sluice beside the service definition)")
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

func main() {
	if err := rootCmd.Execute(); err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
			err = ee.err
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sluice:", err)
		}
		os.Exit(code)
	}
}
