package runtime

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/logs"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// streamEvents closes the pool (flushing its streams) and returns the
// function's log events.
func streamEvents(t *testing.T, p *Pool, store *logs.Store) []logs.Event {
	t.Helper()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	events, err := store.Events("/aws/lambda/fn", logs.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func openStore(t *testing.T, opts logs.Options) *logs.Store {
	t.Helper()
	store, err := logs.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// kind names a log event for order checks: START/END/REPORT with the
// request it is for, or the text of the function's line.
func kind(e logs.Event, ids map[string]string) string {
	for _, p := range []string{"START", "END", "REPORT"} {
		if strings.HasPrefix(e.Message, p+" RequestId: ") {
			id := strings.Fields(e.Message)[2]
			return p + " " + ids[id]
		}
	}
	// console.log's lines carry a timestamp, the request id and a level.
	if f := strings.Split(e.Message, "\t"); len(f) == 4 {
		e.Message = f[3]
	}
	for id, name := range ids {
		e.Message = strings.ReplaceAll(e.Message, id, name)
	}
	return e.Message
}

// Late output with no invocation to follow is kept, after a line that says
// whose it is.
func TestLateOutputOfAStoppedEnvironment(t *testing.T) {
	store := openStore(t, logs.Options{})
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.act"), Options{Logs: store})
	marker := filepath.Join(t.TempDir(), "printed")
	payload, _ := json.Marshal(map[string]string{"action": "late", "marker": marker})
	first := invokeOK(t, p, string(payload))
	testutil.Eventually(t, "the late line to be printed", func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	var got []string
	for _, e := range streamEvents(t, p, store) {
		got = append(got, kind(e, map[string]string{first.RequestID: "first"}))
	}
	want := "START first|END first|REPORT first|sluice: the environment stopped; what it wrote after its last invocation ended:|late line of first"
	if strings.Join(got, "|") != want {
		t.Fatalf("log order:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
}

// A function that floods its output fills its stream up to the cap, then
// one marker line; its invocations' START, END and REPORT go on.
func TestFloodedStreamIsCapped(t *testing.T) {
	const cap = 256 << 10
	store := openStore(t, logs.Options{MaxStreamBytes: cap})
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.act"), Options{Logs: store})
	first := invokeOK(t, p, `{"action":"flood","kb":2048}`) // 2 MB
	second := invokeOK(t, p, `{"action":"flood","kb":2048}`)
	events := streamEvents(t, p, store)
	ids := map[string]string{first.RequestID: "first", second.RequestID: "second"}
	var platform []string
	markers, flood := 0, 0
	for _, e := range events {
		switch k := kind(e, ids); {
		case strings.HasPrefix(k, "START") || strings.HasPrefix(k, "END") || strings.HasPrefix(k, "REPORT"):
			platform = append(platform, k)
		case strings.Contains(k, "reached its cap"):
			markers++
		case strings.HasPrefix(k, "ffff"):
			flood++
		default:
			t.Errorf("unexpected event %.80q", k)
		}
	}
	if got := strings.Join(platform, "|"); got != "START first|END first|REPORT first|START second|END second|REPORT second" {
		t.Errorf("platform lines %s", got)
	}
	if markers != 1 || flood == 0 || flood > cap/1023 {
		t.Errorf("%d flood lines and %d markers, want at most %d lines and one marker", flood, markers, cap/1023)
	}
	files, _ := filepath.Glob(filepath.Join(store.Dir(), "*", "*"))
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Size() > cap+4096 {
			t.Errorf("%s: %v bytes, over the %d-byte cap", f, fi.Size(), cap)
		}
	}
}

// A line over CloudWatch's 256 KB event limit is truncated to it; the
// next line is an event of its own.
func TestLongLineIsTruncated(t *testing.T) {
	store := openStore(t, logs.Options{})
	p := newPool(t, spec(t, "nodejs20.x", "node", "handlers.act"), Options{Logs: store})
	invokeOK(t, p, `{"action":"longLine"}`)
	var lens []int
	after := false
	for _, e := range streamEvents(t, p, store) {
		switch {
		case strings.HasPrefix(e.Message, "xxx"):
			lens = append(lens, len(e.Message))
		case e.Message == "after the long line":
			after = true
		}
	}
	if len(lens) != 1 || lens[0] != logs.MaxEventBytes || !after {
		t.Fatalf("long line events of %v bytes (after: %v), want one of %d then the next line", lens, after, logs.MaxEventBytes)
	}
}
