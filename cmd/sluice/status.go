package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/progress"
)

type statusOptions struct {
	*globalOptions
	output outputFormat
	wait   bool
	aws    awsOptions
}

func newStatusCmd(g *globalOptions) *cobra.Command {
	o := &statusOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:        "status",
		Short:      "Show each alias's traffic split and the latest deployment of each function",
		SuggestFor: []string{"info"},
		Long: `status reads the service's state (works whether or not the engine is running).
With --wait it blocks until no deployment is in progress and exits with the result of the
latest deployments (0 succeeded, 2 rolled back, 3 failed without rollback; 130 when
interrupted first).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.aws.enabled {
				return runStatusAWS(cmd.Context(), o.globalOptions, &o.aws, o.output, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	addOutputFlag(cmd, &o.output)
	cmd.Flags().BoolVarP(&o.wait, "wait", "w", false, "block until no deployment is in progress; the exit code is the result")
	o.aws.bind(cmd)
	return cmd
}

// engineView is the running engine as status shows it: engine.json
// without its token, which is a secret.
type engineView struct {
	PID        int       `json:"pid"`
	GatewayURL string    `json:"gatewayUrl"`
	APIURL     string    `json:"apiUrl"`
	Config     string    `json:"config"`
	Service    string    `json:"service"`
	Stage      string    `json:"stage"`
	Started    time.Time `json:"started"`
}

// statusView is what `status -o json|yaml` prints.
type statusView struct {
	Running     bool                     `json:"running"` // an engine serves the service now
	Engine      *engineView              `json:"engine,omitempty"`
	TimeScale   float64                  `json:"timeScale,omitempty"` // the running engine's --time-scale, when not 1
	Functions   []control.FunctionStatus `json:"functions"`
	Aliases     []control.AliasStatus    `json:"aliases"`
	Deployments []progress.Deployment    `json:"deployments"` // in progress, or the latest of each function
	Alarms      []control.AlarmStatus    `json:"alarms,omitempty"`
}

func (o *statusOptions) run(ctx context.Context, out, errOut io.Writer) error {
	st, err := control.ReadStatus(o.stateDir())
	if err != nil {
		return err
	}
	if o.wait {
		if err := o.waitForActive(ctx, errOut, st); err != nil {
			return err
		}
		if st, err = control.ReadStatus(o.stateDir()); err != nil {
			return err
		}
	}
	if st.Alarms, err = control.ReadAlarms(ctx, o.stateDir()); err != nil {
		fmt.Fprintf(errOut, "warning: alarm states unavailable: %v\n", err)
	}
	tl := o.timeline()
	view := statusView{Running: st.Running, Functions: st.Functions, Aliases: st.Aliases, Alarms: st.Alarms,
		Deployments: make([]progress.Deployment, len(st.Deployments))}
	if view.Functions == nil {
		view.Functions = []control.FunctionStatus{}
	}
	if view.Aliases == nil {
		view.Aliases = []control.AliasStatus{}
	}
	if e := st.Engine; e != nil {
		view.Engine = &engineView{PID: e.PID, GatewayURL: e.GatewayURL, APIURL: e.APIURL, Config: e.Config, Service: e.Service, Stage: e.Stage, Started: e.Started}
	}
	if st.Running && len(tl) > 0 {
		if s := tl[len(tl)-1].Scale; s != 1 {
			view.TimeScale = s
		}
	}
	for i, d := range st.Deployments {
		view.Deployments[i] = progress.View(d, tl)
	}
	for i := range st.Alarms {
		st.Alarms[i].Updated = tl.Wall(st.Alarms[i].Updated).UTC()
	}
	if err := o.output.print(out, view, func(w io.Writer) error { return printStatus(w, st, view.TimeScale) }); err != nil {
		return err
	}
	if o.wait {
		code := progress.ExitSucceeded
		for _, d := range st.Deployments {
			code = max(code, progress.ResultCode(d))
		}
		if code != progress.ExitSucceeded {
			return &exitError{code: code}
		}
	}
	return nil
}

// waitForActive follows the deployments in progress to their end.
func (o *statusOptions) waitForActive(ctx context.Context, errOut io.Writer, st control.Status) error {
	var active []deploy.Deployment
	for _, d := range st.Deployments {
		if !d.Status.Done() {
			active = append(active, d)
		}
	}
	if len(active) == 0 {
		return nil
	}
	client, err := o.dialEngine()
	if err != nil {
		return fmt.Errorf("deployments are in progress but cannot be followed: %w", err)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	disp, _ := o.display(outputText, errOut)
	t := progress.New(errOut, progress.Config{Display: disp, Timeline: o.timeline()})
	watchErr, err := client.Follow(ctx, t.Update)
	if err != nil {
		return err
	}
	for _, d := range active {
		live, err := client.Deployment(ctx, d.ID)
		if err != nil {
			return err
		}
		t.Track(live)
	}
	err = finishWait(ctx, t, watchErr, false)
	if ee, ok := err.(*exitError); ok && ee.err == nil {
		return nil // the result is reported from the status that follows
	}
	return err
}

func printStatus(w io.Writer, st control.Status, scale float64) error {
	if st.Running {
		fmt.Fprintf(w, "engine: running (pid %d), HTTP events at %s, AWS APIs at %s\n", st.Engine.PID, st.Engine.GatewayURL, st.Engine.APIURL)
		if scale != 0 {
			fmt.Fprintf(w, "        its clock runs %g× faster than the wall clock (--time-scale); times below are wall times\n", scale)
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "engine: not running (start it with `sluice serve`)\n\n")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tALIAS\tTRAFFIC")
	aliased := map[string]bool{}
	for _, a := range st.Aliases {
		aliased[a.Function] = true
		traffic := fmt.Sprintf("v%d 100%%", a.Version)
		if a.AdditionalVersion != 0 {
			traffic = fmt.Sprintf("v%d %.0f%% · v%d %.0f%%", a.Version, (1-a.AdditionalWeight)*100, a.AdditionalVersion, a.AdditionalWeight*100)
		}
		if !a.LatestDeployed() {
			traffic += fmt.Sprintf(" (latest v%d not deployed: `sluice deploy`)", a.LatestVersion)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Function, a.Alias, traffic)
	}
	for _, f := range st.Functions {
		if !aliased[f.Function] {
			fmt.Fprintf(tw, "%s\t-\tv%d (latest)\n", f.Function, f.LatestVersion)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printAlarms(w, st.Alarms)
	if len(st.Deployments) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nLATEST DEPLOYMENTS")
	for _, d := range st.Deployments {
		line := progress.Describe(d, false)
		if !d.Status.Done() && !st.Running {
			line += " — the engine is not running; the deployment is rolled back when it starts"
		}
		fmt.Fprintln(w, strings.TrimSpace(line))
	}
	return nil
}

// printAlarms lists the running engine's alarms; a canary alarm shows the
// version it watches.
func printAlarms(w io.Writer, alarms []control.AlarmStatus) {
	if len(alarms) == 0 {
		return
	}
	fmt.Fprintln(w, "\nALARMS")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ALARM\tSTATE\tWATCHES")
	for _, a := range alarms {
		watches := "-"
		if a.ExecutedVersion != "" {
			watches = fmt.Sprintf("%s v%s (canary)", a.Function, a.ExecutedVersion)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Name, a.State, watches)
	}
	tw.Flush()
}
