package runtime

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/internal/logs"
)

// env is one execution environment: one function process and the Runtime
// API endpoint that only it talks to. It runs one invocation at a time.
//
// Each environment has its own endpoint. sluice's own Node.js and Python
// bootstraps reach it over a Unix socket in a directory only this user can
// enter (mode 0700, the socket 0600): no other user can connect, and it
// saves the loopback TCP work on every invocation. Custom runtimes build
// their URLs as "http://"+AWS_LAMBDA_RUNTIME_API+"/2018-06-01/…", so they get
// a listener on 127.0.0.1. On both, a connection is accepted only from the
// environment's own process group (see peerInGroup): any other local process
// that finds the endpoint is turned away before it can ask for an event.
type env struct {
	pool    *Pool
	stream  string
	pid     int
	cmd     *exec.Cmd
	ln      net.Listener
	sockDir string // the Unix socket's private directory ("" for TCP)
	srv     *http.Server
	refused atomic.Int64 // connections from outside the environment's process group
	// holdsSlot: the environment counts against the pool's EnvironmentCap;
	// stopping it frees the slot unless an eviction moved it first.
	holdsSlot atomic.Bool
	cg        *memCgroup // nil where cgroups cannot be made
	mem       *memStat

	out  *output // the function's stdout+stderr and sluice's platform lines
	line []byte  // the invoking goroutine's buffer for platform lines

	conns   chan *rconn           // the runtime's parked connection (at most one)
	driving atomic.Pointer[rconn] // the connection the invoking goroutine is reading
	results chan outcome          // results that arrived on other connections
	cur     atomic.Pointer[call]  // the invocation in progress
	c       call                  // the one call struct, reused: one invocation at a time
	timer   *time.Timer           // for the rare waits not bounded by a connection deadline

	startedAt   time.Time
	readyAt     time.Time // set before ready is closed
	ready       chan struct{}
	readyOnce   sync.Once
	initFailure outcome // set before initFailed is closed
	initFailed  chan struct{}
	initOnce    sync.Once
	exitErr     error // set before exited is closed
	maxRSSKB    int   // peak memory from the exit status, set before exited is closed
	exited      chan struct{}
	stopping    chan struct{}
	stopOnce    sync.Once
	idleSince   time.Time // guarded by pool.mu

	state atomic.Int32 // an envState, changed only by setState
}

// call is one invocation handed to the runtime.
type call struct {
	id, arn, trace, clientContext, cognito string // header values
	payload                                []byte
	deadline                               time.Time
	deadlineMs                             int64
}

// outcome is what the runtime reported for a call.
type outcome struct {
	payload   []byte
	errorType string // "" for a successful response
	isError   bool
}

var discardLogger = log.New(io.Discard, "", 0)

// startEnv starts a process and its endpoint. On a *startError (the program
// could not be executed) it also returns e, for the caller to log the
// failure and stop it; on other errors nothing is left running.
func (p *Pool) startEnv() (*env, error) {
	ln, sockDir, err := p.listen()
	if err != nil {
		return nil, fmt.Errorf("listen for the Runtime API: %w", err)
	}
	e := &env{
		ln:         ln,
		sockDir:    sockDir,
		pool:       p,
		stream:     logs.StreamName(p.clock.Now(), p.spec.Version),
		conns:      make(chan *rconn, 1),
		results:    make(chan outcome, 1),
		ready:      make(chan struct{}),
		initFailed: make(chan struct{}),
		exited:     make(chan struct{}),
		stopping:   make(chan struct{}),
		timer:      time.NewTimer(time.Hour),
	}
	e.timer.Stop()
	// stdout and stderr share one pipe, as on Lambda.
	pr, pw, err := os.Pipe()
	if err != nil {
		e.closeEndpoint()
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	defer pw.Close() // the child has its own copy; EOF comes when it (and its children) exit
	var lw *logs.Writer
	if p.opts.Logs != nil {
		if lw, err = p.opts.Logs.Create(p.spec.LogGroup, e.stream); err != nil {
			e.closeEndpoint()
			pr.Close()
			return nil, err
		}
	}
	if e.out, err = newOutput(pr, lw, p.clock); err != nil {
		e.closeEndpoint()
		pr.Close()
		return nil, fmt.Errorf("read output pipe: %w", err)
	}

	e.srv = &http.Server{Handler: e, ErrorLog: discardLogger}

	env := make([]string, len(p.env), len(p.env)+2)
	copy(env, p.env)
	env = append(env, "AWS_LAMBDA_LOG_STREAM_NAME="+e.stream, "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String())
	e.cmd = &exec.Cmd{
		Path:        p.argv[0],
		Args:        p.argv,
		Env:         env,
		Dir:         p.spec.CodeDir,
		Stdout:      pw,
		Stderr:      pw,
		SysProcAttr: sysProcAttr(),
	}
	e.startedAt = time.Now()
	if err := e.cmd.Start(); err != nil {
		return e, &startError{err} // the caller logs the failure, then stops e
	}
	e.pid = e.cmd.Process.Pid
	e.mem = openMemStat(e.pid)
	if e.cg = newMemCgroup(p.spec.MemoryMB); e.cg != nil {
		if err := e.cg.add(e.pid); err != nil {
			p.log.Warn("cannot limit the environment's memory", "err", err)
		}
	}
	// Serve only now that the process group is known: a connection made
	// before waits in the listen queue, then is checked like any other.
	go e.srv.Serve(&groupListener{Listener: ln, pgid: e.pid, refused: &e.refused})
	go e.wait()
	return e, nil
}

// listen opens an environment's Runtime API endpoint: a Unix socket for
// sluice's bootstraps, 127.0.0.1 for custom runtimes.
func (p *Pool) listen() (ln net.Listener, sockDir string, err error) {
	if !p.unixSocket {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return ln, "", err
	}
	// os.MkdirTemp makes the directory 0700. It is kept short (a socket
	// path has at most 107 bytes), hence the system temp dir.
	sockDir, err = os.MkdirTemp("", "sluice-env-")
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(sockDir, "runtime.sock")
	if ln, err = net.Listen("unix", path); err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		os.RemoveAll(sockDir)
		return nil, "", err
	}
	return ln, sockDir, nil
}

// closeEndpoint closes the Runtime API listener and removes its socket.
func (e *env) closeEndpoint() {
	e.ln.Close()
	if e.sockDir != "" {
		os.RemoveAll(e.sockDir)
	}
}

// groupListener accepts only connections from one process group.
type groupListener struct {
	net.Listener
	pgid    int
	refused *atomic.Int64
}

func (l *groupListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if peerInGroup(c, l.pgid) {
			return c, nil
		}
		l.refused.Add(1)
		c.Close()
	}
}

