package alerts

import (
	"encoding/json"
	"testing"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func encode(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The expectations are what lodash.merge 4.6.2 returns (checked with node).
func TestMergeIsLodashMerge(t *testing.T) {
	for _, c := range []struct{ dst, src, want string }{
		{`{"a":1,"b":{"c":[1,2,3],"d":"x"}}`, `{"b":{"c":[9],"e":null},"f":[{"g":1}]}`, `{"a":1,"b":{"c":[9,2,3],"d":"x","e":null},"f":[{"g":1}]}`},
		{`{"a":[1,2]}`, `{"a":{"1":"x","k":"y","5":"z"}}`, `{"a":[1,"x",null,null,null,"z"]}`},
		{`{"a":{"b":1}}`, `{"a":[1]}`, `{"a":[1]}`},
		{`{"a":"s"}`, `{"a":{"b":1}}`, `{"a":{"b":1}}`},
		{`{"a":[{"x":1,"y":2}]}`, `{"a":[{"x":null}]}`, `{"a":[{"x":null,"y":2}]}`},
		{`{}`, `{"a":[]}`, `{"a":[]}`},
		{`{"a":1}`, `{"a":null}`, `{"a":null}`},
		{`null`, `{"a":{"b":[1]}}`, `{"a":{"b":[1]}}`},
	} {
		src := decode(t, c.src)
		if got := encode(t, Merge(decode(t, c.dst), src)); got != c.want {
			t.Errorf("merge(%s, %s) = %s, want %s", c.dst, c.src, got, c.want)
		}
		if encode(t, src) != encode(t, decode(t, c.src)) {
			t.Errorf("merge modified its source %s", c.src)
		}
	}
}

func TestMergeSharesNothingWithSource(t *testing.T) {
	src := map[string]any{"a": map[string]any{"b": []any{1.0}}}
	out := Merge(nil, src).(map[string]any)
	out["a"].(map[string]any)["b"].([]any)[0] = 2.0
	if src["a"].(map[string]any)["b"].([]any)[0] != 1.0 {
		t.Fatal("the merged value aliases its source")
	}
}

func TestUnion(t *testing.T) {
	// lodash.union(["a","b"], "x", ["b",{n:1},"c",1,null], undefined, ["a",null,true])
	got := union([]any{"a", "b"}, "x", []any{"b", map[string]any{"n": 1.0}, "c", 1.0, nil}, nil, []any{"a", nil, true})
	var vals []any
	for _, it := range got {
		vals = append(vals, it.value)
	}
	if s := encode(t, vals); s != `["a","b",{"n":1},"c",1,null,true]` {
		t.Errorf("union = %s", s)
	}
	if got[2].list != 2 || got[2].index != 1 {
		t.Errorf("union lost where {n:1} came from: %+v", got[2])
	}
}

func TestReplaceFirst(t *testing.T) {
	// "a$[x]b$[x]".replace("$[x]", "$$-$&-$`-$'-$1") in JavaScript:
	if got := replaceFirst("a$[x]b$[x]", "$[x]", "$$-$&-$`-$'-$1"); got != "a$-$[x]-a-b$[x]-$1b$[x]" {
		t.Errorf("got %q", got)
	}
	if got := replaceFirst("abc", "x", "y"); got != "abc" {
		t.Errorf("got %q", got)
	}
}

func TestJSString(t *testing.T) {
	a, b := 0.1, 0.2 // variables: Go adds constants exactly
	for _, c := range []struct {
		v    any
		want string
	}{
		{1.5e-7, "1.5e-7"}, {1e21, "1e+21"}, {123456789012.0, "123456789012"}, {a + b, "0.30000000000000004"},
		{nil, "null"}, {true, "true"}, {[]any{"a", nil, 1.0}, "a,,1"}, {map[string]any{}, "[object Object]"},
	} {
		if got := jsString(c.v, false); got != c.want {
			t.Errorf("String(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	if jsString(nil, true) != "undefined" {
		t.Error("undefined")
	}
}
