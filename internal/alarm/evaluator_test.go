package alarm

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/metrics"
)

func errorsAlarm(name string) Spec {
	return Spec{
		Name: name, Namespace: metrics.NamespaceLambda, MetricName: metrics.MetricErrors,
		Dimensions: []metrics.Dimension{{Name: metrics.DimFunctionName, Value: "hello"}},
		Period:     time.Minute, EvaluationPeriods: 1, Statistic: "Sum", Threshold: 1,
		ComparisonOperator: GreaterThanOrEqualToThreshold,
	}
}

// changes returns a channel of the alarm's changes (buffered, so listeners
// never block).
func changes(a *Alarm) <-chan Change {
	c := make(chan Change, 16)
	a.Subscribe(func(ch Change) { c <- ch })
	return c
}

func waitChange(t *testing.T, c <-chan Change, want State) Change {
	t.Helper()
	select {
	case ch := <-c:
		if ch.New != want {
			t.Fatalf("change to %s (%s), want %s", ch.New, ch.Reason, want)
		}
		return ch
	case <-time.After(5 * time.Second):
		t.Fatalf("no change to %s within 5s", want)
	}
	return Change{}
}

// TestDatapointWakesTheAlarm is the event-driven path end to end: an
// invocation recorded through the Lambda recorder wakes the alarm's
// goroutine, which moves the alarm to ALARM and calls the listener, with no
// clock movement at all.
func TestDatapointWakesTheAlarm(t *testing.T) {
	clk := clock.NewFake(epoch.Add(15 * time.Second))
	store := metrics.NewStore(clk)
	ev := NewEvaluator(store, WithLogger(quiet))
	defer ev.Close()
	a, err := ev.Put(errorsAlarm("errors"))
	if err != nil {
		t.Fatal(err)
	}
	c := changes(a)
	rec, err := store.InvocationRecorder("hello", "hello:live", "2")
	if err != nil {
		t.Fatal(err)
	}
	rec.Record(metrics.Invocation{Duration: time.Millisecond})
	rec.Record(metrics.Invocation{Duration: time.Millisecond, Error: true})
	ch := waitChange(t, c, StateAlarm)
	if ch.Alarm != "errors" || ch.Old != StateInsufficientData || !ch.Time.Equal(clk.Now()) {
		t.Errorf("change = %+v", ch)
	}
	if !strings.Contains(ch.ReasonData, `"recentDatapoints":[1.0]`) || !strings.Contains(ch.ReasonData, `"statistic":"Sum"`) {
		t.Errorf("reason data = %s", ch.ReasonData)
	}
}

// TestAlarmAlreadyBreachingWhenCreated: a deployment that starts while its
// alarm's metric is failing must see ALARM at once.
func TestAlarmAlreadyBreachingWhenCreated(t *testing.T) {
	clk := clock.NewFake(epoch)
	store := metrics.NewStore(clk)
	ev := NewEvaluator(store, WithLogger(quiet))
	defer ev.Close()
	_ = store.Put(errorsAlarm("").SeriesID(), 1) // an error in the period in progress
	a, err := ev.Put(errorsAlarm("errors"))
	if err != nil {
		t.Fatal(err)
	}
	if s := a.State().Value; s != StateAlarm {
		t.Fatalf("state %s right after Put, want ALARM", s)
	}
}

func TestPutUpdatesKeepStateAndListeners(t *testing.T) {
	clk := clock.NewFake(epoch)
	store := metrics.NewStore(clk)
	ev := NewEvaluator(store, WithLogger(quiet))
	defer ev.Close()
	spec := errorsAlarm("errors")
	spec.TreatMissingData = TreatNotBreaching
	a, _ := ev.Put(spec)
	c := changes(a)
	if a.State().Value != StateOK {
		t.Fatalf("state %s, want OK", a.State().Value)
	}
	spec.TreatMissingData = TreatBreaching
	b, err := ev.Put(spec)
	if err != nil {
		t.Fatal(err)
	}
	if b != a {
		t.Fatal("Put of an existing name returned another alarm")
	}
	waitChange(t, c, StateAlarm) // re-evaluated at once with the new setting
	if got := a.Spec().TreatMissingData; got != TreatBreaching {
		t.Errorf("spec not updated: %v", got)
	}
	clk.Advance(5 * time.Minute)
	select {
	case ch := <-c:
		t.Errorf("unexpected change %+v: the old configuration is still evaluating", ch)
	default:
	}
}

