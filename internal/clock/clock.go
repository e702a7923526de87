// Package clock is the only source of time for sluice's domain code.
//
// Deployment schedules, alarm periods, hook timeouts and schedule events all
// read time through a Clock, so that tests can run a 30-minute canary in
// milliseconds (Fake) and `sluice serve --time-scale 60` can turn a minute of
// schedule into a second of wall time (Scaled). Function execution itself
// (timeouts, durations) stays in real time: a process runs as fast as it runs.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and waits for it.
type Clock interface {
	// Now is the clock's current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d of clock time has passed.
	AfterFunc(d time.Duration, f func()) Timer
	// NewTimer returns a timer whose channel receives once d of clock time has passed.
	NewTimer(d time.Duration) Timer
}

// Timer is a pending wait on a Clock.
type Timer interface {
	// C is nil for timers made with AfterFunc.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// Real is the wall clock.
func Real() Clock { return Scaled(1) }

// Scaled returns a clock that runs `scale` times faster than the wall clock,
// starting from the wall clock's current time: with scale 60 one real second
// is one clock minute. A scale ≤ 0 means 1.
func Scaled(scale float64) Clock { return ScaledFrom(scale, time.Time{}) }

// ScaledFrom is Scaled, starting from start when start is later than the
// wall clock. An engine restarted on saved state resumes its clock where the
// last run's (faster) clock left off, so recorded times never go backwards.
func ScaledFrom(scale float64, start time.Time) Clock {
	if scale <= 0 {
		scale = 1
	}
	now := time.Now()
	origin := now
	if start.After(now) {
		origin = start
	}
	return &scaled{scale: scale, origin: origin, wallOrigin: now}
}

type scaled struct {
	scale      float64
	origin     time.Time // clock time at wallOrigin
	wallOrigin time.Time
}

func (c *scaled) Now() time.Time {
	if c.scale == 1 && c.origin.Equal(c.wallOrigin) {
		return time.Now()
	}
	elapsed := time.Since(c.wallOrigin)
	return c.origin.Add(time.Duration(float64(elapsed) * c.scale))
}

// real converts a clock duration to the wall duration it takes.
func (c *scaled) real(d time.Duration) time.Duration {
	if c.scale == 1 {
		return d
	}
	return time.Duration(float64(d) / c.scale)
}

func (c *scaled) AfterFunc(d time.Duration, f func()) Timer {
	return realTimer{t: time.AfterFunc(c.real(d), f)}
}

func (c *scaled) NewTimer(d time.Duration) Timer {
	t := time.NewTimer(c.real(d))
	return realTimer{t: t, c: t.C}
}

type realTimer struct {
	t *time.Timer
	c <-chan time.Time
}

func (t realTimer) C() <-chan time.Time { return t.c }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// Scale reports how many times faster than the wall clock c runs (1 for
// clocks that are not scaled, including Fake).
func Scale(c Clock) float64 {
	if s, ok := c.(*scaled); ok {
		return s.scale
	}
	return 1
}

// Fake is a clock that moves only when told to. Timers due at or before the
// new time fire, in due order, during Advance and Set.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// NewFake returns a fake clock reading t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d, firing due timers.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the clock to t (never backwards), firing due timers in order.
// AfterFunc callbacks run synchronously, so when Set returns every callback
// due by t has finished; this keeps fake-clock tests deterministic.
func (f *Fake) Set(t time.Time) {
	for {
		f.mu.Lock()
		var next *fakeTimer
		for _, tm := range f.timers {
			if !tm.when.After(t) && (next == nil || tm.when.Before(next.when)) {
				next = tm
			}
		}
		if next == nil {
			if t.After(f.now) {
				f.now = t
			}
			f.mu.Unlock()
			return
		}
		f.removeLocked(next)
		if next.when.After(f.now) {
			f.now = next.when
		}
		now := f.now
		f.mu.Unlock()
		next.fire(now)
	}
}

// Pending reports how many timers are waiting; tests use it to know that a
// goroutine has reached its wait before advancing the clock.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	return f.add(d, fn, nil)
}

func (f *Fake) NewTimer(d time.Duration) Timer {
	return f.add(d, nil, make(chan time.Time, 1))
}

func (f *Fake) add(d time.Duration, fn func(), c chan time.Time) *fakeTimer {
	f.mu.Lock()
	tm := &fakeTimer{clock: f, when: f.now.Add(d), fn: fn, c: c}
	f.timers = append(f.timers, tm)
	f.mu.Unlock()
	if d <= 0 {
		f.Set(f.Now())
	}
	return tm
}

func (f *Fake) removeLocked(tm *fakeTimer) bool {
	for i, x := range f.timers {
		if x == tm {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			return true
		}
	}
	return false
}

type fakeTimer struct {
	clock *Fake
	when  time.Time
	fn    func()
	c     chan time.Time
}

func (t *fakeTimer) fire(now time.Time) {
	if t.fn != nil {
		t.fn()
		return
	}
	t.c <- now
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	return t.clock.removeLocked(t)
}
