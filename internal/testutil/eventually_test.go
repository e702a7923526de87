package testutil

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	Eventually(t, 10*time.Second, func() bool { return n.Add(1) == 3 }, "never reached 3")
	if n.Load() != 3 {
		t.Fatalf("checked %d times, want 3", n.Load())
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	panic(f)
}

func TestEventuallyFailsAfterTheDeadline(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if r := recover(); r != rec {
				panic(r)
			}
		}()
		Eventually(rec, 20*time.Millisecond, func() bool { return false }, "never true")
	}()
	if rec.msg != "after %v: never true" {
		t.Fatalf("Fatalf(%q), want the deadline and the message", rec.msg)
	}
}
