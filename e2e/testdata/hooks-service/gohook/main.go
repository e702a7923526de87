// Command gohook is a pre-traffic hook on aws-sdk-go-v2, written as for
// AWS Lambda's provided.al2023 runtime. The end-to-end test builds it as the
// service's ./bootstrap.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
)

type hookEvent struct {
	DeploymentId                  string
	LifecycleEventHookExecutionId string
}

func handler(ctx context.Context, ev hookEvent) (string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", err
	}
	log.Printf("validating deployment %s", ev.DeploymentId)
	_, err = codedeploy.NewFromConfig(cfg).PutLifecycleEventHookExecutionStatus(ctx, &codedeploy.PutLifecycleEventHookExecutionStatusInput{
		DeploymentId:                  &ev.DeploymentId,
		LifecycleEventHookExecutionId: &ev.LifecycleEventHookExecutionId,
		Status:                        types.LifecycleEventStatusSucceeded,
	})
	if err != nil {
		return "", err
	}
	return "Validation test succeeded", nil
}

func main() { lambda.Start(handler) }
