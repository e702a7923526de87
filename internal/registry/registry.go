// Package registry holds the functions the engine runs, their published
// versions and their aliases, with Lambda's rules: a version is an immutable
// snapshot of code and configuration, and an alias points at one version
// plus at most one additional version with a weight.
//
// Reads are lock-free (atomic pointers to immutable values), because every
// request routes through an alias; writes are rare, serialised by one mutex,
// and recorded in the store before they become visible.
package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/store"
)

// Latest is the qualifier of a function's newest version. sluice has no
// unpublished code: $LATEST names the highest published version.
const Latest = "$LATEST"

// Config is what a version runs with. It is part of the version's identity:
// publishing the same code with a different timeout makes a new version.
type Config struct {
	Runtime     string            `json:"runtime"`
	Handler     string            `json:"handler"`
	Environment map[string]string `json:"environment,omitempty"`
	Timeout     time.Duration     `json:"timeout"`
	MemorySize  int               `json:"memorySize"`
}

// Version is one published, immutable version of a function.
type Version struct {
	Function     string
	Number       int
	Config       Config
	CodeDir      string // the snapshot of the code; never modified
	CodeSHA256   string
	ConfigSHA256 string
	Description  string
	Created      time.Time
}

// Qualifier is the version number as Lambda writes it ("1", "2", …).
func (v *Version) Qualifier() string { return strconv.Itoa(v.Number) }

// Routing is where an alias sends traffic: Version, except that a share
// Weight of invocations goes to Additional when it is set.
type Routing struct {
	Version    *Version
	Additional *Version // nil: all traffic to Version
	Weight     float64  // in [0, 1]: the share of Additional
}

// Pick draws the version for one invocation: each invocation is an
// independent weighted draw, as Lambda does.
func (r *Routing) Pick() *Version {
	if r.Additional != nil && rand.Float64() < r.Weight {
		return r.Additional
	}
	return r.Version
}

// Alias is a named pointer to versions.
type Alias struct {
	Function string
	Name     string
	routing  atomic.Pointer[Routing]
}

// Routing returns the alias's current routing; the value is immutable, and
// a weight change swaps in a new one, so an in-flight request that already
// picked a version is never affected.
func (a *Alias) Routing() *Routing { return a.routing.Load() }

// Function is one function with its versions and aliases.
type Function struct {
	Name     string
	versions atomic.Pointer[[]*Version] // index n-1 holds version n
	aliases  atomic.Pointer[map[string]*Alias]
}

// Versions returns the published versions, oldest first.
func (f *Function) Versions() []*Version {
	if p := f.versions.Load(); p != nil {
		return *p
	}
	return nil
}

// Version returns version n, or nil.
func (f *Function) Version(n int) *Version {
	vs := f.Versions()
	if n < 1 || n > len(vs) {
		return nil
	}
	return vs[n-1]
}

