package runtime

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/internal/logs"
)

// env is one execution environment: one function process and the Runtime
// API endpoint that only it talks to. It runs one invocation at a time.
//
// Each environment has its own listener on 127.0.0.1 because every runtime
// client builds its URLs as "http://"+AWS_LAMBDA_RUNTIME_API+"/2018-06-01/…":
// the host:port is the only thing that can tell environments apart.
type env struct {
	pool   *Pool
	stream string
	pid    int
	cmd    *exec.Cmd
	srv    *http.Server
	mem    *memStat

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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the Runtime API: %w", err)
	}
	e := &env{
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
		ln.Close()
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	defer pw.Close() // the child has its own copy; EOF comes when it (and its children) exit
	var lw *logs.Writer
	if p.opts.Logs != nil {
		if lw, err = p.opts.Logs.Create(p.spec.LogGroup, e.stream); err != nil {
			ln.Close()
			pr.Close()
			return nil, err
		}
	}
	if e.out, err = newOutput(pr, lw, p.clock); err != nil {
		ln.Close()
		pr.Close()
		return nil, fmt.Errorf("read output pipe: %w", err)
	}

	e.srv = &http.Server{Handler: e, ErrorLog: discardLogger}
	go e.srv.Serve(ln)

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
	go e.wait()
	return e, nil
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
		}
		e.srv.Close()
		select {
		case rc := <-e.conns:
			rc.conn.Close()
		default:
		}
		if err := e.out.close(2 * time.Second); err != nil {
			e.pool.log.Warn("closing log stream failed", "stream", e.stream, "err", err)
		}
		e.mem.close()
	})
}

// kill stops the process at once, without waiting.
func (e *env) kill() {
	if e.pid != 0 {
		signalGroup(e.pid, syscall.SIGKILL)
	}
}
