package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/logs"
)

type logsOptions struct {
	*globalOptions
	version string
	follow  bool
	since   string
}

func newLogsCmd(g *globalOptions) *cobra.Command {
	o := &logsOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "logs <function>",
		Short: "Print a function's logs (START/END/REPORT lines and its output), per version",
		Long: `logs prints the log events of a function that sluice serve ran, from the
files in .sluice/logs (no running engine needed): one log group per function,
one stream per execution environment, named YYYY/MM/DD/[version]id as on
CloudWatch. <function> is the key under functions (api) or the deployed name
(orders-dev-api).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.version, "version", "", "only this version's streams (a number)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new events until interrupted")
	f.StringVar(&o.since, "since", "", "only events since a time: a duration ago (10m, 2h) or an RFC 3339 time")
	return cmd
}

func (o *logsOptions) run(ctx context.Context, stdout, stderr io.Writer, function string) error {
	f := o
	svc, _, err := o.loadService(stderr, false)
	if err != nil {
		return err
	}
	name := function
	if fn := svc.Function(function); fn != nil {
		name = fn.Name
	} else if !isFunctionName(svc, function) {
		return fmt.Errorf("%s has no function %q: use one of %s", o.config, function, functionKeys(svc))
	}
	if f.version != "" {
		if n, err := strconv.Atoi(f.version); err != nil || n < 1 {
			return fmt.Errorf("--version %q must be a version number (1, 2, …)", f.version)
		}
	}
	filter := logs.Filter{Version: f.version}
	if f.since != "" {
		since, err := parseSince(f.since, time.Now())
		if err != nil {
			return err
		}
		filter.Since = since
	}
	stateDir := o.stateDirArg
	if stateDir == "" {
		stateDir = filepath.Join(svc.Dir, engine.StateDirName)
	}
	dir := filepath.Join(stateDir, "logs")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) && !f.follow {
		return fmt.Errorf("no logs in %s yet: run `sluice serve` and invoke %s first", dir, name)
	}
	store, err := logs.Open(dir, logs.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	group := logs.GroupName(name)
	print := func(ev logs.Event) {
		v, _ := logs.StreamVersion(ev.Stream)
		// Multi-line messages are kept as one event with carriage returns.
		msg := strings.ReplaceAll(ev.Message, "\r", "\n")
		fmt.Fprintf(stdout, "%s [%s] %s\n", ev.Time.UTC().Format("2006-01-02T15:04:05.000Z"), v, msg)
	}
	if !f.follow {
		events, err := store.Events(group, filter)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			fmt.Fprintf(stderr, "no log events for %s%s\n", name, versionNote(f.version))
		}
		for _, ev := range events {
			print(ev)
		}
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return store.Follow(ctx, group, filter, print)
}

func versionNote(v string) string {
	if v == "" {
		return ""
	}
	return " version " + v
}

func isFunctionName(svc *config.Service, name string) bool {
	for _, f := range svc.Functions {
		if f.Name == name {
			return true
		}
	}
	return false
}

func functionKeys(svc *config.Service) string {
	keys := make([]string, len(svc.Functions))
	for i, f := range svc.Functions {
		keys[i] = f.Key
	}
	return strings.Join(keys, ", ")
}

// parseSince reads --since: a duration before now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %s: give a positive duration, e.g. 10m", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither a duration (10m, 2h) nor an RFC 3339 time (2026-01-02T15:04:05Z)", s)
}
