package runtime

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// EnvironmentCap bounds how many execution environments run at once across
// every pool that shares it (sluice serve's --max-environments).
//
// Lambda scales out without limit, one environment per concurrent request.
// On one machine that is a storm: forty requests a second to a new version
// started ~200 processes on 2 cores, whose init timeouts then tripped
// alarms on versions that were fine. With a cap, an invocation that finds
// no idle environment of its own version gets a slot if one is free, else
// takes the slot of the longest-idle environment of another version
// (stopping it), else waits in a bounded queue for a slot or for one of its
// own environments to come idle. A full queue or a wait past the deadline
// is answered as Lambda answers a throttle.
type EnvironmentCap struct {
	max      int
	maxQueue int
	wait     time.Duration

	mu      sync.Mutex
	live    int          // slots held
	waiters []*capWaiter // FIFO
	pools   map[*Pool]struct{}

	throttled, evicted atomic.Uint64
}

type capWaiter struct {
	pool    *Pool
	woken   chan struct{}
	granted bool // woken with a slot, not only to look again
}

// ErrEnvironmentsBusy is the throttle of an EnvironmentCap; it wraps
// ErrThrottled, so callers answer it as Lambda answers a throttle.
var ErrEnvironmentsBusy = fmt.Errorf("%w: every execution environment sluice may run (--max-environments) stayed busy", ErrThrottled)

// Defaults of NewEnvironmentCap.
const (
	// DefaultCapWait is how long an invocation waits for an environment:
	// Lambda's init limit, so one cold start always fits in it.
	DefaultCapWait = 10 * time.Second
	// DefaultCapQueuePerEnvironment bounds the invocations waiting, per
	// environment allowed: enough for a burst to wait out a cold start,
	// short enough that an overload's backlog drains within a second or so.
	DefaultCapQueuePerEnvironment = 64
)

// NewEnvironmentCap allows max environments; max <= 0 returns nil, which
// never limits. maxQueue and wait default to DefaultCapQueuePerEnvironment
// × max and DefaultCapWait.
func NewEnvironmentCap(max, maxQueue int, wait time.Duration) *EnvironmentCap {
	if max <= 0 {
		return nil
	}
	if maxQueue <= 0 {
		maxQueue = DefaultCapQueuePerEnvironment * max
	}
	if wait <= 0 {
		wait = DefaultCapWait
	}
	return &EnvironmentCap{max: max, maxQueue: maxQueue, wait: wait, pools: map[*Pool]struct{}{}}
}

// CapStats is a snapshot of an EnvironmentCap.
type CapStats struct {
	Max, Live, Waiting int
	Throttled, Evicted uint64
}

// Stats reports the cap's use.
func (c *EnvironmentCap) Stats() CapStats {
	if c == nil {
		return CapStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return CapStats{Max: c.max, Live: c.live, Waiting: len(c.waiters), Throttled: c.throttled.Load(), Evicted: c.evicted.Load()}
}

// Lock order: c.mu, then a pool's mu. Pools never call the cap while
// holding their own mu.

func (c *EnvironmentCap) register(p *Pool) {
	c.mu.Lock()
	c.pools[p] = struct{}{}
	c.mu.Unlock()
}

func (c *EnvironmentCap) unregister(p *Pool) {
	c.mu.Lock()
	delete(c.pools, p)
	c.mu.Unlock()
}

// reserve returns an idle environment of p, or nil with a slot reserved for
// a new one, or an error: ErrEnvironmentsBusy, or ctx's when the caller
// stopped waiting.
func (c *EnvironmentCap) reserve(ctx context.Context, p *Pool) (*env, error) {
	var timer, grace *time.Timer
	first := false     // woken without a slot: look again, ahead of later arrivals
	graceOver := false // waited EvictionGrace: may stop another version's environment
	for {
		if e := p.takeIdle(); e != nil {
			return e, nil
		}
		c.mu.Lock()
		if c.live < c.max && (first || len(c.waiters) == 0) {
			c.live++
			c.mu.Unlock()
			return nil, nil
		}
		// Stopping another version's environment costs a cold start. A
		// version that has environments of its own waits a moment for one
		// of them instead: two versions sharing traffic (a canary) would
		// otherwise take each other's environments on every request.
		if (graceOver || p.liveCount() == 0) && c.evictLocked() {
			c.mu.Unlock()
			return nil, nil
		}
		if !first && len(c.waiters) >= c.maxQueue {
			c.mu.Unlock()
			c.throttled.Add(1)
			return nil, ErrEnvironmentsBusy
		}
		w := &capWaiter{pool: p, woken: make(chan struct{})}
		if first {
			c.waiters = append([]*capWaiter{w}, c.waiters...)
		} else {
			c.waiters = append(c.waiters, w)
		}
		c.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(c.wait)
			defer timer.Stop()
			grace = time.NewTimer(EvictionGrace)
			defer grace.Stop()
		}
		var graceC <-chan time.Time
		if !graceOver {
			graceC = grace.C
		}
		select {
		case <-w.woken:
			if w.granted {
				return nil, nil
			}
			first = true
			continue
		case <-graceC:
			graceOver = true
			if c.requeue(w) {
				return nil, nil // granted a slot meanwhile
			}
			first = true
			continue
		case <-ctx.Done():
			c.abandon(w)
			return nil, ctx.Err()
		case <-timer.C:
			c.abandon(w)
			c.throttled.Add(1)
			return nil, ErrEnvironmentsBusy
		}
	}
}

