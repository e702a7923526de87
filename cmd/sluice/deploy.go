package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/progress"
	"github.com/sluice-dev/sluice/internal/schedule"
)

type deployOptions struct {
	*globalOptions
	wait         bool
	output       outputFormat
	timeout      time.Duration
	function     string
	ignoreAlarms bool
	typ          string
}

func newDeployCmd(g *globalOptions) *cobra.Command {
	o := &deployOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Publish what changed and deploy it gradually through the running engine",
		Long: `deploy asks the engine serving --config (started with sluice serve) to re-read the
service, check all of it (an invalid service is refused and nothing changes), publish a new
version of each function whose code or configuration changed, and start a deployment for
each function with deploymentSettings whose alias does not serve its latest version (the
others switch at once).
It prints each deployment's id on standard output.

With --wait it follows the deployments to their end and its exit code is the result:
  0    every deployment succeeded
  2    a deployment failed or was stopped (alarm, hook, timeout) and traffic is back on the
       previous version
  3    a deployment failed or was stopped and traffic was NOT moved back
  124  --timeout passed first: the deployments go on
  130  interrupted (Ctrl-C) first: the deployments go on

--timeout counts the wait only, not the publish before it.

Escape hatches: --function deploys one function and leaves the others as they are;
--type AllAtOnce (or any deployment type) replaces deploymentSettings.type for this deploy,
for an emergency fix; --ignore-alarms keeps the alarms from stopping these deployments (it
is recorded in each deployment; sluice stop still stops them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.wait, "wait", "w", false, "follow the deployments to their end; the exit code is the result")
	addOutputFlag(cmd, &o.output)
	f.DurationVar(&o.timeout, "timeout", 0, "with --wait, stop waiting after this long (exit 124); the deployments go on")
	f.StringVarP(&o.function, "function", "f", "", "deploy only this function (its key in serverless.yml or its deployed name)")
	f.BoolVar(&o.ignoreAlarms, "ignore-alarms", false, "the alarms do not stop these deployments (recorded in each): for a fix the alarms would block")
	f.StringVar(&o.typ, "type", "", "the deployment type for this deploy instead of deploymentSettings.type, e.g. AllAtOnce")
	cmd.RegisterFlagCompletionFunc("function", g.completeFunctionFlag)
	cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions(schedule.Predefined, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *deployOptions) run(ctx context.Context, out, errOut io.Writer) error {
	disp, err := o.display(o.output, out)
	if err != nil {
		return err
	}
	if o.timeout < 0 {
		return fmt.Errorf("--timeout %s: give a positive duration, e.g. 10m", o.timeout)
	}
	req := control.DeployOptions{IgnoreAlarms: o.ignoreAlarms}
	if o.function != "" {
		if req.Function, err = o.functionName(o.function); err != nil {
			return fmt.Errorf("--function: %w", err)
		}
	}
	if o.typ != "" {
		typ, err := schedule.Parse(o.typ)
		if err != nil {
			return fmt.Errorf("--type: %w", err)
		}
		req.Type = typ.Name
	}
	client, err := o.dialEngine()
	if err != nil {
		return err
	}
	if o.ignoreAlarms {
		fmt.Fprintln(errOut, "WARNING: --ignore-alarms: no alarm will stop these deployments, whatever the new version does; each records ignoreAlarms (sluice stop still stops them)")
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	t := progress.New(out, progress.Config{Display: disp, Timeline: o.timeline()})
	publish := func(ctx context.Context) (control.DeployResult, error) { return client.DeployWith(ctx, req) }
	return deployAndWait(ctx, client, publish, t, errOut, o.wait, o.timeout, o.hasAlarms)
}

// deployAndWait publishes what changed and, with wait, follows the
// deployments for at most timeout (0: no limit).
func deployAndWait(ctx context.Context, client *control.Client, publish func(context.Context) (control.DeployResult, error), t *progress.Tracker, errOut io.Writer, wait bool, timeout time.Duration, judged func(function string) bool) error {
	var watchErr <-chan error
	watchCtx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	if wait {
		var err error
		if watchErr, err = client.Follow(watchCtx, t.Update); err != nil {
			return err
		}
	}
	res, err := publish(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return &exitError{code: exitSignaled, err: errors.New("interrupted while publishing: the engine may have published and started deployments; `sluice status` shows what it did")}
		}
		return err
	}
	if len(res.Changes) == 0 {
		fmt.Fprintln(errOut, "nothing changed: every function already runs its current code and configuration")
		t.End(0, "unchanged")
		return nil
	}
	failed := false
	for _, c := range res.Changes {
		failed = failed || c.Error != ""
		t.Published(progress.Change{Function: c.Function, FromVersion: c.FromVersion, ToVersion: c.ToVersion,
			DeploymentID: c.DeploymentID, AtOnce: c.Error == "" && c.DeploymentID == "", Error: c.Error})
	}
	code := 0
	if failed {
		code = 1
	}
	if !wait {
		t.End(code, "started")
		if failed {
			return &exitError{code: code}
		}
		return nil
	}
	for _, c := range res.Changes {
		if c.DeploymentID == "" {
			continue
		}
		// Not cut short by an interrupt: it is reported once tracked.
		d, err := client.Deployment(context.WithoutCancel(ctx), c.DeploymentID)
		if err != nil {
			return err
		}
		t.Track(d)
	}
	waitCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, timeout) // from now: the publish is not counted
		defer cancel()
	}
	err = finishWait(waitCtx, t, watchErr, failed)
	noteUnjudged(ctx, client, t, errOut, judged)
	return err
}

// minJudged is the fewest requests to a new version during its deployment
// that we take as enough for its alarms to judge it: fewer, and an error
// alarm (one error in a period) has had little to see.
const minJudged = 10

// noteUnjudged says which succeeded deployments of functions with alarms
// sent fewer than minJudged requests to the new version: at --time-scale
// 60 a 5-minute canary is 5 real seconds, too short for most traffic.
func noteUnjudged(ctx context.Context, client *control.Client, t *progress.Tracker, errOut io.Writer, judged func(function string) bool) {
	for _, d := range t.Deployments() {
		if d.Status != deploy.StatusSucceeded || d.StartTime == nil || d.CompleteTime == nil || !judged(d.Target.FunctionName) {
			continue
		}
		n, err := client.Invocations(context.WithoutCancel(ctx), d.Target.FunctionName, d.Target.FunctionAlias, strconv.Itoa(d.Target.TargetVersion), *d.StartTime, *d.CompleteTime)
		if err != nil || n.Invocations >= minJudged {
			continue
		}
		took := d.CompleteTime.Sub(*d.StartTime)
		scale := ""
		if wall, ok := progress.Duration(d, t.Timeline()); ok && wall < took {
			scale = fmt.Sprintf(" (%s of the wall clock)", roundTook(wall))
		}
		fmt.Fprintf(errOut, "note: %s v%d served %d requests during its %s deployment%s: too few for its alarms to judge it; send more traffic, or serve with a lower --time-scale\n",
			d.Target.FunctionName, d.Target.TargetVersion, n.Invocations, took.Round(time.Second), scale)
	}
}

// finishWait follows the tracked deployments to their end; the exit code
// is their result, or 124 or 130 when a timeout or a signal ended the
// wait first.
func finishWait(ctx context.Context, t *progress.Tracker, watchErr <-chan error, failed bool) error {
	code, err := t.Wait(ctx, watchErr)
	if errors.Is(err, progress.ErrStoppedWaiting) {
		code = exitSignaled
		why := "interrupted"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			code, why = exitTimeout, "timed out"
		}
		err = stoppedWaiting(why, t.Pending())
		t.Finish(code, err)
		return &exitError{code: code, err: err}
	}
	if err != nil {
		t.Finish(1, err)
		return err
	}
	if failed && code == progress.ExitSucceeded {
		code = 1
	}
	t.Finish(code, nil)
	if code != progress.ExitSucceeded {
		return &exitError{code: code}
	}
	return nil
}

func stoppedWaiting(why string, pending []string) error {
	goOn := "goes on"
	if len(pending) != 1 {
		goOn = "go on"
	}
	return fmt.Errorf("%w; %s %s (%s): follow with `sluice status --wait`, stop with `sluice stop %s`",
		progress.ErrStoppedWaiting, strings.Join(pending, ", "), goOn, why, firstOr(pending, "<id>"))
}

func firstOr(ids []string, def string) string {
	if len(ids) == 0 {
		return def
	}
	return ids[0]
}

// hasAlarms reports whether the deployed function's deploymentSettings
// name alarms (unknown: no).
func (g *globalOptions) hasAlarms(function string) bool {
	svc := g.service()
	if svc == nil {
		return false
	}
	for _, f := range svc.Functions {
		if f.Name == function && f.DeploymentSettings != nil {
			return len(f.DeploymentSettings.Alarms)+len(f.DeploymentSettings.CanaryAlarms) > 0
		}
	}
	return false
}
