package engine

import (
	"io"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

// TestTriggerTargetArn: the local engine reads a trigger's target under
// CloudFormation's name, TriggerTargetArn.
func TestTriggerTargetArn(t *testing.T) {
	src := `
service: shop
functions:
  checkout:
    handler: h.checkout
    deploymentSettings:
      type: AllAtOnce
      alias: Live
      triggerConfigurations:
        - TriggerName: notify
          TriggerEvents: [DeploymentFailure]
          TriggerTargetArn: arn:aws:sns:us-east-1:123456789012:deployments
`
	svc, _, err := config.LoadBytes("serverless.yml", t.TempDir(), []byte(src), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, _ := buildAlarms(svc)
	e := &Engine{opts: Options{Out: io.Discard}}
	g, err := e.group(svc, svc.Function("checkout"), set)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Triggers) != 1 || g.Triggers[0].Target != "arn:aws:sns:us-east-1:123456789012:deployments" || g.Triggers[0].Name != "notify" {
		t.Errorf("triggers = %+v, want notify → the SNS topic", g.Triggers)
	}
}
