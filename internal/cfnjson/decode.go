// Package cfnjson reads and writes JSON documents, such as the Serverless
// Framework's compiled CloudFormation template and its state file, as
// plain Go values while keeping the order of every object's keys. The
// framework writes them with JSON.stringify(v, null, 2); writing them back
// in their own order, in the same format, keeps a rewrite a small diff.
//
// encoding/json cannot keep key order (it decodes objects into maps and
// writes maps sorted), and reading these files is most of the time a
// `sluice package` takes, so the decoder is a small single pass that also
// records the order, and the encoder writes straight into one buffer.
package cfnjson

import (
	"encoding/json"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Order is the key order of one decoded object, with the order of the
// objects inside it: Kids[i] belongs to the value of Keys[i], Items[i] to
// the i-th element of an array. A nil *Order means "no recorded order".
type Order struct {
	Keys  []string
	Kids  []*Order // nil when no value of this object holds an object
	Items []*Order // for an array: the order of each element, nil when none has one
}

// Child is the order of the value under key k (nil if none). It is for
// callers that follow a path through a document; the encoder pairs keys
// and orders by position.
func (o *Order) Child(k string) *Order {
	if o == nil || o.Kids == nil {
		return nil
	}
	for i, key := range o.Keys {
		if key == k {
			return o.Kids[i]
		}
	}
	return nil
}

// Decode parses one JSON document into the values encoding/json produces
// with UseNumber: map[string]any, []any, string, json.Number, bool and
// nil, and returns the key order of its objects. Numbers keep their text.
// Invalid UTF-8 and lone surrogates become U+FFFD, as with encoding/json.
func Decode(b []byte) (any, *Order, error) {
	d := decoder{b: b, intern: new(interner)}
	d.space()
	v, o, err := d.value(0)
	if err != nil {
		return nil, nil, err
	}
	d.space()
	if d.i < len(d.b) {
		return nil, nil, d.errorf("unexpected %q after the document", d.b[d.i])
	}
	return v, o, nil
}

// maxDepth bounds nesting, so a hostile file cannot exhaust the stack.
const maxDepth = 10000

type decoder struct {
	b      []byte
	i      int
	intern *interner // object keys repeat (Type, Properties, …): one string each
	vals   []any     // values of the objects being decoded, as a stack
	keys   []string  // their keys, likewise
	kids   []*Order  // their orders, likewise
}

// SyntaxError is a decoding error at a line and column of the input.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

func (d *decoder) errorf(format string, args ...any) error {
	line, col := 1, 1
	for _, c := range d.b[:min(d.i, len(d.b))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, *Order, error) {
	if d.i >= len(d.b) {
		return nil, nil, d.errorf("unexpected end of the document")
	}
	if depth > maxDepth {
		return nil, nil, d.errorf("nested more than %d deep", maxDepth)
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, err := d.str(false)
		return s, nil, err
	case c == '-' || c >= '0' && c <= '9':
		n, err := d.number()
		return n, nil, err
	case d.literal("true"):
		return true, nil, nil
	case d.literal("false"):
		return false, nil, nil
	case d.literal("null"):
		return nil, nil, nil
	default:
		return nil, nil, d.errorf("unexpected %q", c)
	}
}

func (d *decoder) literal(word string) bool {
	if len(d.b)-d.i >= len(word) && string(d.b[d.i:d.i+len(word)]) == word {
		d.i += len(word)
		return true
	}
	return false
}

func (d *decoder) object(depth int) (any, *Order, error) {
	d.i++ // {
	base := len(d.keys)
	hasKids := false
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return map[string]any{}, nil, nil
	}
	for {
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, nil, d.errorf("expected a key in quotes")
		}
		k, err := d.str(true)
		if err != nil {
			return nil, nil, err
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, nil, d.errorf("expected ':' after key %q", k)
		}
		d.i++
		d.space()
		v, o, err := d.value(depth + 1)
		if err != nil {
			return nil, nil, err
		}
		d.keys, d.vals, d.kids = append(d.keys, k), append(d.vals, v), append(d.kids, o)
		hasKids = hasKids || o != nil
		d.space()
		if d.i >= len(d.b) {
			return nil, nil, d.errorf("unexpected end of the document in an object")
		}
		if d.b[d.i] == ',' {
			d.i++
			d.space()
			continue
		}
		if d.b[d.i] != '}' {
			return nil, nil, d.errorf("expected ',' or '}' in an object, not %q", d.b[d.i])
		}
		d.i++
		break
	}
	keys, vals, kids := d.keys[base:], d.vals[base:], d.kids[base:]
	m := make(map[string]any, len(keys))
	if len(keys) == 1 && !hasKids {
		// One key has one order: nothing to record.
		m[keys[0]] = vals[0]
		clear(d.vals[base:])
		d.keys, d.vals, d.kids = d.keys[:base], d.vals[:base], d.kids[:base]
		return m, nil, nil
	}
	o := &Order{Keys: make([]string, 0, len(keys))}
	if hasKids {
		o.Kids = make([]*Order, 0, len(keys))
	}
	for i, k := range keys {
		m[k] = vals[i]
	}
	if len(m) == len(keys) { // no key twice: the common case
		o.Keys = append(o.Keys, keys...)
		if hasKids {
			o.Kids = append(o.Kids, kids...)
		}
		clear(d.vals[base:])
		d.keys, d.vals, d.kids = d.keys[:base], d.vals[:base], d.kids[:base]
		return m, o, nil
	}
	clear(m)
	for i, k := range keys {
		if _, dup := m[k]; dup {
			// The last value wins, in the first key's place (as JSON.parse
			// and encoding/json do).
			for j, seen := range o.Keys {
				if seen == k && hasKids {
					o.Kids[j] = kids[i]
				}
			}
			m[k] = vals[i]
			continue
		}
		m[k] = vals[i]
		o.Keys = append(o.Keys, k)
		if hasKids {
			o.Kids = append(o.Kids, kids[i])
		}
	}
	clear(d.vals[base:]) // let the values go once the document is done with
	d.keys, d.vals, d.kids = d.keys[:base], d.vals[:base], d.kids[:base]
	return m, o, nil
}

