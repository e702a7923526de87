// Package alerts reads serverless-plugin-aws-alerts configuration
// (custom.alerts and each function's alarms) into the CloudWatch alarms it
// defines, as that plugin (1.7.5) would create them.
//
// Both paths use it: `sluice package` adds the resources to the template,
// and the local engine evaluates the same alarms against local metrics.
package alerts

import "github.com/sluice-dev/sluice/internal/config"

// Alarm is one alarm created for one function.
type Alarm struct {
	LogicalID string // CloudFormation logical ID, e.g. HelloFunctionErrorsAlarm
	Function  string // the function's key, e.g. hello
	Name      string // the alarm's name in the configuration, e.g. functionErrors
}

// Compiled is what the configuration adds to a template.
type Compiled struct {
	Alarms []Alarm
	// Resources are the CloudFormation resources to merge into the template:
	// AWS::CloudWatch::Alarm, AWS::Logs::MetricFilter and AWS::SNS::Topic.
	Resources map[string]any
}

// Compile resolves the service's aws-alerts configuration at its stage.
// Diagnostics name the key of every problem (e.g. an alarm naming a
// definition that does not exist).
func Compile(svc *config.Service) (*Compiled, config.Diagnostics) {
	return &Compiled{Resources: map[string]any{}}, nil // TODO(alerts)
}
