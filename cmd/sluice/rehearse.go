package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/rehearse"
)

// exitMissed is rehearse's status when a fault was not caught or the
// healthy copy did not deploy.
const exitMissed = 2

type rehearseOptions struct {
	*globalOptions
	function string
	rate     int
	share    float64
	output   outputFormat
}

func newRehearseCmd(g *globalOptions) *cobra.Command {
	o := &rehearseOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "rehearse",
		Short: "Prove that each gradual deployment stops a bad version: deploy faulty copies locally and see what catches them",
		Long: `rehearse serves the service on temporary state, with time running faster, and for each
function with deploymentSettings deploys copies of its current version with faults the runtime
injects (the code is not changed), under steady traffic through the alias:
  all-fail    every invocation fails
  share-fail  a share of invocations fails (--share, default 10%)
  latency     every invocation is slower than the deployment group's Duration alarms allow
              (skipped when no alarm watches Duration)
  healthy     an unchanged copy, which must deploy: this catches alarms that fire on nothing
It reports, per fault, whether the deployment was stopped and by which alarm or hook, and how
many requests the bad copy served (and failed) for how much schedule time first.
Exit status: 0 every fault caught and the healthy copy deployed, 2 otherwise, 1 on usage or
configuration errors. One function takes well under a minute.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.function, "function", "f", "", "rehearse this function only (its key in serverless.yml)")
	f.IntVar(&o.rate, "rate", 0, "requests per second through the alias (default: enough for every scaled alarm period)")
	f.Float64Var(&o.share, "share", 0.1, "the share of invocations that fail in the share-fail fault")
	cmd.RegisterFlagCompletionFunc("function", g.completeFunctionFlag)
	addOutputFlag(cmd, &o.output)
	return cmd
}

func (o *rehearseOptions) run(ctx context.Context, out, errOut io.Writer) error {
	load, err := o.loadOptions(true)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	opts := rehearse.Options{Config: o.config, Load: load, Function: o.function, Rate: o.rate, Share: o.share}
	if o.output == outputText {
		opts.Progress = errOut
	}
	rep, err := rehearse.Run(ctx, opts)
	if err != nil {
		var ce *rehearse.ConfigError
		if errors.As(err, &ce) {
			return ce
		}
		return err
	}
	if err := o.output.print(out, rep, func(w io.Writer) error { return printRehearsal(w, rep) }); err != nil {
		return err
	}
	if !rep.OK() {
		return &exitError{code: exitMissed, err: errors.New("a fault was not caught, or the healthy copy did not deploy: see the report")}
	}
	return nil
}

func printRehearsal(w io.Writer, rep *rehearse.Report) error {
	for _, f := range rep.Functions {
		fmt.Fprintf(w, "%s (%s, alarms %v, %d requests/s %s, time ×%g, %.1fs wall)\n", f.Function, f.Type, f.Alarms, f.Rate, f.Traffic, f.TimeScale, f.Wall)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  FAULT\tRESULT\tBY\tREQUESTS\tFAILED\tSCHEDULE TIME\tWALL")
		for _, x := range f.Faults {
			if x.Skipped != "" {
				fmt.Fprintf(tw, "  %s\tskipped\t%s\t-\t-\t-\t-\n", x.Fault, x.Skipped)
				continue
			}
			result := map[bool]string{true: "caught", false: "NOT CAUGHT"}[x.Caught]
			if x.Fault == rehearse.FaultHealthy {
				result = map[bool]string{true: "STOPPED", false: "deployed"}[x.Caught]
			}
			by := x.By
			if by == "" {
				by = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\t%v\t%.1fs\n", x.Fault, result, by, x.Requests, x.Errors,
				time.Duration(x.ScheduleSeconds*float64(time.Second)).Round(time.Second), x.WallSeconds)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	verdict := "every fault was caught and the healthy copy deployed"
	if !rep.OK() {
		verdict = "NOT every fault was caught (or the healthy copy was stopped)"
	}
	_, err := fmt.Fprintln(w, verdict)
	return err
}
