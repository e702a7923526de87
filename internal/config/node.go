package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// kind is the type of a configuration value.
type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindMap
	kindList
)

func (k kind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "a mapping", "a list"}[k]
}

// node is one value of the configuration document and where it is written.
// The loader parses YAML (or JSON, which is YAML) into nodes, resolves
// variables on them, and only then decodes them into the typed model, so
// every error can point at the line the user has to change.
type node struct {
	kind  kind
	str   string  // kindString; also the literal text of numbers and booleans
	num   float64 // kindNumber
	b     bool    // kindBool
	keys  []string
	vals  []*node // kindMap values, in file order, parallel to keys
	items []*node // kindList
	pos   Pos
	// unresolved is set on a string whose variable could not be resolved;
	// the error is reported only if sluice actually uses the value (the
	// framework may well resolve it, e.g. ${ssm:…} at deploy time).
	unresolved *Diagnostic
}

func (n *node) get(key string) *node {
	if n == nil || n.kind != kindMap {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

func (n *node) set(key string, v *node) {
	for i, k := range n.keys {
		if k == key {
			n.vals[i] = v
			return
		}
	}
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, v)
}

// clone copies n deeply, placing the copy at pos (values copied by a
// variable are reported where the variable is written).
func (n *node) clone(pos Pos) *node {
	if n == nil {
		return nil
	}
	c := *n
	c.pos = pos
	if n.keys != nil {
		c.keys = append([]string(nil), n.keys...)
		c.vals = make([]*node, len(n.vals))
		for i, v := range n.vals {
			c.vals[i] = v.clone(pos)
		}
	}
	if n.items != nil {
		c.items = make([]*node, len(n.items))
		for i, v := range n.items {
			c.items[i] = v.clone(pos)
		}
	}
	return &c
}

// toAny converts n to the plain values encoding/json produces
// (map[string]any, []any, string, float64, bool, nil).
func (n *node) toAny() any {
	if n == nil {
		return nil
	}
	switch n.kind {
	case kindBool:
		return n.b
	case kindNumber:
		return n.num
	case kindString:
		return n.str
	case kindMap:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k] = n.vals[i].toAny()
		}
		return m
	case kindList:
		l := make([]any, len(n.items))
		for i, v := range n.items {
			l[i] = v.toAny()
		}
		return l
	}
	return nil
}

// scalarText is the text of a scalar as it would appear inside a string.
func (n *node) scalarText() (string, bool) {
	switch n.kind {
	case kindString:
		return n.str, true
	case kindNumber:
		return formatNumber(n.num), true
	case kindBool:
		return strconv.FormatBool(n.b), true
	case kindNull:
		return "null", true
	}
	return "", false
}

func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// parseDocument parses YAML or JSON source into a node tree.
func parseDocument(file string, src []byte) (*node, error) {
	if trimmed := bytes.TrimSpace(src); len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(src) {
		return parseJSONDocument(file, src)
	}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, syntaxError(file, err)
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return &node{kind: kindMap, pos: Pos{File: file, Line: 1, Col: 1}}, nil
	}
	if len(f.Docs) > 1 {
		// DocumentNode.GetToken dereferences the body, which an empty
		// document (a trailing `---`) does not have; its header has the place.
		d, tok := f.Docs[1], f.Docs[1].Start
		if d.Body != nil {
			tok = d.Body.GetToken()
		}
		return nil, &Diagnostic{Pos: posOf(file, tok), Msg: "the file holds more than one YAML document", Hint: "keep the whole service in one document (remove the extra `---`)"}
	}
	c := converter{file: file, anchors: map[string]*node{}}
	return c.convert(f.Docs[0].Body, 0)
}

func syntaxError(file string, err error) error {
	// goccy/go-yaml errors carry a token with the position.
	type tokenError interface{ GetToken() *token.Token }
	type messageError interface{ GetMessage() string }
	d := &Diagnostic{Pos: Pos{File: file}, Msg: "invalid YAML: " + err.Error(), Hint: "fix the syntax at this place"}
	if te, ok := err.(tokenError); ok && te.GetToken() != nil {
		d.Pos = posOf(file, te.GetToken())
	}
	if me, ok := err.(messageError); ok {
		d.Msg = "invalid YAML: " + me.GetMessage()
	}
	return d
}

func posOf(file string, t *token.Token) Pos {
	if t == nil || t.Position == nil {
		return Pos{File: file}
	}
	return Pos{File: file, Line: t.Position.Line, Col: t.Position.Column}
}

