package gateway

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
)

// Listener wraps a gateway's listener so that the answers net/http writes
// itself, before any handler runs, reach the client as API Gateway's JSON
// errors rather than Go's plain text: a malformed request line or header
// (400), headers over the server's MaxHeaderBytes (431), an unsupported
// transfer encoding (501). Serve the gateway on it.
func Listener(ln net.Listener) net.Listener { return jsonErrorListener{ln} }

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return jsonErrorConn{c}, nil
}

type jsonErrorConn struct{ net.Conn }

// goErrorHeaders follow the status line of every answer net/http writes
// on its own (net/http's server.go); a handler's answers always carry a
// Date header, so they never match.
const goErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c jsonErrorConn) Write(p []byte) (int, error) {
	code, ok := goError(p)
	if !ok {
		return c.Conn.Write(p)
	}
	body := `{"message":"` + http.StatusText(code) + `"}`
	answer := "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) +
		"\r\nConnection: close\r\n\r\n" + body
	if _, err := c.Conn.Write([]byte(answer)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// goError reports whether p is an answer net/http wrote itself, and its status.
func goError(p []byte) (code int, ok bool) {
	const prefix = "HTTP/1.1 "
	if len(p) < len(prefix)+3 || string(p[:len(prefix)]) != prefix {
		return 0, false
	}
	eol := bytes.Index(p, []byte("\r\n"))
	if eol < 0 || !bytes.HasPrefix(p[eol:], []byte(goErrorHeaders)) {
		return 0, false
	}
	code, err := strconv.Atoi(string(p[len(prefix) : len(prefix)+3]))
	if err != nil || code < 400 {
		return 0, false
	}
	return code, true
}

// CloseWrite half-closes the connection as the TCP connection beneath
// does: net/http does so before closing on a request body it did not
// read, so the client reads its answer (a 413) rather than a reset.
func (c jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
