package runtime

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testutil"
)

func TestCapQueuesForTheVersionsOwnEnvironment(t *testing.T) {
	cap := NewEnvironmentCap(1, 0, 0)
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.echo"), Options{Environments: cap})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.Invoke(context.Background(), Invocation{Payload: []byte(`{"n":1}`)})
			if err == nil && res.Failed() {
				err = errors.New(string(res.Payload))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a queued invocation: %v", err)
		}
	}
	if s := p.Stats(); s.ColdStarts != 1 || s.Environments != 1 {
		t.Fatalf("8 concurrent invocations under a cap of 1: %d cold starts, %d environments", s.ColdStarts, s.Environments)
	}
}

func TestCapStopsAnIdleEnvironmentOfAnotherVersion(t *testing.T) {
	cap := NewEnvironmentCap(1, 0, 0)
	v1 := newPool(t, spec(t, "nodejs20.x", "node", "handlers.echo"), Options{Environments: cap})
	s2 := spec(t, "nodejs20.x", "node", "handlers.echo")
	s2.Version = "2"
	v2 := newPool(t, s2, Options{Environments: cap})
	invokeOK(t, v1, `{}`)
	invokeOK(t, v2, `{}`)
	testutil.Eventually(t, "version 1's idle environment to stop", func() bool { return v1.Stats().Environments == 0 })
	if st := cap.Stats(); st.Evicted != 1 || st.Live != 1 {
		t.Fatalf("cap after the switch: %+v", st)
	}
	invokeOK(t, v1, `{}`) // and back
	testutil.Eventually(t, "version 2's idle environment to stop", func() bool { return v2.Stats().Environments == 0 })
}

func TestCapThrottlesPastItsDeadlineAndItsQueue(t *testing.T) {
	cap := NewEnvironmentCap(1, 1, 200*time.Millisecond)
	s := spec(t, "nodejs20.x", "node", "handlers.hang")
	s.Timeout = 5 * time.Second
	p := newPool(t, s, Options{Environments: cap})
	busy := make(chan Result, 1)
	go func() { busy <- invoke(t, p, `{}`) }()
	testutil.Eventually(t, "the hanging invocation to hold the only environment", func() bool { return cap.Stats().Live == 1 && p.Stats().Idle == 0 })

	queued := make(chan error, 1)
	go func() {
		_, err := p.Invoke(context.Background(), Invocation{})
		queued <- err
	}()
	testutil.Eventually(t, "the second invocation to queue", func() bool { return cap.Stats().Waiting == 1 })
	// The queue (of 1) is full: refused at once.
	if _, err := p.Invoke(context.Background(), Invocation{}); !errors.Is(err, ErrEnvironmentsBusy) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("past a full queue: err = %v", err)
	}
	// The queued one gives up at the deadline, as a throttle.
	if err := <-queued; !errors.Is(err, ErrThrottled) {
		t.Fatalf("past the deadline: err = %v", err)
	}
	if st := p.Stats(); st.ColdStarts != 1 || st.Throttles != 2 {
		t.Fatalf("stats %+v", st)
	}
	// A caller that stops waiting gets no process forked for it.
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() {
		_, err := p.Invoke(ctx, Invocation{})
		waiting <- err
	}()
	testutil.Eventually(t, "the third invocation to queue", func() bool { return cap.Stats().Waiting == 1 })
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: err = %v", err)
	}
	p.mu.Lock()
	for e := range p.live {
		e.kill() // end the hang: its slot comes free
	}
	p.mu.Unlock()
	<-busy
	testutil.Eventually(t, "the slot to come free", func() bool { return cap.Stats().Live == 0 })
	if st := p.Stats(); st.ColdStarts != 1 {
		t.Fatalf("a process was forked for a caller that had gone: %+v", st)
	}
}
