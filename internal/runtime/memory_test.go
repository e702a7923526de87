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

// Where sluice may create memory cgroups, memorySize binds every runtime:
// the kernel kills the environment past it, reported as Lambda does.
func TestMemoryCgroupBindsEveryRuntime(t *testing.T) {
	if cg := newMemCgroup(128); cg == nil {
		t.Skip("this machine does not let sluice create memory cgroups: memorySize binds Node.js only")
	} else {
		cg.remove()
	}
	s := spec(t, "python3.12", "python", "handlers.hog")
	s.MemoryMB = 128
	p := newPool(t, s, Options{})
	res := invoke(t, p, `{}`)
	if res.ErrorType != ErrorTypeOutOfMemory || !strings.Contains(string(res.Payload), "signal: killed") {
		t.Fatalf("a function past its memory: %s %s (max memory used %d MB)", res.ErrorType, res.Payload, res.MaxMemoryUsedMB)
	}
	if res.MaxMemoryUsedMB > 140 {
		t.Fatalf("it grew to %d MB with memorySize 128", res.MaxMemoryUsedMB)
	}
}
