package runtime

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

	// The function's stdout and stderr share one pipe. sluice writes its own
	// platform lines (START, END, REPORT, …) into the same pipe, tagged with
	// marker, so they reach the log stream in the order the function's own
	// output was written: whatever the function printed before posting its
	// result is in the pipe before END.
	logR, logW *os.File
	marker     []byte
	startLine  []byte // used only by the /next handler
	endLine    []byte // used only by the invoking goroutine

	calls   chan *call   // unbuffered: a send completes when the runtime has taken the event
	results chan outcome // the answer to the call in progress
	cur     atomic.Pointer[call]
	c       call // the one call struct, reused: one invocation at a time
	timer   *time.Timer

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
	pumpDone    chan struct{}
	idleSince   time.Time // guarded by pool.mu
}

// call is one invocation handed to the runtime.
type call struct {
	id         string
	payload    []byte
	deadlineMs int64
	// Header values, reused so that serving /next allocates nothing for them.
	hID, hDeadline, hARN, hTrace, hClientContext, hCognito [1]string
}

// outcome is what the runtime reported for a call.
type outcome struct {
	payload   []byte
	errorType string // "" for a successful response
	isError   bool
}

var discardLogger = log.New(io.Discard, "", 0)

// startEnv starts a process and its endpoint. On error nothing is left running.
func (p *Pool) startEnv() (*env, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the Runtime API: %w", err)
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	e := &env{
		pool:       p,
		stream:     logs.StreamName(p.clock.Now(), p.spec.Version),
		marker:     []byte("\x00sluice:" + hex.EncodeToString(nonce[:]) + ":"),
		calls:      make(chan *call),
		results:    make(chan outcome, 1),
		ready:      make(chan struct{}),
		initFailed: make(chan struct{}),
		exited:     make(chan struct{}),
		stopping:   make(chan struct{}),
		pumpDone:   make(chan struct{}),
		timer:      time.NewTimer(time.Hour),
	}
	e.timer.Stop()
	e.logR, e.logW, err = os.Pipe()
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	var lw *logs.Writer
	if p.opts.Logs != nil {
		lw, err = p.opts.Logs.Create(p.spec.LogGroup, e.stream)
		if err != nil {
			ln.Close()
			e.logR.Close()
			e.logW.Close()
			return nil, err
		}
	}
	go e.pump(lw)

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
		Stdout:      e.logW,
		Stderr:      e.logW,
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
func (e *env) peakMemoryMB() int {
	if e.dead() {
		return (e.maxRSSKB + 1023) / 1024
	}
	return e.mem.peakMB()
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
		e.logW.Close()
		select {
		case <-e.pumpDone:
		case <-time.After(2 * time.Second):
			// Something outside the process group still holds the pipe open.
			e.logR.Close()
			<-e.pumpDone
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

// pump copies the function's output, line by line, into its log stream,
// stamping each line with the pool's clock.
func (e *env) pump(w *logs.Writer) {
	defer close(e.pumpDone)
	defer e.logR.Close()
	br := bufio.NewReaderSize(e.logR, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && w != nil {
			e.emit(w, line)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			break
		}
	}
	if w != nil {
		if err := w.Close(); err != nil {
			e.pool.log.Warn("closing log stream failed", "stream", e.stream, "err", err)
		}
	}
}

func (e *env) emit(w *logs.Writer, line []byte) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	now := e.pool.clock.Now()
	if i := bytes.Index(line, e.marker); i >= 0 {
		if i > 0 { // the function left a line unfinished
			w.Append(now, line[:i])
		}
		w.Append(now, line[i+len(e.marker):])
		return
	}
	w.Append(now, line)
}

// mark starts a platform line (START, END, REPORT, …) in b; the caller
// appends the text and a newline, then hands b to writeLines.
func (e *env) mark(b []byte) []byte { return append(b, e.marker...) }

// writeLines writes platform lines into the output pipe (see env.logR).
func (e *env) writeLines(b []byte) {
	_, _ = e.logW.Write(b) // fails only once the environment is stopped
}
