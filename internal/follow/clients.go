package follow

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
)

// NewClients builds the CodeDeploy, CloudWatch and CloudFormation clients
// with the SDK's standard chain (environment, shared config and profile,
// SSO, container and instance roles; AWS_ENDPOINT_URL). endpoint, when set,
// overrides every service's endpoint. It returns the region the clients
// use, and whether an endpoint override is in force (no AWS console then).
// Nothing is called until a client is used.
func NewClients(ctx context.Context, region, profile, endpoint string) (Clients, string, bool, error) {
	var loads []func(*awsconfig.LoadOptions) error
	if region != "" {
		loads = append(loads, awsconfig.WithRegion(region))
	}
	if profile != "" {
		loads = append(loads, awsconfig.WithSharedConfigProfile(profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return Clients{}, "", false, fmt.Errorf("load the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return Clients{}, "", false, errors.New("no AWS region: pass --region, or set AWS_REGION or a region in your profile")
	}
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
	}
	c := Clients{
		CodeDeploy:     codedeploy.NewFromConfig(cfg),
		CloudWatch:     cloudwatch.NewFromConfig(cfg),
		CloudFormation: cloudformation.NewFromConfig(cfg),
	}
	return c, cfg.Region, cfg.BaseEndpoint != nil, nil
}
