package engine

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/runtime"
)

// A Node.js function that requires @aws-sdk/client-codedeploy without
// bundling it runs, as on Lambda: sluice installs the real package from npm
// into the user's cache on first use, and the function's SDK client talks
// to the engine.
func TestNodeFunctionsGetTheAWSSDKAsOnLambda(t *testing.T) {
	if testing.Short() {
		t.Skip("installs @aws-sdk/client-codedeploy from npm on its first run")
	}
	dir := t.TempDir()
	copyDir(t, "testdata/sdk", dir)
	e := start(t, dir, nil)
	target, err := e.Invoker().Target("sdk-dev-probe", "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := target.Invoke(context.Background(), invoke.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() {
		t.Fatalf("the function failed: %s", res.Payload)
	}
	var got struct{ Answered, SDK string }
	if err := json.Unmarshal(res.Payload, &got); err != nil {
		t.Fatal(err)
	}
	sdk, _ := runtime.DefaultNodeSDK()
	if got.Answered != "DeploymentDoesNotExistException" || !strings.HasPrefix(got.SDK, filepath.Join(sdk.NodeModules(), "@aws-sdk", "client-codedeploy")) {
		t.Fatalf("the SDK call answered %+v, want DeploymentDoesNotExistException from a client loaded from %s", got, sdk.NodeModules())
	}
}

// A Python function gets the machine's boto3, which talks to the engine.
func TestPythonFunctionsGetBoto3(t *testing.T) {
	if exec.Command("python3", "-c", "import boto3").Run() != nil {
		t.Skip("boto3 is not installed for python3 (apt-get install python3-boto3)")
	}
	dir := t.TempDir()
	copyDir(t, "testdata/sdk", dir)
	e := start(t, dir, nil)
	target, err := e.Invoker().Target("sdk-dev-pyprobe", "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := target.Invoke(context.Background(), invoke.Request{})
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Answered, SDK string }
	if err := json.Unmarshal(res.Payload, &got); err != nil || res.Failed() {
		t.Fatalf("the function answered %s (%v)", res.Payload, err)
	}
	if got.Answered != "DeploymentDoesNotExistException" {
		t.Fatalf("boto3's call answered %+v, want DeploymentDoesNotExistException from the engine", got)
	}
}
