package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/progress"
)

type historyOptions struct {
	*globalOptions
	output outputFormat
	aws    awsOptions
}

func newHistoryCmd(g *globalOptions) *cobra.Command {
	o := &historyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "history [function]",
		Short: "List deployments, oldest first (of one function, by key or name, or of all)",
		Long: `history lists deployments from the service's state (no running engine needed).
Times are wall-clock times, and TOOK is how long a deployment took on the wall clock, even
when the engine ran faster (sluice serve --time-scale); the SCALE column says so.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: g.completeFunctions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.aws.enabled {
				return runHistoryAWS(cmd.Context(), o.globalOptions, &o.aws, o.output, cmd.OutOrStdout(), cmd.ErrOrStderr(), args)
			}
			return o.run(cmd.OutOrStdout(), args)
		},
	}
	addOutputFlag(cmd, &o.output)
	o.aws.bind(cmd)
	return cmd
}

func (o *historyOptions) run(out io.Writer, args []string) error {
	fn := ""
	if len(args) == 1 {
		var err error
		if fn, err = o.functionName(args[0]); err != nil {
			return err
		}
	}
	ds, err := control.ReadHistory(o.stateDir(), fn)
	if err != nil {
		return err
	}
	tl := o.timeline()
	views := make([]progress.Deployment, len(ds))
	for i, d := range ds {
		views[i] = progress.View(d, tl)
	}
	return o.output.print(out, views, func(w io.Writer) error {
		if len(ds) == 0 {
			if fn != "" {
				fmt.Fprintf(w, "no deployments of %s yet\n", fn)
			} else {
				fmt.Fprintln(w, "no deployments yet")
			}
			return nil
		}
		scaled := false
		for _, v := range views {
			scaled = scaled || v.TimeScale != 0
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		head := "DEPLOYMENT\tFUNCTION\tVERSIONS\tCONFIG\tSTATUS\tCREATED\tTOOK\t"
		if scaled {
			head += "SCALE\t"
		}
		fmt.Fprintln(tw, head+"CREATOR\tDETAIL")
		for i, d := range ds {
			took := "-"
			if t, ok := progress.Duration(d, tl); ok {
				took = roundTook(t)
			}
			fmt.Fprintf(tw, "%s\t%s:%s\tv%d → v%d\t%s\t%s\t%s\t%s\t", d.ID, d.Target.FunctionName, d.Target.FunctionAlias,
				d.Target.CurrentVersion, d.Target.TargetVersion, d.DeploymentConfigName, d.Status,
				views[i].CreateTime.Local().Format(time.DateTime), took)
			if scaled {
				scale := "1×"
				if views[i].TimeScale != 0 {
					scale = fmt.Sprintf("%g×", views[i].TimeScale)
				}
				fmt.Fprintf(tw, "%s\t", scale)
			}
			fmt.Fprintf(tw, "%s\t%s\n", d.Creator, detail(d))
		}
		return tw.Flush()
	})
}

// roundTook rounds a wall duration for people: tenths under a minute.
func roundTook(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func detail(d deploy.Deployment) string {
	s := ""
	if d.IgnoreAlarms {
		s = "alarms ignored (--ignore-alarms)"
	}
	if d.ErrorInformation != nil {
		if s != "" {
			s += "; "
		}
		s += string(d.ErrorInformation.Code) + ": " + d.ErrorInformation.Message
	}
	if d.RollbackInfo != nil && d.RollbackInfo.RollbackMessage != "" {
		if s != "" {
			s += "; "
		}
		s += d.RollbackInfo.RollbackMessage
	}
	return s
}
