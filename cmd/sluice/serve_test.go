package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// copyTree copies a directory.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if d.Name() == ".sluice" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestServeAndLogsCommands runs the real binary: `sluice serve` on the
// orders example until SIGINT, then `sluice logs`.
func TestServeAndLogsCommands(t *testing.T) {
	bin := sluiceBin // built once by TestMain
	dir := t.TempDir()
	copyTree(t, "../../examples/orders", dir)

	serve := exec.Command(bin, "serve", "--port", "0", "--api-port", "0")
	serve.Dir = dir
	var out bytes.Buffer
	serve.Stdout, serve.Stderr = &out, &out
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Kill() })
	stateDir := filepath.Join(dir, ".sluice")
	var info control.Info
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice serve printed:\n%s", out.String())
		}
	})
	testutil.Eventually(t, "sluice serve to start", func() bool {
		var err error
		info, err = control.ReadInfo(stateDir)
		return err == nil
	})
	if info.PID != serve.Process.Pid || !strings.HasPrefix(info.GatewayURL, "http://127.0.0.1:") {
		t.Fatalf("engine.json: %+v", info)
	}
	resp, err := http.Get(info.GatewayURL + "/dev/orders/5")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var order map[string]string
	json.Unmarshal(body, &order)
	if resp.StatusCode != 200 || order["id"] != "5" {
		t.Fatalf("GET /dev/orders/5: %d %s", resp.StatusCode, body)
	}

	if err := serve.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := serve.Wait(); err != nil {
		t.Fatalf("sluice serve exited with %v after SIGINT:\n%s", err, out.String())
	}
	for _, want := range []string{"GET     " + info.GatewayURL + "/dev/orders/{id}", "orders-dev-api (alias Live, http)", "Stopped."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve output lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(stateDir, control.InfoFile)); !os.IsNotExist(err) {
		t.Errorf("engine.json left behind after a clean stop")
	}

	logsCmd := exec.Command(bin, "logs", "api", "--version", "1")
	logsCmd.Dir = dir
	logOut, err := logsCmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sluice logs: %v\n%s", err, logOut)
	}
	for _, want := range []string{"[1] START RequestId:", "[1] END RequestId:", "[1] REPORT RequestId:", "Init Duration:"} {
		if !strings.Contains(string(logOut), want) {
			t.Errorf("sluice logs api lacks %q:\n%s", want, logOut)
		}
	}
	bad := exec.Command(bin, "logs", "nope")
	bad.Dir = dir
	if badOut, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(badOut), "has no function \"nope\": use one of api, preTraffic") {
		t.Errorf("sluice logs nope: %v\n%s", err, badOut)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	if got, err := parseSince("90m", now); err != nil || !got.Equal(now.Add(-90*time.Minute)) {
		t.Errorf("90m: %v %v", got, err)
	}
	if got, err := parseSince("2026-01-01T00:00:00Z", now); err != nil || got.Day() != 1 {
		t.Errorf("RFC 3339: %v %v", got, err)
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("yesterday was accepted")
	}
}
