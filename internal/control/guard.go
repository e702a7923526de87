package control

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The API listener serves the control API and the AWS-compatible APIs on
// a port any web page can reach: a browser sends a cross-origin POST with
// Content-Type text/plain without a preflight, and DNS rebinding makes an
// attacker's domain resolve to 127.0.0.1. Guard stops both before any
// handler runs:
//
//   - a request that carries an Origin header not on this machine is refused
//     (the CLI and the AWS SDKs send none; browsers always send one on POST);
//   - the control API also needs a loopback Host header (rebinding sends the
//     attacker's name), a loopback peer (with --host 0.0.0.0 the control API
//     stays local) and the engine's random token, which only engine.json,
//     readable by its owner alone, holds.
//
// When the listener itself is bound to loopback, every path also needs a
// loopback Host.

// NewToken returns a random control API token.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b)
}

// TokenHeader carries the token: "Authorization: Bearer <token>".
const TokenHeader = "Authorization"

// Guard wraps the API listener's handler.
type Guard struct {
	// Token is what control API requests must present; empty refuses every
	// control request.
	Token string
	// LoopbackListener tells that the listener is bound to a loopback
	// address: then every request needs a loopback Host header.
	LoopbackListener bool
	Next             http.Handler
}

func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && !localOrigin(o) {
		refuse(w, http.StatusForbidden, "ForbiddenOrigin", "requests from web pages ("+o+") are refused: the engine's APIs are for local tools and functions")
		return
	}
	control := strings.HasPrefix(r.URL.Path, Prefix) || r.URL.Path == strings.TrimSuffix(Prefix, "/")
	if (control || g.LoopbackListener) && !loopbackHost(r.Host) {
		refuse(w, http.StatusForbidden, "ForbiddenHost", "Host "+r.Host+" is not this machine: use 127.0.0.1 or localhost")
		return
	}
	if !control {
		g.Next.ServeHTTP(w, r)
		return
	}
	if !loopbackPeer(r.RemoteAddr) {
		refuse(w, http.StatusForbidden, "ForbiddenPeer", "the control API only answers this machine; run the sluice command where `sluice serve` runs")
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get(TokenHeader), "Bearer ")
	if !ok || g.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(g.Token)) != 1 {
		refuse(w, http.StatusUnauthorized, "Unauthorized", "the control API needs the token in "+InfoFile+" (the sluice CLI sends it; run it as the user who runs `sluice serve`)")
		return
	}
	g.Next.ServeHTTP(w, r)
}

func refuse(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiErr{Code: code, Message: msg})
}

// localOrigin tells whether a browser Origin is a page served from this machine.
func localOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false // includes "null": sandboxed frames and file:// pages
	}
	return loopbackName(u.Hostname())
}

// loopbackHost tells whether a Host header names this machine.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return loopbackName(strings.Trim(host, "[]"))
}

func loopbackName(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true // RFC 6761: always loopback, browsers never resolve it elsewhere
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func loopbackPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopback tells whether a listen address (--host) is a loopback one.
func IsLoopback(host string) bool { return loopbackName(host) }
