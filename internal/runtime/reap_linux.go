//go:build linux

package runtime

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// KillMarked kills every process of this user whose environment holds
// marker ("NAME=value"), and returns how many it signalled.
//
// Each environment is a process group killed whole, and a parent-death
// signal takes the environment's own process down with the engine. What
// escapes both is what a handler started in a session of its own (Node's
// detached: true, setsid, a double fork): it keeps the environment's
// variables, marker included, and is found by them when the engine stops,
// or, after a crash, when the next engine on the same state starts.
func KillMarked(marker string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self := os.Getpid()
	want := []byte(marker)
	n := 0
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == self {
			continue
		}
		environ, err := os.ReadFile("/proc/" + d.Name() + "/environ")
		if err != nil {
			continue // gone, or another user's
		}
		for _, kv := range bytes.Split(environ, []byte{0}) {
			if bytes.Equal(kv, want) {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					n++
				}
				break
			}
		}
	}
	return n
}
