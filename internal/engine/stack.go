package engine

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/awsapi"
)

// stackClock remembers when the stack the engine models last began an
// update: each `sluice deploy` that changed something is one update, as
// `serverless deploy` is on AWS.
type stackClock struct {
	created time.Time
	updated atomic.Pointer[time.Time]
}

// stackInputs is the service as `sluice package` would deploy it — the
// resources sluice follow looks for, with the logical ids `sluice package`
// gives them — and the deployments that updated it (awsapi.ModelStack).
func (e *Engine) stackInputs() awsapi.StackInputs {
	e.mu.Lock()
	svc := e.svc
	e.mu.Unlock()
	in := awsapi.StackInputs{Name: svc.StackName(), Created: e.stack.created, AliasLogicalIDs: map[string]string{}}
	if t := e.stack.updated.Load(); t != nil {
		in.UpdateBegan = *t
	}
	apps := map[string]bool{}
	for _, f := range svc.Functions {
		fn := f.LogicalID() + "LambdaFunction"
		in.Resources = append(in.Resources, awsapi.StackResource{LogicalID: fn, PhysicalID: f.Name, Type: "AWS::Lambda::Function"})
		g := e.deployer.Group(svc.DeploymentGroupName(f))
		if g == nil {
			continue
		}
		alias := fn + "Alias" + g.Alias
		in.AliasLogicalIDs[f.Name] = alias
		in.Resources = append(in.Resources,
			awsapi.StackResource{LogicalID: alias, PhysicalID: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s:%s", svc.Region, "000000000000", f.Name, g.Alias), Type: "AWS::Lambda::Alias"},
			awsapi.StackResource{LogicalID: fn + "DeploymentGroup", PhysicalID: g.Name, Type: "AWS::CodeDeploy::DeploymentGroup"})
		if !apps[g.Application] {
			apps[g.Application] = true
			in.Resources = append(in.Resources, awsapi.StackResource{LogicalID: g.Application, PhysicalID: g.Application, Type: "AWS::CodeDeploy::Application"})
		}
	}
	for _, a := range e.alarms.Alarms() {
		in.Resources = append(in.Resources, awsapi.StackResource{LogicalID: a.Name(), PhysicalID: a.Name(), Type: "AWS::CloudWatch::Alarm"})
	}
	if ds, err := e.deployer.List(""); err == nil {
		in.Deployments = ds
	}
	return in
}
