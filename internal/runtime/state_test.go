package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestEnvStateTransitions checks legalTransition against
// testdata/envstates.txt, which must list every pair of states once.
func TestEnvStateTransitions(t *testing.T) {
	rows := readTable(t, "testdata/envstates.txt", 4)
	seen := map[[2]envState]bool{}
	for _, r := range rows {
		from, ok1 := parseEnvState(r.cols[0])
		to, ok2 := parseEnvState(r.cols[1])
		if !ok1 || !ok2 || (r.cols[2] != "legal" && r.cols[2] != "illegal") {
			t.Fatalf("envstates.txt:%d: want <state> <state> legal|illegal, got %q", r.line, r.cols[:3])
		}
		if seen[[2]envState{from, to}] {
			t.Fatalf("envstates.txt:%d: %s → %s listed twice", r.line, from, to)
		}
		seen[[2]envState{from, to}] = true
		if got, want := legalTransition(from, to), r.cols[2] == "legal"; got != want {
			t.Errorf("envstates.txt:%d: legalTransition(%s, %s) = %v, want %v (%s)", r.line, from, to, got, want, r.cols[3])
		}
	}
	if len(seen) != int(numEnvStates*numEnvStates) {
		t.Fatalf("envstates.txt lists %d pairs, want all %d", len(seen), numEnvStates*numEnvStates)
	}
}

func TestIllegalStateChangeIsRefusedAndLogged(t *testing.T) {
	var logged bytes.Buffer
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.echo"), Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	var observed []envState
	p.observeState = func(_ *env, from, to envState) { observed = append(observed, from, to) }
	e := &env{pool: p, stream: "2026/12/02/[1]test"}

	if err := e.setState(stateBusy); err != nil {
		t.Fatalf("starting → busy: %v", err)
	}
	err := e.setState(stateDead)
	if !errors.Is(err, errIllegalTransition) || !strings.Contains(err.Error(), "busy → dead") {
		t.Fatalf("busy → dead: error %v, want errIllegalTransition naming busy → dead", err)
	}
	if e.getState() != stateBusy {
		t.Fatalf("after a refused change the state is %s, want busy (unchanged)", e.getState())
	}
	if !strings.Contains(logged.String(), "level=ERROR") || !strings.Contains(logged.String(), "from=busy to=dead") {
		t.Fatalf("refusal not logged as an error naming both states; log:\n%s", logged.String())
	}
	if want := []envState{stateStarting, stateBusy}; !equalStates(observed, want) {
		t.Fatalf("observed %v, want only the legal change %v", observed, want)
	}
	if s := envState(42).String(); s != "envState(42)" {
		t.Fatalf("String of an unknown state: %q", s)
	}
}

// TestEnvLifecycles drives environments through testdata/lifecycles.txt
// with real processes and checks the states each went through.
func TestEnvLifecycles(t *testing.T) {
	for _, r := range readTable(t, "testdata/lifecycles.txt", 7) {
		t.Run(r.cols[0], func(t *testing.T) {
			t.Parallel()
			handler := r.cols[3]
			if handler == "-" {
				handler = ""
			}
			s := spec(t, r.cols[1], r.cols[2], handler)
			var opts Options
			if r.cols[4] != "-" {
				for _, kv := range strings.Split(r.cols[4], ",") {
					k, v, _ := strings.Cut(kv, "=")
					d, err := time.ParseDuration(v)
					if err != nil {
						t.Fatalf("lifecycles.txt:%d: option %q: %v", r.line, kv, err)
					}
					switch k {
					case "idle":
						opts.IdleTimeout = d
					case "timeout":
						s.Timeout = d
					case "init":
						opts.InitTimeout = d
					default:
						t.Fatalf("lifecycles.txt:%d: unknown option %q (want idle, timeout or init)", r.line, k)
					}
				}
			}
			p := newPool(t, s, opts)
			rec := recordStates(p)
			for _, step := range strings.Split(r.cols[5], ",") {
				switch step {
				case "reap":
					rec.await(t, "every environment to be reaped", rec.allDead)
				case "exited":
					for _, e := range p.liveEnvs() {
						select {
						case <-e.exited:
						case <-time.After(testutil.Patience):
							t.Fatalf("lifecycles.txt:%d: process %d did not exit", r.line, e.pid)
						}
					}
				case "close":
					if err := p.Close(context.Background()); err != nil {
						t.Fatal(err)
					}
				default:
					if _, err := p.Invoke(context.Background(), Invocation{Payload: []byte(`{"action":"` + step + `"}`)}); err != nil {
						t.Fatalf("lifecycles.txt:%d: invoke %s: %v", r.line, step, err)
					}
				}
			}
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			rec.await(t, "every environment to be dead", rec.allDead)
			if got, want := rec.String(), r.cols[6]; got != want {
				t.Errorf("lifecycles.txt:%d: states\n got: %s\nwant: %s", r.line, got, want)
			}
		})
	}
}

