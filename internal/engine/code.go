package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-dev/sluice/internal/bundle"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/runtime"
)

// snapshotCode stores the code of every function of svc, as the framework
// packages it (internal/bundle): one snapshot for the functions that share
// the service's artifact, one per function packaged individually. Handler
// files that link out of the service are refused before anything is
// published. A function's identity leaves out the other functions'
// handler files (registry.SnapshotEach). The result is keyed by function key.
func (e *Engine) snapshotCode(svc *config.Service) (map[string]registry.Code, error) {
	dev, err := bundle.DevDependencies(svc.Dir)
	if err != nil {
		return nil, err
	}
	type group struct {
		rules    *bundle.Rules
		keys     []string
		handlers map[string][]string // function key → its handler files
		confined []string
	}
	var groups []*group
	byKey := map[string]*group{}
	warned := false
	for _, f := range svc.Functions {
		if f.Image != "" {
			continue
		}
		rules, warnings := bundle.ForFunction(svc, f, dev)
		for _, w := range warnings {
			if !warned {
				fmt.Fprintln(e.opts.Out, "warning:", w)
				warned = true
			}
		}
		g := byKey[rules.Key]
		if g == nil {
			g = &group{rules: rules, handlers: map[string][]string{}}
			byKey[rules.Key] = g
			groups = append(groups, g)
		}
		files := runtime.HandlerFiles(f.Runtime, f.Handler)
		if err := registry.CheckConfined(svc.Dir, files); err != nil {
			return nil, fmt.Errorf("%s: function %s: %w", svc.Pos("functions."+f.Key+".handler"), f.Key, err)
		}
		g.keys = append(g.keys, f.Key)
		g.handlers[f.Key] = files
		g.confined = append(g.confined, files...)
	}
	codes := map[string]registry.Code{}
	for _, g := range groups {
		// Functions sharing an artifact differ in their entry points: an
		// edit to one function's handler file is not a change of the others.
		aside := map[string][]string{}
		for _, k := range g.keys {
			own := map[string]bool{}
			for _, p := range g.handlers[k] {
				own[p] = true
			}
			aside[k] = []string{}
			for _, other := range g.keys {
				for _, p := range g.handlers[other] {
					if !own[p] {
						aside[k] = append(aside[k], p)
					}
				}
			}
		}
		got, err := e.registry.SnapshotEach(svc.Dir, registry.SnapshotOptions{
			Filter: g.rules, Confined: g.confined, Progress: e.snapshotProgress(svc.Dir),
		}, aside)
		if err != nil {
			return nil, fmt.Errorf("the code of %v: %w", g.keys, err)
		}
		for k, code := range got {
			codes[k] = code
		}
	}
	if err := e.provideNodeSDK(svc, codes); err != nil {
		return nil, err
	}
	return codes, nil
}

// provideNodeSDK installs, into the user's cache, the AWS SDK for
// JavaScript v3 packages the Node.js functions load without bundling them,
// as Lambda's Node.js runtimes include them (runtime.NodeSDK).
func (e *Engine) provideNodeSDK(svc *config.Service, codes map[string]registry.Code) error {
	if e.nodeSDK.Dir == "" {
		return nil
	}
	scanned := map[string]bool{}
	need := map[string]bool{}
	for _, f := range svc.Functions {
		code, ok := codes[f.Key]
		if !ok || !strings.HasPrefix(f.Runtime, "nodejs") || scanned[code.Dir] {
			continue
		}
		scanned[code.Dir] = true
		pkgs, err := runtime.NodeSDKPackages(code.Dir)
		if err != nil {
			return fmt.Errorf("look for the AWS SDK packages %s loads: %w", f.Key, err)
		}
		for _, p := range pkgs {
			need[p] = true
		}
	}
	if len(need) == 0 {
		return nil
	}
	return e.nodeSDK.Ensure(config.SortedKeys(need), e.opts.Out)
}

// snapshotProgress reports large snapshots, which would otherwise be a
// silent wait at start.
func (e *Engine) snapshotProgress(dir string) func(registry.SnapshotProgress) {
	return func(p registry.SnapshotProgress) {
		if p.Files < registry.DefaultProgressEvery {
			return
		}
		if !p.Done {
			fmt.Fprintf(e.opts.Out, "Snapshotting %s: %d files, %.1f MB so far…\n", dir, p.Files, float64(p.Bytes)/1e6)
			return
		}
		fmt.Fprintf(e.opts.Out, "Snapshot of %s: %d files, %.1f MB (%d new to the store); leave files out with package.patterns\n", dir, p.Files, float64(p.Bytes)/1e6, p.Stored)
	}
}

// writeStateGitignore keeps the state directory out of git: it holds
// snapshots, logs and resolved secrets, none of which belongs in a commit.
func writeStateGitignore(stateDir string) error {
	p := filepath.Join(stateDir, ".gitignore")
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return os.WriteFile(p, []byte("# sluice's local state: never commit it\n*\n"), 0o600)
}

// warnRuntimeDifferences prints, once per runtime the service uses, how
// the local interpreter differs from Lambda's runtime (another version, no
// boto3): code may behave differently here than there.
func (e *Engine) warnRuntimeDifferences(svc *config.Service) {
	seen := map[string]bool{}
	for _, f := range svc.Functions {
		if f.Image != "" || seen[f.Runtime] {
			continue
		}
		seen[f.Runtime] = true
		for _, d := range runtime.Differences(f.Runtime) {
			fmt.Fprintln(e.opts.Out, "warning:", d)
		}
	}
}
