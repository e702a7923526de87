package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/registry/registrytest"
)

var runtimeDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-gateway-test-")
	if err != nil {
		panic(err)
	}
	runtimeDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// echoService publishes testdata/fn as function "echo" (timeout 1s) and
// returns an invoker for it.
func echoService(t testing.TB, settings invoke.Settings) (*invoke.Invoker, *registry.Registry) {
	t.Helper()
	reg, _, _ := registrytest.Open(t, clock.Real())
	src, _ := filepath.Abs("testdata/fn")
	if _, _, err := reg.Publish("echo", registry.Config{Runtime: "nodejs20.x", Handler: "echo.handler", Timeout: time.Second, MemorySize: 128}, src, ""); err != nil {
		t.Fatal(err)
	}
	iv := invoke.New(invoke.Options{Registry: reg, RuntimeDir: runtimeDir, StopGrace: 500 * time.Millisecond})
	iv.Configure("echo", settings)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		iv.Close(ctx)
	})
	return iv, reg
}

func testRoutes(t testing.TB, iv *invoke.Invoker) []Route {
	t.Helper()
	target, err := iv.Target("echo", "")
	if err != nil {
		t.Fatal(err)
	}
	r := func(k Kind, method, path string, cors bool) Route {
		return Route{Kind: k, Method: method, Path: path, CORS: cors, Function: "echo", Target: target, Timeout: time.Second}
	}
	return []Route{
		r(REST, "GET", "/orders", false),
		r(REST, "GET", "/orders/{id}", false),
		r(REST, "GET", "/orders/special", false),
		r(REST, "POST", "/orders/{id}/items", true),
		r(REST, "ANY", "/files/{proxy+}", false),
		r(HTTPAPI, "GET", "/items", false),
		r(HTTPAPI, "GET", "/items/{id}", false),
		r(HTTPAPI, "*", "/any/{proxy+}", false),
		r(HTTPAPI, "POST", "/upload", false),
	}
}

// gatewayCase is one block of testdata/cases.txt.
type gatewayCase struct {
	line     int
	method   string
	url      string
	headers  http.Header
	body     string
	status   int
	respHdr  [][2]string
	respBody *string
	event    [][2]string
}

func readCases(t *testing.T, file string) []*gatewayCase {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []*gatewayCase
	var c *gatewayCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.TrimSpace(line) == "" {
			c = nil
			continue
		}
		if c == nil {
			c = &gatewayCase{line: n, headers: http.Header{}}
			cases = append(cases, c)
		}
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case ">":
			switch {
			case c.method == "":
				c.method, c.url, _ = strings.Cut(rest, " ")
			case strings.HasPrefix(rest, "body "):
				c.body = strings.TrimPrefix(rest, "body ")
			default:
				k, v, ok := strings.Cut(rest, ": ")
				if !ok {
					t.Fatalf("%s:%d: cannot read request line %q", file, n, line)
				}
				c.headers.Add(k, v)
			}
		case "status":
			fmt.Sscan(rest, &c.status)
		case "header":
			k, v, _ := strings.Cut(rest, ": ")
			c.respHdr = append(c.respHdr, [2]string{k, v})
		case "body":
			c.respBody = &rest
		case "event":
			p, v, _ := strings.Cut(rest, " ")
			c.event = append(c.event, [2]string{p, v})
		default:
			t.Fatalf("%s:%d: unknown line %q", file, n, line)
		}
	}
	return cases
}

