package engine

import "github.com/sluice-dev/sluice/internal/control"

// PublishChanges re-reads the service and publishes what changed, for
// `sluice deploy` (control.Publisher): each function with a new version,
// and the deployment group that shifts traffic to it, if any.
func (e *Engine) PublishChanges() (changes []control.Change, err error) {
	began := e.clock.Now() // before any deployment this update creates
	published, err := e.Reload()
	if err != nil {
		return nil, err
	}
	defer func() {
		if len(changes) > 0 {
			e.stack.updated.Store(&began)
		}
	}()
	for _, p := range published {
		if !p.Changed {
			continue
		}
		c := control.Change{Key: p.Key, Function: p.Function, FromVersion: p.Old, ToVersion: p.New}
		if g := e.deployer.Group(p.Function); p.Gradual && g != nil {
			c.Group = g.Name
		}
		changes = append(changes, c)
	}
	return changes, nil
}
