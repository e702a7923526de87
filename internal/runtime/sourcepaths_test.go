package runtime

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/logs"
)

// A version runs from its snapshot; with SLUICE_SOURCE_DIR its stack traces,
// in the error document and in the log, name the service's files instead.
func TestStackTracesNameTheSourceDirectory(t *testing.T) {
	for _, f := range families[:2] {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			store, err := logs.Open(t.TempDir(), logs.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			s := spec(t, f.runtime, f.code, f.handler)
			const source = "/home/dev/orders"
			s.Environment = map[string]string{"SLUICE_SOURCE_DIR": source}
			p := newPool(t, s, Options{Logs: store})
			res := invoke(t, p, `{"action":"fail"}`)
			if !res.Failed() {
				t.Fatalf("fail did not fail: %s", res.Payload)
			}
			if strings.Contains(string(res.Payload), s.CodeDir) || !strings.Contains(string(res.Payload), source+"/handlers.") {
				t.Fatalf("error document %s names the snapshot, not %s", res.Payload, source)
			}
			if err := store.Flush(); err != nil {
				t.Fatal(err)
			}
			events, err := store.Events("/aws/lambda/fn", logs.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			for _, e := range events {
				log.WriteString(e.Message + "\n")
			}
			if strings.Contains(log.String(), s.CodeDir) || !strings.Contains(log.String(), source+"/handlers.") {
				t.Fatalf("log names the snapshot, not %s:\n%s", source, log.String())
			}
		})
	}
}
