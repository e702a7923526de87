package cron

import (
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// Runner fires schedules on a clock until stopped. A firing that is due
// while the previous one of the same schedule still runs is not skipped:
// fire is called in its own goroutine, as EventBridge invokes asynchronously.
type Runner struct {
	clock clock.Clock
	mu    sync.Mutex
	stop  bool
	tm    map[*entry]clock.Timer
}

type entry struct {
	sched Schedule
	fire  func(at time.Time)
}

// NewRunner returns a runner on c.
func NewRunner(c clock.Clock) *Runner {
	return &Runner{clock: c, tm: map[*entry]clock.Timer{}}
}

// Add fires s from now on, calling fire with each firing's scheduled time.
func (r *Runner) Add(s Schedule, fire func(at time.Time)) {
	r.arm(&entry{sched: s, fire: fire}, r.clock.Now())
}

func (r *Runner) arm(e *entry, after time.Time) {
	next := e.sched.Next(after)
	if next.IsZero() {
		return // the schedule has no further firings (a past year)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stop {
		return
	}
	r.tm[e] = r.clock.AfterFunc(next.Sub(r.clock.Now()), func() {
		go e.fire(next)
		r.arm(e, next)
	})
}

// Stop cancels every pending firing.
func (r *Runner) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stop = true
	for e, t := range r.tm {
		t.Stop()
		delete(r.tm, e)
	}
}
