package main

import (
	"context"
	"encoding/json"
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
	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/logs"
)

type logsOptions struct {
	*globalOptions
	version string
	follow  bool
	since   string
	filter  string
	output  outputFormat
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
(orders-dev-api). Times are wall-clock times, even when the engine's clock
ran faster (sluice serve --time-scale); --since is wall-clock time too.

As with the serverless CLI, -t/--tail follows new events and --filter keeps
the events that contain a text.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeFunctions,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.version, "version", "", "only this version's streams (a number)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new events until interrupted")
	f.BoolVarP(&o.follow, "tail", "t", false, "the same as --follow, as the serverless CLI names it")
	f.StringVar(&o.since, "since", "", "only events since a time: a duration ago (10m, 2h) or an RFC 3339 time")
	f.StringVar(&o.filter, "filter", "", "only events whose message contains this text")
	addOutputFlag(cmd, &o.output)
	return cmd
}

// logEvent is one event as `logs -o json|yaml` prints it.
type logEvent struct {
	Time    time.Time `json:"time"`
	Version string    `json:"version"`
	Stream  string    `json:"stream"`
	Message string    `json:"message"`
}

func (o *logsOptions) run(ctx context.Context, stdout, stderr io.Writer, function string) error {
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
	if o.version != "" {
		if n, err := strconv.Atoi(o.version); err != nil || n < 1 {
			return fmt.Errorf("--version %q must be a version number (1, 2, …)", o.version)
		}
	}
	stateDir := o.stateDirArg
	if stateDir == "" {
		stateDir = filepath.Join(svc.Dir, engine.StateDirName)
	}
	tl, _ := control.ReadTimeline(stateDir)
	filter := logs.Filter{Version: o.version}
	if o.since != "" {
		since, err := parseSince(o.since, time.Now())
		if err != nil {
			return err
		}
		filter.Since = tl.Clock(since) // events carry the engine's clock
	}
	dir := filepath.Join(stateDir, "logs")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) && !o.follow {
		return fmt.Errorf("no logs in %s yet: run `sluice serve` and invoke %s first", dir, name)
	}
	store, err := logs.Open(dir, logs.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	group := logs.GroupName(name)
	print := func(ev logs.Event) {
		// Multi-line messages are kept as one event with carriage returns.
		msg := strings.ReplaceAll(ev.Message, "\r", "\n")
		if o.filter != "" && !strings.Contains(msg, o.filter) {
			return
		}
		v, _ := logs.StreamVersion(ev.Stream)
		at := tl.Wall(ev.Time).UTC()
		switch o.output {
		case outputJSON:
			b, _ := json.Marshal(logEvent{Time: at, Version: v, Stream: ev.Stream, Message: msg})
			fmt.Fprintln(stdout, string(b))
		case outputYAML:
			o.output.print(stdout, []logEvent{{Time: at, Version: v, Stream: ev.Stream, Message: msg}}, nil)
		default:
			fmt.Fprintf(stdout, "%s [%s] %s\n", at.Format("2006-01-02T15:04:05.000Z"), v, msg)
		}
	}
	if !o.follow {
		events, err := store.Events(group, filter)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			fmt.Fprintf(stderr, "no log events for %s%s\n", name, versionNote(o.version))
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
