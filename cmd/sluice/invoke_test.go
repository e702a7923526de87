package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// startServe runs `sluice serve` on a copy of examples/orders and waits
// until its engine file appears; it returns the service directory and the
// serve command's output so far.
func startServe(t *testing.T, args ...string) (string, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, "../../examples/orders", dir)
	serve := exec.Command(sluiceBin, append([]string{"serve", "--port", "0", "--api-port", "0"}, args...)...)
	serve.Dir = dir
	var out bytes.Buffer
	serve.Stdout, serve.Stderr = &out, &out
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		serve.Process.Signal(syscall.SIGINT)
		serve.Wait()
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice serve printed:\n%s", out.String())
		}
	})
	testutil.Eventually(t, "sluice serve to start", func() bool {
		_, err := control.ReadInfo(filepath.Join(dir, ".sluice"))
		return err == nil
	})
	return dir, &out
}

// runIn runs the binary in dir and returns stdout, stderr and the exit status.
func runIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(sluiceBin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

func TestInvokeCommand(t *testing.T) {
	dir, _ := startServe(t)

	out, errOut, code := runIn(t, dir, "invoke", "api", "--data", `{"pathParameters": {"id": "7"}}`, "--qualifier", "Live", "--log")
	if code != 0 || !strings.Contains(out, `"statusCode":200`) || !strings.Contains(out, `\"id\":\"7\"`) {
		t.Fatalf("invoke api: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "START RequestId:") || !strings.Contains(errOut, "REPORT RequestId:") {
		t.Errorf("--log printed no log tail:\n%s", errOut)
	}

	out, errOut, code = runIn(t, dir, "invoke", "api", "--data", `{"httpMethod": "POST", "body": "{"}`, "-o", "json")
	var res invokeResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("invoke -o json: %v\n%s", err, out)
	}
	if code != exitFunctionError || res.FunctionError != "Unhandled" || res.ExecutedVersion != "1" || !strings.Contains(string(res.Payload), "SyntaxError") {
		t.Fatalf("a failing invocation: exit %d, %+v\n%s", code, res, errOut)
	}
	if !strings.Contains(errOut, "orders-dev-api version 1 failed (Unhandled)") {
		t.Errorf("stderr does not say the function failed:\n%s", errOut)
	}

	if _, errOut, code = runIn(t, dir, "invoke", "api", "--data", "{nope"); code != 1 || !strings.Contains(errOut, "--data is not JSON") {
		t.Errorf("invalid --data: exit %d\n%s", code, errOut)
	}
	if _, errOut, code = runIn(t, dir, "invoke", "nope"); code != 1 || !strings.Contains(errOut, `has no function "nope"`) {
		t.Errorf("unknown function: exit %d\n%s", code, errOut)
	}
	idle := t.TempDir()
	copyTree(t, "../../examples/orders", idle)
	if _, errOut, code = runIn(t, idle, "invoke", "api"); code != 1 || !strings.Contains(errOut, "sluice serve") {
		t.Errorf("no engine: exit %d\n%s", code, errOut)
	}
}

func TestServeWatchDeploysTheEditedFunction(t *testing.T) {
	dir, out := startServe(t, "--watch")
	waitOutput := func(want string) {
		t.Helper()
		testutil.Eventually(t, fmt.Sprintf("serve --watch to print %q", want), func() bool { return strings.Contains(out.String(), want) })
	}
	waitOutput("Ready.")
	hooks := filepath.Join(dir, "src", "hooks.js")
	b, err := os.ReadFile(hooks)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hooks, append(b, []byte("\n// edited\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	waitOutput("preTraffic: version 2 is live")
	api := filepath.Join(dir, "src", "api.js")
	b, err = os.ReadFile(api)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(api, []byte(strings.Replace(string(b), "first release", "second release", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	waitOutput("api: deploying version 2 (from 1) gradually: deployment ")
	if strings.Contains(out.String(), "preTraffic: version 3") || strings.Contains(out.String(), "api: version 2 is live") {
		t.Fatalf("an edit reached the other function:\n%s", out.String())
	}
}