func TestDeleteAndCloseStopEvaluation(t *testing.T) {
	clk := clock.NewFake(epoch)
	store := metrics.NewStore(clk)
	ev := NewEvaluator(store, WithLogger(quiet))
	spec := errorsAlarm("errors")
	spec.TreatMissingData = TreatNotBreaching
	a, _ := ev.Put(spec)
	c := changes(a)
	if !ev.Delete("errors") || ev.Delete("errors") {
		t.Fatal("Delete should report true once, then false")
	}
	if _, ok := ev.Alarm("errors"); ok {
		t.Fatal("deleted alarm still listed")
	}
	if clk.Pending() != 0 {
		t.Errorf("%d timers left after Delete", clk.Pending())
	}
	_ = store.Put(spec.SeriesID(), 5)
	clk.Advance(time.Minute)
	select {
	case ch := <-c:
		t.Errorf("deleted alarm changed: %+v", ch)
	default:
	}
	if _, err := ev.Put(errorsAlarm("other")); err != nil {
		t.Fatal(err)
	}
	ev.Close()
	if _, err := ev.Put(errorsAlarm("late")); err == nil {
		t.Error("Put after Close succeeded")
	}
	if clk.Pending() != 0 {
		t.Errorf("%d timers left after Close", clk.Pending())
	}
}

func TestSetAlarmStateRejectsBadInput(t *testing.T) {
	store := metrics.NewStore(clock.NewFake(epoch))
	ev := NewEvaluator(store, WithLogger(quiet))
	defer ev.Close()
	_, _ = ev.Put(errorsAlarm("errors"))
	for _, c := range []struct {
		name   string
		state  State
		reason string
		want   string
	}{
		{"nope", StateOK, "x", `alarm "nope" does not exist`},
		{"errors", State(7), "x", "use OK, ALARM or INSUFFICIENT_DATA"},
		{"errors", StateOK, "", "give a reason"},
	} {
		err := ev.SetAlarmState(c.name, c.state, c.reason)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SetAlarmState(%q, %v, %q) = %v, want %q", c.name, c.state, c.reason, err, c.want)
		}
	}
}

func TestEvaluatorListenersHearEveryAlarm(t *testing.T) {
	clk := clock.NewFake(epoch)
	store := metrics.NewStore(clk)
	ev := NewEvaluator(store, WithLogger(quiet))
	defer ev.Close()
	var got []string
	cancel := ev.Subscribe(func(c Change) { got = append(got, c.Alarm+":"+c.New.String()) })
	for _, name := range []string{"a", "b"} {
		spec := errorsAlarm(name)
		spec.TreatMissingData = TreatBreaching
		if _, err := ev.Put(spec); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	_ = ev.SetAlarmState("a", StateOK, "by hand")
	if strings.Join(got, " ") != "a:ALARM b:ALARM" {
		t.Errorf("changes heard: %v", got)
	}
	if names := ev.Alarms(); len(names) != 2 || names[0].Name() != "a" {
		t.Errorf("Alarms() = %v", names)
	}
}

// TestScaledClockBoundaries runs period boundaries on real timers: a clock
// 600 times faster than the wall turns a 10-second period into 17 ms.
func TestScaledClockBoundaries(t *testing.T) {
	store := metrics.NewStore(clock.Scaled(600))
	ev := NewEvaluator(store, WithLogger(quiet))
	defer ev.Close()
	spec := errorsAlarm("errors")
	spec.Period = 10 * time.Second
	spec.TreatMissingData = TreatNotBreaching
	a, err := ev.Put(spec)
	if err != nil {
		t.Fatal(err)
	}
	c := changes(a)
	if a.State().Value != StateOK {
		t.Fatalf("state %s, want OK", a.State().Value)
	}
	_ = store.Put(spec.SeriesID(), 1)
	waitChange(t, c, StateAlarm) // early, on the datapoint
	// Without further data the breaching period leaves the evaluation range
	// within 3 periods (about 50 ms of wall time).
	waitChange(t, c, StateOK)
}

func TestPutRejectsInvalidSpecs(t *testing.T) {
	ev := NewEvaluator(metrics.NewStore(clock.NewFake(epoch)), WithLogger(quiet))
	defer ev.Close()
	spec := errorsAlarm("errors")
	spec.Period = 45 * time.Second
	if _, err := ev.Put(spec); err == nil || !strings.Contains(err.Error(), "Period 45s is not allowed") {
		t.Errorf("Put = %v, want the period rejected", err)
	}
}
