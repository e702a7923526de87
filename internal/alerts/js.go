package alerts

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The plugin is JavaScript built on lodash; the output must be JSON-equal to
// what it writes. These helpers reproduce the few JavaScript and lodash
// semantics it relies on, on plain JSON values (map[string]any, []any,
// string, float64, bool, nil). In these maps an absent key is JavaScript's
// undefined (and is absent from the JSON), a nil value is null.

// Merge merges src into dst with lodash.merge semantics and returns the
// result: mappings merge key by key, lists index by index, anything else in
// src replaces what dst holds (null included). dst may be modified when it is
// a mapping or list; src never is, and the result shares no mapping or list
// with src, so later merges cannot reach back into the configuration.
func Merge(dst, src any) any {
	switch s := src.(type) {
	case map[string]any:
		switch d := dst.(type) {
		case map[string]any:
			for k, v := range s {
				d[k] = Merge(d[k], v)
			}
			return d
		case []any:
			// lodash merges the keys into the array object; only index keys
			// survive JSON.stringify.
			for k, v := range s {
				i, err := strconv.Atoi(k)
				if err != nil || i < 0 || strconv.Itoa(i) != k || i > maxMergeIndex {
					continue
				}
				for len(d) <= i {
					d = append(d, nil)
				}
				d[i] = Merge(d[i], v)
			}
			return d
		default:
			out := make(map[string]any, len(s))
			for k, v := range s {
				out[k] = Merge(nil, v)
			}
			return out
		}
	case []any:
		d, _ := dst.([]any)
		if d == nil {
			d = make([]any, 0, len(s))
		}
		for i, v := range s {
			if i < len(d) {
				d[i] = Merge(d[i], v)
			} else {
				d = append(d, Merge(nil, v))
			}
		}
		return d
	default:
		return src
	}
}

// maxMergeIndex bounds the holes a mapping merged into a list can open
// (JavaScript would happily make {"999999999": x} a sparse array).
const maxMergeIndex = 1 << 12

// clone deep-copies a JSON value.
func clone(v any) any { return Merge(nil, v) }

// union is lodash.union: the items of every list argument (others are
// skipped), in order, without repeated primitives. Mappings and lists are
// compared by identity in JavaScript, so each one is kept.
func union(lists ...any) []unionItem {
	var out []unionItem
	seen := map[any]bool{}
	for li, l := range lists {
		items, ok := l.([]any)
		if !ok {
			continue
		}
		for i, it := range items {
			switch it.(type) {
			case map[string]any, []any:
			default:
				if seen[it] {
					continue
				}
				seen[it] = true
			}
			out = append(out, unionItem{list: li, index: i, value: it})
		}
	}
	return out
}

// unionItem is one item union kept, with where it came from.
type unionItem struct {
	list, index int
	value       any
}

// jsString is JavaScript's String(v) (the key is absent: pass absent=true
// for undefined).
func jsString(v any, absent bool) string {
	if absent {
		return "undefined"
	}
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return jsNumber(v)
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, it := range v {
			if it != nil {
				parts[i] = jsString(it, false)
			}
		}
		return strings.Join(parts, ",")
	}
	return "[object Object]"
}

// lodashString is lodash.toString: like String, but null and undefined are "".
func lodashString(v any) string {
	if v == nil {
		return ""
	}
	return jsString(v, false)
}

// jsNumber is JavaScript's Number.prototype.toString for a float64.
func jsNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	if a := math.Abs(f); a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1.5e-07
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[0]
	exp = strings.TrimLeft(exp[1:], "0")
	return mant + "e" + string(sign) + exp
}

// upperFirst is lodash.upperFirst.
func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// replaceFirst is JavaScript's str.replace(pattern, replacement) with a
// string pattern: only the first occurrence is replaced, and $$, $&, $` and
// $' in the replacement are expanded.
func replaceFirst(s, pattern, repl string) string {
	i := strings.Index(s, pattern)
	if i < 0 {
		return s
	}
	if !strings.Contains(repl, "$") {
		return s[:i] + repl + s[i+len(pattern):]
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for j := 0; j < len(repl); j++ {
		c := repl[j]
		if c != '$' || j+1 == len(repl) {
			b.WriteByte(c)
			continue
		}
		switch repl[j+1] {
		case '$':
			b.WriteByte('$')
		case '&':
			b.WriteString(pattern)
		case '`':
			b.WriteString(s[:i])
		case '\'':
			b.WriteString(s[i+len(pattern):])
		default:
			b.WriteByte('$')
			continue
		}
		j++
	}
	b.WriteString(s[i+len(pattern):])
	return b.String()
}
