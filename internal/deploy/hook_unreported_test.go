package deploy

import (
	"strings"
	"testing"
)

// A hook that returned without reporting is flagged at once, while the
// deployment still waits for a report, as CodeDeploy does.
func TestHookThatReturnsWithoutReportingIsFlaggedAtOnce(t *testing.T) {
	h := newHarness(t, "AllAtOnce", func(g *Group) { g.PreTrafficHook = "pre" })
	d, _ := h.e.Create(CreateInput{Group: h.group.Name, TargetVersion: 2})
	d = h.waitFor(d.ID, "the hook's return flagged", func(d Deployment) bool {
		return strings.Contains(d.LifecycleEvents[1].Diagnostics, "returned without reporting a status")
	})
	if d.Status != StatusInProgress || d.LifecycleEvents[1].Status != EventInProgress {
		t.Fatalf("status %s, event %+v: want still waiting for a report", d.Status, d.LifecycleEvents[1])
	}
}
