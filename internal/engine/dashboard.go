package engine

import (
	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/dashboard"
)

// wallClock maps the engine's (scaled) clock to wall time for the
// dashboard, from the clock file every run of the engine appends to.
func (e *Engine) wallClock() dashboard.Wall {
	tl, err := control.ReadTimeline(e.stateDir)
	if err != nil {
		e.log.Warn("dashboard: times shown as the engine recorded them", "err", err)
	}
	return tl
}

// functionNames lists the service's deployed function names, in its order.
func (e *Engine) functionNames() []string {
	e.mu.Lock()
	svc := e.svc
	e.mu.Unlock()
	if svc == nil {
		return nil
	}
	names := make([]string, 0, len(svc.Functions))
	for _, f := range svc.Functions {
		names = append(names, f.Name)
	}
	return names
}

// DashboardURL is where the dashboard is served.
func (e *Engine) DashboardURL() string { return e.apiURL + dashboard.Prefix }