// at walks a dotted path through decoded JSON; nil when absent.
func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestGatewayCases(t *testing.T) {
	iv, _ := echoService(t, invoke.Settings{})
	g := New(Options{Stage: "dev", BinaryMediaTypes: []string{"image/*"}})
	if err := g.SetRoutes(testRoutes(t, iv)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	for _, c := range readCases(t, "testdata/cases.txt") {
		t.Run(fmt.Sprintf("line%d_%s_%s", c.line, c.method, c.url), func(t *testing.T) {
			req, err := http.NewRequest(c.method, srv.URL+c.url, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = c.headers
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			where := fmt.Sprintf("testdata/cases.txt:%d", c.line)
			if resp.StatusCode != c.status {
				t.Fatalf("%s: status %d, want %d; body %s", where, resp.StatusCode, c.status, body)
			}
			for _, h := range c.respHdr {
				if got := strings.Join(resp.Header.Values(h[0]), ", "); got != h[1] {
					t.Errorf("%s: header %s = %q, want %q", where, h[0], got, h[1])
				}
			}
			if c.respBody != nil && string(body) != *c.respBody {
				t.Errorf("%s: body %s, want %s", where, body, *c.respBody)
			}
			if len(c.event) == 0 {
				return
			}
			var ev any
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Fatalf("%s: the echoed event is not JSON: %v\n%s", where, err, body)
			}
			for _, e := range c.event {
				var want any
				if err := json.Unmarshal([]byte(e[1]), &want); err != nil {
					t.Fatalf("%s: expectation %s is not JSON: %v", where, e[1], err)
				}
				if got := at(ev, e[0]); !reflect.DeepEqual(got, want) {
					gotJSON, _ := json.Marshal(got)
					t.Errorf("%s: event.%s = %s, want %s", where, e[0], gotJSON, e[1])
				}
			}
		})
	}
}

func TestBodiesOverSixMegabytesAre413(t *testing.T) {
	iv, _ := echoService(t, invoke.Settings{})
	g := New(Options{})
	if err := g.SetRoutes(testRoutes(t, iv)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	big := bytes.Repeat([]byte("x"), MaxBodyBytes+1)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(big)
		if chunked {
			body = io.MultiReader(bytes.NewReader(big)) // no length: sent chunked
		}
		resp, err := http.Post(srv.URL+"/upload", "text/plain", body)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || string(out) != string(msgTooLarge) {
			t.Errorf("chunked=%v: %d %s, want 413", chunked, resp.StatusCode, out)
		}
	}
}

func TestThrottledInvocationsAre429(t *testing.T) {
	zero := 0
	iv, _ := echoService(t, invoke.Settings{ReservedConcurrency: &zero})
	g := New(Options{})
	if err := g.SetRoutes(testRoutes(t, iv)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	for _, url := range []string{"/dev/orders", "/items"} {
		resp, err := http.Get(srv.URL + url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("GET %s with reservedConcurrency 0: %d, want 429", url, resp.StatusCode)
		}
	}
}

func TestCatchAllRouteAndSwappingRoutes(t *testing.T) {
	iv, _ := echoService(t, invoke.Settings{})
	g := New(Options{})
	target, _ := iv.Target("echo", "")
	if err := g.SetRoutes(testRoutes(t, iv)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ev map[string]any
		json.NewDecoder(resp.Body).Decode(&ev)
		return resp.StatusCode, ev
	}
	if code, _ := get("/somewhere/else"); code != 404 {
		t.Fatalf("before the catch-all: %d, want 404", code)
	}
	routes := append(testRoutes(t, iv), Route{Kind: HTTPAPI, Method: "*", Path: "*", Function: "echo", Target: target})
	if err := g.SetRoutes(routes); err != nil {
		t.Fatal(err)
	}
	code, ev := get("/somewhere/else")
	if code != 200 || ev["routeKey"] != "$default" {
		t.Fatalf("catch-all: %d routeKey %v, want 200 $default", code, ev["routeKey"])
	}
	// Specific routes still win over the catch-all.
	if _, ev := get("/items/3"); ev["routeKey"] != "GET /items/{id}" {
		t.Fatalf("GET /items/3 went to %v", ev["routeKey"])
	}
}

func TestRouteTableErrors(t *testing.T) {
	g := New(Options{})
	var tgt Target = (*invoke.Target)(nil)
	for _, c := range []struct {
		routes []Route
		want   string
	}{
		{[]Route{{Kind: REST, Method: "GET", Path: "/a/{x}", Target: tgt}, {Kind: REST, Method: "GET", Path: "/a/{y}/b", Target: tgt}}, "conflicts with {x}"},
		{[]Route{{Kind: REST, Method: "GET", Path: "/a", Function: "f", Target: tgt}, {Kind: REST, Method: "GET", Path: "/a", Function: "g", Target: tgt}}, "defined twice"},
		{[]Route{{Kind: HTTPAPI, Method: "GET", Path: "/{p+}/x", Target: tgt}}, "must be the last segment"},
		{[]Route{{Kind: HTTPAPI, Method: "GET", Path: "/a"}}, "has no target"},
	} {
		if err := g.SetRoutes(c.routes); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SetRoutes(%v) = %v, want an error containing %q", c.routes, err, c.want)
		}
	}
}

func TestIntegrationTimeout(t *testing.T) {
	iv, _ := echoService(t, invoke.Settings{})
	target, _ := iv.Target("echo", "")
	// The function may run 1 s; the gateway waits 100 ms, as API Gateway
	// waits 29 s (REST) or 30 s (HTTP API) for longer-running functions.
	g := New(Options{IntegrationTimeout: 100 * time.Millisecond})
	if err := g.SetRoutes([]Route{
		{Kind: REST, Method: "GET", Path: "/slow", Function: "echo", Target: target, Timeout: time.Second},
		{Kind: HTTPAPI, Method: "GET", Path: "/slow", Function: "echo", Target: target, Timeout: time.Second},
	}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	for _, c := range []struct {
		url  string
		code int
		body []byte
	}{{"/dev/slow", 504, msgRESTTimeout}, {"/slow", 503, msgHTTPAPITimeout}} {
		req, _ := http.NewRequest("GET", srv.URL+c.url, nil)
		req.Header.Set("X-Sleep", "600")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || string(body) != string(c.body) {
			t.Errorf("GET %s sleeping past the integration timeout: %d %s, want %d %s", c.url, resp.StatusCode, body, c.code, c.body)
		}
	}
}

func TestHTTPAPICORS(t *testing.T) {
	iv, _ := echoService(t, invoke.Settings{})
	cors := DefaultHTTPAPICORS
	cors.AllowOrigins = []string{"https://shop.example"}
	cors.ExposeHeaders = []string{"X-Total"}
	g := New(Options{})
	routes := testRoutes(t, iv)
	if err := g.Set(Config{Routes: routes, HTTPAPICORS: &cors}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	do := func(method, path, origin, reqMethod string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if reqMethod != "" {
			req.Header.Set("Access-Control-Request-Method", reqMethod)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// Preflight of any HTTP API path, answered by the gateway itself.
	resp := do("OPTIONS", "/items/1", "https://shop.example", "GET")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") || resp.Header.Get("Access-Control-Allow-Headers") == "" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := do("OPTIONS", "/items/1", "https://evil.example", "GET"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin was allowed: %v", resp.Header)
	}
	// The function's response gets the headers.
	resp = do("GET", "/items/1", "https://shop.example", "")
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" || resp.Header.Get("Access-Control-Expose-Headers") != "X-Total" {
		t.Fatalf("cross-origin GET: %d %v", resp.StatusCode, resp.Header)
	}
	// REST routes are not affected: their CORS is the function's business.
	if resp := do("GET", "/dev/orders/1", "https://shop.example", ""); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("REST route got HTTP API CORS headers: %v", resp.Header)
	}
	// A configuration without CORS, set while serving, takes it away.
	if err := g.Set(Config{Routes: routes}); err != nil {
		t.Fatal(err)
	}
	if resp := do("GET", "/items/1", "https://shop.example", ""); resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("cross-origin GET after CORS was removed: %d %v", resp.StatusCode, resp.Header)
	}
}
