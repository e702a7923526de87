package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/invoke"
)

type rawCase struct {
	line   int
	req    string
	status int
	body   *string
	header map[string]string
}

var repeatRE = regexp.MustCompile(`\{\{(.)\*(\d+)\}\}`)

func readRawCases(t *testing.T, file string) []rawCase {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cases []rawCase
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "> "):
			text, err := strconv.Unquote(`"` + strings.ReplaceAll(line[2:], `"`, `\"`) + `"`)
			if err != nil {
				t.Fatalf("%s:%d: %v", file, i+1, err)
			}
			text = repeatRE.ReplaceAllStringFunc(text, func(m string) string {
				sm := repeatRE.FindStringSubmatch(m)
				n, _ := strconv.Atoi(sm[2])
				return strings.Repeat(sm[1], n)
			})
			cases = append(cases, rawCase{line: i + 1, req: text})
		case strings.HasPrefix(line, "status "):
			cases[len(cases)-1].status, _ = strconv.Atoi(line[len("status "):])
		case strings.HasPrefix(line, "header "):
			name, value, _ := strings.Cut(line[len("header "):], ": ")
			c := &cases[len(cases)-1]
			if c.header == nil {
				c.header = map[string]string{}
			}
			c.header[name] = value
		case strings.HasPrefix(line, "body "):
			body := line[len("body "):]
			cases[len(cases)-1].body = &body
		}
	}
	return cases
}

func TestRawRequests(t *testing.T) {
	iv, _ := echoService(t, invoke.Settings{})
	g := New(Options{})
	if err := g.SetRoutes(testRoutes(t, iv)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(g)
	srv.Listener = Listener(srv.Listener)
	srv.Config.MaxHeaderBytes = 60 << 10 // the engine's
	srv.Start()
	defer srv.Close()
	for _, c := range readRawCases(t, "testdata/raw.txt") {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		go io.WriteString(conn, c.req) // a large body is written while the answer may already come
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Errorf("testdata/raw.txt:%d: no answer: %v", c.line, err)
			conn.Close()
			continue
		}
		body, err := io.ReadAll(resp.Body)
		conn.Close()
		if err != nil {
			t.Errorf("testdata/raw.txt:%d: reading the answer: %v", c.line, err)
		}
		if resp.StatusCode != c.status {
			t.Errorf("testdata/raw.txt:%d: status %d, want %d (%.200s)", c.line, resp.StatusCode, c.status, body)
		}
		for name, want := range c.header {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("testdata/raw.txt:%d: header %s: %q, want %q", c.line, name, got, want)
			}
		}
		if c.body != nil && string(body) != *c.body {
			t.Errorf("testdata/raw.txt:%d: body %.200s, want %s", c.line, body, *c.body)
		}
	}
}
