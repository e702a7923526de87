package cfnjson

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// frameworkFiles are templates and state files as the Serverless Framework
// wrote them (JSON.stringify(v, null, 2)).
func frameworkFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{
		"../../cmd/sluice/testdata/package/*.json",
		"../awscfn/testdata/gaps/input.json",
		"../awscfn/testdata/alerts/*/input.json",
	} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("found %d framework files, want at least 5", len(files))
	}
	return files
}

func stdDecode(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRoundTripIsIdentity: a file the framework wrote comes back byte for
// byte, keys in their order.
func TestRoundTripIsIdentity(t *testing.T) {
	for _, file := range frameworkFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.TrimRight(b, "\n")
		v, o, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if want := stdDecode(t, b); !reflect.DeepEqual(v, want) {
			t.Errorf("%s: decoded value differs from encoding/json's", file)
		}
		out, err := Encode(v, o)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !bytes.Equal(out, b) {
			i := 0
			for i < len(out) && i < len(b) && out[i] == b[i] {
				i++
			}
			t.Errorf("%s: round trip differs at byte %d:\n got %q\nwant %q", file, i, out[max(0, i-40):min(len(out), i+40)], b[max(0, i-40):min(len(b), i+40)])
		}
	}
}

// TestNewKeysFollowSorted: keys added after decoding come after the
// recorded ones, sorted; removed ones are gone.
func TestNewKeysFollowSorted(t *testing.T) {
	v, o, err := Decode([]byte(`{"z": 1, "a": {"y": true, "b": null}, "m": [{"q": 1, "p": 2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	m["c"] = 3
	m["b"] = []any{1.5, "x"}
	delete(m["a"].(map[string]any), "y")
	m["a"].(map[string]any)["x"] = map[string]any{"k2": 1, "k1": 2}
	out, err := Encode(m, o)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "z": 1,
  "a": {
    "b": null,
    "x": {
      "k1": 2,
      "k2": 1
    }
  },
  "m": [
    {
      "q": 1,
      "p": 2
    }
  ],
  "b": [
    1.5,
    "x"
  ],
  "c": 3
}`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// TestEncodeAsJavaScript: strings, numbers and other Go values as
// JSON.stringify writes them.
func TestEncodeAsJavaScript(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{"a<b>&\"\\\n\t\x01\u2028é", `"a<b>&\"\\\n\t\u0001` + "\u2028é\""},
		{"bad\xffutf8", `"bad` + "\ufffd" + `utf8"`},
		{1e21, "1e+21"},
		{1e-7, "1e-7"},
		{0.5, "0.5"},
		{float64(300), "300"},
		{json.Number("1.50"), "1.50"},
		{[]string{"a"}, "[\n  \"a\"\n]"},
		{map[string]any{}, "{}"},
		{[]any{}, "[]"},
	} {
		got, err := Encode(c.v, nil)
		if err != nil || string(got) != c.want {
			t.Errorf("Encode(%#v) = %s, %v; want %s", c.v, got, err, c.want)
		}
	}
	if _, err := Encode(json.Number("1x"), nil); err == nil {
		t.Error("an invalid json.Number was written")
	}
}

func TestDecodeErrorsHavePlaces(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"{\n  \"a\": 1,\n  \"b\" 2\n}", "line 3, column 7: expected ':'"},
		{`[1, 2`, "unexpected end"},
		{`{"a": 01}`, "expected ',' or '}'"},
		{`"a` + "\x01" + `"`, "control character"},
		{`{} {}`, "after the document"},
		{strings.Repeat("[", maxDepth+2), "nested more than"},
	} {
		_, _, err := Decode([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%.20q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

// FuzzDecode: Decode accepts what encoding/json accepts, with the same
// value, and what Encode writes decodes to that value again.
func FuzzDecode(f *testing.F) {
	// Small seeds: the mutator makes little headway on whole templates.
	f.Add([]byte("{\n  \"Resources\": {\n    \"A\": {\n      \"Type\": \"AWS::SNS::Topic\",\n      \"Properties\": {\"N\": 1}\n    }\n  }\n}"))
	for _, s := range []string{`{"a":[1,-2.5e3,true,null,"\u00e9\ud83d\ude00\ud800x"]}`, `"\\/\b\f"`, `[{}, [], {"a": {"a": 1}, "a": 2}]`, `-0`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, o, err := Decode(b)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var want any
		stdErr := dec.Decode(&want)
		if stdErr == nil && dec.InputOffset() < int64(len(bytes.TrimRight(b, " \t\r\n"))) {
			stdErr = dec.Decode(new(any)) // trailing data
			if stdErr == nil {
				stdErr = os.ErrInvalid
			}
		}
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("Decode error %v, encoding/json error %v", err, stdErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(v, want) {
			t.Fatalf("Decode = %#v, encoding/json = %#v", v, want)
		}
		out, err := Encode(v, o)
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := Decode(out)
		if err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("Encode wrote %q, which decodes to %#v (%v)", out, again, err)
		}
	})
}
