package runtime

import (
	"errors"
	"sync/atomic"
)

// ErrThrottled is returned by Pool.Invoke when the function's concurrency
// limit is reached; Lambda answers 429 TooManyRequestsException and counts a
// Throttles datapoint.
var ErrThrottled = errors.New("rate exceeded: the function's concurrency limit is reached (TooManyRequestsException)")

// Limiter caps how many invocations of one function run at once. Lambda's
// limit (reservedConcurrency, or the account's) is per function and shared by
// all its versions, so the caller makes one Limiter per function and passes
// it to the Pool of every version (Options.Limiter). It is a single atomic
// counter: no lock, safe for concurrent use. A nil *Limiter never limits.
type Limiter struct {
	max   int64
	inUse atomic.Int64
}

// NewLimiter allows max concurrent invocations. max 0 throttles everything,
// as reservedConcurrency: 0 does on Lambda.
func NewLimiter(max int) *Limiter { return &Limiter{max: int64(max)} }

// TryAcquire takes a slot if one is free.
func (l *Limiter) TryAcquire() bool {
	if l == nil {
		return true
	}
	// A compare-and-swap loop rather than add-then-undo: an undo would make
	// a concurrent caller see a full limiter that is not full.
	for {
		n := l.inUse.Load()
		if n >= l.max {
			return false
		}
		if l.inUse.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release frees a slot taken by TryAcquire.
func (l *Limiter) Release() {
	if l != nil {
		l.inUse.Add(-1)
	}
}

// InUse is how many slots are taken.
func (l *Limiter) InUse() int {
	if l == nil {
		return 0
	}
	return int(l.inUse.Load())
}

// Max is the limit (-1 for a nil, unlimited Limiter).
func (l *Limiter) Max() int {
	if l == nil {
		return -1
	}
	return int(l.max)
}
