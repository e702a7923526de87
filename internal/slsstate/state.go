// Package slsstate rewrites the Serverless Framework's state file,
// serverless-state.json, which `serverless deploy --package` deploys from:
// it holds the compiled template a second time, and that copy is the one
// deployed.
package slsstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/cfnjson"
)

// The framework writes serverless-state.json with json-cycle: an object met
// a second time is written as {"$ref": "$[\"service\"][\"provider\"]…"}, the
// path of its first appearance. Some of those point into the compiled
// template (an http authorizer's arn is the same object as a permission's
// FunctionName). Before the template is replaced, those are written out in
// full, so they keep meaning what they meant.
var TemplatePath = []string{"service", "provider", "compiledCloudFormationTemplate"}

// maxRefDepth bounds chains of references (a ref inside a referenced value),
// so a cyclic state cannot loop.
const maxRefDepth = 64

// State is a decoded state file.
type State struct {
	root  any
	order *cfnjson.Order
}

// Parse decodes a state file and checks that it holds a compiled template.
func Parse(src []byte) (*State, error) {
	root, order, err := cfnjson.Decode(src)
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	provider, _ := Lookup(root, TemplatePath[:2]).(map[string]any)
	if _, ok := provider[TemplatePath[2]]; !ok {
		return nil, errors.New("no service.provider.compiledCloudFormationTemplate in it")
	}
	return &State{root: root, order: order}, nil
}

// Stage and Region are the ones the framework packaged for
// (service.provider.stage and .region), or "" if the file lacks them.
func (s *State) Stage() string {
	str, _ := Lookup(s.root, []string{"service", "provider", "stage"}).(string)
	return str
}
func (s *State) Region() string {
	str, _ := Lookup(s.root, []string{"service", "provider", "region"}).(string)
	return str
}

// WithTemplate returns the state file with its compiled template replaced
// by tpl, whose keys are written in the order tplOrder recorded (see
// cfnjson). The rest of the file keeps its order and format. It changes s:
// call it once.
func (s *State) WithTemplate(tpl any, tplOrder *cfnjson.Order) ([]byte, error) {
	var err error
	root := inlineTemplateRefs(s.root, s.root, nil, 0, &err)
	if err != nil {
		return nil, err
	}
	provider, _ := Lookup(root, TemplatePath[:2]).(map[string]any)
	provider[TemplatePath[2]] = tpl
	setOrder(s.order, TemplatePath, tplOrder)
	return cfnjson.Encode(root, s.order)
}

// ReplaceTemplate is Parse and WithTemplate.
func ReplaceTemplate(src []byte, tpl any, tplOrder *cfnjson.Order) ([]byte, error) {
	s, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return s.WithTemplate(tpl, tplOrder)
}

// setOrder makes o's order for the value at path to be kid.
func setOrder(o *cfnjson.Order, path []string, kid *cfnjson.Order) {
	for depth, k := range path {
		if o == nil {
			return
		}
		i := slices.Index(o.Keys, k)
		if i < 0 {
			return
		}
		if depth == len(path)-1 {
			if o.Kids == nil {
				o.Kids = make([]*cfnjson.Order, len(o.Keys))
			}
			o.Kids[i] = kid
			return
		}
		o = o.Child(k)
	}
}

// inlineTemplateRefs returns v with every $ref that points into the
// template replaced by the value it names. path is v's place in root; the
// old template itself is skipped, as it is about to go.
func inlineTemplateRefs(root, v any, path []string, depth int, err *error) any {
	if depth > maxRefDepth {
		*err = errors.New("references nest too deeply")
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		if target, ok := refPath(x); ok {
			if !insideTemplate(target) {
				return v
			}
			resolved, ok := resolveRef(root, target, depth)
			if !ok {
				*err = fmt.Errorf("a $ref names %s, which is not in the file", x["$ref"])
				return v
			}
			return inlineTemplateRefs(root, deepCopyJSON(resolved), target, depth+1, err)
		}
		if depth == 0 && isPath(path, TemplatePath) {
			return v
		}
		for k, item := range x {
			x[k] = inlineTemplateRefs(root, item, append(path[:len(path):len(path)], k), depth, err)
		}
	case []any:
		for i, item := range x {
			x[i] = inlineTemplateRefs(root, item, append(path[:len(path):len(path)], strconv.Itoa(i)), depth, err)
		}
	}
	return v
}

// refPath parses {"$ref": "$[\"a\"][0]…"} into its keys.
func refPath(m map[string]any) ([]string, bool) {
	if len(m) != 1 {
		return nil, false
	}
	s, ok := m["$ref"].(string)
	if !ok || !strings.HasPrefix(s, "$") {
		return nil, false
	}
	var keys []string
	rest := s[1:]
	for rest != "" {
		if rest[0] != '[' {
			return nil, false
		}
		rest = rest[1:]
		if strings.HasPrefix(rest, `"`) {
			// A JSON string: find its closing quote, then decode it.
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(rest) {
				return nil, false
			}
			var key string
			if json.Unmarshal([]byte(rest[:end+1]), &key) != nil {
				return nil, false
			}
			keys = append(keys, key)
			rest = rest[end+1:]
		} else {
			end := strings.IndexByte(rest, ']')
			if end <= 0 {
				return nil, false
			}
			if _, err := strconv.Atoi(rest[:end]); err != nil {
				return nil, false
			}
			keys = append(keys, rest[:end])
			rest = rest[end:]
		}
		if !strings.HasPrefix(rest, "]") {
			return nil, false
		}
		rest = rest[1:]
	}
	return keys, true
}

func insideTemplate(path []string) bool {
	return len(path) >= len(TemplatePath) && isPath(path[:len(TemplatePath)], TemplatePath)
}

func isPath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// resolveRef finds the value at path, following references met on the way.
func resolveRef(root any, path []string, depth int) (any, bool) {
	v := root
	for _, k := range path {
		if m, ok := v.(map[string]any); ok {
			if target, ok := refPath(m); ok {
				if depth > maxRefDepth {
					return nil, false
				}
				var found bool
				if v, found = resolveRef(root, target, depth+1); !found {
					return nil, false
				}
			}
		}
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// Lookup returns the value at path in a decoded document, or nil.
func Lookup(v any, path []string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func deepCopyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, item := range x {
			m[k] = deepCopyJSON(item)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, item := range x {
			l[i] = deepCopyJSON(item)
		}
		return l
	}
	return v
}
