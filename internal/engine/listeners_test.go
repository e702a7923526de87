package engine

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// The audit's slow clients: a connection that never finishes its request
// headers is closed, not kept for ever.
func TestSlowClientIsDisconnected(t *testing.T) {
	e := start(t, shopDir(t), nil)
	conn, err := net.Dial("tcp", e.GatewayURL()[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /hello HTTP/1.1\r\nHost: x\r\n")) // and never the end of the headers
	conn.SetReadDeadline(time.Now().Add(readHeaderTimeout + 10*time.Second))
	_, err = io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the gateway kept a connection with unfinished headers open past %v", readHeaderTimeout)
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatal(err)
	}
}

func TestConnectionCap(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConns(inner, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted with a cap of 2")
	default:
	}
	first.Close()
	third := <-accepted // accepted only once one closed
	third.Close()
	second.Close()
}
