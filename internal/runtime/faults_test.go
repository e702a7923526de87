package runtime

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestFaults runs testdata/faults.txt: SLUICE_FAULT fails or slows a
// version's invocations in the bootstraps, around unchanged handler code.
func TestFaults(t *testing.T) {
	f, err := os.Open("testdata/faults.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	rows := 0
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 6 {
			t.Fatalf("faults.txt:%d: want 6 tab-separated columns, got %d", n, len(cols))
		}
		minDuration, err := time.ParseDuration(cols[5])
		if err != nil {
			t.Fatalf("faults.txt:%d: %v", n, err)
		}
		rows++
		t.Run(strings.Join(cols[:4], "/"), func(t *testing.T) {
			t.Parallel()
			s := spec(t, cols[0], cols[1], cols[2])
			s.Environment = map[string]string{"SLUICE_FAULT": cols[3]}
			p := newPool(t, s, Options{})
			res, err := p.Invoke(context.Background(), Invocation{Payload: []byte(`{}`)})
			if err != nil {
				t.Fatalf("faults.txt:%d: Invoke: %v", n, err)
			}
			want := strings.TrimPrefix(cols[4], "-")
			if res.ErrorType != want {
				t.Errorf("faults.txt:%d: error type %q (%s), want %q", n, res.ErrorType, res.Payload, want)
			}
			if res.Duration < minDuration {
				t.Errorf("faults.txt:%d: Duration %v, want at least %v", n, res.Duration, minDuration)
			}
		})
	}
	if rows == 0 {
		t.Fatal("no rows")
	}
}
