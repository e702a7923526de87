package runtime

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestLimiterNeverAdmitsMoreThanItsMax(t *testing.T) {
	const max, workers, rounds = 3, 8, 2000
	l := NewLimiter(max)
	var running, peak, admitted atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if !l.TryAcquire() {
					continue
				}
				admitted.Add(1)
				n := running.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				running.Add(-1)
				l.Release()
			}
		}()
	}
	wg.Wait()
	if peak.Load() > max {
		t.Fatalf("%d ran at once under a limit of %d", peak.Load(), max)
	}
	if admitted.Load() == 0 || l.InUse() != 0 {
		t.Fatalf("admitted %d, %d slots still taken", admitted.Load(), l.InUse())
	}
	var unlimited *Limiter
	if !unlimited.TryAcquire() || unlimited.Max() != -1 {
		t.Fatal("a nil Limiter must not limit")
	}
	unlimited.Release()
	if NewLimiter(0).TryAcquire() {
		t.Fatal("a limit of 0 admitted an invocation")
	}
}
