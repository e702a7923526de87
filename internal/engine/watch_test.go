package engine

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/control"
)

type watchReport struct {
	changes []control.Change
	err     error
}

// nextReport waits for Watch's next report.
func nextReport(t *testing.T, reports <-chan watchReport) watchReport {
	t.Helper()
	select {
	case r := <-reports:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("Watch reported nothing within 30s")
	}
	return watchReport{}
}

func TestWatchDeploysOnlyTheFunctionWhoseFilesChanged(t *testing.T) {
	dir := shopDir(t)
	e := start(t, dir, nil)
	reports := make(chan watchReport, 8)
	stop := e.Watch(20*time.Millisecond, func(c []control.Change, err error) { reports <- watchReport{c, err} })
	t.Cleanup(stop)
	latest := func(fn string) int { return e.Registry().Function(fn).LatestVersion().Number }

	// ticker has no deploymentSettings: its new version is live at once.
	rewrite(t, filepath.Join(dir, "py", "ticker.py"), "def handle(", "# edited\ndef handle(")
	r := nextReport(t, reports)
	if r.err != nil || len(r.changes) != 1 || r.changes[0].Key != "ticker" || r.changes[0].ToVersion != 2 || r.changes[0].DeploymentID != "" {
		t.Fatalf("after editing ticker: %+v %v", r.changes, r.err)
	}
	if latest("shop-dev-api") != 1 || latest("shop-dev-gofn") != 1 {
		t.Fatalf("editing ticker published api v%d, gofn v%d", latest("shop-dev-api"), latest("shop-dev-gofn"))
	}

	// api deploys gradually: a deployment to its new version, nothing else.
	rewrite(t, filepath.Join(dir, "src", "api.js"), "const RELEASE = 'one';", "const RELEASE = 'two';")
	r = nextReport(t, reports)
	if r.err != nil || len(r.changes) != 1 || r.changes[0].Key != "api" || r.changes[0].ToVersion != 2 || r.changes[0].DeploymentID == "" {
		t.Fatalf("after editing api: %+v %v", r.changes, r.err)
	}
	if latest("shop-dev-ticker") != 2 || latest("shop-dev-gofn") != 1 {
		t.Fatalf("editing api published ticker v%d, gofn v%d", latest("shop-dev-ticker"), latest("shop-dev-gofn"))
	}
}
