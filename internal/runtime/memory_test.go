package runtime

import (
	"strings"
	"testing"
)

// memorySize is enforced for Node.js (its heap limit), and the death is
// reported as Lambda reports running out of memory.
func TestNodeOutOfMemory(t *testing.T) {
	s := spec(t, "nodejs20.x", "node", "handlers.hog")
	s.MemoryMB = 128
	p := newPool(t, s, Options{})
	res := invoke(t, p, `{}`)
	if res.ErrorType != ErrorTypeOutOfMemory || !strings.Contains(string(res.Payload), "Runtime exited with error: signal") {
		t.Fatalf("a function past its memory: %s %s (max memory used %d MB)", res.ErrorType, res.Payload, res.MaxMemoryUsedMB)
	}
	if res.MaxMemoryUsedMB > 128*2 {
		t.Fatalf("it grew to %d MB with memorySize 128", res.MaxMemoryUsedMB)
	}
	invokeOK(t, newPool(t, spec(t, "nodejs20.x", "node", "handlers.echo"), Options{}), `{}`)
}
