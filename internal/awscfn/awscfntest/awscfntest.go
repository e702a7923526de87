// Package awscfntest generates large services and the CloudFormation
// templates the Serverless Framework 3 compiles for them, for benchmarks:
// the Go benchmark of awscfn.Transform and bench/package, which runs the
// JavaScript plugins on the very same input.
package awscfntest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Stack is the service name and stage of generated services.
const (
	ServiceName = "bench"
	Stage       = "dev"
)

// Service returns a service of n functions (function0 … function<n-1>)
// and one pre-traffic hook, every function deployed gradually with
// http, sns, sqs, stream, s3 and schedule events and an aws-alerts alarm
// that stops its deployment; and the template the framework compiles for
// it before plugins run (resource shapes as Serverless Framework 3.40
// writes them). The service is the form the framework holds in memory
// (serverless.service), which config.LoadBytes also reads.
func Service(n int) (service, template map[string]any) {
	functions := map[string]any{
		"preHook": map[string]any{"handler": "hooks.pre"},
	}
	resources := map[string]any{
		"ServerlessDeploymentBucket": map[string]any{"Type": "AWS::S3::Bucket", "Properties": map[string]any{
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
				"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}}}}}},
		"ApiGatewayRestApi": map[string]any{"Type": "AWS::ApiGateway::RestApi", "Properties": map[string]any{
			"Name": Stage + "-" + ServiceName, "EndpointConfiguration": map[string]any{"Types": []any{"EDGE"}}, "Policy": ""}},
	}
	outputs := map[string]any{
		"ServerlessDeploymentBucketName": map[string]any{"Value": ref("ServerlessDeploymentBucket")},
	}
	var methods []any
	var streamArns, queueArns []any
	types := []string{"Linear10PercentEvery1Minute", "Canary10Percent5Minutes", "Canary25Percent45Minutes", "AllAtOnce"}

	addFunction(resources, outputs, "preHook", "PreHook")
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("function%d", i)
		id := "Function" + fmt.Sprint(i) // upper-first of key
		topic, bucket := fmt.Sprintf("topic%d", i), fmt.Sprintf("bucket%d", i)
		queue := fmt.Sprintf("arn:aws:sqs:us-east-1:123456789012:queue%d", i)
		stream := fmt.Sprintf("arn:aws:kinesis:us-east-1:123456789012:stream/stream%d", i)
		functions[key] = map[string]any{
			"handler": "handler." + key,
			"events": []any{
				map[string]any{"http": "GET " + key},
				map[string]any{"sns": topic},
				map[string]any{"sqs": queue},
				map[string]any{"stream": stream},
				map[string]any{"s3": bucket},
				map[string]any{"schedule": "rate(5 minutes)"},
			},
			"alarms": []any{"functionErrors"},
			"deploymentSettings": map[string]any{
				"type":           types[i%len(types)],
				"alias":          "Live",
				"preTrafficHook": "preHook",
				"alarms":         []any{id + "FunctionErrorsAlarm"},
			},
		}

		fn := id + "LambdaFunction"
		arn := getAtt(fn, "Arn")
		addFunction(resources, outputs, key, id)

		resources["ApiGatewayResource"+id] = res("AWS::ApiGateway::Resource", map[string]any{
			"ParentId": getAtt("ApiGatewayRestApi", "RootResourceId"), "PathPart": key, "RestApiId": ref("ApiGatewayRestApi")})
		method := "ApiGatewayMethod" + id + "Get"
		methods = append(methods, method)
		resources[method] = res("AWS::ApiGateway::Method", map[string]any{
			"HttpMethod": "GET", "RequestParameters": map[string]any{}, "ResourceId": ref("ApiGatewayResource" + id),
			"RestApiId": ref("ApiGatewayRestApi"), "ApiKeyRequired": false, "AuthorizationType": "NONE",
			"Integration": map[string]any{"IntegrationHttpMethod": "POST", "Type": "AWS_PROXY", "Uri": join("",
				"arn:", ref("AWS::Partition"), ":apigateway:", ref("AWS::Region"), ":lambda:path/2015-03-31/functions/", arn, "/invocations")},
			"MethodResponses": []any{}})
		resources[id+"LambdaPermissionApiGateway"] = permission(arn, "apigateway.amazonaws.com", join("",
			"arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":", ref("ApiGatewayRestApi"), "/*/*"))

		topicID := "SNSTopic" + upperFirst(topic)
		resources[topicID] = res("AWS::SNS::Topic", map[string]any{"TopicName": topic,
			"Subscription": []any{map[string]any{"Endpoint": arn, "Protocol": "lambda"}}})
		resources[id+"LambdaPermission"+upperFirst(topic)+"SNS"] = permission(arn, "sns.amazonaws.com", join("",
			"arn:", ref("AWS::Partition"), ":sns:", ref("AWS::Region"), ":", ref("AWS::AccountId"), ":", topic))

		esm := res("AWS::Lambda::EventSourceMapping", map[string]any{"BatchSize": 10, "EventSourceArn": queue, "FunctionName": arn, "Enabled": true})
		esm["DependsOn"] = []any{"IamRoleLambdaExecution"}
		resources[id+"EventSourceMappingSQSQueue"+fmt.Sprint(i)] = esm
		queueArns = append(queueArns, queue)
		esm = res("AWS::Lambda::EventSourceMapping", map[string]any{"BatchSize": 10, "EventSourceArn": stream, "FunctionName": arn,
			"Enabled": true, "StartingPosition": "TRIM_HORIZON"})
		esm["DependsOn"] = []any{"IamRoleLambdaExecution"}
		resources[id+"EventSourceMappingKinesisStream"+fmt.Sprint(i)] = esm
		streamArns = append(streamArns, stream)

		s3perm := id + "LambdaPermission" + upperFirst(bucket) + "S3"
		b := res("AWS::S3::Bucket", map[string]any{"BucketName": bucket, "NotificationConfiguration": map[string]any{
			"LambdaConfigurations": []any{map[string]any{"Event": "s3:ObjectCreated:*", "Function": arn}}}})
		b["DependsOn"] = []any{s3perm}
		resources["S3Bucket"+upperFirst(bucket)] = b
		p := permission(arn, "s3.amazonaws.com", join("", "arn:", ref("AWS::Partition"), ":s3:::"+bucket))
		p["Properties"].(map[string]any)["SourceAccount"] = ref("AWS::AccountId")
		resources[s3perm] = p

		rule := id + "EventsRuleSchedule1"
		resources[rule] = res("AWS::Events::Rule", map[string]any{"ScheduleExpression": "rate(5 minutes)", "State": "ENABLED",
			"Targets": []any{map[string]any{"Arn": arn, "Id": key + "Schedule"}}})
		resources[id+"LambdaPermissionEventsRuleSchedule1"] = permission(arn, "events.amazonaws.com", getAtt(rule, "Arn"))
	}

	logs := "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/" + ServiceName + "-" + Stage
	resources["IamRoleLambdaExecution"] = res("AWS::IAM::Role", map[string]any{
		"AssumeRolePolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Effect": "Allow", "Principal": map[string]any{"Service": []any{"lambda.amazonaws.com"}}, "Action": []any{"sts:AssumeRole"}}}},
		"Policies": []any{map[string]any{
			"PolicyName": join("-", ServiceName, Stage, "lambda"),
			"PolicyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
				statement([]any{"logs:CreateLogStream", "logs:CreateLogGroup", "logs:TagResource"}, []any{map[string]any{"Fn::Sub": logs + "*:*"}}),
				statement([]any{"logs:PutLogEvents"}, []any{map[string]any{"Fn::Sub": logs + "*:*:*"}}),
				statement([]any{"kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListStreams"}, streamArns),
				statement([]any{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}, queueArns),
			}},
		}},
		"Path":     "/",
		"RoleName": join("-", ServiceName, Stage, ref("AWS::Region"), "lambdaRole"),
	})
	deployment := res("AWS::ApiGateway::Deployment", map[string]any{"RestApiId": ref("ApiGatewayRestApi"), "StageName": Stage})
	deployment["DependsOn"] = methods
	resources["ApiGatewayDeployment1795321307557"] = deployment

	service = map[string]any{
		"service":  ServiceName,
		"provider": map[string]any{"name": "aws", "runtime": "nodejs20.x", "stage": Stage, "region": "us-east-1"},
		"custom": map[string]any{
			"deploymentSettings": map[string]any{"stages": []any{Stage}},
			"alerts":             map[string]any{"stages": []any{Stage}},
		},
		"functions": functions,
	}
	template = map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              "The AWS CloudFormation template for this Serverless application",
		"Resources":                resources,
		"Outputs":                  outputs,
	}
	return service, template
}

// addFunction adds a function's log group, function and version.
func addFunction(resources, outputs map[string]any, key, id string) {
	name := ServiceName + "-" + Stage + "-" + key
	resources[id+"LogGroup"] = res("AWS::Logs::LogGroup", map[string]any{"LogGroupName": "/aws/lambda/" + name})
	fn := res("AWS::Lambda::Function", map[string]any{
		"Code":         map[string]any{"S3Bucket": ref("ServerlessDeploymentBucket"), "S3Key": "serverless/bench/dev/1795321333451/bench.zip"},
		"Handler":      "handler." + key,
		"Runtime":      "nodejs20.x",
		"FunctionName": name,
		"MemorySize":   1024,
		"Timeout":      6,
		"Role":         getAtt("IamRoleLambdaExecution", "Arn"),
	})
	fn["DependsOn"] = []any{id + "LogGroup"}
	resources[id+"LambdaFunction"] = fn
	sum := sha256.Sum256([]byte(name))
	hash := base64.StdEncoding.EncodeToString(sum[:])
	version := id + "LambdaVersion" + strings.NewReplacer("+", "", "/", "", "=", "").Replace(hash)
	v := res("AWS::Lambda::Version", map[string]any{"FunctionName": ref(id + "LambdaFunction"), "CodeSha256": hash})
	v["DeletionPolicy"] = "Retain"
	resources[version] = v
	outputs[id+"LambdaFunctionQualifiedArn"] = map[string]any{"Description": "Current Lambda function version", "Value": ref(version)}
}

func res(typ string, props map[string]any) map[string]any {
	return map[string]any{"Type": typ, "Properties": props}
}

func permission(fn any, principal string, source any) map[string]any {
	return res("AWS::Lambda::Permission", map[string]any{
		"FunctionName": fn, "Action": "lambda:InvokeFunction", "Principal": principal, "SourceArn": source})
}

func statement(actions, resources []any) map[string]any {
	return map[string]any{"Effect": "Allow", "Action": actions, "Resource": resources}
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

func join(sep string, parts ...any) map[string]any {
	return map[string]any{"Fn::Join": []any{sep, parts}}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
