package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/logs"
)

// ErrPoolClosed is returned by Invoke once Close has begun.
var ErrPoolClosed = errors.New("runtime: the function version's pool is closed (the version was replaced or the engine is stopping)")

// Options are what a Pool needs besides the Spec.
type Options struct {
	// Clock stamps log events and names log streams (default clock.Real()).
	// Timeouts and durations are always real time: a process runs as fast as it runs.
	Clock clock.Clock
	// Logs receives the functions' output and START/END/REPORT lines; nil discards them.
	Logs *logs.Store
	// RuntimeDir is where the Node.js and Python bootstraps are written
	// (LAMBDA_RUNTIME_DIR; default <os temp dir>/sluice-runtime).
	RuntimeDir string
	// Limiter caps concurrent invocations across all versions of the
	// function; nil means no limit. See Limiter.
	Limiter *Limiter
	// Environments caps the environments of every pool that shares it (see
	// EnvironmentCap); nil means Lambda's unbounded scale-out.
	Environments *EnvironmentCap
	// IdleTimeout stops environments left idle this long (real time); 0 keeps them until Close.
	IdleTimeout time.Duration
	// StopGrace is how long Close waits after SIGTERM before SIGKILL (default 2s).
	StopGrace time.Duration
	// InitTimeout bounds initialization, from process start to the runtime's
	// first request for an event (default 10s, Lambda's init limit).
	InitTimeout time.Duration
	// Logger receives operational messages (default slog.Default()).
	Logger *slog.Logger
}

// Invocation is one request to run the function.
type Invocation struct {
	// RequestID identifies the invocation; empty means a new random UUID.
	RequestID string
	// Payload is the event, a JSON document; nil means {}.
	Payload []byte
	// InvokedFunctionARN is the ARN the caller invoked (e.g. alias-qualified);
	// empty means the version's ARN.
	InvokedFunctionARN string
	// TraceID is the X-Ray trace header; empty means a new unsampled one.
	TraceID string
	// ClientContext and CognitoIdentity are JSON documents (decoded, not the
	// base64 of X-Amz-Client-Context) passed on to the runtime as Lambda
	// passes them from mobile SDK calls; empty means none.
	ClientContext   string
	CognitoIdentity string
}

// Result is how an invocation ended. A function error (the handler failed,
// timed out, crashed, could not initialize) is a Result with FunctionError
// set, never a Go error: that is how Lambda reports it too.
type Result struct {
	RequestID string
	// Payload is the handler's response, or the error document
	// ({"errorType":…,"errorMessage":…,…}) when FunctionError is set.
	Payload []byte
	// FunctionError is what Lambda's X-Amz-Function-Error header carries:
	// "" on success, "Unhandled" on any failure.
	FunctionError string
	// ErrorType names the failure: the handler's error type ("Error",
	// "ValueError", …), a runtime's ("Runtime.ImportModuleError", …) or
	// sluice's (ErrorTypeTimeout, ErrorTypeExit, …). "" on success.
	ErrorType string
	// Duration is the invocation's run time; BilledDuration rounds it up to
	// the millisecond and, on a cold start, adds InitDuration (Lambda bills
	// initialization since August 2025).
	Duration, BilledDuration time.Duration
	// InitDuration is how long the environment took to initialize (cold starts only).
	InitDuration time.Duration
	// ColdStart tells that a new environment was started for this invocation.
	ColdStart bool
	// MaxMemoryUsedMB is the environment process's peak resident memory.
	MaxMemoryUsedMB int
	// MemorySizeMB is the configured memory.
	MemorySizeMB int
	// ExecutedVersion is the version that ran (X-Amz-Executed-Version).
	ExecutedVersion string
	// LogStream is the log stream of the environment that ran it.
	LogStream string
}

// Failed reports whether the invocation ended in a function error.
func (r Result) Failed() bool { return r.FunctionError != "" }

// Stats is a snapshot of a pool.
type Stats struct {
	Environments int    // running environments, busy or idle
	Idle         int    // environments waiting for an invocation
	Invocations  uint64 // invocations run (cold or warm)
	ColdStarts   uint64 // environments started for an invocation
	Throttles    uint64 // invocations refused by the Limiter
}

