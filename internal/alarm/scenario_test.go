package alarm

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/metrics"
)

var epoch = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

var quiet = slog.New(slog.DiscardHandler)

var operatorSymbols = map[string]ComparisonOperator{
	">=": GreaterThanOrEqualToThreshold, ">": GreaterThanThreshold, "<": LessThanThreshold, "<=": LessThanOrEqualToThreshold,
}

// scenario is the state of one scenario of testdata/scenarios.txt.
type scenario struct {
	t       *testing.T
	name    string
	clk     *clock.Fake
	store   *metrics.Store
	ev      *Evaluator
	alarm   *Alarm
	series  *metrics.Series
	mu      sync.Mutex
	changes []string
}

func TestScenarios(t *testing.T) {
	f, err := os.Open("testdata/scenarios.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sc *scenario
	finish := func() {
		if sc != nil {
			sc.ev.Close()
		}
	}
	defer finish()
	scanner := bufio.NewScanner(f)
	count := 0
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cmd, arg, _ := strings.Cut(text, " ")
		if cmd == "scenario" {
			finish()
			count++
			clk := clock.NewFake(epoch)
			store := metrics.NewStore(clk)
			sc = &scenario{t: t, name: arg, clk: clk, store: store, ev: NewEvaluator(store, WithLogger(quiet))}
			continue
		}
		if sc == nil {
			t.Fatalf("scenarios.txt:%d: %s before any scenario", line, cmd)
		}
		if err := sc.run(cmd, arg); err != nil {
			t.Errorf("scenarios.txt:%d: scenario %q: %s: %v", line, sc.name, text, err)
		}
	}
	if count < 10 {
		t.Fatalf("only %d scenarios read", count)
	}
}

func (sc *scenario) run(cmd, arg string) error {
	if sc.alarm == nil && cmd != "alarm" {
		return fmt.Errorf("no alarm yet")
	}
	switch cmd {
	case "alarm":
		return sc.putAlarm(strings.Fields(arg))
	case "record":
		for _, f := range strings.Fields(arg) {
			v, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return err
			}
			if err := sc.series.Record(v); err != nil {
				return err
			}
		}
		// Judge the period in progress now, as the alarm's goroutine does on
		// the datapoint's signal (which may not have run yet): this makes
		// the expectations that follow exact. TestDatapointWakesTheAlarm
		// covers the signal itself.
		sc.alarm.evalMu.Lock()
		sc.alarm.evaluateEarlyLocked(sc.alarm.run, sc.clk.Now())
		sc.alarm.evalMu.Unlock()
	case "advance":
		d, err := time.ParseDuration(arg)
		if err != nil {
			return err
		}
		sc.clk.Advance(d)
	case "set":
		state, err := ParseState(arg)
		if err != nil {
			return err
		}
		return sc.ev.SetAlarmState(sc.alarm.Name(), state, "set by test")
	case "expect":
		if got := sc.alarm.State().Value.String(); got != arg {
			return fmt.Errorf("state %s at %s (reason: %s)", got, sc.clk.Now().Format("15:04:05"), sc.alarm.State().Reason)
		}
	case "reason":
		if got := sc.alarm.State().Reason; got != arg {
			return fmt.Errorf("reason\n got: %s\nwant: %s", got, arg)
		}
	case "changes":
		sc.mu.Lock()
		got := strings.Join(sc.changes, " ")
		sc.mu.Unlock()
		if got != arg {
			return fmt.Errorf("changes %s", got)
		}
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}

func (sc *scenario) putAlarm(f []string) error {
	if len(f) < 4 {
		return fmt.Errorf("want <Metric> <Statistic> <Operator> <Threshold> [options]")
	}
	op, ok := operatorSymbols[f[2]]
	if !ok {
		return fmt.Errorf("operator %q: use >=, >, < or <=", f[2])
	}
	threshold, err := strconv.ParseFloat(f[3], 64)
	if err != nil {
		return err
	}
	spec := Spec{
		Name: "test", Namespace: metrics.NamespaceLambda, MetricName: f[0],
		Dimensions: []metrics.Dimension{{Name: metrics.DimFunctionName, Value: "hello"}},
		Period:     time.Minute, EvaluationPeriods: 1, Threshold: threshold, ComparisonOperator: op,
	}
	if stat := metrics.MustParseStat(f[1]); stat.Extended() {
		spec.ExtendedStatistic = f[1]
	} else {
		spec.Statistic = f[1]
	}
	for _, opt := range f[4:] {
		k, v, _ := strings.Cut(opt, "=")
		switch k {
		case "period":
			spec.Period, err = time.ParseDuration(v)
		case "n":
			spec.EvaluationPeriods, err = strconv.Atoi(v)
		case "m":
			spec.DatapointsToAlarm, err = strconv.Atoi(v)
		case "missing":
			spec.TreatMissingData, err = ParseTreatMissingData(v)
		case "namespace":
			spec.Namespace = v
		case "scale":
			spec.Scale, err = strconv.ParseFloat(v, 64)
		default:
			err = fmt.Errorf("unknown option %q", k)
		}
		if err != nil {
			return err
		}
	}
	sc.ev.Subscribe(func(c Change) {
		sc.mu.Lock()
		sc.changes = append(sc.changes, c.Old.String()+">"+c.New.String())
		sc.mu.Unlock()
	})
	if sc.series, err = sc.store.Series(spec.SeriesID()); err != nil {
		return err
	}
	sc.alarm, err = sc.ev.Put(spec)
	return err
}