// EvictionGrace is how long an invocation whose version has environments
// waits for one of them before it may stop another version's idle one.
const EvictionGrace = 50 * time.Millisecond

// requeue takes w out of the queue to look again; it reports whether w was
// granted a slot meanwhile (woken only to look: nothing to undo).
func (c *EnvironmentCap) requeue(w *capWaiter) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.waiters {
		if x == w {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			return false
		}
	}
	return w.granted
}

// abandon takes w out of the queue; what it was given passes on.
func (c *EnvironmentCap) abandon(w *capWaiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.waiters {
		if x == w {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			return
		}
	}
	// Already woken.
	if w.granted {
		c.freeLocked()
	} else {
		c.wakeLocked(nil)
	}
}

// free gives back a slot: to the first waiter, else to the pool of slots.
func (c *EnvironmentCap) free() {
	c.mu.Lock()
	c.freeLocked()
	c.mu.Unlock()
}

func (c *EnvironmentCap) freeLocked() {
	if len(c.waiters) == 0 {
		c.live--
		return
	}
	w := c.waiters[0]
	c.waiters = c.waiters[1:]
	w.granted = true
	close(w.woken)
}

// idle tells the waiters that p has an idle environment: the first waiter
// for p takes it, or else the first waiter, which may stop it for a slot.
func (c *EnvironmentCap) idle(p *Pool) {
	c.mu.Lock()
	c.wakeLocked(p)
	c.mu.Unlock()
}

func (c *EnvironmentCap) wakeLocked(p *Pool) {
	if len(c.waiters) == 0 {
		return
	}
	i := 0
	for j, w := range c.waiters {
		if w.pool == p {
			i = j
			break
		}
	}
	w := c.waiters[i]
	c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
	close(w.woken)
}

// evictLocked stops the longest-idle environment of any pool and moves its
// slot to the caller. It reports false when no environment is idle.
func (c *EnvironmentCap) evictLocked() bool {
	for {
		var oldest *Pool
		var since time.Time
		for p := range c.pools {
			p.mu.Lock()
			if len(p.idle) > 0 && (oldest == nil || p.idle[0].idleSince.Before(since)) {
				oldest, since = p, p.idle[0].idleSince
			}
			p.mu.Unlock()
		}
		if oldest == nil {
			return false
		}
		oldest.mu.Lock()
		if len(oldest.idle) == 0 || !oldest.idle[0].idleSince.Equal(since) {
			oldest.mu.Unlock()
			continue // taken meanwhile: look again
		}
		victim := oldest.idle[0]
		oldest.idle = append(oldest.idle[:0], oldest.idle[1:]...)
		victim.holdsSlot.Store(false) // the slot is the caller's now
		oldest.discardLocked(victim)
		oldest.mu.Unlock()
		c.evicted.Add(1)
		return true
	}
}
