package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// ClockFile is the file in the state directory that records, for every
// start of an engine, how its clock relates to the wall clock. The engine
// records times on its clock, which `--time-scale` speeds up; the CLI
// turns them back into wall times with it, for people.
const ClockFile = "clock.json"

// ClockRun is one engine run's clock: at wall time Wall it read Clock, and
// it ran Scale times faster than the wall clock from then on.
type ClockRun struct {
	Wall  time.Time `json:"wall"`
	Clock time.Time `json:"clock"`
	Scale float64   `json:"scale"`
}

// RecordClock adds an engine run to stateDir's clock file, atomically.
func RecordClock(stateDir string, run ClockRun) error {
	tl, err := ReadTimeline(stateDir)
	if err != nil {
		return err
	}
	tl = append(tl, run)
	b, err := json.MarshalIndent(tl, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(stateDir, "."+ClockFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(stateDir, ClockFile))
}

// Timeline maps the engine's clock to the wall clock across its runs,
// ordered by clock time. Times before the first run recorded (state older
// than the clock file) are taken as wall times.
type Timeline []ClockRun

// ReadTimeline reads stateDir's clock file; none is an empty Timeline.
func ReadTimeline(stateDir string) (Timeline, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, ClockFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var tl Timeline
	if err := json.Unmarshal(b, &tl); err != nil {
		return nil, fmt.Errorf("%s is unreadable (%v): remove it; times are then shown as the engine recorded them", filepath.Join(stateDir, ClockFile), err)
	}
	sort.SliceStable(tl, func(i, j int) bool { return tl[i].Clock.Before(tl[j].Clock) })
	return tl, nil
}

// run is the engine run whose clock read t: the last to start before it.
func (tl Timeline) run(t time.Time) (ClockRun, bool) {
	i := sort.Search(len(tl), func(i int) bool { return tl[i].Clock.After(t) })
	if i == 0 {
		return ClockRun{}, false
	}
	return tl[i-1], true
}

// Wall is the wall time at which the engine's clock read t.
func (tl Timeline) Wall(t time.Time) time.Time {
	r, ok := tl.run(t)
	if !ok || r.Scale <= 0 {
		return t
	}
	return r.Wall.Add(time.Duration(float64(t.Sub(r.Clock)) / r.Scale))
}

// Scale is how many times faster than the wall clock the engine's clock
// ran when it read t.
func (tl Timeline) Scale(t time.Time) float64 {
	r, ok := tl.run(t)
	if !ok || r.Scale <= 0 {
		return 1
	}
	return r.Scale
}

// Clock is what the engine's clock read at wall time w (for --since).
func (tl Timeline) Clock(w time.Time) time.Time {
	var r ClockRun
	found := false
	for _, c := range tl {
		if !c.Wall.After(w) {
			r, found = c, true
		}
	}
	if !found || r.Scale <= 0 {
		return w
	}
	return r.Clock.Add(time.Duration(float64(w.Sub(r.Wall)) * r.Scale))
}
