package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/testutil"
)

// The audit's scenario: another local process finds an environment's
// Runtime API endpoint and asks for the next event, to read it (with the
// caller's Authorization header) and to forge its result. The endpoint
// turns it away; the function's own invocations carry on.
func TestStrangerCannotTakeInvocations(t *testing.T) {
	for _, c := range []struct{ name, runtime, code, handler, payload string }{
		{"node over a Unix socket", "nodejs20.x", "node", "handlers.echo", `{"secret":"s3cret"}`},
		{"python over a Unix socket", "python3.12", "python", "handlers.echo", `{"secret":"s3cret"}`},
		{"aws-lambda-go over TCP", "provided.al2023", "go", "", `{"action":"echo","value":"s3cret"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPool(t, spec(t, c.runtime, c.code, c.handler), Options{})
			invokeOK(t, p, c.payload) // an environment is up and parked on its /next
			p.mu.Lock()
			e := p.idle[0]
			p.mu.Unlock()
			addr := e.ln.Addr()

			conn, err := net.Dial(addr.Network(), addr.String())
			if err != nil {
				t.Fatalf("dial %s: %v", addr, err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")

			testutil.Eventually(t, "the endpoint to turn the stranger away", func() bool { return e.refused.Load() == 1 })
			// The function is invoked while the stranger waits.
			res := invokeOK(t, p, c.payload)
			if !strings.Contains(string(res.Payload), "s3cret") || res.ColdStart {
				t.Fatalf("the warm environment's answer: %s (cold %v)", res.Payload, res.ColdStart)
			}
			got, err := io.ReadAll(bufio.NewReader(conn))
			if len(got) > 0 {
				t.Fatalf("the stranger received %q", got)
			}
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the stranger's connection was not closed: %v", err)
			}
			if n := e.refused.Load(); n != 1 {
				t.Fatalf("%d connections refused, want 1", n)
			}
			invokeOK(t, p, c.payload)
		})
	}
}

// A forged result needs a connection too: it is refused the same way, so
// the caller gets the function's own answer.
func TestStrangerCannotForgeAResult(t *testing.T) {
	p := newPool(t, spec(t, "provided.al2023", "go", ""), Options{})
	invokeOK(t, p, `{"action":"echo","value":1}`)
	p.mu.Lock()
	e := p.idle[0]
	p.mu.Unlock()
	done := make(chan Result, 1)
	go func() {
		res, _ := p.Invoke(context.Background(), Invocation{Payload: []byte(`{"action":"hang"}`)})
		done <- res
	}()
	var id string
	testutil.Eventually(t, "the invocation to start", func() bool {
		if c := e.cur.Load(); c != nil {
			id = c.id
			return true
		}
		return false
	})
	conn, err := net.Dial("tcp", e.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"forged":true}`
	fmt.Fprintf(conn, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", id, len(body), body)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if got, _ := io.ReadAll(conn); len(got) > 0 {
		t.Fatalf("the forger got an answer: %q", got)
	}
	e.kill() // end the hanging invocation
	res := <-done
	if strings.Contains(string(res.Payload), "forged") {
		t.Fatalf("the forged result reached the caller: %s", res.Payload)
	}
}
