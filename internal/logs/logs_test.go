package logs

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func create(t *testing.T, s *Store, group, stream string) *Writer {
	t.Helper()
	w, err := s.Create(group, stream)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestStreamNameLooksLikeLambdas(t *testing.T) {
	day := time.Date(2026, 1, 2, 23, 59, 0, 0, time.FixedZone("x", -5*3600)) // 2026-01-03 in UTC
	name := StreamName(day, "7")
	if !regexp.MustCompile(`^2026/01/03/\[7\][0-9a-f]{32}$`).MatchString(name) {
		t.Fatalf("StreamName = %q, want 2026/01/03/[7]<32 hex>", name)
	}
	if other := StreamName(day, "7"); other == name {
		t.Fatalf("two streams got the same name %q", name)
	}
	if GroupName("orders-dev-create") != "/aws/lambda/orders-dev-create" {
		t.Fatalf("GroupName = %q", GroupName("orders-dev-create"))
	}
}

func TestStreamVersion(t *testing.T) {
	f, err := os.Open("testdata/stream_versions.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.Split(text, "\t")
		if len(cols) != 3 {
			t.Fatalf("stream_versions.txt:%d: want 3 tab-separated columns, got %d", line, len(cols))
		}
		wantOK, _ := strconv.ParseBool(cols[2])
		v, ok := StreamVersion(cols[0])
		if v != cols[1] || ok != wantOK {
			t.Errorf("stream_versions.txt:%d: StreamVersion(%q) = %q, %v; want %q, %v", line, cols[0], v, ok, cols[1], wantOK)
		}
	}
}

func TestEventsMergeStreamsInTimeOrderAndFilter(t *testing.T) {
	s := openStore(t, Options{})
	g := GroupName("fn")
	a := create(t, s, g, "2026/03/01/[1]aaaa")
	b := create(t, s, g, "2026/03/01/[2]bbbb")
	a.AppendString(epoch, "a0")
	b.AppendString(epoch.Add(1*time.Millisecond), "b1")
	a.AppendString(epoch.Add(2*time.Millisecond), "a2")
	b.AppendString(epoch.Add(2*time.Millisecond), "b2") // tie: stream order
	a.Append(epoch.Add(3*time.Millisecond), []byte("line one\nline two"))

	cases := []struct {
		name string
		f    Filter
		want string
	}{
		{"all", Filter{}, "a0 b1 a2 b2 line one\rline two"},
		{"version 2", Filter{Version: "2"}, "b1 b2"},
		{"unknown version", Filter{Version: "3"}, ""},
		{"since", Filter{Since: epoch.Add(2 * time.Millisecond)}, "a2 b2 line one\rline two"},
		{"until", Filter{Until: epoch.Add(2 * time.Millisecond)}, "a0 b1"},
	}
	for _, c := range cases {
		evs, err := s.Events(g, c.f)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Message)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: messages %q, want %q", c.name, strings.Join(got, " "), c.want)
		}
	}
	evs, _ := s.Events(g, Filter{Version: "2"})
	if len(evs) == 0 || evs[0].Stream != "2026/03/01/[2]bbbb" || !evs[0].Time.Equal(epoch.Add(time.Millisecond)) {
		t.Fatalf("first version-2 event = %+v", evs)
	}
}

func TestStreamsSurviveReopenAndOddNames(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"2026/03/01/[$LATEST]abc", "2026/03/01/[1]abc", ".hidden/%20/x\\y"}
	for _, n := range names {
		w := create(t, s, "/aws/lambda/f", n)
		w.AppendString(epoch, "hello "+n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	groups, err := s2.Groups()
	if err != nil || len(groups) != 1 || groups[0] != "/aws/lambda/f" {
		t.Fatalf("Groups = %q, %v", groups, err)
	}
	streams, err := s2.Streams("/aws/lambda/f", Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range streams {
		got = append(got, st.Name+"="+st.Version)
	}
	want := ".hidden/%20/x\\y= 2026/03/01/[$LATEST]abc=$LATEST 2026/03/01/[1]abc=1"
	if strings.Join(got, " ") != want {
		t.Fatalf("streams %q, want %q", strings.Join(got, " "), want)
	}
	// Appending to an existing stream continues it.
	w := create(t, s2, "/aws/lambda/f", "2026/03/01/[1]abc")
	w.AppendString(epoch.Add(time.Second), "again")
	evs, err := s2.Events("/aws/lambda/f", Filter{Version: "1"})
	if err != nil || len(evs) != 2 || evs[1].Message != "again" {
		t.Fatalf("events after reopen = %+v, %v", evs, err)
	}
	if st, _ := s2.Streams("/aws/lambda/nope", Filter{}); st != nil {
		t.Fatalf("streams of a missing group = %v", st)
	}
}

func TestBadNamesAreRejected(t *testing.T) {
	s := openStore(t, Options{})
	for _, c := range [][2]string{{"", "s"}, {"g", ""}, {"g", "a\nb"}} {
		if _, err := s.Create(c[0], c[1]); err == nil {
			t.Errorf("Create(%q, %q) succeeded", c[0], c[1])
		}
	}
	if _, err := Open("", Options{}); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Open(\"\") error = %v", err)
	}
}

// follow collects followed events on a channel. stop cancels the follower
// and returns what Follow returned (or fails the test if it does not return).
func follow(t *testing.T, s *Store, group string, f Filter) (events <-chan Event, stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Event, 100)
	done := make(chan error, 1)
	go func() { done <- s.Follow(ctx, group, f, func(e Event) { ch <- e }) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Error("Follow did not return within 10s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return ch, stop
}

func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return Event{}
	}
}

