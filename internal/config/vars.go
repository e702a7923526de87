package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Variables follow the Serverless Framework v3 syntax:
//
//	${self:custom.table}            a value elsewhere in this file
//	${opt:stage} ${opt:region}      command-line options
//	${sls:stage}                    the resolved stage
//	${env:NAME}                     the environment
//	${file(./other.yml):key}        another YAML or JSON file, relative to the service
//	${aws:region} ${aws:accountId}  the region, and a placeholder account
//	${param:name}                   --param name=value, else params.<stage>.name, else params.default.name
//	${opt:stage, 'dev'}             fallbacks, tried in order: literals or variables
//	${self:custom.${opt:stage}}     nesting
//
// A value that is exactly one variable keeps the type of what it names (a
// number stays a number, a mapping a mapping); a variable inside a longer
// string is spliced in as text.
//
// Sources only AWS can answer (${ssm:…}, ${cf:…}, ${s3:…}, …) take their
// local value from sluice.local.yml or --var, keyed by the reference as
// written: `ssm:/orders/secret: s3cret`.

// maxVarDepth bounds chains of variables so cycles end with a clear error.
const maxVarDepth = 64

type resolver struct {
	root    *node
	opts    Options
	dir     string
	files   map[string]*node
	active  map[*node]bool // nodes being resolved, to catch cycles
	done    map[*node]bool
	depth   int
	stage   string
	inStage bool
	// locals are the values of sluice.local.yml and --var.
	locals *localValues
	// missingEnv records the ${env:…} names found unset, so that a .env
	// file loaded afterwards cannot silently change what was resolved.
	missingEnv map[string]bool
}

// resolveAll resolves every variable in the tree in place. Errors on values
// sluice may never use are deferred (see node.unresolved); a cycle or a
// malformed variable is reported at once.
func (r *resolver) resolveAll() error {
	return r.resolve(r.root)
}

func (r *resolver) resolve(n *node) error {
	if n == nil || r.done[n] {
		return nil
	}
	if r.active[n] {
		return &Diagnostic{Pos: n.pos, Msg: "variables refer to each other in a cycle", Hint: "break the cycle so one of them has a plain value"}
	}
	r.active[n] = true
	defer delete(r.active, n)
	switch n.kind {
	case kindString:
		if strings.Contains(n.str, "${") {
			v, err := r.interpolate(n.str, n.pos)
			if err != nil {
				return err
			}
			if v.unresolved != nil {
				n.unresolved = v.unresolved
			} else {
				pos := n.pos
				*n = *v.clone(pos)
			}
		}
	case kindMap:
		for _, v := range n.vals {
			if err := r.resolve(v); err != nil {
				return err
			}
		}
	case kindList:
		for _, v := range n.items {
			if err := r.resolve(v); err != nil {
				return err
			}
		}
	}
	r.done[n] = true
	return nil
}

// interpolate evaluates a string holding variables.
func (r *resolver) interpolate(s string, pos Pos) (*node, error) {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > maxVarDepth {
		return nil, &Diagnostic{Pos: pos, Msg: "variables nest or chain more than 64 levels deep", Hint: "look for a variable that refers to itself"}
	}
	start, end, err := findVariable(s, pos)
	if err != nil {
		return nil, err
	}
	if start == 0 && end == len(s) {
		// The whole value is one variable: keep the named value's type.
		return r.evalVariable(s[2:end-1], pos)
	}
	var b strings.Builder
	for start >= 0 {
		b.WriteString(s[:start])
		v, err := r.evalVariable(s[start+2:end-1], pos)
		if err != nil {
			return nil, err
		}
		if v.unresolved != nil {
			return v, nil
		}
		text, ok := v.scalarText()
		if !ok {
			return nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("%s names %s, which cannot be spliced into a string", s[start:end], v.kind), Hint: "make the variable the whole value, or point it at a plain value"}
		}
		b.WriteString(text)
		s = s[end:]
		if start, end, err = findVariable(s, pos); err != nil {
			return nil, err
		}
	}
	b.WriteString(s)
	return &node{kind: kindString, str: b.String(), pos: pos}, nil
}

