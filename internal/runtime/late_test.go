package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/logs"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// What a function prints after its invocation ended is not written after
// that invocation's REPORT: on Lambda the environment is frozen then, and
// the line appears after the next invocation's START.
func TestOutputAfterReportWaitsForTheNextStart(t *testing.T) {
	store, err := logs.Open(t.TempDir(), logs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mark := filepath.Join(t.TempDir(), "printed")
	s := spec(t, "nodejs20.x", "node", "handlers.lateLog")
	s.Environment = map[string]string{"MARK": mark}
	p := newPool(t, s, Options{Logs: store})
	invokeOK(t, p, `{}`)
	testutil.Eventually(t, "the late line to be printed", func() bool { _, err := os.Stat(mark); return err == nil })
	lines := func() []string {
		if err := store.Flush(); err != nil {
			t.Fatal(err)
		}
		events, err := store.Events(logs.GroupName("fn"), logs.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range events {
			word := strings.Fields(e.Message)[0]
			if strings.Contains(e.Message, "late line") {
				word = "late"
			}
			out = append(out, word)
		}
		return out
	}
	if got := strings.Join(lines(), " "); got != "START END REPORT" {
		t.Fatalf("after the first invocation: %s", got)
	}
	os.Remove(mark)
	invokeOK(t, p, `{}`)
	testutil.Eventually(t, "the second late line", func() bool { _, err := os.Stat(mark); return err == nil })
	if got := strings.Join(lines(), " "); got != "START END REPORT START late END REPORT" {
		t.Fatalf("after the second invocation: %s", got)
	}
}
