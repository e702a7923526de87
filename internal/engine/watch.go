package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
)

// alarmWatcher lets deployments watch the evaluator's alarms (deploy.Alarms).
type alarmWatcher struct{ ev *alarm.Evaluator }

func (w alarmWatcher) Watch(name string, fn func(deploy.AlarmState)) (cancel func(), err error) {
	a, ok := w.ev.Alarm(name)
	if !ok {
		return nil, fmt.Errorf("alarm %s is not evaluated by this engine", name)
	}
	// Subscribe before reading the current state, so no change falls between.
	cancel = a.Subscribe(func(c alarm.Change) {
		fn(deploy.AlarmState{Name: name, State: c.New.String(), Reason: c.Reason})
	})
	st := a.State()
	fn(deploy.AlarmState{Name: name, State: st.Value.String(), Reason: st.Reason})
	return cancel, nil
}

// WatchInterval is how often Watch looks at the service's files.
const WatchInterval = 500 * time.Millisecond

// Watch publishes and deploys the service as its files change, until stop
// is called (`sluice serve --watch`). Every interval it takes a
// fingerprint of the service directory (paths, sizes and modification
// times; not .sluice, .git or .serverless; of node_modules only its
// entries, which installing or removing a package changes), starting
// from the files as they are when Watch returns. Once a change has
// settled for an interval, it calls PublishAndDeploy, which publishes the
// functions whose code or configuration changed, makes those without
// deploymentSettings live at once, and deploys the others gradually. A
// change that arrives while a deployment is in progress waits for it to
// end. report receives each outcome, from Watch's goroutine.
func (e *Engine) Watch(interval time.Duration, report func([]control.Change, error)) (stop func()) {
	dir := e.Service().Dir
	last := fingerprint(dir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		pending, waiting := false, false
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if fp := fingerprint(dir); fp != last {
				last, pending = fp, true
				continue // not settled yet: editors write in several steps
			}
			if !pending {
				continue
			}
			changes, err := e.PublishAndDeploy()
			if errors.Is(err, deploy.ErrAlreadyInProgress) {
				if !waiting {
					report(nil, err)
				}
				waiting = true
				continue // still pending: try again when the deployment ends
			}
			pending, waiting = false, false
			report(changes, err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// fingerprint sums what Watch compares between two looks at dir.
func fingerprint(dir string) uint64 {
	h := fnv.New64a()
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed while walking: the next look sees it gone
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			switch d.Name() {
			case StateDirName, ".git", ".serverless":
				return filepath.SkipDir
			case "node_modules":
				// Thousands of files that change when packages are installed
				// or removed: the package directories and npm's lock show it.
				entries, _ := os.ReadDir(path)
				for _, e := range entries {
					if info, err := e.Info(); err == nil && e.Name() != ".cache" {
						fmt.Fprintf(h, "%s/%s\x00%d\x00%d\n", rel, e.Name(), info.Size(), info.ModTime().UnixNano())
					}
				}
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", rel, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return h.Sum64()
}