// findVariable returns the bounds of the first ${…} in s (start -1 if none).
func findVariable(s string, pos Pos) (start, end int, err error) {
	start = strings.Index(s, "${")
	if start < 0 {
		return -1, -1, nil
	}
	depth := 0
	var quote byte
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			if depth > 0 {
				quote = c
			}
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return start, i + 1, nil
			}
		}
	}
	return 0, 0, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("the variable in %q has no closing }", s), Hint: "close it: ${source:address}"}
}

// splitTopLevel splits a variable body on commas outside quotes and nested variables.
func splitTopLevel(body string) []string {
	var parts []string
	depth, last := 0, 0
	var quote byte
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '{':
			depth++
		case c == '}':
			depth--
		case c == ',' && depth == 0:
			parts = append(parts, strings.TrimSpace(body[last:i]))
			last = i + 1
		}
	}
	return append(parts, strings.TrimSpace(body[last:]))
}

// evalVariable evaluates the body of one ${…}: a reference and its fallbacks.
func (r *resolver) evalVariable(body string, pos Pos) (*node, error) {
	parts := splitTopLevel(body)
	var firstMiss *Diagnostic
	for i, p := range parts {
		if p == "" {
			return nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("${%s} has an empty part", body), Hint: "write ${source:address, fallback}"}
		}
		if i > 0 {
			if lit, ok := literal(p, pos); ok {
				return lit, nil
			}
		}
		ref := p
		if strings.HasPrefix(p, "${") && strings.HasSuffix(p, "}") {
			ref = p[2 : len(p)-1]
		}
		v, miss, err := r.evalReference(ref, pos)
		if err != nil {
			return nil, err
		}
		if miss == nil {
			return v, nil
		}
		if firstMiss == nil {
			firstMiss = miss
		}
	}
	return &node{kind: kindString, str: "${" + body + "}", pos: pos, unresolved: firstMiss}, nil
}

// literal parses a fallback written as a value: 'text', "text", a number, true/false or null.
func literal(p string, pos Pos) (*node, bool) {
	if len(p) >= 2 && (p[0] == '\'' || p[0] == '"') && p[len(p)-1] == p[0] {
		return &node{kind: kindString, str: p[1 : len(p)-1], pos: pos}, true
	}
	switch p {
	case "true", "false":
		return &node{kind: kindBool, b: p == "true", str: p, pos: pos}, true
	case "null":
		return &node{kind: kindNull, pos: pos}, true
	}
	if f, err := strconv.ParseFloat(p, 64); err == nil {
		return &node{kind: kindNumber, num: f, str: p, pos: pos}, true
	}
	return nil, false
}

