package gateway

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/runtime"
)

// Kind is which API Gateway product a route belongs to.
type Kind uint8

const (
	REST    Kind = iota // an `http` event: REST API, Lambda proxy payload format 1.0, under /<stage>
	HTTPAPI             // an `httpApi` event: HTTP API, payload format 2.0, $default stage (no prefix)
)

func (k Kind) String() string {
	if k == HTTPAPI {
		return "httpApi"
	}
	return "http"
}

// Target is what a route invokes; *invoke.Target is one.
type Target interface {
	Invoke(ctx context.Context, req invoke.Request) (runtime.Result, error)
}

// Route is one HTTP route to a function.
type Route struct {
	Kind Kind
	// Method is GET, POST, …; ANY (REST) or * (HTTP API) for every method.
	Method string
	// Path is the resource path with a leading slash: /orders/{id},
	// /files/{proxy+}; for HTTP API also * (the $default catch-all route).
	Path string
	// CORS answers preflight OPTIONS requests for the path (REST `cors: true`).
	CORS bool
	// Function is the deployed function name, Qualifier the alias invoked
	// ("" for the latest version): for display.
	Function, Qualifier string
	// Timeout is the function's timeout: when it exceeds the integration
	// timeout (29 s REST, 30 s HTTP API) the gateway stops waiting then.
	Timeout time.Duration
	Target  Target
}

// RouteKey is the route as API Gateway names it: "GET /orders/{id}",
// "ANY /{proxy+}", "$default".
func (r *Route) RouteKey() string {
	if r.Kind == HTTPAPI && r.Path == "*" {
		return "$default"
	}
	m := r.Method
	if m == "*" {
		m = "ANY"
	}
	return m + " " + r.Path
}

// anyMethod is the method key for ANY / *.
const anyMethod = "ANY"

// node is one path segment of a route table.
type node struct {
	static   map[string]*node
	param    *node  // {name}
	greedy   *node  // {name+}: the rest of the path, at least one segment
	name     string // the parameter name of param/greedy nodes
	resource string // the resource path of this node, e.g. /orders/{id}
	methods  map[string]*Route
	cors     []string // methods with cors: true, for the preflight answer
}

// table is an immutable set of routes of one kind.
type table struct {
	root     *node
	catchAll *Route // HTTP API `*` route
	routes   []*Route
}

// compile builds the table of routes of kind k. Conflicts are errors that
// name both routes.
func compile(k Kind, routes []*Route) (*table, error) {
	t := &table{root: &node{resource: "/"}}
	for _, r := range routes {
		if r.Kind != k {
			continue
		}
		t.routes = append(t.routes, r)
		if k == HTTPAPI && r.Path == "*" {
			if t.catchAll != nil {
				return nil, fmt.Errorf("two catch-all httpApi routes: %s and %s", t.catchAll.Function, r.Function)
			}
			t.catchAll = r
			continue
		}
		if !strings.HasPrefix(r.Path, "/") {
			return nil, fmt.Errorf("route %s: the path must start with /", r.RouteKey())
		}
		n := t.root
		segs := strings.Split(strings.Trim(r.Path, "/"), "/")
		if r.Path == "/" {
			segs = nil
		}
		for i, seg := range segs {
			switch {
			case seg == "":
				return nil, fmt.Errorf("route %s: empty path segment", r.RouteKey())
			case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "+}"):
				if i != len(segs)-1 {
					return nil, fmt.Errorf("route %s: a greedy parameter %s must be the last segment", r.RouteKey(), seg)
				}
				name := seg[1 : len(seg)-2]
				if n.greedy == nil {
					n.greedy = &node{name: name, resource: join(n.resource, seg)}
				} else if n.greedy.name != name {
					return nil, fmt.Errorf("route %s: %s conflicts with {%s+} of another route at the same place", r.RouteKey(), seg, n.greedy.name)
				}
				n = n.greedy
			case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
				name := seg[1 : len(seg)-1]
				if n.param == nil {
					n.param = &node{name: name, resource: join(n.resource, seg)}
				} else if n.param.name != name {
					return nil, fmt.Errorf("route %s: %s conflicts with {%s} of another route at the same place (API Gateway allows one parameter name per level)", r.RouteKey(), seg, n.param.name)
				}
				n = n.param
			default:
				if n.static == nil {
					n.static = map[string]*node{}
				}
				c := n.static[seg]
				if c == nil {
					c = &node{resource: join(n.resource, seg)}
					n.static[seg] = c
				}
				n = c
			}
		}
		m := r.Method
		if m == "*" {
			m = anyMethod
		}
		if n.methods == nil {
			n.methods = map[string]*Route{}
		}
		if old := n.methods[m]; old != nil {
			return nil, fmt.Errorf("route %s is defined twice: for %s and for %s", r.RouteKey(), old.Function, r.Function)
		}
		n.methods[m] = r
		if r.CORS {
			n.cors = append(n.cors, m)
			sort.Strings(n.cors)
		}
	}
	return t, nil
}

func join(base, seg string) string {
	if base == "/" {
		return "/" + seg
	}
	return base + "/" + seg
}

// param is one matched path parameter (the value still URL-escaped).
type param struct{ name, value string }

// params collects matched parameters without allocating for the common
// case of a few.
type params struct {
	n     int
	fixed [4]param
	more  []param
}

func (p *params) push(name, value string) {
	if p.n < len(p.fixed) {
		p.fixed[p.n] = param{name, value}
	} else {
		p.more = append(p.more[:p.n-len(p.fixed)], param{name, value})
	}
	p.n++
}

func (p *params) pop() { p.n-- }

func (p *params) at(i int) param {
	if i < len(p.fixed) {
		return p.fixed[i]
	}
	return p.more[i-len(p.fixed)]
}

// find matches the escaped path (no leading slash) with API Gateway's
// precedence: a static segment before a parameter before a greedy
// parameter, backtracking when a more specific branch leads nowhere.
func (n *node) find(rest string, ps *params) *node {
	if rest == "" {
		if n.methods != nil {
			return n
		}
		return nil
	}
	seg, tail := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		seg, tail = rest[:i], rest[i+1:]
	}
	if c := n.static[seg]; c != nil {
		if m := c.find(tail, ps); m != nil {
			return m
		}
	}
	if n.param != nil && seg != "" {
		ps.push(n.param.name, seg)
		if m := n.param.find(tail, ps); m != nil {
			return m
		}
		ps.pop()
	}
	if n.greedy != nil && n.greedy.methods != nil {
		ps.push(n.greedy.name, rest)
		return n.greedy
	}
	return nil
}

// match finds the node of path (escaped, with its leading slash).
func (t *table) match(path string, ps *params) *node {
	rest := strings.TrimPrefix(path, "/")
	if len(rest) > 0 && rest[len(rest)-1] == '/' {
		rest = rest[:len(rest)-1] // API Gateway ignores a trailing slash
	}
	return t.root.find(rest, ps)
}

// method picks the node's route for method, falling back to ANY.
func (n *node) method(m string) *Route {
	if r := n.methods[m]; r != nil {
		return r
	}
	switch m {
	case http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPatch, http.MethodPost, http.MethodPut:
		return n.methods[anyMethod] // ANY means API Gateway's seven methods, not any token
	}
	return nil
}
