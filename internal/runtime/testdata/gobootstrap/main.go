// A custom-runtime function built with aws-lambda-go, unchanged; the tests
// build it into a bootstrap executable.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Action string `json:"action"`
	Value  any    `json:"value"`
}

func handle(ctx context.Context, ev event) (any, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	switch ev.Action {
	case "echo":
		return ev.Value, nil
	case "pid":
		return os.Getpid(), nil
	case "context":
		deadline, _ := ctx.Deadline()
		return map[string]any{
			"functionName":       lambdacontext.FunctionName,
			"functionVersion":    lambdacontext.FunctionVersion,
			"memoryLimitInMB":    lambdacontext.MemoryLimitInMB,
			"logGroupName":       lambdacontext.LogGroupName,
			"logStreamName":      lambdacontext.LogStreamName,
			"awsRequestId":       lc.AwsRequestID,
			"invokedFunctionArn": lc.InvokedFunctionArn,
			"remainingMs":        time.Until(deadline).Milliseconds(),
			"clientCustom":       lc.ClientContext.Custom,
			"traceId":            os.Getenv("_X_AMZN_TRACE_ID"),
		}, nil
	case "env":
		return map[string]any{"env": os.Environ()}, nil
	case "log":
		fmt.Println("hello from go")
		fmt.Fprintln(os.Stderr, "to stderr")
		return "logged", nil
	case "fail":
		return nil, errors.New("go handler failed")
	case "crash":
		os.Exit(1)
	case "hang":
		time.Sleep(time.Hour)
	}
	return nil, fmt.Errorf("unknown action %q", ev.Action)
}

func main() { lambda.Start(handle) }
