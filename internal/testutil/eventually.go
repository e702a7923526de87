// Package testutil holds what the tests of several packages share.
package testutil

import (
	"testing"
	"time"
)

// Eventually waits until cond holds, checking it at once and then at
// growing intervals (1 ms up to 50 ms), and fails the test with the message
// if it still does not hold after within. It is for conditions no event
// announces (a file written by a function, a process counted by a pool);
// wait on the event itself where there is one.
func Eventually(t testing.TB, within time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	interval := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+format, append([]any{within}, args...)...)
		}
		time.Sleep(interval) // the interval between checks of cond, not a wait for time to pass
		interval = min(2*interval, 50*time.Millisecond)
	}
}