// Pool runs the invocations of one function version. It starts execution
// environments on demand, one per concurrent invocation, and reuses idle
// warm ones (the most recently used first, so surplus ones age out).
type Pool struct {
	spec  Spec
	opts  Options
	clock clock.Clock
	log   *slog.Logger
	argv  []string // the runtime program and its arguments
	// unixSocket: the runtime is one of sluice's bootstraps, which reach the
	// Runtime API over a Unix socket.
	unixSocket bool
	env        []string // environment shared by all environments, sorted
	arn        string

	mu          sync.Mutex
	idle        []*env            // oldest first; taken from the end
	live        map[*env]struct{} // every environment not yet stopped
	closed      bool
	closing     chan struct{} // closed when Close finishes
	reaperArmed bool
	inflight    sync.WaitGroup // Invoke calls past the closed check
	bg          sync.WaitGroup // environments being stopped in the background

	invocations, coldStarts, throttles atomic.Uint64

	// observeState, when set (by tests, before the first Invoke), sees
	// every state change of the pool's environments (see setState).
	observeState func(e *env, from, to envState)
}

// NewPool checks spec and prepares to run it; no process starts until the
// first Invoke.
func NewPool(spec Spec, opts Options) (*Pool, error) {
	spec, fam, err := spec.normalize()
	if err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	if opts.RuntimeDir == "" {
		opts.RuntimeDir = filepath.Join(os.TempDir(), "sluice-runtime")
	}
	if opts.StopGrace <= 0 {
		opts.StopGrace = 2 * time.Second
	}
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Pool{
		spec:    spec,
		opts:    opts,
		clock:   opts.Clock,
		log:     opts.Logger.With("function", spec.Function, "version", spec.Version),
		arn:     spec.ARN(),
		live:    make(map[*env]struct{}),
		closing: make(chan struct{}),
	}
	var interpreterDir, runtimeDir string
	switch fam {
	case familyNode, familyPython:
		runtimeDir, err = installBootstraps(opts.RuntimeDir)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", spec.Function, err)
		}
		interp, err := findInterpreter(fam, spec.Runtime)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", spec.Function, err)
		}
		interpreterDir = filepath.Dir(interp)
		script := nodeBootstrap
		if fam == familyPython {
			script = pythonBootstrap
		}
		p.argv = []string{interp, filepath.Join(runtimeDir, script)}
		if fam == familyNode {
			// memorySize bounds the JavaScript heap, as Lambda's Node.js
			// runtime does (90% of it: the rest is node itself).
			p.argv = []string{interp, "--max-old-space-size=" + itoa(spec.MemoryMB*9/10), filepath.Join(runtimeDir, script)}
		}
		p.unixSocket = true
	case familyProvided:
		// Lambda's custom runtimes have no runtime directory of their own.
		runtimeDir = spec.CodeDir
		p.argv = []string{filepath.Join(spec.CodeDir, "bootstrap")}
	}
	p.env = spec.environ(runtimeDir, interpreterDir)
	if opts.Environments != nil {
		opts.Environments.register(p)
	}
	return p, nil
}

// findInterpreter finds node, or python3.N (falling back to python3), on
// sluice's PATH and asks it for its real executable: version managers
// (pyenv, asdf, …) put shell-script shims on PATH that do not work in
// Lambda's minimal environment, or not for every version.
func findInterpreter(fam family, runtimeID string) (string, error) {
	candidates, flag, probe := []string{"node"}, "-e", "process.stdout.write(process.execPath)"
	if fam == familyPython {
		candidates, flag, probe = []string{runtimeID, "python3"}, "-c", "import sys; sys.stdout.write(sys.executable)"
	}
	interpMu.Lock()
	defer interpMu.Unlock()
	if p, ok := interpreters[runtimeID]; ok {
		return p, nil
	}
	var errs []error
	for _, name := range candidates {
		path, err := exec.LookPath(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out, err := exec.Command(path, flag, probe).Output()
		if err != nil || len(out) == 0 {
			errs = append(errs, fmt.Errorf("%s does not run: %v", path, err))
			continue
		}
		interpreters[runtimeID] = string(out)
		return string(out), nil
	}
	what := "Node.js"
	if fam == familyPython {
		what = "Python 3"
	}
	return "", fmt.Errorf("runtime %s needs `%s` on PATH: install %s (%w)", runtimeID, candidates[len(candidates)-1], what, errors.Join(errs...))
}

var (
	interpMu     sync.Mutex
	interpreters = map[string]string{} // runtime id → real executable
)

// Spec is the normalized spec the pool runs (defaults filled in).
func (p *Pool) Spec() Spec { return p.spec }

// Stats reports the pool's environments and counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	s := Stats{Environments: len(p.live), Idle: len(p.idle)}
	p.mu.Unlock()
	s.Invocations = p.invocations.Load()
	s.ColdStarts = p.coldStarts.Load()
	s.Throttles = p.throttles.Load()
	return s
}

