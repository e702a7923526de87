package runtime

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/logs"
)

// maxEventBytes is where a line is cut: CloudWatch Logs' event size limit.
// The rest of the line, up to its newline, is dropped.
const maxEventBytes = logs.MaxEventBytes

// maxHeldBytes bounds the output an idle environment's process writes
// between invocations, which waits for the next START.
const maxHeldBytes = 1 << 20

// output copies an environment's stdout and stderr (one pipe) into its log
// stream line by line, and interleaves sluice's platform lines (START, END,
// REPORT, …) in the right place.
//
// The right place is after everything the function wrote before the
// platform line was due: whatever a handler prints before posting its
// result belongs before END. So a platform line first drains the pipe
// (non-blocking reads) under the same lock the pump goroutine reads with;
// the function writes its output synchronously, so the pipe then holds all
// of it. That costs one read syscall per platform line and wakes no
// goroutine; the pump only runs when the function actually prints.
type output struct {
	pipe  *os.File // read end, non-blocking
	raw   syscall.RawConn
	w     *logs.Writer // nil: discard
	clock clock.Clock
	done  chan struct{} // closed when the pump has seen EOF

	mu       sync.Mutex
	drain    func(fd uintptr) // drainLocked as a RawConn.Control callback, made once
	buf      []byte           // read buffer
	partial  []byte           // an unfinished line carried to the next read
	skipping bool             // dropping the rest of a line cut at maxEventBytes

	// Between an invocation's REPORT and the next START the environment is
	// idle. On Lambda it is frozen: what a background task prints after
	// the response only comes out once the next invocation thaws it, in
	// that invocation's log. Here the process runs on, so its lines wait in
	// held (at most maxHeldBytes; heldDropped counts the rest) until the
	// next START, and nothing follows an invocation's REPORT.
	idle        bool
	held        []byte // '\n'-terminated lines
	heldDropped int
}

func newOutput(pipe *os.File, w *logs.Writer, clk clock.Clock) (*output, error) {
	raw, err := pipe.SyscallConn()
	if err != nil {
		return nil, err
	}
	o := &output{pipe: pipe, raw: raw, w: w, clock: clk, done: make(chan struct{}), buf: make([]byte, 64<<10)}
	o.drain = func(fd uintptr) { o.drainLocked(int(fd)) }
	go o.pump()
	return o, nil
}

// pump logs output as the function writes it, until EOF (every writer gone).
func (o *output) pump() {
	defer close(o.done)
	for {
		eof := false
		err := o.raw.Read(func(fd uintptr) bool {
			o.mu.Lock()
			eof = o.drainLocked(int(fd))
			o.mu.Unlock()
			return eof // false: wait until the pipe is readable again
		})
		if eof || err != nil {
			o.mu.Lock()
			o.flushPartialLocked()
			o.mu.Unlock()
			return
		}
	}
}

// drainLocked reads all the pipe holds without blocking and logs complete
// lines. It reports whether the pipe reached EOF (or failed).
func (o *output) drainLocked(fd int) (eof bool) {
	for {
		n, err := syscall.Read(fd, o.buf)
		if n > 0 {
			o.linesLocked(o.buf[:n])
			continue
		}
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			return false
		default: // n == 0: EOF; or a real error
			return true
		}
	}
}

func (o *output) linesLocked(data []byte) {
	now := o.clock.Now()
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if o.skipping {
			if nl < 0 {
				return
			}
			o.skipping = false
			data = data[nl+1:]
			continue
		}
		if nl < 0 {
			o.partial = append(o.partial, data...)
			if len(o.partial) >= maxEventBytes {
				o.appendLocked(now, o.partial[:maxEventBytes])
				o.partial = o.partial[:0]
				o.skipping = true
			}
			return
		}
		if len(o.partial) > 0 {
			o.partial = append(o.partial, data[:nl]...)
			o.appendLocked(now, o.partial)
			o.partial = o.partial[:0]
		} else {
			o.appendLocked(now, data[:nl])
		}
		data = data[nl+1:]
	}
}

func (o *output) flushPartialLocked() {
	if len(o.partial) > 0 {
		o.appendLocked(o.clock.Now(), o.partial)
		o.partial = o.partial[:0]
	}
}

// appendLocked logs one line of the function's, or holds it while the
// environment is idle.
func (o *output) appendLocked(t time.Time, line []byte) {
	switch {
	case o.w == nil:
	case !o.idle:
		o.w.Append(t, line)
	case len(o.held)+len(line)+1 <= maxHeldBytes:
		o.held = append(append(o.held, line...), '\n')
	default:
		o.heldDropped += len(line) + 1
	}
}

// releaseHeldLocked logs what the function wrote while idle, at t.
func (o *output) releaseHeldLocked(t time.Time) {
	for held := o.held; len(held) > 0; {
		nl := bytes.IndexByte(held, '\n')
		o.w.Append(t, held[:nl])
		held = held[nl+1:]
	}
	if o.heldDropped > 0 {
		o.w.AppendString(t, "sluice: "+strconv.Itoa(o.heldDropped)+" more bytes the function wrote between invocations were dropped")
	}
	o.held, o.heldDropped = o.held[:0], 0
}

// platform logs sluice's own lines ('\n'-separated) after everything the
// function has written so far. An unfinished line of the function's becomes
// an event of its own first.
// The lines end an invocation (END, REPORT): the environment is idle after.
func (o *output) platform(lines []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.raw.Control(o.drain)
	o.flushPartialLocked()
	o.linesNowLocked(lines)
	o.idle = true
}

// start logs a START line, then what the function wrote while idle, as
// Lambda attributes it to the invocation that thaws the environment. It
// needs no drain: the function cannot print for this invocation before it
// has the event.
func (o *output) start(line []byte) {
	o.mu.Lock()
	o.linesNowLocked(line)
	o.idle = false
	if o.w != nil {
		o.releaseHeldLocked(o.clock.Now())
	}
	o.mu.Unlock()
}

func (o *output) linesNowLocked(lines []byte) {
	now := o.clock.Now()
	for len(lines) > 0 {
		nl := bytes.IndexByte(lines, '\n')
		if nl < 0 {
			nl = len(lines)
		}
		if o.w != nil {
			o.w.AppendPlatform(now, lines[:nl])
		}
		lines = lines[min(nl+1, len(lines)):]
	}
}

// close waits for the pump to reach EOF (at most grace: something outside
// the process group may still hold the pipe), then closes the pipe and the
// log stream.
func (o *output) close(grace time.Duration) error {
	t := time.NewTimer(grace)
	select {
	case <-o.done:
	case <-t.C:
		o.pipe.Close() // unblocks the pump
		<-o.done
	}
	t.Stop()
	o.pipe.Close()
	if o.w != nil {
		o.mu.Lock()
		o.flushPartialLocked()
		if len(o.held) > 0 || o.heldDropped > 0 {
			// No invocation comes to take them: say whose they are rather
			// than let them pass for the last invocation's, or lose them
			// (a crash's stack trace among them).
			now := o.clock.Now()
			o.w.AppendPlatform(now, []byte("sluice: the environment stopped; what it wrote after its last invocation ended:"))
			o.releaseHeldLocked(now)
		}
		o.mu.Unlock()
		return o.w.Close()
	}
	return nil
}
