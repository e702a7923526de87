package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml/parser"
)

// yamlDocument is parseDocument without the JSON fast path.
func yamlDocument(t testing.TB, file string, src []byte) *node {
	t.Helper()
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := converter{file: file, anchors: map[string]*node{}}
	n, err := c.convert(f.Docs[0].Body, 0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// dump writes a node tree with every value's kind, text and position.
func dump(b *strings.Builder, n *node, indent string) {
	fmt.Fprintf(b, "%s%v %q %v %v @%d:%d\n", indent, n.kind, n.str, n.num, n.b, n.pos.Line, n.pos.Col)
	for i, k := range n.keys {
		fmt.Fprintf(b, "%s key %q\n", indent, k)
		dump(b, n.vals[i], indent+"  ")
	}
	for _, it := range n.items {
		dump(b, it, indent+"  ")
	}
}

// TestJSONDocumentMatchesYAML: a JSON document reads into the same nodes,
// positions included, with the fast path as with the YAML parser.
func TestJSONDocumentMatchesYAML(t *testing.T) {
	files, _ := filepath.Glob("../awscfn/testdata/conformance/*.service.*.json")
	files = append(files, "testdata/json/escapes.json")
	if len(files) < 5 {
		t.Fatalf("found %d JSON services", len(files))
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := parseJSONDocument(file, src)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var got, want strings.Builder
		dump(&got, fast, "")
		dump(&want, yamlDocument(t, file, src), "")
		if got.String() != want.String() {
			g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
			for i := range min(len(g), len(w)) {
				if g[i] != w[i] {
					t.Errorf("%s: line %d of the dump differs:\n got %s\nwant %s", file, i+1, g[i], w[i])
					break
				}
			}
		}
	}
}

func TestJSONDocumentErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"{\n  \"a\": 1,\n  \"a\": 2\n}", "3:3: a: the key is written twice"},
		{`{"a": 1e999}`, `cannot read the number "1e999"`},
		{strings.Repeat(`{"a":`, 250) + "1" + strings.Repeat("}", 250), "nests deeper than 200 levels"},
	} {
		_, err := parseDocument("s.json", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseDocument(%.30q) = %v, want an error containing %q", c.src, err, c.want)
		}
	}
}

// TestJSONExponentIsANumber: JSON's 1e3 is a number, as JSON.parse reads
// it (the YAML parser takes it for a string).
func TestJSONExponentIsANumber(t *testing.T) {
	n, err := parseDocument("s.json", []byte(`{"a": 1e3}`))
	if err != nil {
		t.Fatal(err)
	}
	if v := n.get("a"); v.kind != kindNumber || v.num != 1000 {
		t.Errorf("1e3 read as %v %q", v.kind, v.str)
	}
}
