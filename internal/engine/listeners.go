package engine

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/runtime"
)

// Limits of the engine's HTTP servers. Without them slow-body and idle
// keep-alive connections stayed open for ever: about 20,000 exhausted the
// file descriptors and every port stopped answering.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 60 * time.Second
	// gatewayTimeout bounds reading a request and writing its answer: above
	// API Gateway's integration timeouts (29 s REST, 30 s HTTP API), after
	// which the gateway has answered anyway.
	gatewayTimeout = 35 * time.Second
	// apiReadTimeout bounds reading an AWS API request (6 MB at most).
	apiReadTimeout = time.Minute
	// apiWriteTimeout: a synchronous Invoke may run for the longest
	// function timeout, 15 minutes. The control API's watch stream lifts it.
	apiWriteTimeout = runtime.MaxTimeout + time.Minute
	// maxHeaderBytes is net/http's own limit (it adds 4 KB of slack); the
	// gateway answers API Gateway's 10 KB limit itself, in JSON.
	maxHeaderBytes = 60 << 10
	// Concurrent connections per listener; beyond, new ones wait in the
	// kernel's accept queue.
	gatewayMaxConns = 4096
	apiMaxConns     = 1024
)

func newServer(h http.Handler, read, write time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: read, WriteTimeout: write,
		IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes}
}

// limitListener accepts at most n connections at once.
type limitListener struct {
	net.Listener
	slots chan struct{}
}

func limitConns(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite passes a half-close on (see gateway.Listener): without it
// net/http closes outright on an unread body and the client may get a
// reset instead of its answer.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
