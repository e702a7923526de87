package registry_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/store"
)

var epoch = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	state string
	src   string
	db    *store.DB
	reg   *registry.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, state: t.TempDir(), src: t.TempDir()}
	f.write("handler.js", "exports.hello = async () => 'v1'")
	f.open()
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	db, err := store.Open(f.state)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { db.Close() })
	reg, err := registry.Open(db, clock.NewFake(epoch), filepath.Join(f.state, "code"))
	if err != nil {
		f.t.Fatal(err)
	}
	f.db, f.reg = db, reg
}

func (f *fixture) write(name, content string) {
	f.t.Helper()
	path := filepath.Join(f.src, name)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) publish(cfg registry.Config) (*registry.Version, bool) {
	f.t.Helper()
	v, created, err := f.reg.Publish("svc-dev-hello", cfg, f.src, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return v, created
}

var cfg = registry.Config{Runtime: "nodejs20.x", Handler: "handler.hello", Timeout: 6 * time.Second, MemorySize: 1024}

func TestPublishIsIdempotentForUnchangedCodeAndConfig(t *testing.T) {
	f := newFixture(t)
	v1, created := f.publish(cfg)
	if !created || v1.Number != 1 {
		t.Fatalf("first publish = version %d, created %v", v1.Number, created)
	}
	again, created := f.publish(cfg)
	if created || again != v1 {
		t.Fatalf("unchanged publish = version %d, created %v; want version 1 again", again.Number, created)
	}
	f.write("handler.js", "exports.hello = async () => 'v2'")
	v2, created := f.publish(cfg)
	if !created || v2.Number != 2 {
		t.Fatalf("publish after a code change = version %d, created %v", v2.Number, created)
	}
	changed := cfg
	changed.Timeout = 10 * time.Second
	v3, created := f.publish(changed)
	if !created || v3.Number != 3 {
		t.Fatalf("publish after a config change = version %d, created %v", v3.Number, created)
	}
}

func TestVersionCodeIsImmutable(t *testing.T) {
	f := newFixture(t)
	f.write("lib/util.js", "module.exports = 1")
	v1, _ := f.publish(cfg)
	// Edit in place (same inode), as some editors do: the snapshot must not follow.
	file, err := os.OpenFile(filepath.Join(f.src, "handler.js"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	file.WriteString("exports.hello = async () => 'edited'")
	file.Close()
	got, err := os.ReadFile(filepath.Join(v1.CodeDir, "handler.js"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "exports.hello = async () => 'v1'" {
		t.Fatalf("version 1's code changed with the working copy: %q", got)
	}
	if _, err := os.Stat(filepath.Join(v1.CodeDir, "lib", "util.js")); err != nil {
		t.Fatalf("nested file missing from the snapshot: %v", err)
	}
}

func TestSnapshotSkipsStateAndBuildDirectories(t *testing.T) {
	f := newFixture(t)
	f.write(".serverless/cloudformation-template-update-stack.json", "{}")
	f.write(".sluice/junk", "x")
	v1, _ := f.publish(cfg)
	f.write(".serverless/cloudformation-template-update-stack.json", `{"changed": true}`)
	if v, created := f.publish(cfg); created {
		t.Fatalf("a change under .serverless published version %d", v.Number)
	}
	if _, err := os.Stat(filepath.Join(v1.CodeDir, ".serverless")); !os.IsNotExist(err) {
		t.Fatal(".serverless was snapshotted")
	}
}

func TestSnapshotFollowsSymlinksAndSurvivesCycles(t *testing.T) {
	f := newFixture(t)
	shared := t.TempDir() // e.g. a node_modules linked in from elsewhere
	os.MkdirAll(filepath.Join(shared, "aws-sdk"), 0o755)
	os.WriteFile(filepath.Join(shared, "aws-sdk", "index.js"), []byte("module.exports = {}"), 0o644)
	if err := os.Symlink(shared, filepath.Join(f.src, "node_modules")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(f.src, filepath.Join(f.src, "loop")); err != nil { // a link back to the root
		t.Fatal(err)
	}
	v1, _ := f.publish(cfg)
	if _, err := os.Stat(filepath.Join(v1.CodeDir, "node_modules", "aws-sdk", "index.js")); err != nil {
		t.Fatalf("a linked directory is missing from the snapshot: %v", err)
	}
	if _, err := os.Stat(filepath.Join(v1.CodeDir, "loop")); !os.IsNotExist(err) {
		t.Fatalf("a link cycle was followed into the snapshot: %v", err)
	}
}

func TestAliasRules(t *testing.T) {
	f := newFixture(t)
	f.publish(cfg)
	f.write("handler.js", "v2")
	f.publish(cfg)
	for _, c := range []struct {
		name          string
		version, addl int
		weight        float64
		want          error
	}{
		{"missing version", 3, 0, 0, registry.ErrVersionNotFound},
		{"missing additional", 1, 3, 0.5, registry.ErrVersionNotFound},
		{"additional equals version", 1, 1, 0.5, registry.ErrInvalidRouting},
		{"weight above 1", 1, 2, 1.5, registry.ErrInvalidRouting},
		{"negative weight", 1, 2, -0.1, registry.ErrInvalidRouting},
	} {
		if _, err := f.reg.SetAlias("svc-dev-hello", "Live", c.version, c.addl, c.weight, nil); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := f.reg.SetAlias("nope", "Live", 1, 0, 0, nil); !errors.Is(err, registry.ErrFunctionNotFound) {
		t.Errorf("unknown function: err = %v", err)
	}
	if fn := f.reg.Function("svc-dev-hello"); fn.Alias("Live") != nil {
		t.Fatal("a rejected SetAlias created the alias")
	}
}

func TestStateSurvivesReopen(t *testing.T) {
	f := newFixture(t)
	f.publish(cfg)
	f.write("handler.js", "v2")
	f.publish(cfg)
	if _, err := f.reg.SetAlias("svc-dev-hello", "Live", 1, 2, 0.25, nil); err != nil {
		t.Fatal(err)
	}
	f.db.Close()
	f.open()
	fn := f.reg.Function("svc-dev-hello")
	if fn == nil || len(fn.Versions()) != 2 {
		t.Fatalf("after reopen: %+v", fn)
	}
	rt := fn.Alias("Live").Routing()
	if rt.Version.Number != 1 || rt.Additional.Number != 2 || rt.Weight != 0.25 {
		t.Fatalf("alias after reopen = %d + %d@%v", rt.Version.Number, rt.Additional.Number, rt.Weight)
	}
	if rt.Version.Config.Handler != "handler.hello" || rt.Version.Config.Timeout != 6*time.Second {
		t.Fatalf("version config after reopen = %+v", rt.Version.Config)
	}
}

func TestAliasTransactionRollsBackWithCaller(t *testing.T) {
	f := newFixture(t)
	f.publish(cfg)
	if _, err := f.reg.SetAlias("svc-dev-hello", "Live", 1, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	f.write("handler.js", "v2")
	f.publish(cfg)
	boom := errors.New("deployment record failed")
	_, err := f.reg.SetAlias("svc-dev-hello", "Live", 1, 2, 0.5, func(*store.Tx) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if rt := f.reg.Function("svc-dev-hello").Alias("Live").Routing(); rt.Additional != nil {
		t.Fatal("the alias moved although its transaction failed")
	}
}

// TestWeightedRoutingAccuracy: 20,000 independent draws at weight 0.1 land
// within one percentage point of 10% (4.7 standard deviations).
func TestWeightedRoutingAccuracy(t *testing.T) {
	f := newFixture(t)
	f.publish(cfg)
	f.write("handler.js", "v2")
	f.publish(cfg)
	rt, err := f.reg.SetAlias("svc-dev-hello", "Live", 1, 2, 0.1, nil)
	if err != nil {
		t.Fatal(err)
	}
	const draws = 20000
	hits := 0
	for range draws {
		if rt.Pick().Number == 2 {
			hits++
		}
	}
	if share := float64(hits) / draws; share < 0.09 || share > 0.11 {
		t.Fatalf("version 2 got %.2f%% of %d draws at weight 0.1", share*100, draws)
	}
}

// TestRoutingChangesAreAtomic reads routing while weights change: every read
// sees a whole routing, never a mix of two.
func TestRoutingChangesAreAtomic(t *testing.T) {
	f := newFixture(t)
	f.publish(cfg)
	f.write("handler.js", "v2")
	f.publish(cfg)
	f.reg.SetAlias("svc-dev-hello", "Live", 1, 0, 0, nil)
	alias := f.reg.Function("svc-dev-hello").Alias("Live")
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				rt := alias.Routing()
				if rt.Additional != nil && (rt.Weight <= 0 || rt.Version.Number != 1) {
					bad.Add(1)
				}
				if v := rt.Pick(); v == nil {
					bad.Add(1)
				}
			}
		}()
	}
	for i := 1; i <= 50; i++ {
		if _, err := f.reg.SetAlias("svc-dev-hello", "Live", 1, 2, float64(i)/50, nil); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() > 0 {
		t.Fatalf("%d reads saw an inconsistent routing", bad.Load())
	}
}

func BenchmarkRoutingPick(b *testing.B) {
	rt := &registry.Routing{Version: &registry.Version{Number: 1}, Additional: &registry.Version{Number: 2}, Weight: 0.1}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rt.Pick() == nil {
				b.Fatal("nil")
			}
		}
	})
}

// prefixFilter leaves out files and directories under skip.
type prefixFilter struct{ skip string }

func (p prefixFilter) Include(rel string) bool { return !strings.HasPrefix(rel, p.skip+"/") }
func (p prefixFilter) Prune(rel string) bool   { return rel == p.skip }

func TestSnapshotHonoursTheFilterAndReportsProgress(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 11; i++ {
		f.write(fmt.Sprintf("node_modules/.cache/f%d", i), "x")
	}
	f.write("node_modules/lib/index.js", "module.exports = 1")
	var reports []registry.SnapshotProgress
	code, err := f.reg.SnapshotWith(f.src, registry.SnapshotOptions{Filter: prefixFilter{"node_modules/.cache"},
		Progress: func(p registry.SnapshotProgress) { reports = append(reports, p) }, ProgressEvery: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(code.Dir, "node_modules", ".cache")); !os.IsNotExist(err) {
		t.Fatalf("a filtered directory was snapshotted: %v", err)
	}
	if _, err := os.Stat(filepath.Join(code.Dir, "node_modules", "lib", "index.js")); err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || !reports[0].Done || reports[0].Files != 2 {
		t.Fatalf("progress reports = %+v, want one final report of 2 files", reports)
	}
	all, err := f.reg.SnapshotWith(f.src, registry.SnapshotOptions{Progress: func(p registry.SnapshotProgress) { reports = append(reports, p) }, ProgressEvery: 10})
	if err != nil {
		t.Fatal(err)
	}
	if all.SHA256 == code.SHA256 || len(reports) != 3 || reports[1].Done || reports[1].Files != 10 {
		t.Fatalf("unfiltered snapshot: same sha %v, reports %+v", all.SHA256 == code.SHA256, reports)
	}
}

func TestSnapshotRefusesAHandlerLinkedFromOutside(t *testing.T) {
	f := newFixture(t)
	outside := filepath.Join(t.TempDir(), "evil.js")
	os.WriteFile(outside, []byte("exports.main = async () => 'outside'"), 0o644)
	if err := os.Symlink(outside, filepath.Join(f.src, "evil.js")); err != nil {
		t.Fatal(err)
	}
	_, err := f.reg.SnapshotWith(f.src, registry.SnapshotOptions{Confined: []string{"evil", "evil.js"}})
	if err == nil || !strings.Contains(err.Error(), "handler file evil.js is a link to") {
		t.Fatalf("SnapshotWith = %v, want the linked handler refused", err)
	}
	// A dependency may link out; only the handler is confined.
	if _, err := f.reg.SnapshotWith(f.src, registry.SnapshotOptions{Confined: []string{"handler.js"}}); err != nil {
		t.Fatalf("a link that is not a handler was refused: %v", err)
	}
}

func TestSnapshotNeverFollowsALinkToTheRoot(t *testing.T) {
	f := newFixture(t)
	if err := os.Symlink("/", filepath.Join(f.src, "rootfs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(f.src, "null")); err != nil {
		t.Fatal(err)
	}
	v, _ := f.publish(cfg)
	for _, name := range []string{"rootfs", "null"} {
		if _, err := os.Lstat(filepath.Join(v.CodeDir, name)); !os.IsNotExist(err) {
			t.Errorf("%s was copied into the snapshot: %v", name, err)
		}
	}
}

func TestSnapshotEachLeavesOtherHandlersOutOfAnIdentity(t *testing.T) {
	f := newFixture(t)
	f.write("a.js", "exports.a = 1")
	f.write("b.js", "exports.b = 1")
	aside := map[string][]string{"a": {"b.js"}, "b": {"a.js"}}
	first, err := f.reg.SnapshotEach(f.src, registry.SnapshotOptions{}, aside)
	if err != nil {
		t.Fatal(err)
	}
	if first["a"].Dir != first["b"].Dir || first["a"].SHA256 == first["b"].SHA256 {
		t.Fatalf("one tree with two identities expected: %+v", first)
	}
	f.write("a.js", "exports.a = 2")
	second, err := f.reg.SnapshotEach(f.src, registry.SnapshotOptions{}, aside)
	if err != nil {
		t.Fatal(err)
	}
	if second["a"].SHA256 == first["a"].SHA256 || second["b"].SHA256 != first["b"].SHA256 {
		t.Fatalf("editing a.js: a changed %v, b changed %v; want only a", second["a"].SHA256 != first["a"].SHA256, second["b"].SHA256 != first["b"].SHA256)
	}
	f.write("handler.js", "exports.shared = 2") // a file both package
	third, err := f.reg.SnapshotEach(f.src, registry.SnapshotOptions{}, aside)
	if err != nil {
		t.Fatal(err)
	}
	if third["a"].SHA256 == second["a"].SHA256 || third["b"].SHA256 == second["b"].SHA256 {
		t.Fatal("a shared file changed, yet an identity did not")
	}
	if b, _ := os.ReadFile(filepath.Join(first["b"].Dir, "a.js")); string(b) != "exports.a = 1" {
		t.Fatalf("the first tree changed under its versions: a.js = %q", b)
	}
}
