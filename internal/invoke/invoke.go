// Package invoke is the invocation path of the local engine: a function
// name and qualifier are resolved once to a Target, and each invocation
// then draws a version from the alias routing, runs it on that version's
// execution environments (runtime.Pool, created on first use) and records
// the AWS/Lambda metrics.
//
// The per-invocation path takes no lock shared between functions: the
// routing is an atomic load, pools and metric recorders are found in
// sync.Maps keyed by the *registry.Version (a pointer: nothing to hash or
// build), and a function's concurrency is one atomic counter.
package invoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/logs"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/runtime"
)

// Type is Lambda's invocation type (the X-Amz-Invocation-Type header).
type Type uint8

const (
	RequestResponse Type = iota // run now and wait for the result
	Event                       // queue, run asynchronously with Lambda's retries, return at once
	DryRun                      // only check that the function and qualifier exist
)

func (t Type) String() string {
	switch t {
	case Event:
		return "Event"
	case DryRun:
		return "DryRun"
	}
	return "RequestResponse"
}

// ParseType reads an X-Amz-Invocation-Type value; "" is RequestResponse.
func ParseType(s string) (Type, error) {
	switch s {
	case "", "RequestResponse":
		return RequestResponse, nil
	case "Event":
		return Event, nil
	case "DryRun":
		return DryRun, nil
	}
	return 0, fmt.Errorf("invocation type %q is not one of RequestResponse, Event or DryRun", s)
}

// Errors callers tell apart. Lookup failures wrap the registry's
// ErrFunctionNotFound, ErrVersionNotFound and ErrAliasNotFound.
var (
	// ErrThrottled: the function's concurrency limit is reached (429 TooManyRequestsException).
	ErrThrottled = runtime.ErrThrottled
	// ErrClosed: the invoker is shutting down.
	ErrClosed = errors.New("invoke: the engine is shutting down; the invocation was not run")
)

// DefaultConcurrency is the concurrency a function without
// reservedConcurrency may use: Lambda's default account limit.
const DefaultConcurrency = 1000

// DefaultEnvironmentIdleTimeout is how long an idle execution environment
// is kept. Lambda keeps one warm for minutes, at no cost to anyone's
// laptop; here each holds a process and tens to hundreds of MB, so idle
// ones go sooner (the next request has a cold start, as on Lambda).
const DefaultEnvironmentIdleTimeout = 2 * time.Minute

// Options configure an Invoker.
type Options struct {
	Registry *registry.Registry
	// Metrics receives the AWS/Lambda datapoints; nil records nothing.
	Metrics *metrics.Store
	// Logs receives function output; nil discards it.
	Logs *logs.Store
	// Clock times asynchronous retries and stamps logs (default clock.Real()).
	Clock clock.Clock
	// RuntimeDir is where the runtimes' bootstraps are written (see runtime.Options).
	RuntimeDir string
	// Region and Account are the ones in ARNs and AWS_REGION (defaults
	// us-east-1 and 000000000000).
	Region, Account string
	// Environment is added to every function's configured environment
	// (which wins on a clash): AWS_ENDPOINT_URL and credentials, so that
	// SDK clients inside functions reach the engine.
	Environment map[string]string
	// DefaultConcurrency caps functions without reserved concurrency
	// (default DefaultConcurrency).
	DefaultConcurrency int
	// EnvironmentIdleTimeout stops execution environments idle this long
	// (real time; default DefaultEnvironmentIdleTimeout).
	EnvironmentIdleTimeout time.Duration
	// PoolIdleTimeout closes the pool of a version that no alias points at
	// and that is not the latest, once it has run nothing for this long
	// (real time; default 1 minute).
	PoolIdleTimeout time.Duration
	// MaxEnvironments caps the execution environments of all functions
	// together (runtime.EnvironmentCap); 0 means Lambda's unbounded scale-out.
	MaxEnvironments int
	// StopGrace is how long a stopping environment gets after SIGTERM (default 2s).
	StopGrace time.Duration
	Logger    *slog.Logger
}

