package demo

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/progress"
)

// TestDemo runs the README's main job, with time ten times faster than the
// command's default so the good deployment takes about a second.
func TestDemo(t *testing.T) {
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Options{Out: &out, Mode: progress.Plain, TimeScale: 600, Rate: 100})
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	if res.Good.Status != deploy.StatusSucceeded || res.Bad.Status != deploy.StatusStopped || !res.Bad.RolledBack() {
		t.Fatalf("good %s, bad %s:\n%s", res.Good.Status, res.Bad.Status, out.String())
	}
	if res.Rollback.Creator != deploy.CreatorRollback || strconv.Itoa(res.Rollback.Target.TargetVersion) != res.GoodVer {
		t.Fatalf("rollback deployment %+v", res.Rollback)
	}
	if res.Errors[res.BadVer] == 0 || res.Errors[res.GoodVer] != 0 || res.BadAfterRollback != 0 {
		t.Fatalf("errors per version %v, after rollback %d:\n%s", res.Errors, res.BadAfterRollback, out.String())
	}
	for _, want := range []string{"✔ v2 serves all traffic", "✘ Stopped", "rollback reaction:", "summary"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out.String())
		}
	}
}