// Invoke runs one invocation on an idle environment, or on a new one when
// none is idle, and waits for it to end. Like a Lambda invocation it runs to
// completion or to the function timeout once it has started: ctx only
// bounds the wait for a new environment to initialize. The error is non-nil
// only when the invocation could not run at all: ErrThrottled,
// ErrPoolClosed, ctx's error, or a failure to set up an environment.
func (p *Pool) Invoke(ctx context.Context, inv Invocation) (Result, error) {
	if !p.opts.Limiter.TryAcquire() {
		p.throttles.Add(1)
		return Result{}, ErrThrottled
	}
	defer p.opts.Limiter.Release()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	e, err := p.acquire()
	if err != nil {
		return Result{}, err
	}
	defer p.inflight.Done()
	p.invocations.Add(1)

	if inv.RequestID == "" {
		inv.RequestID = NewRequestID()
	}
	if inv.TraceID == "" {
		inv.TraceID = newTraceID(p.clock.Now())
	}
	if inv.InvokedFunctionARN == "" {
		inv.InvokedFunctionARN = p.arn
	}
	if inv.Payload == nil {
		inv.Payload = emptyEvent
	}
	res := Result{RequestID: inv.RequestID, ExecutedVersion: p.spec.Version, MemorySizeMB: p.spec.MemoryMB}
	for {
		if e == nil {
			if e, err = p.coldStart(ctx, &res); err != nil || e == nil {
				return res, err // e == nil: initialization failed and res says how
			}
		}
		dispatched, reusable := e.invoke(&inv, &res)
		if !dispatched {
			// It died while idle, before taking the event: try another.
			p.discard(e)
			e = p.takeIdle()
			continue
		}
		if reusable {
			p.release(e)
		} else {
			p.discard(e)
		}
		return res, nil
	}
}

var emptyEvent = []byte("{}")

// acquire registers an in-flight invocation and takes an idle environment if any.
func (p *Pool) acquire() (*env, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	p.inflight.Add(1)
	return p.takeIdleLocked(), nil
}

// liveCount is how many environments the pool runs, busy or idle.
func (p *Pool) liveCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}

func (p *Pool) takeIdle() *env {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.takeIdleLocked()
}

func (p *Pool) takeIdleLocked() *env {
	for n := len(p.idle); n > 0; n = len(p.idle) {
		e := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if !e.dead() && e.setState(stateBusy) == nil {
			return e
		}
		p.discardLocked(e)
	}
	return nil
}

// release makes e available for the next invocation.
func (p *Pool) release(e *env) {
	p.mu.Lock()
	if e.setState(stateIdle) != nil {
		p.discardLocked(e)
		p.mu.Unlock()
		return
	}
	e.idleSince = time.Now()
	p.idle = append(p.idle, e)
	if p.opts.IdleTimeout > 0 && !p.reaperArmed && !p.closed {
		p.reaperArmed = true
		time.AfterFunc(p.opts.IdleTimeout, p.reap)
	}
	p.mu.Unlock()
	if p.opts.Environments != nil {
		p.opts.Environments.idle(p)
	}
}

// discard stops e in the background.
func (p *Pool) discard(e *env) {
	p.mu.Lock()
	p.discardLocked(e)
	p.mu.Unlock()
}

func (p *Pool) discardLocked(e *env) {
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		e.stop(0)
		p.mu.Lock()
		delete(p.live, e)
		p.mu.Unlock()
	}()
}

// reap stops environments idle for IdleTimeout and re-arms for the next.
func (p *Pool) reap() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reaperArmed = false
	if p.closed {
		return
	}
	now := time.Now()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].idleSince) >= p.opts.IdleTimeout {
		p.discardLocked(p.idle[n])
		n++
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	if len(p.idle) > 0 {
		p.reaperArmed = true
		time.AfterFunc(p.idle[0].idleSince.Add(p.opts.IdleTimeout).Sub(now), p.reap)
	}
}

// Close refuses new invocations, waits for those in flight to finish (or for
// ctx: then they are killed and end as Runtime.ExitError), and stops every
// environment: SIGTERM, then SIGKILL after StopGrace. Their log streams are
// complete when Close returns. Close may be called more than once.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.closing
		return nil
	}
	p.closed = true
	p.mu.Unlock()

	drained := make(chan struct{})
	go func() {
		p.inflight.Wait()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = fmt.Errorf("close %s:%s: in-flight invocations killed: %w", p.spec.Function, p.spec.Version, ctx.Err())
		for _, e := range p.liveEnvs() {
			e.kill()
		}
		<-drained
	}
	var wg sync.WaitGroup
	for _, e := range p.liveEnvs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.stop(p.opts.StopGrace)
		}()
	}
	wg.Wait()
	p.bg.Wait()
	p.mu.Lock()
	p.idle = nil
	clear(p.live)
	p.mu.Unlock()
	if p.opts.Environments != nil {
		p.opts.Environments.unregister(p)
	}
	close(p.closing)
	return err
}

