package engine

import (
	"fmt"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
)

// PublishAndDeploy is `sluice deploy` (control.Publisher), as one step
// under the engine's lock: it refuses while a deployment is in progress,
// re-reads and checks the service (refusing an invalid one whole), publishes
// what changed, and starts a deployment for each gradual function whose
// alias does not serve its latest version. The comparison is with what the
// alias serves, not with the version published before: code that an alarm
// rolled back, that a stopped or failed deployment left behind, or that was
// published at a restart is deployed too. A refused deploy publishes
// nothing.
func (e *Engine) PublishAndDeploy() ([]control.Change, error) {
	return e.PublishAndDeployWith(control.DeployOptions{})
}

// PublishAndDeployWith is PublishAndDeploy with a deploy's options
// (control.OptionsPublisher): the deployments it starts ignore their
// alarms, or use another deployment type, for this deploy only.
func (e *Engine) PublishAndDeployWith(opts control.DeployOptions) (changes []control.Change, err error) {
	began := e.clock.Now() // the stack update CloudFormation's API shows begins before its deployments
	svc, err := e.load()
	if err != nil {
		return nil, &control.PublishError{Err: err}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("the engine is shutting down")
	}
	for _, d := range e.deployer.Active() {
		if d.Status.Done() {
			continue // ended; its run is being released
		}
		return nil, fmt.Errorf("%w: deployment %s of %s is in progress (%s); wait for it (`sluice status`) or stop it (`sluice stop %s`), then deploy again",
			deploy.ErrAlreadyInProgress, d.ID, d.Target.FunctionName, d.Status, d.ID)
	}
	only := ""
	if opts.Function != "" {
		f := svc.Function(opts.Function) // its key in serverless.yml …
		for _, g := range svc.Functions {
			if g.Name == opts.Function { // … or its deployed name
				f = g
			}
		}
		if f == nil {
			return nil, &control.PublishError{Err: fmt.Errorf("%s has no function %q", svc.File, opts.Function)}
		}
		only = f.Name
	}
	published, err := e.reloadLocked(svc, only)
	if err != nil {
		return nil, &control.PublishError{Err: err}
	}
	defer func() {
		if len(changes) > 0 {
			e.stack.updated.Store(&began)
		}
	}()
	for _, p := range published {
		c := control.Change{Key: p.Key, Function: p.Function, FromVersion: p.Old, ToVersion: p.New}
		if !p.Gradual {
			if p.Changed { // live at once: its routes follow the latest version
				changes = append(changes, c)
			}
			continue
		}
		rt := e.registry.Function(p.Function).Alias(p.Alias).Routing()
		if rt.Additional == nil && rt.Version.Number == p.New {
			continue // the alias serves the working copy
		}
		c.FromVersion = rt.Version.Number
		g := e.deployer.Group(p.Function)
		if g == nil {
			c.Error = "no deployment group deploys " + p.Function
			changes = append(changes, c)
			continue
		}
		c.Group = g.Name
		d, err := e.deployer.Create(deploy.CreateInput{Group: g.Name, TargetVersion: p.New, IgnoreAlarms: opts.IgnoreAlarms, Type: opts.Schedule})
		if err != nil {
			c.Error = err.Error()
		} else {
			c.DeploymentID = d.ID
		}
		changes = append(changes, c)
	}
	return changes, nil
}
