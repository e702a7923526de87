package cfnjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Encode writes v as JSON.stringify(v, null, 2) does: two-space indent,
// no HTML escaping, no final newline. Each object's keys come in the order
// o recorded for it (see Decode); keys it did not record (added since)
// follow, sorted. With a nil o every object is sorted, as encoding/json
// writes maps. Values are the ones Decode produces, plus what Go code adds
// to them: ints, float64s, and any other value encoding/json can marshal.
func Encode(v any, o *Order) ([]byte, error) {
	return AppendEncode(nil, v, o)
}

// AppendEncode is Encode appending to buf.
func AppendEncode(buf []byte, v any, o *Order) ([]byte, error) {
	e := encoder{b: buf}
	if err := e.value(v, o, 0); err != nil {
		return nil, err
	}
	return e.b, nil
}

type encoder struct {
	b []byte
}

func (e *encoder) newline(depth int) {
	e.b = append(e.b, '\n')
	for range depth {
		e.b = append(e.b, ' ', ' ')
	}
}

func (e *encoder) value(v any, o *Order, depth int) error {
	switch x := v.(type) {
	case nil:
		e.b = append(e.b, "null"...)
	case string:
		e.b = appendString(e.b, x)
	case json.Number:
		if x == "" {
			e.b = append(e.b, '0') // as encoding/json writes the zero Number
		} else if !json.Valid([]byte(x)) {
			return fmt.Errorf("invalid number %q", string(x))
		} else {
			e.b = append(e.b, x...)
		}
	case bool:
		e.b = strconv.AppendBool(e.b, x)
	case int:
		e.b = strconv.AppendInt(e.b, int64(x), 10)
	case int64:
		e.b = strconv.AppendInt(e.b, x, 10)
	case float64:
		return e.float(x)
	case map[string]any:
		return e.object(x, o, depth)
	case []any:
		return e.array(x, o, depth)
	default:
		// Anything else Go code put in: as encoding/json writes it, indented
		// in place (its maps sorted).
		raw, err := json.Marshal(x)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		prefix := make([]byte, 2*depth)
		for i := range prefix {
			prefix[i] = ' '
		}
		if err := json.Indent(&buf, raw, string(prefix), "  "); err != nil {
			return err
		}
		e.b = append(e.b, buf.Bytes()...)
	}
	return nil
}

// float writes a number as JavaScript (and encoding/json) does.
func (e *encoder) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("unsupported number %v", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(e.b)
	e.b = strconv.AppendFloat(e.b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7, as JavaScript writes it.
		n := len(e.b)
		if n-start >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
	return nil
}

func (e *encoder) object(m map[string]any, o *Order, depth int) error {
	if len(m) == 0 {
		e.b = append(e.b, '{', '}')
		return nil
	}
	e.b = append(e.b, '{')
	written := 0
	var known []string
	if o != nil {
		known = o.Keys
		for i, k := range o.Keys {
			v, ok := m[k]
			if !ok {
				continue
			}
			var kid *Order
			if o.Kids != nil {
				kid = o.Kids[i]
			}
			if err := e.member(written, k, v, kid, depth); err != nil {
				return err
			}
			written++
		}
	}
	if written < len(m) {
		rest := make([]string, 0, len(m)-written)
		var set map[string]bool
		if len(known) > 8 {
			set = make(map[string]bool, len(known))
			for _, k := range known {
				set[k] = true
			}
		}
		for k := range m {
			if set != nil && set[k] || set == nil && slices.Contains(known, k) {
				continue
			}
			rest = append(rest, k)
		}
		slices.Sort(rest)
		for _, k := range rest {
			if err := e.member(written, k, m[k], nil, depth); err != nil {
				return err
			}
			written++
		}
	}
	e.newline(depth)
	e.b = append(e.b, '}')
	return nil
}

// member writes the i-th member of an object at depth.
func (e *encoder) member(i int, k string, v any, o *Order, depth int) error {
	if i > 0 {
		e.b = append(e.b, ',')
	}
	e.newline(depth + 1)
	e.b = appendString(e.b, k)
	e.b = append(e.b, ':', ' ')
	return e.value(v, o, depth+1)
}

func (e *encoder) array(l []any, o *Order, depth int) error {
	if len(l) == 0 {
		e.b = append(e.b, '[', ']')
		return nil
	}
	e.b = append(e.b, '[')
	for i, v := range l {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.newline(depth + 1)
		var item *Order
		if o != nil && i < len(o.Items) {
			item = o.Items[i]
		}
		if err := e.value(v, item, depth+1); err != nil {
			return err
		}
	}
	e.newline(depth)
	e.b = append(e.b, ']')
	return nil
}

const hex = "0123456789abcdef"

// appendString quotes s as JSON.stringify does: ", \ and control
// characters escaped, everything else as is (invalid UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
