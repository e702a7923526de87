package clock

import (
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestFakeFiresTimersInDueOrder(t *testing.T) {
	f := NewFake(epoch)
	var order []int
	f.AfterFunc(3*time.Minute, func() { order = append(order, 3) })
	f.AfterFunc(1*time.Minute, func() { order = append(order, 1) })
	t2 := f.NewTimer(2 * time.Minute)
	f.Advance(150 * time.Second)
	select {
	case got := <-t2.C():
		if !got.Equal(epoch.Add(2 * time.Minute)) {
			t.Fatalf("timer fired at %v, want its due time", got)
		}
	default:
		t.Fatal("2-minute timer did not fire after 2.5 minutes")
	}
	if len(order) != 1 || order[0] != 1 {
		t.Fatalf("after 2.5 minutes fired %v, want [1]", order)
	}
	f.Advance(time.Minute)
	if len(order) != 2 || order[1] != 3 {
		t.Fatalf("after 3.5 minutes fired %v, want [1 3]", order)
	}
	if !f.Now().Equal(epoch.Add(210 * time.Second)) {
		t.Fatalf("Now = %v", f.Now())
	}
}

func TestFakeStop(t *testing.T) {
	f := NewFake(epoch)
	fired := false
	tm := f.AfterFunc(time.Second, func() { fired = true })
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	f.Advance(time.Hour)
	if fired {
		t.Fatal("stopped timer fired")
	}
	if tm.Stop() {
		t.Fatal("second Stop reported true")
	}
}

func TestFakeTimerSetFromCallback(t *testing.T) {
	// A callback that schedules a further timer (as a deployment step does)
	// must see it fire within the same Advance when it is due.
	f := NewFake(epoch)
	var fired []time.Time
	var step func()
	step = func() {
		fired = append(fired, f.Now())
		if len(fired) < 3 {
			f.AfterFunc(time.Minute, step)
		}
	}
	f.AfterFunc(time.Minute, step)
	f.Advance(10 * time.Minute)
	if len(fired) != 3 || !fired[2].Equal(epoch.Add(3*time.Minute)) {
		t.Fatalf("chained timers fired at %v", fired)
	}
}

func TestScaledRunsFaster(t *testing.T) {
	c := Scaled(1000)
	start := c.Now()
	done := make(chan struct{})
	c.AfterFunc(time.Minute, func() { close(done) }) // 60 ms of wall time
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a scaled minute did not pass within 5 wall seconds at scale 1000")
	}
	if got := c.Now().Sub(start); got < time.Minute {
		t.Fatalf("clock advanced %v after its minute timer fired", got)
	}
	if Scale(c) != 1000 || Scale(NewFake(epoch)) != 1 {
		t.Fatal("Scale reports the wrong factor")
	}
}

func TestScaledFromResumesLaterTime(t *testing.T) {
	ahead := time.Now().Add(time.Hour)
	c := ScaledFrom(60, ahead)
	if now := c.Now(); now.Before(ahead) {
		t.Fatalf("clock reads %v, before the %v it resumed from", now, ahead)
	}
	past := time.Now().Add(-time.Hour)
	if now := ScaledFrom(1, past).Now(); now.Before(time.Now().Add(-time.Minute)) {
		t.Fatalf("a start in the past moved the clock back to %v", now)
	}
}