func TestFollowDeliversOldThenNewEventsAndNewStreams(t *testing.T) {
	// A long poll interval: in-process writes must wake the follower by themselves.
	s := openStore(t, Options{FlushInterval: 5 * time.Millisecond, PollInterval: time.Hour})
	g := GroupName("fn")
	old := create(t, s, g, "2026/03/01/[1]old")
	old.AppendString(epoch, "before follow")
	s.Flush()

	ch, stop := follow(t, s, g, Filter{Version: "1"})
	if e := next(t, ch); e.Message != "before follow" {
		t.Fatalf("first event %q", e.Message)
	}
	other := create(t, s, g, "2026/03/01/[2]other")
	other.AppendString(epoch.Add(time.Second), "wrong version")
	fresh := create(t, s, g, "2026/03/01/[1]new")
	fresh.AppendString(epoch.Add(2*time.Second), "new stream")
	if e := next(t, ch); e.Message != "new stream" || e.Stream != "2026/03/01/[1]new" {
		t.Fatalf("second event %+v", e)
	}
	old.AppendString(epoch.Add(3*time.Second), "old stream again")
	if e := next(t, ch); e.Message != "old stream again" {
		t.Fatalf("third event %+v", e)
	}
	if err := stop(); err != nil {
		t.Fatalf("Follow returned %v after cancel", err)
	}
}

func TestFollowSeesOtherProcessesAndWaitsForWholeLines(t *testing.T) {
	dir := t.TempDir()
	reader, err := Open(dir, Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	g := GroupName("fn")
	ch, _ := follow(t, reader, g, Filter{})

	// Another process writes the file directly, half a line at a time.
	if err := os.MkdirAll(filepath.Join(dir, escapeName(g)), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, escapeName(g), escapeName("2026/03/01/[1]x")+streamExt)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "%s\tfirst\n%s\tsec", epoch.Format(time.RFC3339Nano), epoch.Format(time.RFC3339Nano))
	if e := next(t, ch); e.Message != "first" {
		t.Fatalf("got %q", e.Message)
	}
	fmt.Fprintf(f, "ond\n")
	if e := next(t, ch); e.Message != "second" {
		t.Fatalf("a line split across writes arrived as %q", e.Message)
	}
}

func TestConcurrentWritersKeepEveryEvent(t *testing.T) {
	s := openStore(t, Options{FlushInterval: time.Millisecond})
	g := GroupName("fn")
	const writers, events = 4, 500
	var wg sync.WaitGroup
	for i := range writers {
		w := create(t, s, g, fmt.Sprintf("2026/03/01/[1]%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range events {
				w.AppendString(epoch.Add(time.Duration(j)*time.Microsecond), strconv.Itoa(j))
			}
		}()
	}
	wg.Wait()
	evs, err := s.Events(g, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != writers*events {
		t.Fatalf("%d events, want %d", len(evs), writers*events)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Time.Before(evs[i-1].Time) {
			t.Fatalf("events out of time order at %d", i)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	msg := []byte("REPORT RequestId: 6f1b1b2e-6d1c-4e1e-9a43-0f1f1b2c3d4e\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\t")
	var n int
	var mu sync.Mutex
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		n++
		w, err := s.Create("/aws/lambda/bench", fmt.Sprintf("2026/03/01/[1]%d", n))
		mu.Unlock()
		if err != nil {
			b.Error(err)
			return
		}
		now := epoch
		for pb.Next() {
			w.Append(now, msg)
		}
	})
}

func TestLogsArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.Create(GroupName("fn"), "2026/01/01/[1]abc")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A function that floods its output cannot fill the disk: past the cap its
// events are dropped, one line says so, and the platform's lines still go in.
func TestStreamCap(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MaxStreamBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.Create(GroupName("fn"), "2026/01/01/[1]abc")
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 100))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 1000 {
		w.Append(now, line)
	}
	w.AppendPlatform(now, []byte("REPORT RequestId: r1"))
	w.Close()
	events, err := s.Events(GroupName("fn"), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var size, notices int
	for _, e := range events {
		size += len(e.Message)
		if strings.Contains(e.Message, "reached its cap") {
			notices++
		}
	}
	if size > 5<<10 || notices != 1 || events[len(events)-1].Message != "REPORT RequestId: r1" {
		t.Fatalf("%d events, %d bytes, %d notices, last %q", len(events), size, notices, events[len(events)-1].Message)
	}
}

func TestLongEventIsTruncated(t *testing.T) {
	s := openStore(t, Options{})
	w := create(t, s, "/aws/lambda/long", "s1")
	w.AppendString(epoch, strings.Repeat("x", 300<<10))
	w.Close()
	evs, err := s.Events("/aws/lambda/long", Filter{})
	if err != nil || len(evs) != 1 || len(evs[0].Message) != MaxEventBytes {
		t.Fatalf("%v: %d events, want one of %d bytes", err, len(evs), MaxEventBytes)
	}
}
