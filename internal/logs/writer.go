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
	size   int64 // bytes in the stream, for the cap
	capped bool  // the cap was reached: the function's events are dropped
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
	if st, err := f.Stat(); err == nil {
		w.size = st.Size()
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

// Append adds one event with timestamp t. Line breaks in msg become carriage
// returns so the event stays one line; a message over MaxEventBytes is
// truncated. Write errors are kept and reported by
// Flush and Close rather than on every event. Once the stream holds
// Options.MaxStreamBytes, events are dropped (one line says so).
func (w *Writer) Append(t time.Time, msg []byte) { appendEvent(w, t, msg, false) }

// AppendString is Append for a string message.
func (w *Writer) AppendString(t time.Time, msg string) { appendEvent(w, t, msg, false) }

// AppendPlatform is Append for the platform's own lines (START, END,
// REPORT), which are written past the cap: tools read them to find
// invocations.
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
	if !platform && w.size+int64(len(msg)) > w.store.opts.MaxStreamBytes {
		if w.capped {
			return
		}
		w.capped = true
		msg = M(fmt.Sprintf("sluice: this log stream reached its cap of %d MB; the function's further output is dropped (CloudWatch Logs would throttle it)", w.store.opts.MaxStreamBytes>>20))
	}
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
	w.size += int64(len(b))
	if _, err := w.buf.Write(b); err != nil {
		w.err = fmt.Errorf("logs: write %s %s: %w", w.group, w.stream, err)
	}
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
