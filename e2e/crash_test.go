package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
)

// serveProcess runs `sluice serve` as its own process.
type serveProcess struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	info   control.Info
	exited chan error // receives the process's end once
}

// syncBuffer collects a process's output and signals the line it waits for.
type syncBuffer struct {
	mu    sync.Mutex
	b     strings.Builder
	want  string
	found chan struct{}
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if w.found != nil && strings.Contains(w.b.String(), w.want) {
		close(w.found)
		w.found = nil
	}
	return len(p), nil
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func startServe(t *testing.T, bin, dir string) *serveProcess {
	t.Helper()
	ready := make(chan struct{})
	p := &serveProcess{out: &syncBuffer{want: "Ready.", found: ready}}
	p.cmd = exec.Command(bin, "serve", "--time-scale", "60", "--port", "0", "--api-port", "0")
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	p.exited = exited
	go func() { exited <- p.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-exited
	})
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("sluice serve exited (%v):\n%s", err, p.out)
	case <-time.After(30 * time.Second):
		t.Fatalf("sluice serve was not ready after 30s:\n%s", p.out)
	}
	var err error
	if p.info, err = control.ReadInfo(filepath.Join(dir, ".sluice")); err != nil || p.info.PID != p.cmd.Process.Pid {
		t.Fatalf("engine file of the ready engine: %+v, %v", p.info, err)
	}
	return p
}

func TestCrashMidAllowTrafficRollsBackOnRestart(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sluice")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/sluice").CombinedOutput(); err != nil {
		t.Fatalf("build sluice: %v\n%s", err, out)
	}
	// Given a service deploying gradually, one step a second (time at 60×)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "serverless.yml"), serviceYML(`
type: Linear10PercentEvery1Minute
alias: Live`, nil))
	write(t, filepath.Join(dir, "api.js"), api("v1", false))
	first := startServe(t, bin, dir)
	client, err := control.Dial(filepath.Join(dir, ".sluice"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "api.js"), api("v2", false))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := client.Deploy(ctx)
	if err != nil || len(res.Changes) != 1 || res.Changes[0].DeploymentID == "" {
		t.Fatalf("deploy: %+v, %v", res, err)
	}
	id := res.Changes[0].DeploymentID

	// When the engine is killed with SIGKILL in the middle of AllowTraffic
	midway := make(chan struct{})
	var once sync.Once
	if _, err := client.Follow(ctx, func(d deploy.Deployment) {
		if d.ID == id && d.StepReached >= 3 {
			once.Do(func() { close(midway) })
		}
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-midway:
	case <-ctx.Done():
		t.Fatalf("the deployment never reached step 3:\n%s", first.out)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited

	// Then nothing is lost: the record says InProgress, the alias is split
	// between two versions that exist
	hist, err := control.ReadHistory(filepath.Join(dir, ".sluice"), "")
	if err != nil || len(hist) != 1 || hist[0].ID != id || hist[0].Status != deploy.StatusInProgress {
		t.Fatalf("history after the crash: %+v, %v", hist, err)
	}
	st, err := control.ReadStatus(filepath.Join(dir, ".sluice"))
	if err != nil || st.Running || len(st.Aliases) != 1 {
		t.Fatalf("status after the crash: %+v, %v", st, err)
	}
	if a := st.Aliases[0]; a.Version != 1 || a.AdditionalVersion != 2 || a.AdditionalWeight < 0.3 {
		t.Fatalf("alias after the crash: %+v", a)
	}

	// And when the engine starts again, the deployment is settled: failed,
	// rolled back, and v1 serves everything
	second := startServe(t, bin, dir)
	hist, err = control.ReadHistory(filepath.Join(dir, ".sluice"), "")
	if err != nil {
		t.Fatal(err)
	}
	var got deploy.Deployment
	for _, d := range hist {
		if d.ID == id {
			got = d
		}
		if d.CreateTime.Before(hist[0].CreateTime) {
			t.Fatalf("history is not in time order after the restart: %v before %v", d.CreateTime, hist[0].CreateTime)
		}
	}
	if len(hist) != 2 || !hist[1].CreateTime.After(hist[0].CreateTime) {
		t.Fatalf("after restart the history should be the deployment then its rollback, in time order: %+v", hist)
	}
	if got.Status != deploy.StatusFailed || got.ErrorInformation == nil || got.ErrorInformation.Code != deploy.ErrInternalError || !got.RolledBack() {
		t.Fatalf("after restart: %s %+v rollback %+v\n%s", got.Status, got.ErrorInformation, got.RollbackInfo, second.out)
	}
	st, _ = control.ReadStatus(filepath.Join(dir, ".sluice"))
	if a := st.Aliases[0]; a.Version != 1 || a.AdditionalVersion != 0 {
		t.Fatalf("alias after restart: %+v", a)
	}
	for range 5 {
		resp, err := http.Get(second.info.GatewayURL + "/api")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "v1" {
			t.Fatalf("after restart GET /api = %q, want v1", body)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".sluice", "state.db")); err != nil {
		t.Fatal(err)
	}
}
