package config

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
)

// parseJSONDocument reads a document that is valid JSON into nodes, as
// parseDocument does with YAML, in a fraction of the time: the service
// the framework has loaded arrives as JSON (the serverless-sluice plugin
// passes it so), and YAML parsing was most of the time `sluice package`
// took on a large service. Only called on input json.Valid accepts, so it
// meets no syntax errors.
func parseJSONDocument(file string, src []byte) (*node, error) {
	p := jsonParser{file: file, src: src, lines: []int{0}}
	for i, c := range src {
		if c == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	p.space()
	return p.value(0)
}

type jsonParser struct {
	file  string
	src   []byte
	i     int
	lines []int // offsets at which lines start
}

func (p *jsonParser) pos(offset int) Pos {
	line := sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > offset }) // 1-based line
	return Pos{File: p.file, Line: line, Col: offset - p.lines[line-1] + 1}
}

func (p *jsonParser) space() {
	for p.i < len(p.src) {
		switch p.src[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (*node, error) {
	start := p.i
	if depth > maxDepth {
		return nil, &Diagnostic{Pos: p.pos(start), Msg: "the document nests deeper than 200 levels", Hint: "flatten it"}
	}
	switch c := p.src[p.i]; c {
	case '{':
		return p.object(depth)
	case '[':
		p.i++
		l := &node{kind: kindList, pos: p.pos(start)}
		p.space()
		for p.src[p.i] != ']' {
			item, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			l.items = append(l.items, item)
			p.space()
			if p.src[p.i] == ',' {
				p.i++
				p.space()
			}
		}
		p.i++
		if l.items == nil {
			l.items = []*node{}
		}
		return l, nil
	case '"':
		return &node{kind: kindString, str: p.str(), pos: p.pos(start)}, nil
	case 't', 'f':
		b := c == 't'
		p.i += len(strconv.FormatBool(b))
		return &node{kind: kindBool, b: b, str: strconv.FormatBool(b), pos: p.pos(start)}, nil
	case 'n':
		p.i += len("null")
		return &node{kind: kindNull, pos: p.pos(start)}, nil
	default:
		for p.i < len(p.src) && bytes.IndexByte([]byte("+-0123456789.eE"), p.src[p.i]) >= 0 {
			p.i++
		}
		lit := string(p.src[start:p.i])
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil { // out of range: as YAML, the literal it could not read
			return nil, &Diagnostic{Pos: p.pos(start), Msg: "cannot read the number " + strconv.Quote(lit)}
		}
		return &node{kind: kindNumber, num: f, str: lit, pos: p.pos(start)}, nil
	}
}

func (p *jsonParser) object(depth int) (*node, error) {
	m := &node{kind: kindMap, pos: p.pos(p.i)}
	p.i++ // {
	p.space()
	for p.src[p.i] != '}' {
		keyAt := p.pos(p.i)
		key := p.str()
		if len(m.keys) == 0 {
			m.pos = keyAt // a mapping is where its first key is, as with YAML
		}
		p.space()
		p.i++ // :
		p.space()
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if m.get(key) != nil {
			return nil, &Diagnostic{Pos: keyAt, Path: key, Msg: "the key is written twice in the same mapping", Hint: "keep one of them"}
		}
		v.pos = keyAt // values report errors at their key: the line the user looks for
		m.keys = append(m.keys, key)
		m.vals = append(m.vals, v)
		p.space()
		if p.src[p.i] == ',' {
			p.i++
			p.space()
		}
	}
	p.i++
	return m, nil
}

// str reads a string at p.i.
func (p *jsonParser) str() string {
	start := p.i
	p.i++
	escaped := false
	for p.src[p.i] != '"' {
		if p.src[p.i] == '\\' {
			escaped = true
			p.i++
		}
		p.i++
	}
	p.i++
	if !escaped {
		return string(p.src[start+1 : p.i-1])
	}
	var s string
	json.Unmarshal(p.src[start:p.i], &s) // valid: checked with the document
	return s
}