// Settings are the per-function settings the invoker honours.
type Settings struct {
	// ReservedConcurrency caps the function's concurrent invocations; nil
	// means Options.DefaultConcurrency. It takes effect for the function's
	// pools created after it is set.
	ReservedConcurrency *int
	// MaximumRetryAttempts is how often a failed asynchronous invocation is
	// retried (0–2); nil means Lambda's default of 2.
	MaximumRetryAttempts *int
	// MaximumEventAge is how long an asynchronous event is kept while it
	// cannot run (throttled); 0 means Lambda's default of 6 hours.
	MaximumEventAge time.Duration
}

// Invoker runs invocations. It is safe for concurrent use.
type Invoker struct {
	opts Options
	reg  *registry.Registry
	log  *slog.Logger

	targets  sync.Map // targetKey → *Target
	pools    sync.Map // *registry.Version → *versionPool
	limiters sync.Map // function name → *runtime.Limiter
	settings sync.Map // function name → Settings
	poolMu   sync.Mutex

	envCap *runtime.EnvironmentCap // nil: unbounded

	closing   chan struct{}
	closed    atomic.Bool
	async     sync.WaitGroup // asynchronous invocations not yet finished
	reaper    *time.Timer
	reapMu    sync.Mutex
	stopReaps bool
	reaped    atomic.Int64 // pools closed by the reaper
}

type targetKey struct{ function, qualifier string }

// versionPool is a version's pool plus what the reaper needs to know.
type versionPool struct {
	v        *registry.Version
	pool     *runtime.Pool
	limiter  *runtime.Limiter
	seen     uint64 // invocations counted at the last reap
	idleFrom time.Time
}

