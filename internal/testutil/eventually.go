// Package testutil holds what the tests of several packages share.
package testutil

import (
	"testing"
	"time"
)

// Patience is how long Eventually waits before it fails a test: far longer
// than any condition takes on a loaded machine, since it only bounds a
// failing test.
const Patience = 30 * time.Second

// Eventually waits until cond holds, checking it at once and then at
// growing intervals (1 ms up to 50 ms), and fails the test, naming what it
// waited for, if it still does not hold after Patience. It is for
// conditions no event announces (a file a function writes, a process a
// pool counts); wait on the event itself where there is one.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	eventually(t, Patience, what, cond)
}

func eventually(t testing.TB, patience time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	interval := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", patience, what)
		}
		time.Sleep(interval) // the interval between checks of cond, not a wait for time to pass
		interval = min(2*interval, 50*time.Millisecond)
	}
}
