package logs

import (
	"bufio"
	"fmt"
	"os"
	"sync"
	"time"
)

// Writer appends events to one log stream. It is safe for concurrent use;
// its lock is its own, so writers of different streams never contend.
type Writer struct {
	store  *Store
	group  string
	stream string

	mu     sync.Mutex
	f      *os.File
	buf    *bufio.Writer
	dirty  bool
	err    error // first write error; later writes are dropped
	closed bool
	size   int64 // bytes in the stream's file, buffered ones included
	capped bool  // the stream reached Options.MaxStreamBytes
}

// Create opens the stream for appending, creating its group and file as
// needed. Appending to an existing stream continues it.
func (s *Store) Create(group, stream string) (*Writer, error) {
	if err := validName("log group", group); err != nil {
		return nil, err
	}
	if err := validName("log stream", stream); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.groupDir(group), 0o700); err != nil {
		return nil, fmt.Errorf("logs: create log group %s: %w", group, err)
	}
	f, err := os.OpenFile(s.streamPath(group, stream), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("logs: create log stream %s in %s: %w", stream, group, err)
	}
	w := &Writer{store: s, group: group, stream: stream, f: f, buf: bufio.NewWriterSize(f, 32<<10)}
	if fi, err := f.Stat(); err == nil {
		w.size = fi.Size() // a continued stream counts what it holds
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		f.Close()
		return nil, fmt.Errorf("logs: store %s is closed", s.dir)
	}
	s.writers[w] = struct{}{}
	s.mu.Unlock()
	return w, nil
}

// Group is the log group the writer appends to.
func (w *Writer) Group() string { return w.group }

// Stream is the log stream the writer appends to.
func (w *Writer) Stream() string { return w.stream }

// Append adds one event of the function's with timestamp t. Line breaks in
// msg become carriage returns so the event stays one line; a message over
// MaxEventBytes is truncated. Once the stream reaches the store's
// MaxStreamBytes, one marker event says so and later events are dropped.
// Write errors are kept and reported by Flush and Close rather than on
// every event.
func (w *Writer) Append(t time.Time, msg []byte) { appendEvent(w, t, msg, false) }

// AppendString is Append for a string message.
func (w *Writer) AppendString(t time.Time, msg string) { appendEvent(w, t, msg, false) }

// AppendPlatform adds one of the platform's own events (START, END,
// REPORT, …): like Append, but past the stream's cap as well, so every
// invocation stays visible in a capped stream.
func (w *Writer) AppendPlatform(t time.Time, msg []byte) { appendEvent(w, t, msg, true) }

func appendEvent[M string | []byte](w *Writer, t time.Time, msg M, platform bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil {
		return
	}
	if len(msg) > MaxEventBytes {
		msg = msg[:MaxEventBytes]
	}
	if max := w.store.opts.MaxStreamBytes; !platform && max > 0 {
		if w.capped {
			return
		}
		if w.size+int64(len(msg))+lineOverhead > max {
			w.capped = true
			writeLocked(w, t, fmt.Sprintf("sluice: this log stream reached its %d MB cap; the function's further output to it is dropped (START, END and REPORT lines go on)", max>>20))
			return
		}
	}
	writeLocked(w, t, msg)
}

// lineOverhead is the bytes a line adds besides its message: an RFC 3339
// timestamp with nanoseconds, a tab and a newline.
const lineOverhead int64 = int64(len("2006-01-02T15:04:05.999999999Z") + 2)

func writeLocked[M string | []byte](w *Writer, t time.Time, msg M) {
	// Build the line in the buffer's free space: no allocation while the
	// buffer has room, which is almost always.
	b := w.buf.AvailableBuffer()
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '\t')
	start := len(b)
	b = append(b, msg...)
	for i := start; i < len(b); i++ {
		if b[i] == '\n' {
			b[i] = '\r'
		}
	}
	b = append(b, '\n')
	if _, err := w.buf.Write(b); err != nil {
		w.err = fmt.Errorf("logs: write %s %s: %w", w.group, w.stream, err)
	}
	w.size += int64(len(b))
	w.dirty = true
}

// Flush writes buffered events to the file.
func (w *Writer) Flush() error {
	_, err := w.flush()
	if err == nil {
		w.store.notify()
	}
	return err
}

// flush reports whether it wrote anything.
func (w *Writer) flush() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || !w.dirty {
		return false, w.err
	}
	w.dirty = false
	if w.err == nil {
		if err := w.buf.Flush(); err != nil {
			w.err = fmt.Errorf("logs: flush %s %s: %w", w.group, w.stream, err)
		}
	}
	return true, w.err
}

// Close flushes the writer and closes its file. Appends after Close are dropped.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.err
	}
	if w.err == nil {
		if err := w.buf.Flush(); err != nil {
			w.err = fmt.Errorf("logs: flush %s %s: %w", w.group, w.stream, err)
		}
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("logs: close %s %s: %w", w.group, w.stream, err)
	}
	w.closed = true
	err := w.err
	w.mu.Unlock()

	w.store.mu.Lock()
	delete(w.store.writers, w)
	w.store.mu.Unlock()
	w.store.notify()
	return err
}