func (p *Pool) liveEnvs() []*env {
	p.mu.Lock()
	defer p.mu.Unlock()
	envs := make([]*env, 0, len(p.live))
	for e := range p.live {
		envs = append(envs, e)
	}
	return envs
}

// coldStart starts an environment and waits for it to initialize. If
// initialization fails it returns a nil env and fills res the way Lambda
// reports the failure.
func (p *Pool) coldStart(ctx context.Context, res *Result) (*env, error) {
	capped := p.opts.Environments != nil
	if capped {
		idle, err := p.opts.Environments.reserve(ctx, p)
		if err != nil {
			if errors.Is(err, ErrThrottled) {
				p.throttles.Add(1)
			}
			return nil, err
		}
		if idle != nil {
			return idle, nil // one of ours came idle while waiting: no cold start
		}
	}
	// A client that gave up while queued gets no process forked for it.
	if err := ctx.Err(); err != nil {
		if capped {
			p.opts.Environments.free()
		}
		return nil, err
	}
	p.coldStarts.Add(1)
	res.ColdStart = true
	e, err := p.startEnv()
	if capped {
		if e != nil {
			e.holdsSlot.Store(true)
		} else {
			p.opts.Environments.free() // nothing was started
		}
	}
	var se *startError
	if errors.As(err, &se) {
		p.failInit(e, res, ErrorTypeInvalidEntrypoint, errorJSON(ErrorTypeInvalidEntrypoint,
			"RequestId: "+res.RequestID+" Error: "+se.Error()), 0, "error")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("start an environment for %s:%s: %w", p.spec.Function, p.spec.Version, err)
	}
	p.mu.Lock()
	p.live[e] = struct{}{}
	p.mu.Unlock()

	initTimer := time.NewTimer(p.opts.InitTimeout)
	defer initTimer.Stop()
	select {
	case <-e.ready:
		res.InitDuration = e.readyAt.Sub(e.startedAt)
		if err := e.setState(stateBusy); err != nil {
			p.discard(e)
			return nil, err
		}
		return e, nil
	case <-e.initFailed:
		p.failInit(e, res, e.initFailure.errorType, e.initFailure.payload, time.Since(e.startedAt), "error")
	case <-e.exited:
		et := e.exitErrorType()
		p.failInit(e, res, et, errorJSON(et,
			"RequestId: "+res.RequestID+" Error: "+e.exitMessage()), time.Since(e.startedAt), "error")
	case <-initTimer.C:
		e.kill()
		p.failInit(e, res, ErrorTypeTimeout, errorJSON(ErrorTypeTimeout,
			timeoutMessage(p.clock.Now(), res.RequestID, p.opts.InitTimeout)), p.opts.InitTimeout, "timeout")
	case <-ctx.Done():
		p.discard(e)
		return nil, ctx.Err()
	}
	return nil, nil
}

// failInit fills res for a failed initialization, logs it as Lambda does
// (INIT_REPORT, START, END, REPORT with the error) and discards e.
func (p *Pool) failInit(e *env, res *Result, errorType string, payload []byte, initDur time.Duration, status string) {
	res.FunctionError = FunctionErrorUnhandled
	res.ErrorType = errorType
	res.Payload = payload
	res.InitDuration = initDur
	res.BilledDuration = billed(initDur)
	res.LogStream = e.stream
	if e.pid != 0 {
		res.MaxMemoryUsedMB = e.peakMemoryMB(time.Now())
		e.kill()
	}
	var b []byte
	b = appendInitReport(b, initDur, status, errorType)
	b = append(b, '\n')
	b = appendStart(b, res.RequestID, p.spec.Version)
	b = append(b, '\n')
	b = appendEnd(b, res.RequestID)
	b = append(b, '\n')
	b = appendReport(b, res, status, errorType)
	b = append(b, '\n')
	e.out.finish(b)
	if e.pid == 0 {
		// Never started: only the log pipe is open.
		e.stop(0)
		return
	}
	p.discard(e)
}

// ErrorMessage extracts errorMessage from an error payload ("" if absent).
func ErrorMessage(payload []byte) string {
	var v struct {
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal(payload, &v)
	return v.ErrorMessage
}