type converter struct {
	file    string
	anchors map[string]*node
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

func (c *converter) convert(n ast.Node, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, &Diagnostic{Pos: posOf(c.file, n.GetToken()), Msg: "the document nests deeper than 200 levels", Hint: "flatten it"}
	}
	pos := posOf(c.file, n.GetToken())
	switch n := n.(type) {
	case *ast.NullNode:
		return &node{kind: kindNull, pos: pos}, nil
	case *ast.BoolNode:
		return &node{kind: kindBool, b: n.Value, str: strconv.FormatBool(n.Value), pos: pos}, nil
	case *ast.IntegerNode:
		var f float64
		switch v := n.Value.(type) {
		case int64:
			f = float64(v)
		case uint64:
			f = float64(v)
		default:
			return nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("cannot read the number %q", n.String())}
		}
		return &node{kind: kindNumber, num: f, str: n.Token.Value, pos: pos}, nil
	case *ast.FloatNode:
		return &node{kind: kindNumber, num: n.Value, str: n.Token.Value, pos: pos}, nil
	case *ast.InfinityNode:
		return &node{kind: kindNumber, num: n.Value, str: n.Token.Value, pos: pos}, nil
	case *ast.NanNode:
		return &node{kind: kindNumber, num: math.NaN(), str: n.Token.Value, pos: pos}, nil
	case *ast.StringNode:
		return &node{kind: kindString, str: n.Value, pos: pos}, nil
	case *ast.LiteralNode:
		return &node{kind: kindString, str: n.Value.Value, pos: pos}, nil
	case *ast.MappingValueNode:
		m := &node{kind: kindMap, pos: posOf(c.file, n.Key.GetToken())}
		if err := c.addPair(m, n, depth); err != nil {
			return nil, err
		}
		return m, nil
	case *ast.MappingNode:
		m := &node{kind: kindMap, pos: pos}
		if len(n.Values) > 0 {
			m.pos = posOf(c.file, n.Values[0].Key.GetToken())
		}
		// Explicit keys first, so they win over keys a merge (<<) brings in
		// wherever the merge is written.
		for _, merges := range []bool{false, true} {
			for _, mv := range n.Values {
				if mv.Key.IsMergeKey() != merges {
					continue
				}
				if err := c.addPair(m, mv, depth); err != nil {
					return nil, err
				}
			}
		}
		return m, nil
	case *ast.SequenceNode:
		l := &node{kind: kindList, pos: pos, items: make([]*node, 0, len(n.Values))}
		for _, v := range n.Values {
			item, err := c.convert(v, depth+1)
			if err != nil {
				return nil, err
			}
			l.items = append(l.items, item)
		}
		return l, nil
	case *ast.AnchorNode:
		v, err := c.convert(n.Value, depth+1)
		if err != nil {
			return nil, err
		}
		c.anchors[n.Name.String()] = v
		return v, nil
	case *ast.AliasNode:
		name := n.Value.String()
		v, ok := c.anchors[name]
		if !ok {
			return nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("alias *%s names no anchor defined before it", name), Hint: "define &" + name + " earlier in the file"}
		}
		return v.clone(pos), nil
	case *ast.TagNode:
		return c.convertTag(n, depth)
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &node{kind: kindNull, pos: pos}, nil
	}
	return nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("unsupported YAML construct %q", n.Type().String())}
}

func (c *converter) addPair(m *node, mv *ast.MappingValueNode, depth int) error {
	if mv.Key.IsMergeKey() {
		src, err := c.convert(mv.Value, depth+1)
		if err != nil {
			return err
		}
		return c.merge(m, src, posOf(c.file, mv.Key.GetToken()))
	}
	keyNode, err := c.convert(mv.Key, depth+1)
	if err != nil {
		return err
	}
	key, ok := keyNode.scalarText()
	if !ok {
		return &Diagnostic{Pos: keyNode.pos, Msg: "a mapping key must be a plain value, not " + keyNode.kind.String()}
	}
	v, err := c.convert(mv.Value, depth+1)
	if err != nil {
		return err
	}
	if v.kind == kindNull && v.pos.Line == 0 {
		v.pos = keyNode.pos
	}
	if m.get(key) != nil {
		return &Diagnostic{Pos: keyNode.pos, Path: key, Msg: "the key is written twice in the same mapping", Hint: "keep one of them"}
	}
	m.keys = append(m.keys, key)
	m.vals = append(m.vals, v)
	// Values report errors at their key: the line the user looks for.
	v.pos = keyNode.pos
	return nil
}

// merge applies a YAML merge key (`<<: *base`): keys already present win.
func (c *converter) merge(m, src *node, pos Pos) error {
	srcs := []*node{src}
	if src.kind == kindList {
		srcs = src.items
	}
	for _, s := range srcs {
		if s.kind != kindMap {
			return &Diagnostic{Pos: pos, Msg: "a merge key (<<) must name a mapping", Hint: "merge an anchored mapping, e.g. <<: *defaults"}
		}
		for i, k := range s.keys {
			if m.get(k) == nil {
				m.keys = append(m.keys, k)
				m.vals = append(m.vals, s.vals[i])
			}
		}
	}
	return nil
}

// convertTag turns CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, …)
// into their long JSON form, as the Serverless Framework does.
func (c *converter) convertTag(n *ast.TagNode, depth int) (*node, error) {
	pos := posOf(c.file, n.GetToken())
	tag := n.Start.Value
	v, err := c.convert(n.Value, depth+1)
	if err != nil {
		return nil, err
	}
	var fn string
	switch tag {
	case "!Ref":
		fn = "Ref"
	case "!Condition":
		fn = "Condition"
	case "!GetAtt":
		fn = "Fn::GetAtt"
		if v.kind == kindString {
			// !GetAtt Resource.Attribute → ["Resource", "Attribute"]
			res, attr, _ := strings.Cut(v.str, ".")
			v = &node{kind: kindList, pos: v.pos, items: []*node{
				{kind: kindString, str: res, pos: v.pos},
				{kind: kindString, str: attr, pos: v.pos},
			}}
		}
	case "!Base64", "!Cidr", "!FindInMap", "!GetAZs", "!ImportValue", "!Join", "!Select", "!Split", "!Sub",
		"!And", "!Equals", "!If", "!Not", "!Or", "!Transform":
		fn = "Fn::" + strings.TrimPrefix(tag, "!")
	case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!binary", "!!timestamp":
		return v, nil
	default:
		return nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("unknown YAML tag %s", tag), Hint: "use a CloudFormation short form (!Ref, !GetAtt, !Sub, …) or remove the tag"}
	}
	return &node{kind: kindMap, pos: pos, keys: []string{fn}, vals: []*node{v}}, nil
}