// LatestVersion returns the newest version, or nil before the first publish.
func (f *Function) LatestVersion() *Version {
	vs := f.Versions()
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// Alias returns the named alias, or nil.
func (f *Function) Alias(name string) *Alias {
	if p := f.aliases.Load(); p != nil {
		return (*p)[name]
	}
	return nil
}

// Aliases returns the function's aliases by name.
func (f *Function) Aliases() []*Alias {
	p := f.aliases.Load()
	if p == nil {
		return nil
	}
	out := make([]*Alias, 0, len(*p))
	for _, a := range *p {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Errors callers tell apart (the Lambda API maps them to AWS error codes).
var (
	ErrFunctionNotFound = errors.New("function not found")
	ErrVersionNotFound  = errors.New("version not found")
	ErrAliasNotFound    = errors.New("alias not found")
	ErrInvalidRouting   = errors.New("invalid alias routing")
)

// Registry is every function the engine knows.
type Registry struct {
	db    *store.DB
	clock clock.Clock
	code  *codeStore

	mu  sync.Mutex // serialises writes
	fns atomic.Pointer[map[string]*Function]
}

// Open loads the registry from the store. Code snapshots live in codeDir.
func Open(db *store.DB, c clock.Clock, codeDir string) (*Registry, error) {
	r := &Registry{db: db, clock: c, code: &codeStore{dir: codeDir, db: db}}
	fns := map[string]*Function{}
	versions, err := db.Versions()
	if err != nil {
		return nil, fmt.Errorf("load versions: %w", err)
	}
	for _, rec := range versions {
		f := fns[rec.Function]
		if f == nil {
			f = &Function{Name: rec.Function}
			fns[rec.Function] = f
		}
		v := &Version{Function: rec.Function, Number: rec.Version, CodeDir: rec.CodeDir, CodeSHA256: rec.CodeSHA256,
			ConfigSHA256: rec.ConfigSHA256, Description: rec.Description, Created: rec.Created}
		if err := json.Unmarshal(rec.Config, &v.Config); err != nil {
			return nil, fmt.Errorf("version %d of %s has an unreadable config: %w", rec.Version, rec.Function, err)
		}
		vs := append(f.Versions(), v)
		if len(vs) != v.Number {
			return nil, fmt.Errorf("versions of %s are not numbered 1…n (found %d at position %d)", rec.Function, v.Number, len(vs))
		}
		f.versions.Store(&vs)
	}
	aliases, err := db.Aliases()
	if err != nil {
		return nil, fmt.Errorf("load aliases: %w", err)
	}
	for _, rec := range aliases {
		f := fns[rec.Function]
		if f == nil {
			return nil, fmt.Errorf("alias %s names function %s, which has no versions", rec.Name, rec.Function)
		}
		rt, err := routingOf(f, rec.Version, rec.AdditionalVersion, rec.AdditionalWeight)
		if err != nil {
			return nil, fmt.Errorf("alias %s of %s: %w", rec.Name, rec.Function, err)
		}
		a := &Alias{Function: f.Name, Name: rec.Name}
		a.routing.Store(rt)
		m := map[string]*Alias{}
		if p := f.aliases.Load(); p != nil {
			m = *p
		}
		m[a.Name] = a
		f.aliases.Store(&m)
	}
	r.fns.Store(&fns)
	return r, nil
}

// Function returns the named function, or nil.
func (r *Registry) Function(name string) *Function {
	return (*r.fns.Load())[name]
}

// Functions returns every function, by name.
func (r *Registry) Functions() []*Function {
	m := *r.fns.Load()
	out := make([]*Function, 0, len(m))
	for _, f := range m {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Code is an immutable snapshot of a service directory: what every function
// of the service runs (the framework packages one artifact for them all).
type Code struct {
	SHA256 string
	Dir    string
}

// Snapshot stores srcDir's current content as Code. Snapshot once and
// publish it for each function, rather than snapshotting per function.
func (r *Registry) Snapshot(srcDir string) (Code, error) {
	return r.SnapshotWith(srcDir, SnapshotOptions{})
}

// SnapshotWith stores the files of srcDir that opts select as Code.
func (r *Registry) SnapshotWith(srcDir string, opts SnapshotOptions) (Code, error) {
	t, err := r.code.snapshot(srcDir, opts)
	if err != nil {
		return Code{}, fmt.Errorf("snapshot %s: %w", srcDir, err)
	}
	return Code{SHA256: t.sha, Dir: t.dir}, nil
}

// SnapshotEach stores the files of srcDir that opts select once, as one
// tree, and returns a Code per key of aside. Each Code's Dir is that tree,
// but its identity (SHA256, which decides whether publishing makes a new
// version) leaves out the content of the files aside[key] names: another
// function's handler, in a service whose functions share one artifact, so
// that editing one function does not make new versions of the others.
// Until its own identity changes, a function keeps the version, and so
// the tree and the copies of those files, it had.
func (r *Registry) SnapshotEach(srcDir string, opts SnapshotOptions, aside map[string][]string) (map[string]Code, error) {
	entries, err := r.code.store(srcDir, opts)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", srcDir, err)
	}
	t, err := r.code.materialize(entries)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", srcDir, err)
	}
	codes := make(map[string]Code, len(aside))
	for key, paths := range aside {
		set := make(map[string]bool, len(paths))
		for _, p := range paths {
			set[p] = true
		}
		codes[key] = Code{SHA256: identity(entries, set), Dir: t.dir}
	}
	return codes, nil
}

// Publish snapshots srcDir and publishes it with cfg (see PublishCode).
func (r *Registry) Publish(function string, cfg Config, srcDir, description string) (v *Version, created bool, err error) {
	code, err := r.Snapshot(srcDir)
	if err != nil {
		return nil, false, err
	}
	return r.PublishCode(function, cfg, code, description)
}

// PublishCode publishes code with cfg as a new version of the function,
// creating the function on its first publish. Publishing code and
// configuration identical to the latest version returns that version and
// created=false, as Lambda's PublishVersion does.
func (r *Registry) PublishCode(function string, cfg Config, code Code, description string) (v *Version, created bool, err error) {
	tree := tree{sha: code.SHA256, dir: code.Dir}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, false, err
	}
	sum := sha256.Sum256(cfgJSON)
	cfgSHA := hex.EncodeToString(sum[:])

	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.Function(function)
	if f != nil {
		if latest := f.LatestVersion(); latest != nil && latest.CodeSHA256 == tree.sha && latest.ConfigSHA256 == cfgSHA {
			return latest, false, nil
		}
	}
	n := 1
	if f != nil {
		n = len(f.Versions()) + 1
	}
	v = &Version{Function: function, Number: n, Config: cfg, CodeDir: tree.dir, CodeSHA256: tree.sha,
		ConfigSHA256: cfgSHA, Description: description, Created: r.clock.Now()}
	err = r.db.Update(func(tx *store.Tx) error {
		return tx.PutVersion(store.VersionRecord{Function: function, Version: n, CodeSHA256: tree.sha, ConfigSHA256: cfgSHA,
			Config: cfgJSON, CodeDir: tree.dir, Description: description, Created: v.Created})
	})
	if err != nil {
		return nil, false, fmt.Errorf("record version %d of %s: %w", n, function, err)
	}
	if f == nil {
		f = &Function{Name: function}
		fns := r.copyFunctions()
		fns[function] = f
		r.fns.Store(&fns)
	}
	vs := append(append([]*Version(nil), f.Versions()...), v)
	f.versions.Store(&vs)
	return v, true, nil
}

func (r *Registry) copyFunctions() map[string]*Function {
	old := *r.fns.Load()
	m := make(map[string]*Function, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	return m
}

// SetAlias creates or updates an alias: version, plus additional with weight
// (additional 0 for none). also, when not nil, runs in the same transaction,
// so a caller can record why the alias moved (a deployment step) atomically
// with the move. The new routing is visible once the transaction commits.
func (r *Registry) SetAlias(function, name string, version, additional int, weight float64, also func(*store.Tx) error) (*Routing, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.Function(function)
	if f == nil {
		return nil, fmt.Errorf("%w: %s", ErrFunctionNotFound, function)
	}
	rt, err := routingOf(f, version, additional, weight)
	if err != nil {
		return nil, err
	}
	err = r.db.Update(func(tx *store.Tx) error {
		if err := tx.PutAlias(store.AliasRecord{Function: function, Name: name, Version: version,
			AdditionalVersion: additional, AdditionalWeight: weight, Updated: r.clock.Now()}); err != nil {
			return err
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record alias %s of %s: %w", name, function, err)
	}
	if a := f.Alias(name); a != nil {
		a.routing.Store(rt)
		return rt, nil
	}
	a := &Alias{Function: function, Name: name}
	a.routing.Store(rt)
	m := map[string]*Alias{}
	if p := f.aliases.Load(); p != nil {
		for k, v := range *p {
			m[k] = v
		}
	}
	m[name] = a
	f.aliases.Store(&m)
	return rt, nil
}

// routingOf checks an alias target against Lambda's rules.
func routingOf(f *Function, version, additional int, weight float64) (*Routing, error) {
	v := f.Version(version)
	if v == nil {
		return nil, fmt.Errorf("%w: %s has no version %d (an alias must name a published version, not $LATEST)", ErrVersionNotFound, f.Name, version)
	}
	rt := &Routing{Version: v}
	if additional == 0 {
		return rt, nil
	}
	if additional == version {
		return nil, fmt.Errorf("%w: the additional version must differ from the primary version %d", ErrInvalidRouting, version)
	}
	if weight < 0 || weight > 1 || weight != weight {
		return nil, fmt.Errorf("%w: weight %v is outside [0.0, 1.0]", ErrInvalidRouting, weight)
	}
	if rt.Additional = f.Version(additional); rt.Additional == nil {
		return nil, fmt.Errorf("%w: %s has no version %d", ErrVersionNotFound, f.Name, additional)
	}
	rt.Weight = weight
	return rt, nil
}

// Resolve finds what a qualifier names: an alias (its routing), a version
// number, or $LATEST / "" (the latest version).
func (f *Function) Resolve(qualifier string) (*Routing, *Alias, error) {
	switch qualifier {
	case "", Latest:
		if v := f.LatestVersion(); v != nil {
			return &Routing{Version: v}, nil, nil
		}
		return nil, nil, fmt.Errorf("%w: %s has no published version", ErrVersionNotFound, f.Name)
	}
	if n, err := strconv.Atoi(qualifier); err == nil {
		if v := f.Version(n); v != nil {
			return &Routing{Version: v}, nil, nil
		}
		return nil, nil, fmt.Errorf("%w: %s has no version %d", ErrVersionNotFound, f.Name, n)
	}
	if a := f.Alias(qualifier); a != nil {
		return a.Routing(), a, nil
	}
	return nil, nil, fmt.Errorf("%w: %s has no alias %s", ErrAliasNotFound, f.Name, qualifier)
}

// codeDirFor is where a tree's snapshot lives.
func codeDirFor(dir, sha string) string { return filepath.Join(dir, "trees", sha) }
