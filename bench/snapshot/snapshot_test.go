// Package snapshot measures what publishing a version costs on a service
// with a large node_modules: every file (the old rule: the service
// directory minus .sluice, .serverless and .git) against what the framework
// packages (package.patterns, default exclusions, devDependencies, never
// node_modules/.cache). See README.md to run it.
package snapshot

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/bundle"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/store"
)

// service installs the service's dependencies (npm ci) once, and a 50 MB
// build cache such as babel or webpack leave in node_modules/.cache.
func service(b *testing.B) string {
	b.Helper()
	dir, _ := filepath.Abs(".")
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir, cmd.Stderr = dir, os.Stderr
		if err := cmd.Run(); err != nil {
			b.Skipf("npm ci: %v", err)
		}
	}
	cache := filepath.Join(dir, "node_modules", ".cache", "bench", "blob.bin")
	if _, err := os.Stat(cache); err != nil {
		os.MkdirAll(filepath.Dir(cache), 0o755)
		if err := os.WriteFile(cache, make([]byte, 50<<20), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func benchSnapshot(b *testing.B, filtered, warm bool) {
	dir := service(b)
	svc, _, err := config.Load(dir, config.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var opts registry.SnapshotOptions
	if filtered {
		dev, err := bundle.DevDependencies(dir)
		if err != nil {
			b.Fatal(err)
		}
		opts.Filter, _ = bundle.ForFunction(svc, svc.Functions[0], dev)
	}
	var last registry.SnapshotProgress
	opts.Progress = func(p registry.SnapshotProgress) { last = p }
	open := func() (*registry.Registry, func()) {
		state := b.TempDir()
		db, err := store.Open(state)
		if err != nil {
			b.Fatal(err)
		}
		reg, err := registry.Open(db, clock.NewFake(time.Unix(0, 0)), filepath.Join(state, "code"))
		if err != nil {
			b.Fatal(err)
		}
		return reg, func() { db.Close() }
	}
	var reg *registry.Registry
	if warm { // a restart: every file is stored already
		r, closeDB := open()
		defer closeDB()
		if _, err := r.SnapshotWith(dir, opts); err != nil {
			b.Fatal(err)
		}
		reg = r
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		closeDB := func() {}
		if !warm { // a first start: nothing stored yet
			b.StopTimer()
			reg, closeDB = open()
			b.StartTimer()
		}
		if _, err := reg.SnapshotWith(dir, opts); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		closeDB()
		b.StartTimer()
	}
	b.ReportMetric(float64(last.Files), "files")
	b.ReportMetric(float64(last.Bytes)/1e6, "MB")
}

func BenchmarkSnapshotEveryFile(b *testing.B)             { benchSnapshot(b, false, false) }
func BenchmarkSnapshotAsTheFramework(b *testing.B)        { benchSnapshot(b, true, false) }
func BenchmarkRestartSnapshotEveryFile(b *testing.B)      { benchSnapshot(b, false, true) }
func BenchmarkRestartSnapshotAsTheFramework(b *testing.B) { benchSnapshot(b, true, true) }