// evalReference resolves `source:address`. A reference that names nothing
// returns miss (so the next fallback is tried); a malformed one returns err.
func (r *resolver) evalReference(ref string, pos Pos) (v *node, miss *Diagnostic, err error) {
	if strings.Contains(ref, "${") {
		inner, err := r.interpolate(ref, pos)
		if err != nil {
			return nil, nil, err
		}
		if inner.unresolved != nil {
			return nil, inner.unresolved, nil
		}
		ref = inner.str
	}
	source, address, ok := strings.Cut(ref, ":")
	if !ok && !strings.HasPrefix(ref, "file(") {
		return nil, nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("${%s} names no source", ref), Hint: "write ${self:path}, ${opt:stage}, ${sls:stage}, ${env:NAME} or ${file(./f.yml):key}"}
	}
	address = strings.TrimSpace(address)
	missing := func(msg, hint string) (*node, *Diagnostic, error) {
		return nil, &Diagnostic{Pos: pos, Msg: msg, Hint: hint}, nil
	}
	withDefault := fmt.Sprintf("or give a fallback: ${%s, 'value'}", ref)
	switch {
	case source == "self":
		v, err := r.lookup(r.root, address, pos)
		if err != nil {
			return nil, nil, err
		}
		if v == nil {
			return missing(fmt.Sprintf("${self:%s} names a key that does not exist", address), "add the key "+withDefault)
		}
		return v.clone(pos), nil, nil
	case source == "opt":
		if val, ok := r.opts.option(address); ok {
			return &node{kind: kindString, str: val, pos: pos}, nil, nil
		}
		return missing(fmt.Sprintf("${opt:%s} is not set", address), fmt.Sprintf("pass --%s %s", address, withDefault))
	case source == "sls":
		switch address {
		case "stage":
			stage, err := r.resolvedStage(pos)
			if err != nil {
				return nil, nil, err
			}
			return &node{kind: kindString, str: stage, pos: pos}, nil, nil
		case "instanceId":
			return &node{kind: kindString, str: "sluice", pos: pos}, nil, nil
		}
		return missing(fmt.Sprintf("${sls:%s} is not known", address), "use ${sls:stage}")
	case source == "env":
		if val, ok := r.opts.env(address); ok {
			return &node{kind: kindString, str: val, pos: pos}, nil, nil
		}
		if r.missingEnv != nil {
			r.missingEnv[address] = true
		}
		return missing(fmt.Sprintf("environment variable %s is not set", address), "export it "+withDefault)
	case source == "param":
		return r.evalParam(address, pos)
	}
	if v, ok := r.locals.lookup(ref); ok {
		return v.clone(pos), nil, nil
	}
	switch {
	case source == "aws":
		switch address {
		case "region":
			region := r.opts.Region
			if region == "" {
				if p := r.root.get("provider").get("region"); p != nil && r.resolve(p) == nil && p.kind == kindString && p.unresolved == nil {
					region = p.str
				} else {
					region = DefaultRegion
				}
			}
			return &node{kind: kindString, str: region, pos: pos}, nil, nil
		case "accountId":
			return &node{kind: kindString, str: LocalAccountID, pos: pos}, nil, nil
		}
		return missing(fmt.Sprintf("${aws:%s} is not known", address), "use ${aws:region} or ${aws:accountId}, or "+r.localHint(ref))
	case strings.HasPrefix(ref, "file("):
		return r.evalFile(ref, pos)
	}
	return missing(fmt.Sprintf("sluice does not resolve ${%s:…} variables (the framework resolves them on AWS)", source), r.localHint(ref))
}

// localHint says how to give an AWS-only variable a local value.
func (r *resolver) localHint(ref string) string {
	file := LocalValuesNames[0]
	if r.locals != nil && r.locals.file != "" {
		file = filepath.Base(r.locals.file)
	}
	return fmt.Sprintf("to run locally, give it a value: add the line `%s: <value>` to %s beside the service definition, pass --var '%s=<value>', or write a fallback ${%s, 'value'}", yamlKey(ref), file, ref, ref)
}

// yamlKey quotes ref when YAML would not read it back as the same key.
func yamlKey(ref string) string {
	if strings.ContainsAny(ref, "#'\"{}[],&*!|>%@`") || strings.Contains(ref, ": ") {
		return "'" + strings.ReplaceAll(ref, "'", "''") + "'"
	}
	return ref
}

// evalParam resolves ${param:name} as the framework's v3 (dashboard
// plugin) does: --param first, then params.<stage>, then params.default.
func (r *resolver) evalParam(name string, pos Pos) (*node, *Diagnostic, error) {
	if v, ok := r.opts.Params[name]; ok {
		return &node{kind: kindString, str: v, pos: pos}, nil, nil
	}
	stage, err := r.resolvedStage(pos)
	if err != nil {
		return nil, nil, err
	}
	params := r.root.get("params")
	if params != nil {
		if err := r.resolveShallow(params); err != nil {
			return nil, nil, err
		}
	}
	for _, group := range []string{stage, "default"} {
		g := params.get(group)
		if g == nil {
			continue
		}
		if err := r.resolveShallow(g); err != nil {
			return nil, nil, err
		}
		v := g.get(name)
		if v == nil || v.kind == kindNull {
			continue
		}
		if err := r.resolve(v); err != nil {
			return nil, nil, err
		}
		if v.unresolved != nil {
			return nil, v.unresolved, nil
		}
		return v.clone(pos), nil, nil
	}
	return nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("the param %q cannot be resolved from --param or stage params", name),
		Hint: fmt.Sprintf("pass --param '%s=<value>', or add it under params.%s or params.default", name, stage)}, nil
}

