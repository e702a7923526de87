package engine

import (
	"net"
	"testing"

	"github.com/sluice-dev/sluice/internal/gateway"
)

// The gateway's connections, as Start wraps them, keep TCP's half-close:
// net/http needs it to answer an unread body (a 413) without a reset.
func TestGatewayConnectionsKeepCloseWrite(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := limitConns(gateway.Listener(inner), 1)
	defer ln.Close()
	client, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("the gateway's connections lost CloseWrite")
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("after CloseWrite the client read %d bytes, %v; want EOF", n, err)
	}
}
