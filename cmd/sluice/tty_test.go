package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// TestProgressOnARealTerminal runs `sluice deploy --wait` in a tmux pane 60
// columns wide and reads the screen back: the progress line is redrawn in
// place and cut to the width (no wrapped copies, no leftover characters),
// and coloured.
func TestProgressOnARealTerminal(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (.ci/run installs it)")
	}
	cfg := serveOrders(t)
	editAPI(t, cfg, "on a terminal", false)
	sock := "sluice-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("tmux", append([]string{"-L", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cmd := sluiceBin + " deploy --wait --color always --config " + cfg
	tmux("new-session", "-d", "-x", "60", "-y", "20", "-s", "deploy", "-e", "TERM=xterm-256color", "-e", "NO_COLOR=",
		"sh", "-c", cmd+"; echo EXIT=$?; exec cat")
	t.Cleanup(func() { exec.Command("tmux", "-L", sock, "kill-server").Run() })

	var screen string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the screen:\n%s", screen)
		}
	})
	testutil.Eventually(t, "sluice deploy to end", func() bool {
		screen = tmux("capture-pane", "-p", "-t", "deploy")
		return strings.Contains(screen, "EXIT=")
	})
	if !strings.Contains(screen, "EXIT=0") {
		t.Fatalf("deploy failed:\n%s", screen)
	}
	var bars []string
	for _, l := range strings.Split(screen, "\n") {
		if n := len([]rune(l)); n > 60 {
			t.Errorf("a line wider than the pane (%d): %q", n, l)
		}
		if strings.Contains(l, "orders-dev-api:Live") {
			bars = append(bars, l)
		}
	}
	if len(bars) != 1 || !strings.Contains(bars[0], "✔ v2 serves all traffic") || !strings.HasSuffix(strings.TrimRight(bars[0], " "), "…") {
		t.Errorf("want one progress line, redrawn in place and cut to the width, got %q in:\n%s", bars, screen)
	}
	if coloured := tmux("capture-pane", "-p", "-e", "-t", "deploy"); !strings.Contains(coloured, "\x1b[32m✔") {
		t.Errorf("no green ✔ on the terminal:\n%q", coloured)
	}
}
