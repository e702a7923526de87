// A function written with aws-lambda-go, unchanged: the engine tests build
// it into the test service's ./bootstrap (runtime provided.al2023).
package main

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "text/plain"},
		Body:       "go says " + strings.ToUpper(req.Body),
	}, nil
}

func main() { lambda.Start(handle) }
