package runtime

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/logs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// logEpoch is the fake clock's time: every log event and the stream name
// must carry it, not the wall clock's.
var logEpoch = time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)

// TestLogStreamsLookLikeLambdas runs log, fail and hang (a timeout) on one
// environment per runtime and compares its log stream with
// testdata/golden/logs-<runtime>.txt after masking what varies (request ids,
// durations, memory, wall-clock timestamps, paths).
func TestLogStreamsLookLikeLambdas(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			store, err := logs.Open(t.TempDir(), logs.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			s := spec(t, f.runtime, f.code, f.handler)
			s.Timeout = time.Second
			p := newPool(t, s, Options{Logs: store, Clock: clock.NewFake(logEpoch)})
			first := invokeOK(t, p, `{"action":"log"}`)
			invoke(t, p, `{"action":"fail"}`)
			if res := invoke(t, p, `{"action":"hang"}`); res.ErrorType != ErrorTypeTimeout {
				t.Fatalf("hang: %s %s", res.ErrorType, res.Payload)
			}
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(first.LogStream, "2021/03/01/[1]") {
				t.Fatalf("stream %q is not named from the clock's date and the version", first.LogStream)
			}
			events, err := store.Events("/aws/lambda/fn", logs.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, e := range events {
				if e.Stream != first.LogStream {
					t.Fatalf("event in unexpected stream %s: %q", e.Stream, e.Message)
				}
				fmt.Fprintf(&b, "%s\t%s\n", e.Time.Format(time.RFC3339Nano), e.Message)
			}
			got := normalizeLog(b.String(), s.CodeDir)
			golden := filepath.Join("testdata", "golden", "logs-"+f.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("log stream differs from %s (go test -update rewrites it)\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

var (
	uuidRE      = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	isoTimeRE   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`)
	goLogTimeRE = regexp.MustCompile(`\d{4}/\d\d/\d\d \d\d:\d\d:\d\d`)
	msRE        = regexp.MustCompile(`(Duration: )[\d.]+ ms`)
	memRE       = regexp.MustCompile(`(Max Memory Used: )\d+ MB`)
	traceRE     = regexp.MustCompile(`"trace":\[[^\]]*\]`)
)

func normalizeLog(s, codeDir string) string {
	ids := map[string]string{}
	s = uuidRE.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := ids[id]; !ok {
			ids[id] = fmt.Sprintf("<request %d>", len(ids)+1)
		}
		return ids[id]
	})
	s = isoTimeRE.ReplaceAllStringFunc(s, func(ts string) string {
		if ts == logEpoch.Format("2006-01-02T15:04:05.000Z") {
			return ts // the clock's: must stay
		}
		return "<wall time>"
	})
	s = goLogTimeRE.ReplaceAllString(s, "<wall time>")
	s = msRE.ReplaceAllString(s, "${1}<ms> ms")
	s = memRE.ReplaceAllString(s, "${1}<mb> MB")
	s = traceRE.ReplaceAllString(s, `"trace":[…]`)
	return strings.ReplaceAll(s, codeDir, "<code>")
}