// Two lives the table cannot drive: eviction by another version under an
// EnvironmentCap, and a caller that gives up while its environment starts.
func TestEnvLifecycleEvictedByAnotherVersion(t *testing.T) {
	cap := NewEnvironmentCap(1, 0, 0)
	v1 := newPool(t, spec(t, "nodejs20.x", "node", "handlers.echo"), Options{Environments: cap})
	s2 := spec(t, "nodejs20.x", "node", "handlers.echo")
	s2.Version = "2"
	v2 := newPool(t, s2, Options{Environments: cap})
	rec1, rec2 := recordStates(v1), recordStates(v2)
	invokeOK(t, v1, `{}`)
	invokeOK(t, v2, `{}`) // takes v1's slot: v1's idle environment is stopped
	rec1.await(t, "version 1's environment to be evicted", rec1.allDead)
	if got, want := rec1.String(), "starting busy idle stopping dead"; got != want {
		t.Errorf("evicted environment: %s, want %s", got, want)
	}
	if got, want := rec2.String(), "starting busy idle"; got != want {
		t.Errorf("evicting environment: %s, want %s", got, want)
	}
}

func TestEnvLifecycleCallerGivesUpDuringInit(t *testing.T) {
	p := newPool(t, spec(t, "nodejs20.x", "node", "slowinit.handler"), Options{})
	rec := recordStates(p)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.Invoke(ctx, Invocation{})
		done <- err
	}()
	testutil.Eventually(t, "the environment to start", func() bool { return p.liveCount() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Invoke: %v, want context.Canceled", err)
	}
	rec.await(t, "the environment to be stopped", rec.allDead)
	if got, want := rec.String(), "starting stopping dead"; got != want {
		t.Errorf("states: %s, want %s", got, want)
	}
}

// stateRecorder records the states of a pool's environments through its
// observeState hook.
type stateRecorder struct {
	mu      sync.Mutex
	order   []*env
	seqs    map[*env][]envState
	changed chan struct{} // a token after each change
}

func recordStates(p *Pool) *stateRecorder {
	r := &stateRecorder{seqs: map[*env][]envState{}, changed: make(chan struct{}, 1)}
	p.observeState = func(e *env, from, to envState) {
		r.mu.Lock()
		seq, ok := r.seqs[e]
		if !ok {
			r.order = append(r.order, e)
			seq = []envState{from}
		}
		r.seqs[e] = append(seq, to)
		r.mu.Unlock()
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}
	return r
}

// await waits for cond, checking it after each state change.
func (r *stateRecorder) await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(testutil.Patience)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("gave up waiting for %s; states: %s", what, r)
		}
	}
}

func (r *stateRecorder) allDead() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, seq := range r.seqs {
		if seq[len(seq)-1] != stateDead {
			return false
		}
	}
	return len(r.seqs) > 0
}

func (r *stateRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for i, e := range r.order {
		if i > 0 {
			b.WriteString(" | ")
		}
		for j, s := range r.seqs[e] {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s.String())
		}
	}
	return b.String()
}

func equalStates(a, b []envState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

type tableRow struct {
	line int
	cols []string
}

// readTable reads a tab-separated file of n columns, skipping blank lines
// and # comments.
func readTable(t *testing.T, path string, n int) []tableRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []tableRow
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.Split(text, "\t")
		if len(cols) != n {
			t.Fatalf("%s:%d: want %d tab-separated columns, got %d", path, line, n, len(cols))
		}
		rows = append(rows, tableRow{line, cols})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows", path)
	}
	return rows
}

// BenchmarkEnvStateChange measures what a warm invocation adds for its
// state: idle → busy, then busy → idle.
func BenchmarkEnvStateChange(b *testing.B) {
	p := &Pool{}
	e := &env{pool: p}
	e.state.Store(int32(stateIdle))
	b.ReportAllocs()
	for b.Loop() {
		_ = e.setState(stateBusy)
		_ = e.setState(stateIdle)
	}
	if e.getState() != stateIdle {
		b.Fatalf("ended %s, want idle", e.getState())
	}
}
