package logs

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// Event is one log event.
type Event struct {
	Time    time.Time
	Stream  string
	Message string
}

// Filter selects events. The zero Filter selects everything.
type Filter struct {
	// Version keeps only streams of this function version ("" = all).
	Version string
	// Since and Until bound event times: Since inclusive, Until exclusive;
	// zero means unbounded.
	Since, Until time.Time
}

func (f Filter) keepStream(stream string) bool {
	if f.Version == "" {
		return true
	}
	v, ok := StreamVersion(stream)
	return ok && v == f.Version
}

func (f Filter) keepTime(t time.Time) bool {
	return (f.Since.IsZero() || !t.Before(f.Since)) && (f.Until.IsZero() || t.Before(f.Until))
}

// StreamInfo describes one log stream.
type StreamInfo struct {
	Name    string
	Version string // "" if the name does not carry one
	Size    int64  // bytes on disk
}

// Streams lists the streams of a group that match f.Version, sorted by name
// (which, for Lambda-style names, is by creation date). A group that does
// not exist has no streams.
func (s *Store) Streams(group string, f Filter) ([]StreamInfo, error) {
	entries, err := os.ReadDir(s.groupDir(group))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logs: list streams of %s: %w", group, err)
	}
	var out []StreamInfo
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), streamExt)
		if !ok || e.IsDir() {
			continue
		}
		stream, err := unescapeName(name)
		if err != nil || !f.keepStream(stream) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed while listing
		}
		v, _ := StreamVersion(stream)
		out = append(out, StreamInfo{Name: stream, Version: v, Size: info.Size()})
	}
	slices.SortFunc(out, func(a, b StreamInfo) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Events reads the events of a group that match f, across its streams, in
// time order (events with equal times keep their stream's order). Events
// still buffered by this Store's writers are flushed first.
func (s *Store) Events(group string, f Filter) ([]Event, error) {
	if err := s.Flush(); err != nil {
		return nil, err
	}
	streams, err := s.Streams(group, f)
	if err != nil {
		return nil, err
	}
	var out []Event
	for _, st := range streams {
		data, err := os.ReadFile(s.streamPath(group, st.Name))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("logs: read %s %s: %w", group, st.Name, err)
		}
		out, _ = appendEvents(out, data, st.Name, f)
	}
	slices.SortStableFunc(out, func(a, b Event) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// appendEvents parses the complete lines of data and appends the events f
// keeps. It returns how many bytes it consumed: a trailing partial line (a
// writer's buffer flushed mid-event) is left for the next read.
func appendEvents(out []Event, data []byte, stream string, f Filter) ([]Event, int) {
	used := 0
	for {
		nl := bytes.IndexByte(data[used:], '\n')
		if nl < 0 {
			return out, used
		}
		line := data[used : used+nl]
		used += nl + 1
		ts, msg, ok := bytes.Cut(line, []byte{'\t'})
		if !ok {
			continue // not an event line; files are ours, so only damage gets here
		}
		t, err := time.Parse(time.RFC3339Nano, string(ts))
		if err != nil || !f.keepTime(t) {
			continue
		}
		out = append(out, Event{Time: t, Stream: stream, Message: string(msg)})
	}
}

// Follow calls fn with the group's events that match f, first those already
// stored and then new ones as they are written (tail -f), until ctx is done;
// it then returns nil. Events of one stream arrive in order; events of
// different streams arrive in time order within each batch read. Streams
// created while following are picked up.
func (s *Store) Follow(ctx context.Context, group string, f Filter, fn func(Event)) error {
	offsets := make(map[string]int64)
	tick := time.NewTicker(s.opts.PollInterval)
	defer tick.Stop()
	var batch []Event
	for {
		changed := s.changes() // before reading, so no write slips between read and wait
		var err error
		batch, err = s.readNew(group, f, offsets, batch[:0])
		if err != nil {
			return err
		}
		slices.SortStableFunc(batch, func(a, b Event) int { return a.Time.Compare(b.Time) })
		for _, e := range batch {
			if ctx.Err() != nil {
				return nil
			}
			fn(e)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick.C:
		}
	}
}

// readNew appends the events written to the group's streams since offsets.
func (s *Store) readNew(group string, f Filter, offsets map[string]int64, out []Event) ([]Event, error) {
	streams, err := s.Streams(group, f)
	if err != nil {
		return out, err
	}
	for _, st := range streams {
		off := offsets[st.Name]
		if st.Size <= off {
			continue
		}
		file, err := os.Open(s.streamPath(group, st.Name))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return out, fmt.Errorf("logs: follow %s %s: %w", group, st.Name, err)
		}
		data := make([]byte, st.Size-off)
		n, err := file.ReadAt(data, off)
		file.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return out, fmt.Errorf("logs: follow %s %s: %w", group, st.Name, err)
		}
		var used int
		out, used = appendEvents(out, data[:n], st.Name, f)
		offsets[st.Name] = off + int64(used)
	}
	return out, nil
}
