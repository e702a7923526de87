package awscfn

import (
	"strings"
)

// The template is plain JSON values: map[string]any, []any, string,
// float64 or json.Number, bool and nil. These helpers read it without
// panicking on any shape, since templates are user input.

// obj returns v as a JSON object, or nil.
func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// list returns v as a JSON array, or nil.
func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// str returns v as a string, or "".
func str(v any) string {
	s, _ := v.(string)
	return s
}

// at follows keys through nested objects: at(r, "Properties", "FunctionName").
func at(v any, keys ...string) any {
	for _, k := range keys {
		m := obj(v)
		if m == nil {
			return nil
		}
		v = m[k]
	}
	return v
}

// props returns a resource's Properties, or nil.
func props(r map[string]any) map[string]any { return obj(r["Properties"]) }

// refTarget is X for {"Ref": X}.
func refTarget(v any) string {
	m := obj(v)
	if len(m) != 1 {
		return ""
	}
	return str(m["Ref"])
}

// getAttTarget is X for {"Fn::GetAtt": [X, attr]} (or the "X.attr" string
// form), with attr.
func getAttTarget(v any) (resource, attr string) {
	m := obj(v)
	if len(m) != 1 {
		return "", ""
	}
	switch ga := m["Fn::GetAtt"].(type) {
	case []any:
		if len(ga) > 0 {
			resource = str(ga[0])
		}
		if len(ga) > 1 {
			attr = str(ga[1])
		}
	case string:
		resource, attr, _ = strings.Cut(ga, ".")
	}
	return resource, attr
}

// getAttOf reports whether v is {"Fn::GetAtt": [id, …]}: how the plugin
// recognises a reference to a function (it does not look at the attribute).
func getAttOf(v any, id string) bool {
	r, _ := getAttTarget(v)
	return r != "" && r == id
}

func ref(id string) map[string]any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{id, attr}}
}

// eachString calls visit for every string in v, keys excluded: the
// plugin's `_.includes(id, flattenObject(v))` test, which matches a
// function's logical ID wherever it appears as a value.
func eachString(v any, visit func(string)) {
	switch v := v.(type) {
	case string:
		visit(v)
	case map[string]any:
		for _, x := range v {
			eachString(x, visit)
		}
	case []any:
		for _, x := range v {
			eachString(x, visit)
		}
	}
}

// containsString reports whether s is one of the strings in v.
func containsString(v any, s string) bool {
	found := false
	eachString(v, func(x string) { found = found || x == s })
	return found
}

// addDependsOn adds id to r's DependsOn (a string or a list) unless it is
// there. The list is replaced, not appended to: it may be the input's.
func addDependsOn(r map[string]any, id string) {
	switch d := r["DependsOn"].(type) {
	case string:
		if d != id {
			r["DependsOn"] = []any{d, id}
		}
	case []any:
		for _, x := range d {
			if x == id {
				return
			}
		}
		r["DependsOn"] = append(d[:len(d):len(d)], id)
	default:
		r["DependsOn"] = id
	}
}

// The output template shares every value the transform does not change
// with the input (copy-on-write): copying the whole template would cost
// more than everything else the transform does. So a step never changes a
// value it did not create or copy; it copies the containers on the path to
// what it changes, with these helpers.

// cloneMap is a shallow copy of m (nil stays nil).
func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m)+1) // +1: most copies gain a key
	for k, v := range m {
		c[k] = v
	}
	return c
}

// ownObj replaces the object at m[key] with a shallow copy and returns it
// (nil when m[key] is not an object). m must already be owned.
func ownObj(m map[string]any, key string) map[string]any {
	c := cloneMap(obj(m[key]))
	if c != nil {
		m[key] = c
	}
	return c
}

// ownList replaces the array at m[key] with a shallow copy and returns it.
func ownList(m map[string]any, key string) []any {
	l := list(m[key])
	if l == nil {
		return nil
	}
	c := append([]any(nil), l...)
	m[key] = c
	return c
}

// ownItem replaces the object l[i] with a shallow copy and returns it.
// l must already be owned.
func ownItem(l []any, i int) map[string]any {
	c := cloneMap(obj(l[i]))
	if c != nil {
		l[i] = c
	}
	return c
}

func isAlphaNumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
