package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
)

type historyOptions struct {
	*globalOptions
	output string
}

func newHistoryCmd(g *globalOptions) *cobra.Command {
	o := &historyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "history [function]",
		Short: "List deployments, oldest first (of one function, by key or name, or of all)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.OutOrStdout(), args)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "text or json")
	return cmd
}

func (o *historyOptions) run(out io.Writer, args []string) error {
	fn := ""
	if len(args) == 1 {
		fn = o.functionName(args[0])
	}
	ds, err := control.ReadHistory(o.stateDir(), fn)
	if err != nil {
		return err
	}
	if o.output == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(ds)
	}
	if len(ds) == 0 {
		fmt.Fprintln(out, "no deployments yet")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPLOYMENT\tFUNCTION\tVERSIONS\tCONFIG\tSTATUS\tCREATED\tTOOK\tCREATOR\tDETAIL")
	for _, d := range ds {
		took := "-"
		if d.StartTime != nil && d.CompleteTime != nil {
			took = d.CompleteTime.Sub(*d.StartTime).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s:%s\tv%d → v%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Target.FunctionName, d.Target.FunctionAlias,
			d.Target.CurrentVersion, d.Target.TargetVersion, d.DeploymentConfigName, d.Status,
			d.CreateTime.Format(time.DateTime), took, d.Creator, detail(d))
	}
	return tw.Flush()
}

func detail(d deploy.Deployment) string {
	s := ""
	if d.ErrorInformation != nil {
		s = string(d.ErrorInformation.Code) + ": " + d.ErrorInformation.Message
	}
	if d.RollbackInfo != nil && d.RollbackInfo.RollbackMessage != "" {
		if s != "" {
			s += "; "
		}
		s += d.RollbackInfo.RollbackMessage
	}
	return s
}
