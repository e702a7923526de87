package slsstate

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/cfnjson"
)

// testdata/serverless-state.json is what the Serverless Framework 3.40
// wrote for cmd/sluice/testdata/package/serverless.yml.
func readState(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/serverless-state.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode(t testing.TB, b []byte) any {
	t.Helper()
	v, _, err := cfnjson.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// refsInto lists the $refs in v that point into path.
func refsInto(v any, path []string) []string {
	var found []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if p, ok := refPath(x); ok && len(p) >= len(path) && isPath(p[:len(path)], path) {
				found = append(found, x["$ref"].(string))
			}
			for _, item := range x {
				walk(item)
			}
		case []any:
			for _, item := range x {
				walk(item)
			}
		}
	}
	walk(v)
	return found
}

func TestReplaceTemplate(t *testing.T) {
	src := readState(t)
	before := decode(t, src)
	if len(refsInto(before, TemplatePath)) == 0 {
		t.Fatal("test data changed: no $ref into the template to inline")
	}
	tpl := map[string]any{"AWSTemplateFormatVersion": "2010-09-09", "Resources": map[string]any{"B": json.Number("1"), "A": json.Number("2")}}
	order := &cfnjson.Order{Keys: []string{"Resources", "AWSTemplateFormatVersion"}, Kids: []*cfnjson.Order{{Keys: []string{"B", "A"}}, nil}}
	out, err := ReplaceTemplate(src, tpl, order)
	if err != nil {
		t.Fatal(err)
	}
	after := decode(t, out)
	if got := Lookup(after, TemplatePath); !reflect.DeepEqual(got, any(tpl)) {
		t.Errorf("template = %v, want %v", got, tpl)
	}
	if !bytes.Contains(out, []byte("\"compiledCloudFormationTemplate\": {\n        \"Resources\": {\n          \"B\": 1,\n          \"A\": 2\n        },")) {
		t.Error("the new template is not written in its own key order")
	}
	if refs := refsInto(after, TemplatePath); len(refs) != 0 {
		t.Errorf("$refs into the template remain: %v", refs)
	}
	// An http authorizer's arn was a $ref to a permission's FunctionName:
	// it keeps the value it had.
	arn := Lookup(after, []string{"service", "functions", "hello", "events"}).([]any)[0]
	if got := Lookup(arn, []string{"http", "authorizer", "arn"}); !reflect.DeepEqual(got, map[string]any{"Fn::GetAtt": []any{"AuthLambdaFunction", "Arn"}}) {
		t.Errorf("authorizer arn = %v, want the GetAtt it named before", got)
	}
	// Refs elsewhere are kept.
	if got := Lookup(after, []string{"service", "initialServerlessConfig", "provider"}); !reflect.DeepEqual(got, map[string]any{"$ref": `$["service"]["provider"]`}) {
		t.Errorf("initialServerlessConfig.provider = %v, want its $ref kept", got)
	}
	// Everything outside the template is unchanged, in its order: the
	// file's start is byte for byte the same.
	i := bytes.Index(src, []byte(`"compiledCloudFormationTemplate"`))
	if i < 0 || !bytes.Equal(out[:i], src[:i]) {
		t.Error("the state before the template changed")
	}
}

func TestReplaceTemplateRefusesBadState(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`not json`, "not JSON"},
		{`{"service": {"provider": {}}}`, "no service.provider.compiledCloudFormationTemplate"},
		{`{"service": {"provider": {"compiledCloudFormationTemplate": {}}, "x": {"$ref": "$[\"service\"][\"provider\"][\"compiledCloudFormationTemplate\"][\"Nope\"]"}}}`, "not in the file"},
		{`{"service": {"provider": {"compiledCloudFormationTemplate": {"a": {"$ref": "$[\"service\"][\"provider\"][\"compiledCloudFormationTemplate\"][\"a\"]"}}}, "x": {"$ref": "$[\"service\"][\"provider\"][\"compiledCloudFormationTemplate\"][\"a\"]"}}}`, "nest too deeply"},
	} {
		_, err := ReplaceTemplate([]byte(c.src), map[string]any{}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReplaceTemplate(%.50s…) = %v, want an error containing %q", c.src, err, c.want)
		}
	}
}

func TestRefPath(t *testing.T) {
	for _, c := range []struct {
		ref  string
		want []string
	}{
		{`$["a"][0]["b\"c"]`, []string{"a", "0", `b"c`}},
		{`$`, nil},
		{`$["a"`, nil},
		{`$[x]`, nil},
		{`a`, nil},
	} {
		got, ok := refPath(map[string]any{"$ref": c.ref})
		if !reflect.DeepEqual(got, c.want) || ok != (c.want != nil || c.ref == "$") {
			t.Errorf("refPath(%s) = %q, %v; want %q", c.ref, got, ok, c.want)
		}
	}
}

// FuzzReplaceTemplate: any state file either is refused with an error or
// comes back as JSON holding the new template and no $ref into it.
func FuzzReplaceTemplate(f *testing.F) {
	f.Add([]byte(`{"service": {"provider": {"compiledCloudFormationTemplate": {"R": {"a": [1]}}}, "f": {"$ref": "$[\"service\"][\"provider\"][\"compiledCloudFormationTemplate\"][\"R\"][\"a\"]"}}}`))
	f.Add([]byte(`{"service": {"provider": {"compiledCloudFormationTemplate": {}, "p": {"$ref": "$[\"service\"]"}}}}`))
	f.Add([]byte(`{"service": {"provider": {"compiledCloudFormationTemplate": 1}}, "x": [{"$ref": "$[\"x\"][0]"}]}`))
	tpl := map[string]any{"Resources": map[string]any{"New": true}}
	f.Fuzz(func(t *testing.T, src []byte) {
		out, err := ReplaceTemplate(src, tpl, nil)
		if err != nil {
			return
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("wrote invalid JSON: %v", err)
		}
		if got := Lookup(v, TemplatePath); !reflect.DeepEqual(got, any(map[string]any{"Resources": map[string]any{"New": true}})) {
			t.Fatalf("template = %v", got)
		}
		if refs := refsInto(v, TemplatePath); len(refs) != 0 {
			t.Fatalf("$refs into the template remain: %v", refs)
		}
	})
}
