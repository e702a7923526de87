package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/demo"
)

type demoOptions struct {
	*globalOptions
	demo demo.Options
}

func newDemoCmd(g *globalOptions) *cobra.Command {
	o := &demoOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch a gradual deployment succeed and a bad one roll back by itself, in under a minute",
		Long: `demo copies the embedded examples/orders service to a temporary directory, serves it with
time running faster, drives steady traffic, deploys a good version with
Linear10PercentEvery1Minute, then a bad version whose error alarm trips and rolls back on its
own, and prints what happened. It exits 0 only when all of that did.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd)
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.demo.TimeScale, "time-scale", 60, "how much faster than the wall clock time runs")
	f.IntVar(&o.demo.Rate, "rate", 200, "requests per second of steady traffic")
	f.BoolVar(&o.demo.Keep, "keep", false, "keep the service directory afterwards")
	return cmd
}

func (o *demoOptions) run(ctx context.Context, cmd *cobra.Command) error {
	disp, err := o.display(outputText, cmd.OutOrStdout())
	if err != nil {
		return err
	}
	o.demo.Out, o.demo.Mode, o.demo.Display = cmd.OutOrStdout(), disp.Mode, disp
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	_, err = demo.Run(ctx, o.demo)
	return err
}