func (r *resolver) evalFile(ref string, pos Pos) (*node, *Diagnostic, error) {
	closeIdx := strings.Index(ref, ")")
	if closeIdx < 0 {
		return nil, nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("${%s} has no closing parenthesis", ref), Hint: "write ${file(./other.yml):key}"}
	}
	rel := strings.Trim(strings.TrimSpace(ref[len("file("):closeIdx]), `'"`)
	address := strings.TrimPrefix(strings.TrimSpace(ref[closeIdx+1:]), ":")
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(r.dir, rel)
	}
	doc, ok := r.files[path]
	if !ok {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("${file(%s)} cannot be read: %v", rel, err), Hint: "the path is relative to the service directory"}, nil
		}
		if doc, err = parseDocument(path, src); err != nil {
			return nil, nil, err
		}
		// A referenced file's own variables resolve against itself for self:.
		sub := &resolver{root: doc, opts: r.opts, dir: filepath.Dir(path), files: r.files, active: map[*node]bool{}, done: map[*node]bool{}, stage: r.stage}
		r.files[path] = doc
		if err := sub.resolveAll(); err != nil {
			return nil, nil, err
		}
	}
	v, err := r.lookup(doc, address, pos)
	if err != nil {
		return nil, nil, err
	}
	if v == nil {
		return nil, &Diagnostic{Pos: pos, Msg: fmt.Sprintf("%s has no key %q", rel, address), Hint: "add it to that file"}, nil
	}
	return v.clone(pos), nil, nil
}

// lookup finds the node at a dotted address below root, resolving the nodes
// on the way. It returns nil when the address names nothing.
func (r *resolver) lookup(root *node, address string, pos Pos) (*node, error) {
	n := root
	if address == "" {
		return n, r.resolve(n)
	}
	for _, seg := range strings.Split(address, ".") {
		if err := r.resolveShallow(n); err != nil {
			return nil, err
		}
		switch n.kind {
		case kindMap:
			n = n.get(seg)
		case kindList:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(n.items) {
				return nil, nil
			}
			n = n.items[i]
		default:
			return nil, nil
		}
		if n == nil {
			return nil, nil
		}
	}
	if err := r.resolve(n); err != nil {
		return nil, err
	}
	if n.unresolved != nil {
		return nil, nil
	}
	return n, nil
}

// resolveShallow resolves n itself when it is a variable string (so that an
// address can descend into what the variable names) without resolving its
// children, which may legitimately refer back to n's siblings.
func (r *resolver) resolveShallow(n *node) error {
	if n.kind == kindString && strings.Contains(n.str, "${") && !r.done[n] {
		return r.resolve(n)
	}
	return nil
}

// resolvedStage is the stage ${sls:stage} names: --stage, else provider.stage, else dev.
func (r *resolver) resolvedStage(pos Pos) (string, error) {
	if r.stage != "" {
		return r.stage, nil
	}
	if r.opts.Stage != "" {
		r.stage = r.opts.Stage
		return r.stage, nil
	}
	if r.inStage {
		return "", &Diagnostic{Pos: pos, Msg: "provider.stage refers to ${sls:stage}, which is provider.stage itself", Hint: "give provider.stage a plain value or a fallback such as ${opt:stage, 'dev'}"}
	}
	r.inStage = true
	defer func() { r.inStage = false }()
	stage := DefaultStage
	if p := r.root.get("provider").get("stage"); p != nil {
		if err := r.resolve(p); err != nil {
			return "", err
		}
		if p.kind == kindString && p.unresolved == nil && p.str != "" {
			stage = p.str
		}
	}
	r.stage = stage
	return stage, nil
}
