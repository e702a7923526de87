package runtime

import (
	"bytes"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/logs"
)

// maxEventBytes is where a line is cut: CloudWatch Logs' event size limit.
// The rest of the line, up to its newline, is dropped.
const maxEventBytes = logs.MaxEventBytes

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

	mu      sync.Mutex
	drain   func(fd uintptr) // drainLocked as a RawConn.Control callback, made once
	buf     []byte           // read buffer
	partial []byte           // an unfinished line carried to the next read
	// skipping drops the rest of a line cut at maxEventBytes.
	skipping bool
	// Between an invocation's REPORT and the next START the function is
	// not running on Lambda (its environment is frozen), so what it prints
	// then (a timer, an unawaited promise) appears after the next START.
	// It is held here meanwhile; if the environment stops first, it is
	// written after a line saying so (a crash's stack trace among it).
	ended     bool
	held      [][]byte
	heldBytes int
}

// maxHeldBytes bounds the output held between invocations.
const maxHeldBytes = 256 << 10

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

// appendLocked logs a line of the function's.
func (o *output) appendLocked(t time.Time, line []byte) {
	if o.w == nil {
		return
	}
	if o.ended {
		if o.heldBytes+len(line) <= maxHeldBytes {
			o.held = append(o.held, append([]byte(nil), line...))
			o.heldBytes += len(line)
		}
		return
	}
	o.w.Append(t, line)
}

// platform logs sluice's own lines ('\n'-separated) after everything the
// function has written so far. An unfinished line of the function's becomes
// an event of its own first.
func (o *output) platform(lines []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.raw.Control(o.drain)
	o.flushPartialLocked()
	o.linesNowLocked(lines)
}

// finish logs the lines that end an invocation (END, REPORT); what the
// function prints after them is held for the next invocation.
func (o *output) finish(lines []byte) {
	o.platform(lines)
	o.mu.Lock()
	o.ended = true
	o.mu.Unlock()
}

// start logs a START line. It needs no drain: the function cannot print
// for this invocation before it has the event, and whatever it printed late
// for the previous one may land after START, as it does on Lambda.
func (o *output) start(line []byte) {
	o.mu.Lock()
	o.linesNowLocked(line)
	if o.ended {
		o.ended = false
		now := o.clock.Now()
		for _, l := range o.held {
			o.w.Append(now, l)
		}
		o.held, o.heldBytes = o.held[:0], 0
	}
	o.mu.Unlock()
}

// linesNowLocked logs sluice's own lines.
func (o *output) linesNowLocked(lines []byte) {
	if o.w == nil {
		return
	}
	now := o.clock.Now()
	for len(lines) > 0 {
		nl := bytes.IndexByte(lines, '\n')
		if nl < 0 {
			nl = len(lines)
		}
		o.w.AppendPlatform(now, lines[:nl])
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
		if len(o.held) > 0 {
			// No invocation comes to take them: say whose they are rather
			// than let them pass for the last invocation's, or lose them.
			now := o.clock.Now()
			o.w.AppendPlatform(now, []byte("sluice: the environment stopped; what it wrote after its last invocation ended:"))
			for _, l := range o.held {
				o.w.Append(now, l)
			}
			o.held = nil
		}
		o.mu.Unlock()
		return o.w.Close()
	}
	return nil
}
