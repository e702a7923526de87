package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The audit's kill -9: every child of every function survived the engine.
// Now the environment dies with the engine (parent-death signal), and what
// a function started in a session of its own is stopped by the next
// engine on the same state.
func TestKilledEngineLeavesNoFunctionProcessBehind(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sluice")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/sluice").CombinedOutput(); err != nil {
		t.Fatalf("build sluice: %v\n%s", err, out)
	}
	dir := t.TempDir()
	write(t, filepath.Join(dir, "serverless.yml"), `service: escape
frameworkVersion: '3'
provider:
  name: aws
  runtime: nodejs20.x
functions:
  spawn:
    handler: spawn.handler
    events:
      - httpApi: 'GET /spawn'
`)
	write(t, filepath.Join(dir, "spawn.js"), `
const { spawn } = require('node:child_process');
exports.handler = async () => {
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  child.unref();
  return { statusCode: 200, body: JSON.stringify({ env: process.pid, child: child.pid }) };
};`)
	first := startServe(t, bin, dir)
	resp, err := http.Get(first.info.GatewayURL + "/spawn")
	if err != nil {
		t.Fatal(err)
	}
	var pids struct{ Env, Child int }
	err = json.NewDecoder(resp.Body).Decode(&pids)
	resp.Body.Close()
	if err != nil || pids.Env == 0 || pids.Child == 0 {
		t.Fatalf("spawn: %+v %v", pids, err)
	}

	first.cmd.Process.Signal(syscall.SIGKILL)
	<-first.exited
	waitGone(t, "the environment of the killed engine", pids.Env)

	second := startServe(t, bin, dir)
	waitGone(t, "the detached child of a function of the killed engine", pids.Child)
	if !strings.Contains(second.out.String(), "left running") {
		t.Errorf("the second engine did not say it stopped leftovers:\n%s", second.out)
	}
}

// waitGone waits until pid has exited (a zombie counts: its parent, not
// us, reaps it).
func waitGone(t *testing.T, what string, pid int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if s := string(b); strings.Contains(s[strings.LastIndexByte(s, ')'):], ") Z") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not waiting for time to pass
	}
}
