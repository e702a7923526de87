package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/demo"
	"github.com/sluice-dev/sluice/internal/progress"
)

func init() {
	opts := demo.Options{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch a gradual deployment succeed and a bad one roll back by itself, in under a minute",
		Long: `demo copies the embedded examples/orders service to a temporary directory, serves it with
time running faster, drives steady traffic, deploys a good version with
Linear10PercentEvery1Minute, then a bad version whose error alarm trips and rolls back on its
own, and prints what happened. It exits 0 only when all of that did.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			mode, err := progress.ModeFor("", cmd.OutOrStdout())
			if err != nil {
				return err
			}
			opts.Out, opts.Mode = cmd.OutOrStdout(), mode
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			_, err = demo.Run(ctx, opts)
			return err
		},
	}
	cmd.Flags().Float64Var(&opts.TimeScale, "time-scale", 60, "how much faster than the wall clock time runs")
	cmd.Flags().IntVar(&opts.Rate, "rate", 200, "requests per second of steady traffic")
	cmd.Flags().BoolVar(&opts.Keep, "keep", false, "keep the service directory afterwards")
	rootCmd.AddCommand(cmd)
}
