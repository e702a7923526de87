package gateway

import (
	"net/http"
	"strconv"
	"strings"
)

// CORS is an HTTP API's CORS configuration (provider.httpApi.cors). Unlike
// a REST API's `cors: true`, which only answers preflight requests, API
// Gateway applies it to every route: it answers preflight OPTIONS requests
// itself and adds the CORS headers to the function's responses.
type CORS struct {
	AllowOrigins     []string // "*" for any
	AllowHeaders     []string
	AllowMethods     []string // "*" for any
	ExposeHeaders    []string
	AllowCredentials bool
	MaxAge           int // seconds; 0: not sent
}

// DefaultHTTPAPICORS is what the Serverless Framework configures for
// `httpApi: {cors: true}`.
var DefaultHTTPAPICORS = CORS{
	AllowOrigins: []string{"*"},
	AllowHeaders: []string{"Content-Type", "X-Amz-Date", "Authorization", "X-Api-Key", "X-Amz-Security-Token", "X-Amz-User-Agent", "X-Amzn-Trace-Id"},
	AllowMethods: []string{"OPTIONS", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"},
}

// allowOrigin is the Access-Control-Allow-Origin value for origin, or "".
func (c *CORS) allowOrigin(origin string) string {
	for _, o := range c.AllowOrigins {
		if o == "*" {
			if c.AllowCredentials {
				return origin // "*" is not allowed with credentials
			}
			return "*"
		}
		if strings.EqualFold(o, origin) {
			return origin
		}
	}
	return ""
}

func (c *CORS) allowsMethod(m string) bool {
	for _, x := range c.AllowMethods {
		if x == "*" || strings.EqualFold(x, m) {
			return true
		}
	}
	return false
}

// preflight answers an OPTIONS request carrying Origin and
// Access-Control-Request-Method: 204 with the CORS headers when allowed,
// 204 without them otherwise (the browser then refuses).
func (c *CORS) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origin := r.Header.Get("Origin")
	if allow := c.allowOrigin(origin); allow != "" && c.allowsMethod(r.Header.Get("Access-Control-Request-Method")) {
		h.Set("Access-Control-Allow-Origin", allow)
		h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
		if len(c.AllowHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.ToLower(strings.Join(c.AllowHeaders, ",")))
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// decorate adds the CORS headers to a response to a cross-origin request.
func (c *CORS) decorate(h http.Header, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	allow := c.allowOrigin(origin)
	if allow == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", allow)
	if c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
}
