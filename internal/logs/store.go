// Package logs stores function logs the way CloudWatch Logs organises them:
// one log group per function (/aws/lambda/<name>), one log stream per
// execution environment (YYYY/MM/DD/[<version>]<32 hex>), each stream an
// append-only sequence of timestamped events.
//
// On disk a Store is a directory with one sub-directory per group and one
// file per stream. A stream file holds one event per line,
//
//	2026-01-02T03:04:05.123456789Z<TAB>message
//
// so it can be read with cat and followed with tail -f. A message is a single
// line: newlines inside it are stored as carriage returns, which is what
// Lambda's own runtimes do to keep a multi-line message one event.
//
// Writers are buffered and flushed by one background goroutine every
// FlushInterval, so writing an event costs a mutex owned by its stream (never
// a lock shared by all streams) and a copy into a buffer.
package logs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options tune a Store. The zero value is ready to use.
type Options struct {
	// FlushInterval is how long an event may sit in a writer's buffer before
	// it reaches the file (default 100ms). Close and Flush write at once.
	FlushInterval time.Duration
	// PollInterval is how often Follow looks for events written by other
	// processes (default 250ms). Events written through this Store wake
	// followers as soon as they are flushed.
	PollInterval time.Duration
	// Logger receives write failures (default slog.Default()).
	Logger *slog.Logger
	// MaxStreamBytes caps a stream's size (default DefaultMaxStreamBytes),
	// so a function that floods its output cannot fill the disk.
	MaxStreamBytes int64
}

// DefaultMaxStreamBytes is the default cap on a log stream. An
// environment's stream lives as long as the environment: at CloudWatch
// Logs' ingestion rates that is far more than a function writes.
const DefaultMaxStreamBytes = 64 << 20

// MaxEventBytes is the largest event message: CloudWatch Logs' 256 KB
// event limit (262,144 bytes, less its 26 bytes of per-event overhead).
// Longer messages are truncated, as Lambda truncates a line that long.
const MaxEventBytes = 256<<10 - 26

// Store is a directory of log groups and streams. It is safe for concurrent use.
type Store struct {
	dir  string
	opts Options

	mu      sync.Mutex
	writers map[*Writer]struct{}
	changed chan struct{} // closed and replaced after a flush wrote something
	closed  bool

	stop chan struct{}
	done chan struct{}
}

// Open opens (creating if needed) the log store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("logs: no directory given; pass the directory to keep logs in, e.g. .sluice/logs")
	}
	// Functions log what they handle (tokens, personal data): the logs are
	// their owner's only, as the rest of the state.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("logs: create log directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("logs: make the log directory %s private: %w", dir, err)
	}
	if opts.MaxStreamBytes <= 0 {
		opts.MaxStreamBytes = DefaultMaxStreamBytes
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 100 * time.Millisecond
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Store{
		dir:     dir,
		opts:    opts,
		writers: make(map[*Writer]struct{}),
		changed: make(chan struct{}),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.flushLoop()
	return s, nil
}

// Dir is the directory the store keeps its files in.
func (s *Store) Dir() string { return s.dir }

// Close flushes and closes every open writer and stops the flusher. Writers
// appended to after Close drop their events, so close whatever writes (the
// runtime pools) first.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ws := make([]*Writer, 0, len(s.writers))
	for w := range s.writers {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	var errs []error
	for _, w := range ws {
		errs = append(errs, w.Close())
	}
	s.notify()
	return errors.Join(errs...)
}

// Flush writes every buffered event of every open writer to its file.
func (s *Store) Flush() error {
	var errs []error
	wrote := false
	for _, w := range s.openWriters() {
		n, err := w.flush()
		wrote = wrote || n
		errs = append(errs, err)
	}
	if wrote {
		s.notify()
	}
	return errors.Join(errs...)
}

func (s *Store) openWriters() []*Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := make([]*Writer, 0, len(s.writers))
	for w := range s.writers {
		ws = append(ws, w)
	}
	return ws
}

func (s *Store) flushLoop() {
	defer close(s.done)
	t := time.NewTicker(s.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.Flush(); err != nil {
				s.opts.Logger.Warn("flushing function logs failed", "dir", s.dir, "err", err)
			}
		}
	}
}

// notify wakes in-process followers.
func (s *Store) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

func (s *Store) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// GroupName is the log group Lambda uses for a function.
func GroupName(function string) string { return "/aws/lambda/" + function }

// StreamName returns a new stream name the way Lambda names the stream of
// an execution environment: the date of t, the version in brackets and 32
// random hex digits, e.g. 2026/01/02/[3]0f1e…
func StreamName(t time.Time, version string) string {
	var id [16]byte
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails on Linux
	return t.UTC().Format("2006/01/02") + "/[" + version + "]" + hex.EncodeToString(id[:])
}

// StreamVersion extracts the function version from a stream name made by
// StreamName; ok is false for names of another shape.
func StreamVersion(stream string) (version string, ok bool) {
	i := strings.IndexByte(stream, '[')
	if i < 0 {
		return "", false
	}
	j := strings.IndexByte(stream[i:], ']')
	if j < 0 {
		return "", false
	}
	return stream[i+1 : i+j], true
}

// Groups lists the log groups in the store, sorted.
func (s *Store) Groups() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("logs: list groups: %w", err)
	}
	var groups []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if g, err := unescapeName(e.Name()); err == nil {
			groups = append(groups, g)
		}
	}
	return groups, nil
}

func (s *Store) groupDir(group string) string {
	return filepath.Join(s.dir, escapeName(group))
}

const streamExt = ".log"

func (s *Store) streamPath(group, stream string) string {
	return filepath.Join(s.groupDir(group), escapeName(stream)+streamExt)
}

// escapeName makes a group or stream name one safe path element that
// unescapeName reverses: '%', '/' and '\' are percent-encoded, and so is a
// leading '.' (so "." and ".." cannot be produced).
func escapeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '%' || c == '/' || c == '\\' || c == 0 || (i == 0 && c == '.') {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unescapeName(name string) (string, error) { return url.PathUnescape(name) }

func validName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("logs: empty %s name", kind)
	}
	if strings.ContainsAny(name, "\n\r") {
		return fmt.Errorf("logs: %s name %q contains a line break", kind, name)
	}
	return nil
}
