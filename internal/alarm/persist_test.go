package alarm

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/store"
)

// restart opens an evaluator over a fresh metrics store (the metrics die
// with an engine) and the same state database, as a restarted engine does.
func restart(t *testing.T, clk *clock.Fake, dir string) (*Evaluator, *store.DB) {
	t.Helper()
	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return NewEvaluator(metrics.NewStore(clk), WithLogger(quiet), WithStateStore(db)), db
}

// TestRestartKeepsAlarm: an alarm in ALARM when the engine dies is in ALARM
// when the next engine creates it, with its reason, and stays there while
// the new engine has no datapoint to judge; once its evaluation range lies
// wholly after the restart, missing data decides as usual.
func TestRestartKeepsAlarm(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(epoch)
	ev, db := restart(t, clk, dir)
	if _, err := ev.Put(errorsAlarm("errors")); err != nil {
		t.Fatal(err)
	}
	if err := ev.SetAlarmState("errors", StateAlarm, "broken"); err != nil {
		t.Fatal(err)
	}
	ev.Close() // writes what is queued
	db.Close()

	ev, db = restart(t, clk, dir)
	defer db.Close()
	defer ev.Close()
	a, err := ev.Put(errorsAlarm("errors"))
	if err != nil {
		t.Fatal(err)
	}
	if st := a.State(); st.Value != StateAlarm || st.Reason != "broken" {
		t.Fatalf("after restart: %s (%q), want ALARM (\"broken\")", st.Value, st.Reason)
	}
	c := changes(a)
	clk.Advance(2 * time.Minute) // within the evaluation range (3 periods of 1 minute)
	if st := a.State().Value; st != StateAlarm {
		t.Fatalf("restored ALARM became %s with no data to judge", st)
	}
	clk.Advance(2 * time.Minute)
	waitChange(t, c, StateInsufficientData)
}

// TestRestoredAlarmJudgedOnNewData: real datapoints after a restart decide
// at once.
func TestRestoredAlarmJudgedOnNewData(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(epoch)
	ev, db := restart(t, clk, dir)
	ev.Put(errorsAlarm("errors"))
	ev.SetAlarmState("errors", StateAlarm, "broken")
	ev.Close()
	db.Close()

	ev, db = restart(t, clk, dir)
	defer db.Close()
	defer ev.Close()
	a, _ := ev.Put(errorsAlarm("errors"))
	c := changes(a)
	if err := ev.store.Put(errorsAlarm("").SeriesID(), 0); err != nil { // a successful invocation
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	waitChange(t, c, StateOK)
}

// TestDeletedAlarmIsForgotten: a deleted alarm's state is not restored.
func TestDeletedAlarmIsForgotten(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(epoch)
	ev, db := restart(t, clk, dir)
	ev.Put(errorsAlarm("errors"))
	ev.SetAlarmState("errors", StateAlarm, "broken")
	ev.Delete("errors")
	ev.Close()
	states, err := db.AlarmStates()
	if err != nil || len(states) != 0 {
		t.Fatalf("saved states after delete: %v, %v", states, err)
	}
	db.Close()

	ev, db = restart(t, clk, dir)
	defer db.Close()
	defer ev.Close()
	a, _ := ev.Put(errorsAlarm("errors"))
	if st := a.State().Value; st != StateInsufficientData {
		t.Fatalf("state %s, want INSUFFICIENT_DATA", st)
	}
}

// TestUnreadableSavedStates: a saved state sluice cannot read, or a store
// that fails, leaves the alarms starting afresh rather than failing.
func TestUnreadableSavedStates(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(epoch)
	db, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutAlarmState(store.AlarmStateRecord{Name: "errors", State: "SIDEWAYS", Reason: "?", Updated: epoch}); err != nil {
		t.Fatal(err)
	}
	ev := NewEvaluator(metrics.NewStore(clk), WithLogger(quiet), WithStateStore(db))
	a, _ := ev.Put(errorsAlarm("errors"))
	if st := a.State().Value; st != StateInsufficientData {
		t.Fatalf("state %s from an unreadable record, want INSUFFICIENT_DATA", st)
	}
	ev.Close()
	db.Close()

	// A closed store: reads and writes fail, and are logged.
	ev = NewEvaluator(metrics.NewStore(clk), WithLogger(quiet), WithStateStore(db))
	defer ev.Close()
	a, _ = ev.Put(errorsAlarm("errors"))
	if err := ev.SetAlarmState("errors", StateAlarm, "broken"); err != nil {
		t.Fatal(err)
	}
	if st := a.State().Value; st != StateAlarm {
		t.Fatalf("state %s, want ALARM even when it cannot be saved", st)
	}
}