// startError is a failure to exec the function's program; Lambda reports it
// as Runtime.InvalidEntrypoint.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

func (e *env) wait() {
	err := e.cmd.Wait()
	if ru, ok := e.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru != nil {
		e.maxRSSKB = int(ru.Maxrss)
	}
	e.exitErr = err
	close(e.exited)
}

func (e *env) dead() bool {
	select {
	case <-e.exited:
		return true
	default:
		return false
	}
}

// peakMemoryMB is the process's peak resident memory: from /proc while it
// runs, from its exit status once it has exited.
func (e *env) peakMemoryMB(now time.Time) int {
	if e.dead() {
		return (e.maxRSSKB + 1023) / 1024
	}
	return e.mem.peakMB(now)
}

// exitErrorType classifies an exit: Runtime.OutOfMemory when a signal
// ended a process that had reached about its memorySize (V8 aborts at its
// heap limit; a kernel or cgroup OOM kill is SIGKILL), else Runtime.ExitError.
func (e *env) exitErrorType() string {
	if e.cmd == nil || e.cmd.ProcessState == nil {
		return ErrorTypeExit
	}
	ws, ok := e.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() &&
		(ws.Signal() == syscall.SIGKILL || ws.Signal() == syscall.SIGABRT) &&
		e.maxRSSKB/1024 >= e.pool.spec.MemoryMB*8/10 {
		return ErrorTypeOutOfMemory
	}
	return ErrorTypeExit
}

// exitMessage describes how the process ended, in Lambda's words.
func (e *env) exitMessage() string {
	if e.exitErr == nil {
		return "Runtime exited without providing a reason"
	}
	return "Runtime exited with error: " + e.exitErr.Error()
}

// stop ends the environment: SIGTERM, then SIGKILL after grace (at once when
// grace is 0), then closes its endpoint and finishes its log stream.
func (e *env) stop(grace time.Duration) {
	e.stopOnce.Do(func() {
		_ = e.setState(stateStopping) // stopped whatever the state: a refusal is logged
		close(e.stopping)
		if e.pid != 0 {
			if grace > 0 && !e.dead() {
				signalGroup(e.pid, syscall.SIGTERM)
				t := time.NewTimer(grace)
				select {
				case <-e.exited:
				case <-t.C:
				}
				t.Stop()
			}
			signalGroup(e.pid, syscall.SIGKILL) // also whatever the function spawned
			<-e.exited
			e.cg.remove()
		}
		e.srv.Close()
		e.closeEndpoint()
		select {
		case rc := <-e.conns:
			rc.conn.Close()
		default:
		}
		if err := e.out.close(2 * time.Second); err != nil {
			e.pool.log.Warn("closing log stream failed", "stream", e.stream, "err", err)
		}
		e.mem.close()
		if e.holdsSlot.Swap(false) {
			e.pool.opts.Environments.free()
		}
		_ = e.setState(stateDead)
	})
}

// kill stops the process at once, without waiting.
func (e *env) kill() {
	if e.pid != 0 {
		signalGroup(e.pid, syscall.SIGKILL)
	}
}
