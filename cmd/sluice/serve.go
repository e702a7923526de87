package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	goruntime "runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/invoke"
)

// shutdownGrace is how long a stopping `sluice serve` lets in-flight
// invocations finish before killing them (a second signal kills at once).
const shutdownGrace = 30 * time.Second

type serveOptions struct {
	*globalOptions
	host        string
	port        int
	apiPort     int
	timeScale   float64
	hookTimeout time.Duration
	accessKey   string
	maxEnvs     int
	quiet       bool // no request lines, no function output
	watch       bool // publish and deploy on every change
}

func newServeCmd(g *globalOptions) *cobra.Command {
	o := &serveOptions{globalOptions: g}
	f := o
	cmd := &cobra.Command{
		Use:        "serve",
		SuggestFor: []string{"offline", "start"},
		Short:      "Run the service on this machine the way Lambda runs it",
		Long: `serve runs every function of serverless.yml as real processes behind the
AWS Lambda Runtime API, serves its http (REST API, /<stage>/…) and httpApi
(HTTP API) events on the gateway port, fires its schedule events, and serves
Lambda's and CodeDeploy's APIs on the API port (functions get it as
AWS_ENDPOINT_URL, so AWS SDK clients in them reach sluice).

On start it publishes version 1 of every function (or the version stored
from the last run when nothing changed) and creates each deploymentSettings
alias pointing at it; an alias that exists stays where it is. Routes of a
function with deploymentSettings go through its alias, others to its latest
version. State (versions, aliases, deployments, code snapshots, logs) lives
in .sluice beside serverless.yml.

Listeners bind 127.0.0.1 unless --host says otherwise. Ctrl-C stops: no new
requests, in-flight invocations finish, processes stop.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", engine.DefaultHost, "the address to listen on (0.0.0.0 exposes the functions to the network)")
	fl.IntVarP(&f.port, "port", "p", engine.DefaultPort, "the HTTP gateway's port (http and httpApi events)")
	fl.IntVar(&f.apiPort, "api-port", engine.DefaultAPIPort, "the port of the AWS APIs (Lambda, CodeDeploy): AWS_ENDPOINT_URL of the functions")
	fl.Float64Var(&f.timeScale, "time-scale", 1, "run schedules, deployments and alarm periods this many times faster than real time (60: a minute per second)")
	fl.DurationVar(&f.hookTimeout, "hook-timeout", deploy.DefaultHookTimeout, "how long a deployment waits for a hook to report its status, in scaled time (CodeDeploy waits an hour)")
	fl.StringVar(&f.accessKey, "api-access-key", engine.DefaultAccessKeyID, "the access key id the AWS APIs accept and functions get ('' accepts any caller)")
	fl.BoolVarP(&f.watch, "watch", "w", false, "publish and deploy each function whose files change: at once without deploymentSettings, gradually with them")
	fl.IntVar(&f.maxEnvs, "max-environments", 2*goruntime.NumCPU(), "at most this many function processes at once, queueing requests beyond (0: one per concurrent request, as Lambda)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "do not print a line per request and the functions' output (sluice logs still has it)")
	return cmd
}

func (o *serveOptions) run(stdout, stderr io.Writer) error {
	f := o
	if f.timeScale <= 0 {
		return fmt.Errorf("--time-scale %v must be positive (1 is real time)", f.timeScale)
	}
	if f.maxEnvs < 0 {
		return fmt.Errorf("--max-environments %d must be 0 (no cap) or more", f.maxEnvs)
	}
	lo, err := o.loadOptions(true)
	if err != nil {
		return err
	}
	var requestLog io.Writer
	if !o.quiet {
		requestLog = stdout
	}
	e, err := engine.Start(engine.Options{
		RequestLog: requestLog,
		Config:     o.config, Stage: o.stage, Region: o.region, Params: lo.Params, Vars: lo.Vars,
		StateDir: o.stateDirArg,
		// --port 0 and --api-port 0 pick a free port, as net.Listen does.
		Addr: net.JoinHostPort(f.host, strconv.Itoa(f.port)), APIAddr: net.JoinHostPort(f.host, strconv.Itoa(f.apiPort)),
		TimeScale: f.timeScale, HookTimeout: f.hookTimeout, Out: stdout,
		APIAccessKey: &f.accessKey,
		Invoke:       invoke.Options{MaxEnvironments: f.maxEnvs},
	})
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	if o.watch {
		stop := e.Watch(engine.WatchInterval, func(changes []control.Change, err error) { printWatch(stdout, changes, err) })
		defer stop()
		fmt.Fprintln(stdout, "Watching the service's files: each change is published and deployed.")
	}
	fmt.Fprintln(stdout, "Ready. Press Ctrl-C to stop.")
	<-sig
	fmt.Fprintln(stderr, "Stopping: waiting for in-flight invocations (Ctrl-C again to kill them)…")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := e.Shutdown(ctx); err != nil {
		return fmt.Errorf("stopping: %w", err)
	}
	fmt.Fprintln(stderr, "Stopped.")
	return nil
}

// printWatch says what a change of the service's files did.
func printWatch(w io.Writer, changes []control.Change, err error) {
	switch {
	case errors.Is(err, deploy.ErrAlreadyInProgress):
		fmt.Fprintln(w, "A deployment is in progress: the changes deploy when it ends (sluice status shows it).")
		return
	case err != nil:
		fmt.Fprintf(w, "Changed files not deployed: %v\n", err)
		return
	}
	// No change at all (an editor's swap file, a README) prints nothing.
	for _, c := range changes {
		switch {
		case c.Error != "":
			fmt.Fprintf(w, "%s: version %d published, not deployed: %s\n", c.Key, c.ToVersion, c.Error)
		case c.DeploymentID != "":
			fmt.Fprintf(w, "%s: deploying version %d (from %d) gradually: deployment %s (sluice status shows it)\n", c.Key, c.ToVersion, c.FromVersion, c.DeploymentID)
		default:
			fmt.Fprintf(w, "%s: version %d is live\n", c.Key, c.ToVersion)
		}
	}
}
