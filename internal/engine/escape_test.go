package engine

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-dev/sluice/internal/runtime"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// A handler that starts a detached process: the process does not outlive
// the engine's shutdown.
func TestDetachedChildDoesNotOutliveTheEngine(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "testdata/escape", dir)
	e := start(t, dir, nil)
	resp, err := http.Get(e.GatewayURL() + "/spawn")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pid, err := strconv.Atoi(string(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("spawn: %d %s", resp.StatusCode, body)
	}
	if syscall.Kill(pid, 0) != nil {
		t.Fatalf("the detached child %d is not running", pid)
	}
	shutdown(t, e)
	waitGone(t, pid)
}

// After a crash, the next engine on the same state stops what the last
// one's functions left running: here a process carrying its marker, in a
// session of its own, as a detached grandchild of a killed engine is.
func TestStartStopsWhatACrashedEngineLeft(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "testdata/escape", dir)
	state, _ := filepathAbs(dir + "/.sluice")
	orphan := exec.Command("sleep", "600")
	orphan.Env = []string{processMarker(state)}
	orphan.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	go orphan.Wait() // reap it once killed
	start(t, dir, nil)
	waitGone(t, orphan.Process.Pid)
	if n := runtime.KillMarked(processMarker(state)); n != 0 {
		t.Fatalf("%d marked processes left", n)
	}
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	testutil.Eventually(t, fmt.Sprintf("process %d to end", pid), func() bool {
		// A killed child of ours is a zombie until reaped: /proc says "Z".
		return syscall.Kill(pid, 0) == syscall.ESRCH || zombie(pid)
	})
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func filepathAbs(p string) (string, error) { return filepath.Abs(p) }
