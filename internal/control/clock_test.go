package control

import (
	"testing"
	"time"
)

func TestTimelineTurnsScaledTimesIntoWallTimes(t *testing.T) {
	dir := t.TempDir()
	if tl, err := ReadTimeline(dir); err != nil || tl.Wall(time.Unix(5, 0)) != time.Unix(5, 0) {
		t.Fatalf("no clock file: %v, %v", tl, err)
	}
	wall1 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	// First run at 60×: one wall minute is an hour of clock.
	if err := RecordClock(dir, ClockRun{Wall: wall1, Clock: wall1, Scale: 60}); err != nil {
		t.Fatal(err)
	}
	// Restarted at 1× a wall hour later; the clock resumed where the last
	// run left it (ten wall minutes of run: ten clock hours).
	wall2 := wall1.Add(time.Hour)
	clock2 := wall1.Add(10 * time.Hour)
	if err := RecordClock(dir, ClockRun{Wall: wall2, Clock: clock2, Scale: 1}); err != nil {
		t.Fatal(err)
	}
	tl, err := ReadTimeline(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		clock, wall time.Time
		scale       float64
	}{
		{wall1.Add(-time.Minute), wall1.Add(-time.Minute), 1}, // before any run: as recorded
		{wall1.Add(5 * time.Hour), wall1.Add(5 * time.Minute), 60},
		{clock2.Add(time.Minute), wall2.Add(time.Minute), 1},
	} {
		if got := tl.Wall(c.clock); !got.Equal(c.wall) {
			t.Errorf("Wall(%s) = %s, want %s", c.clock, got, c.wall)
		}
		if got := tl.Scale(c.clock); got != c.scale {
			t.Errorf("Scale(%s) = %v, want %v", c.clock, got, c.scale)
		}
		if got := tl.Clock(c.wall); !got.Equal(c.clock) {
			t.Errorf("Clock(%s) = %s, want %s", c.wall, got, c.clock)
		}
	}
}