func (d *decoder) array(depth int) (any, *Order, error) {
	d.i++ // [
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return []any{}, nil, nil
	}
	var items []any
	var orders []*Order
	for {
		v, o, err := d.value(depth + 1)
		if err != nil {
			return nil, nil, err
		}
		if o != nil && orders == nil {
			orders = make([]*Order, len(items), cap(items)+1)
		}
		items = append(items, v)
		if orders != nil {
			orders = append(orders, o)
		}
		d.space()
		if d.i >= len(d.b) {
			return nil, nil, d.errorf("unexpected end of the document in an array")
		}
		if d.b[d.i] == ',' {
			d.i++
			d.space()
			continue
		}
		if d.b[d.i] != ']' {
			return nil, nil, d.errorf("expected ',' or ']' in an array, not %q", d.b[d.i])
		}
		d.i++
		break
	}
	if orders == nil {
		return items, nil, nil
	}
	return items, &Order{Items: orders}, nil
}

// interner hands out one string for equal byte strings it sees often: a
// direct-mapped cache, cheaper than a map (a miss just allocates).
type interner [4096]string

func (t *interner) get(b []byte) string {
	h := uint32(2166136261) // FNV-1a
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &t[h%uint32(len(t))]
	if *slot == string(b) { // compares without allocating
		return *slot
	}
	s := string(b)
	*slot = s
	return s
}

// maxInterned is the length up to which string values are interned too:
// short ones (types, attribute names, actions) repeat all over a template.
const maxInterned = 48

// str reads a string; keys and short values are interned.
func (d *decoder) str(key bool) (string, error) {
	d.i++ // "
	start := d.i
	plain := true // no escapes, ASCII only
	for {
		if d.i >= len(d.b) {
			return "", d.errorf("unexpected end of the document in a string")
		}
		c := d.b[d.i]
		if c == '"' {
			break
		}
		if c < 0x20 {
			return "", d.errorf("control character %q in a string: escape it", c)
		}
		if c == '\\' {
			plain = false
			d.i += 2
			continue
		}
		if c >= utf8.RuneSelf {
			plain = false
		}
		d.i++
	}
	raw := d.b[start:d.i]
	d.i++ // "
	if !plain {
		return d.unescape(raw, start)
	}
	if key || len(raw) <= maxInterned {
		return d.intern.get(raw), nil
	}
	return string(raw), nil
}

// unescape decodes a string with escapes or non-ASCII bytes; start is its
// offset, for errors.
func (d *decoder) unescape(raw []byte, start int) (string, error) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 >= len(raw) {
				d.i = start + i
				return "", d.errorf("unfinished escape")
			}
			switch e := raw[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(raw[i+2:])
				if !ok {
					d.i = start + i
					return "", d.errorf("invalid \\u escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := lowSurrogate(raw[i:]); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							i += 6
							out = utf8.AppendRune(out, dec)
							continue
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				d.i = start + i
				return "", d.errorf("invalid escape \\%c", e)
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			out = utf8.AppendRune(out, r) // RuneError for invalid bytes
			i += size
		}
	}
	return string(out), nil
}

func lowSurrogate(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	return hex4(b[2:])
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}

// number reads a number as JSON's grammar has it, keeping its text.
func (d *decoder) number() (json.Number, error) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case digits() == 0:
		return "", d.errorf("invalid number")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return "", d.errorf("invalid number: no digits after '.'")
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return "", d.errorf("invalid number: no digits in the exponent")
		}
	}
	return json.Number(d.b[start:d.i]), nil
}
