package cron

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

var start = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// TestNext pins parsing and firing times to testdata/next.txt.
func TestNext(t *testing.T) {
	f, err := os.Open("testdata/next.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	rows := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) != 3 {
			t.Fatalf("bad row %q", line)
		}
		expr, after, want := strings.TrimSpace(cols[0]), strings.TrimSpace(cols[1]), strings.TrimSpace(cols[2])
		rows++
		t.Run(expr, func(t *testing.T) {
			s, err := Parse(expr, start)
			if wantErr, ok := strings.CutPrefix(want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("Parse error = %v, want one containing %q", err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			at, err := time.Parse(time.RFC3339, after)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for range strings.Fields(want) {
				at = s.Next(at)
				got = append(got, at.UTC().Format(time.RFC3339))
			}
			if strings.Join(got, " ") != want {
				t.Fatalf("after %s:\n got %s\nwant %s", after, strings.Join(got, " "), want)
			}
		})
	}
	if rows < 20 {
		t.Fatalf("read only %d rows", rows)
	}
}

func TestRunnerFiresOnTheClock(t *testing.T) {
	c := clock.NewFake(start)
	r := NewRunner(c)
	s, _ := Parse("rate(1 minute)", start)
	var mu sync.Mutex
	var fired []time.Time
	done := make(chan struct{}, 10)
	r.Add(s, func(at time.Time) {
		mu.Lock()
		fired = append(fired, at)
		mu.Unlock()
		done <- struct{}{}
	})
	c.Advance(3*time.Minute + 30*time.Second)
	for i := 0; i < 3; i++ {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d firings after 3.5 minutes", i)
		}
	}
	r.Stop()
	c.Advance(time.Hour)
	mu.Lock()
	defer mu.Unlock()
	// Firings run in their own goroutines, so they may record out of order.
	slices.SortFunc(fired, time.Time.Compare)
	if len(fired) != 3 || !fired[0].Equal(start.Add(time.Minute)) || !fired[2].Equal(start.Add(3*time.Minute)) {
		t.Fatalf("fired at %v", fired)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"rate(5 minutes)", "cron(0 12 ? * 6L *)", "cron(0/5 8-17 ? * MON-FRI *)", "cron(0 0 15W * ? *)", "cron(* * * * ? *)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr, start)
		if err != nil {
			return
		}
		if n := s.Next(start); !n.IsZero() && !n.After(start) {
			t.Fatalf("%q: Next(%v) = %v is not after it", expr, start, n)
		}
	})
}