// New returns an invoker; no process starts before the first invocation.
func New(opts Options) *Invoker {
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.Region == "" {
		opts.Region = runtime.DefaultRegion
	}
	if opts.Account == "" {
		opts.Account = runtime.DefaultAccount
	}
	if opts.DefaultConcurrency <= 0 {
		opts.DefaultConcurrency = DefaultConcurrency
	}
	if opts.EnvironmentIdleTimeout <= 0 {
		opts.EnvironmentIdleTimeout = DefaultEnvironmentIdleTimeout
	}
	if opts.PoolIdleTimeout <= 0 {
		opts.PoolIdleTimeout = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	iv := &Invoker{opts: opts, reg: opts.Registry, log: opts.Logger, closing: make(chan struct{}),
		envCap: runtime.NewEnvironmentCap(opts.MaxEnvironments, 0, 0)}
	iv.reapMu.Lock() // reap reads iv.reaper under reapMu: it may fire before this returns
	iv.reaper = time.AfterFunc(opts.PoolIdleTimeout/2, iv.reap)
	iv.reapMu.Unlock()
	return iv
}

// Configure sets a function's settings.
func (iv *Invoker) Configure(function string, s Settings) { iv.settings.Store(function, s) }

func (iv *Invoker) settingsOf(function string) Settings {
	if s, ok := iv.settings.Load(function); ok {
		return s.(Settings)
	}
	return Settings{}
}

// ARN is the function's ARN, qualified when qualifier is not empty.
func (iv *Invoker) ARN(function, qualifier string) string {
	arn := "arn:aws:lambda:" + iv.opts.Region + ":" + iv.opts.Account + ":function:" + function
	if qualifier != "" {
		arn += ":" + qualifier
	}
	return arn
}

// Region and Account are what ARNs are built with.
func (iv *Invoker) Region() string  { return iv.opts.Region }
func (iv *Invoker) Account() string { return iv.opts.Account }

// Target resolves a function and a qualifier (an alias, a version number,
// $LATEST, or "" for unqualified) once; invoke the result as often as
// needed. Targets are cached: the same pair returns the same Target. An
// alias target follows the alias as it moves.
func (iv *Invoker) Target(function, qualifier string) (*Target, error) {
	key := targetKey{function, qualifier}
	if t, ok := iv.targets.Load(key); ok {
		return t.(*Target), nil
	}
	fn := iv.reg.Function(function)
	if fn == nil {
		return nil, fmt.Errorf("%w: %s", registry.ErrFunctionNotFound, function)
	}
	_, alias, err := fn.Resolve(qualifier)
	if err != nil {
		return nil, err
	}
	t := &Target{iv: iv, fn: fn, qualifier: qualifier, alias: alias, arn: iv.ARN(function, qualifier)}
	if qualifier != "" {
		// Lambda's Resource dimension: the alias or version invoked.
		t.resource = function + ":" + qualifier
	}
	if alias == nil && qualifier != "" && qualifier != registry.Latest {
		rt, _, _ := fn.Resolve(qualifier) // a version number: fixed for ever
		t.version = rt.Version
	}
	actual, _ := iv.targets.LoadOrStore(key, t)
	return actual.(*Target), nil
}

// Target is a resolved function and qualifier.
type Target struct {
	iv        *Invoker
	fn        *registry.Function
	qualifier string
	alias     *registry.Alias   // set for an alias
	version   *registry.Version // set for a version number
	resource  string            // the Resource dimension: "" when unqualified
	arn       string            // the invoked function ARN
	recorders sync.Map          // *registry.Version → *metrics.InvocationRecorder
}

// Function is the function's name.
func (t *Target) Function() string { return t.fn.Name }

// Qualifier is the qualifier the target was resolved with.
func (t *Target) Qualifier() string { return t.qualifier }

// Alias is the alias the target routes through, or nil.
func (t *Target) Alias() *registry.Alias { return t.alias }

// Pick draws the version the next invocation runs.
func (t *Target) Pick() (*registry.Version, error) {
	switch {
	case t.alias != nil:
		return t.alias.Routing().Pick(), nil
	case t.version != nil:
		return t.version, nil
	}
	if v := t.fn.LatestVersion(); v != nil {
		return v, nil
	}
	return nil, fmt.Errorf("%w: %s has no published version", registry.ErrVersionNotFound, t.fn.Name)
}

// Request is one invocation's input.
type Request struct {
	Payload []byte // a JSON document; nil means {}
	// RequestID is the invocation's id; empty means a new one.
	RequestID     string
	ClientContext string // base64-decoded X-Amz-Client-Context
}

// Invoke runs one synchronous invocation and waits for it. A function
// error is a Result with FunctionError set; the error is non-nil only when
// the invocation could not run: ErrThrottled, ErrClosed, ctx's error, or a
// failure to start an environment.
func (t *Target) Invoke(ctx context.Context, req Request) (runtime.Result, error) {
	v, err := t.Pick()
	if err != nil {
		return runtime.Result{}, err
	}
	return t.run(ctx, v, req)
}

// run invokes version v and records the metrics.
func (t *Target) run(ctx context.Context, v *registry.Version, req Request) (runtime.Result, error) {
	iv := t.iv
	inv := runtime.Invocation{RequestID: req.RequestID, Payload: req.Payload, InvokedFunctionARN: t.arn, ClientContext: req.ClientContext}
	for {
		if iv.closed.Load() {
			return runtime.Result{}, ErrClosed
		}
		vp, err := iv.poolFor(v)
		if err != nil {
			return runtime.Result{}, err
		}
		res, err := vp.pool.Invoke(ctx, inv)
		if errors.Is(err, runtime.ErrPoolClosed) {
			// The reaper closed this version's pool between our lookup and
			// the call: make a new one rather than fail the request.
			continue
		}
		if rec := t.recorder(v); rec != nil {
			switch {
			case errors.Is(err, runtime.ErrThrottled):
				rec.Record(metrics.Invocation{Throttled: true})
			case err == nil:
				rec.Record(metrics.Invocation{Duration: res.Duration, Error: res.Failed(), Concurrency: vp.limiter.InUse() + 1})
			}
		}
		return res, err
	}
}

// recorder is the metrics recorder for invocations of t that ran v.
func (t *Target) recorder(v *registry.Version) *metrics.InvocationRecorder {
	if t.iv.opts.Metrics == nil {
		return nil
	}
	if r, ok := t.recorders.Load(v); ok {
		return r.(*metrics.InvocationRecorder)
	}
	r, err := t.iv.opts.Metrics.InvocationRecorder(t.fn.Name, t.resource, v.Qualifier())
	if err != nil {
		t.iv.log.Error("cannot record metrics", "function", t.fn.Name, "resource", t.resource, "err", err)
		return nil
	}
	t.recorders.Store(v, r)
	return r
}

// Check reports whether the target can be invoked (DryRun).
func (t *Target) Check() error {
	_, err := t.Pick()
	return err
}

// Prepare creates the pool of version v without starting a process: the
// checks of its configuration (runtime, handler path, environment) run
// now, so a broken function is reported when the engine starts rather
// than at its first request.
func (iv *Invoker) Prepare(v *registry.Version) error {
	_, err := iv.poolFor(v)
	return err
}

// Check runs the checks Prepare runs (runtime, handler path, environment)
// on code not yet published ($LATEST): cfg over the code in codeDir.
// Nothing is created.
func (iv *Invoker) Check(function string, cfg registry.Config, codeDir string) error {
	_, err := iv.newPool(&registry.Version{Function: function, Config: cfg, CodeDir: codeDir}, nil)
	return err
}

// newPool makes v's pool, whose processes share the function's limiter
// lim; no process starts.
func (iv *Invoker) newPool(v *registry.Version, lim *runtime.Limiter) (*runtime.Pool, error) {
	env := make(map[string]string, len(iv.opts.Environment)+len(v.Config.Environment))
	for k, val := range iv.opts.Environment {
		env[k] = val
	}
	for k, val := range v.Config.Environment {
		env[k] = val
	}
	version := v.Qualifier()
	if v.Number == 0 {
		version = registry.Latest // not published yet
	}
	return runtime.NewPool(runtime.Spec{
		Function:    v.Function,
		Version:     version,
		Runtime:     v.Config.Runtime,
		Handler:     v.Config.Handler,
		CodeDir:     v.CodeDir,
		MemoryMB:    v.Config.MemorySize,
		Timeout:     v.Config.Timeout,
		Region:      iv.opts.Region,
		Account:     iv.opts.Account,
		Environment: env,
	}, runtime.Options{
		Clock:        iv.opts.Clock,
		Logs:         iv.opts.Logs,
		RuntimeDir:   iv.opts.RuntimeDir,
		Limiter:      lim,
		Environments: iv.envCap,
		IdleTimeout:  iv.opts.EnvironmentIdleTimeout,
		StopGrace:    iv.opts.StopGrace,
		Logger:       iv.log,
	})
}

// poolFor returns v's pool, creating it on first use.
func (iv *Invoker) poolFor(v *registry.Version) (*versionPool, error) {
	if p, ok := iv.pools.Load(v); ok {
		return p.(*versionPool), nil
	}
	iv.poolMu.Lock()
	defer iv.poolMu.Unlock()
	if p, ok := iv.pools.Load(v); ok {
		return p.(*versionPool), nil
	}
	if iv.closed.Load() {
		return nil, ErrClosed
	}
	lim := iv.limiter(v.Function)
	pool, err := iv.newPool(v, lim)
	if err != nil {
		return nil, err
	}
	vp := &versionPool{v: v, pool: pool, limiter: lim, idleFrom: time.Now()}
	iv.pools.Store(v, vp)
	return vp, nil
}

// limiter is the function's concurrency limiter, shared by its versions.
func (iv *Invoker) limiter(function string) *runtime.Limiter {
	if l, ok := iv.limiters.Load(function); ok {
		return l.(*runtime.Limiter)
	}
	limit := iv.opts.DefaultConcurrency
	if rc := iv.settingsOf(function).ReservedConcurrency; rc != nil {
		limit = *rc
	}
	l, _ := iv.limiters.LoadOrStore(function, runtime.NewLimiter(limit))
	return l.(*runtime.Limiter)
}

// EnvironmentStats reports the use of the cap on environments (zero when
// there is none).
func (iv *Invoker) EnvironmentStats() runtime.CapStats { return iv.envCap.Stats() }

// VersionStats describes one version's pool.
type VersionStats struct {
	Function string
	Version  int
	runtime.Stats
}

// Stats lists the pools that exist, by function and version.
func (iv *Invoker) Stats() []VersionStats {
	var out []VersionStats
	iv.pools.Range(func(_, p any) bool {
		vp := p.(*versionPool)
		out = append(out, VersionStats{Function: vp.v.Function, Version: vp.v.Number, Stats: vp.pool.Stats()})
		return true
	})
	sortStats(out)
	return out
}

// reap closes the pools of versions nothing routes to any more once they
// have been idle for PoolIdleTimeout. It runs on real time, like the
// environments' idle timeout: it frees processes, not schedule.
func (iv *Invoker) reap() {
	now := time.Now()
	iv.pools.Range(func(k, p any) bool {
		vp := p.(*versionPool)
		n := vp.pool.Stats().Invocations
		if n != vp.seen {
			vp.seen, vp.idleFrom = n, now
			return true
		}
		if now.Sub(vp.idleFrom) < iv.opts.PoolIdleTimeout || iv.referenced(vp.v) {
			return true
		}
		iv.pools.Delete(k)
		iv.reaped.Add(1)
		go func() {
			// Close drains anything that got in before the delete; later
			// callers find no pool and make a new one.
			ctx, cancel := context.WithTimeout(context.Background(), vp.v.Config.Timeout+10*time.Second)
			defer cancel()
			if err := vp.pool.Close(ctx); err != nil {
				iv.log.Warn("closing an unused version's environments", "function", vp.v.Function, "version", vp.v.Number, "err", err)
			}
		}()
		return true
	})
	iv.reapMu.Lock()
	if !iv.stopReaps {
		iv.reaper.Reset(iv.opts.PoolIdleTimeout / 2)
	}
	iv.reapMu.Unlock()
}

// referenced reports whether v is its function's latest version or an
// alias routes to it.
func (iv *Invoker) referenced(v *registry.Version) bool {
	fn := iv.reg.Function(v.Function)
	if fn == nil {
		return false
	}
	if fn.LatestVersion() == v {
		return true
	}
	for _, a := range fn.Aliases() {
		if rt := a.Routing(); rt.Version == v || rt.Additional == v {
			return true
		}
	}
	return false
}

// Close stops accepting invocations, drops asynchronous events still
// waiting for a retry, waits for running invocations (or for ctx: they are
// then killed) and stops every environment.
func (iv *Invoker) Close(ctx context.Context) error {
	if !iv.closed.CompareAndSwap(false, true) {
		return nil
	}
	iv.reapMu.Lock()
	iv.stopReaps = true
	iv.reaper.Stop()
	iv.reapMu.Unlock()
	close(iv.closing)
	// A barrier: a pool being created finishes before Close goes on, and
	// none is created after (poolFor checks closed under poolMu).
	iv.poolMu.Lock()
	//lint:ignore SA2001 the empty critical section is the barrier
	iv.poolMu.Unlock()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	iv.pools.Range(func(k, p any) bool {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.(*versionPool).pool.Close(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
		return true
	})
	wg.Wait()
	done := make(chan struct{})
	go func() { iv.async.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("asynchronous invocations still running: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}
