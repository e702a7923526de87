package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// DefinitionNames are the service definitions Find looks for, in the
// framework's order of preference.
var DefinitionNames = []string{"serverless.yml", "serverless.yaml", "serverless.json"}

// LocalValuesNames are the files, beside the service definition, that give
// local values to the variables only AWS can resolve (${ssm:…}, ${cf:…},
// ${s3:…}, ${aws:…}, …). Keep them out of version control: they hold what
// would otherwise come from a secret store.
var LocalValuesNames = []string{"sluice.local.yml", ".sluice.local.yml"}

// Find returns the service definition to load for path: path itself when it
// names a file, else the first of DefinitionNames in the directory path
// (the current directory when path is empty).
func Find(path string) (string, error) {
	dir := path
	if dir == "" {
		dir = "."
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("read service definition: %w (pass --config with the path of serverless.yml)", err)
	}
	if !st.IsDir() {
		return path, nil
	}
	for _, name := range DefinitionNames {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			if path == "" {
				return name, nil
			}
			return p, nil
		}
	}
	for _, name := range []string{"serverless.js", "serverless.cjs", "serverless.mjs", "serverless.ts"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return "", fmt.Errorf("%s is code, which sluice does not run: write its result to JSON with `serverless print --format json > serverless.json` and use that", filepath.Join(dir, name))
		}
	}
	abs, _ := filepath.Abs(dir)
	return "", fmt.Errorf("no service definition in %s: looked for %s (pass --config with the path of yours)", abs, strings.Join(DefinitionNames, ", "))
}

// localValues are the values given for variables outside the file, keyed
// by the reference as written inside ${…} (ssm:/orders/secret).
type localValues struct {
	values map[string]*node
	file   string // the local values file, if any, for messages
}

// loadLocalValues reads sluice.local.yml (or .sluice.local.yml) in dir and
// lays vars (--var) over it.
func loadLocalValues(dir string, vars map[string]string) (*localValues, error) {
	lv := &localValues{values: map[string]*node{}}
	var found []string
	for _, name := range LocalValuesNames {
		p := filepath.Join(dir, name)
		src, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read local values: %w", err)
		}
		found = append(found, p)
		doc, err := parseDocument(p, src)
		if err != nil {
			return nil, err
		}
		if doc.kind == kindNull {
			continue
		}
		if doc.kind != kindMap {
			return nil, &Diagnostic{Pos: doc.pos, Msg: "the local values file must be a mapping of variables to values, not " + doc.kind.String(),
				Hint: "write one line per variable, e.g. `ssm:/orders/secret: s3cret`"}
		}
		for i, k := range doc.keys {
			lv.values[normalizeRef(k)] = doc.vals[i]
		}
		lv.file = p
	}
	if len(found) > 1 {
		return nil, fmt.Errorf("both %s and %s give local values: keep one", found[0], found[1])
	}
	for k, v := range vars {
		lv.values[normalizeRef(k)] = &node{kind: kindString, str: v, pos: Pos{File: "--var " + k}}
	}
	return lv, nil
}

// normalizeRef accepts a reference written with or without its ${ }.
func normalizeRef(ref string) string {
	ref = strings.TrimSpace(ref)
	if strings.HasPrefix(ref, "${") && strings.HasSuffix(ref, "}") {
		ref = strings.TrimSpace(ref[2 : len(ref)-1])
	}
	return ref
}

func (lv *localValues) lookup(ref string) (*node, bool) {
	if lv == nil {
		return nil, false
	}
	v, ok := lv.values[normalizeRef(ref)]
	return v, ok
}

// ParseAssignments reads key=value flags (--param, --var) into a map, as
// the framework reads --param: the key is everything before the first =,
// the value the rest with trailing spaces removed, and may not be empty.
func ParseAssignments(flag string, items []string) (map[string]string, error) {
	if len(items) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(items))
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		v = strings.TrimRight(v, " \t\r\n")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("--%s %q: write --%s '<key>=<value>'", flag, it, flag)
		}
		m[k] = v
	}
	return m, nil
}

// dotenvLine is dotenv 16's LINE expression (the version serverless@3.40.0
// loads), in RE2 syntax.
var dotenvLine = regexp.MustCompile("(?m)^\\s*(?:export\\s+)?([\\w.-]+)(?:\\s*=\\s*?|:\\s+?)(\\s*'(?:\\\\'|[^'])*'|\\s*\"(?:\\\\\"|[^\"])*\"|\\s*`(?:\\\\`|[^`])*`|[^#\\r\\n]+)?\\s*(?:#.*)?$")

// parseDotenv parses a .env file as dotenv 16 does: KEY=value lines,
// `export`, comments, single, double and backtick quotes (multi-line),
// \n and \r expanded in double quotes. Keys keep the order of first
// appearance; a later duplicate replaces the value.
func parseDotenv(src string) (keys []string, vals map[string]string) {
	src = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(src)
	vals = map[string]string{}
	for _, m := range dotenvLine.FindAllStringSubmatch(src, -1) {
		key, value := m[1], strings.TrimSpace(m[2])
		quote := byte(0)
		if value != "" {
			quote = value[0]
		}
		if len(value) >= 2 && strings.IndexByte("'\"`", quote) >= 0 && value[len(value)-1] == quote {
			value = value[1 : len(value)-1]
		}
		if quote == '"' {
			value = strings.NewReplacer(`\n`, "\n", `\r`, "\r").Replace(value)
		}
		if _, seen := vals[key]; !seen {
			keys = append(keys, key)
		}
		vals[key] = value
	}
	return keys, vals
}

// dotenvExpand applies dotenv-expand 10 to parsed values the way the
// framework does after dotenv.config: the process environment wins over the
// file, then $VAR, ${VAR} and ${VAR:-default} are expanded right to left.
// It returns the variables the file adds or changes.
func dotenvExpand(keys []string, parsed map[string]string, getenv func(string) (string, bool)) (map[string]string, error) {
	// dotenv.config has already set every key the environment lacks.
	env := map[string]string{}
	lookup := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		v, _ := getenv(k)
		return v
	}
	for _, k := range keys {
		if _, ok := getenv(k); !ok {
			env[k] = parsed[k]
		}
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		value, ok := getenv(k)
		if !ok {
			value = parsed[k]
		}
		v, err := interpolateDotenv(value, lookup, parsed, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		v = strings.ReplaceAll(v, `\$`, "$")
		// The environment itself changes only after every key is expanded.
		parsed[k], out[k] = v, v
	}
	return out, nil
}

var dotenvGroup = regexp.MustCompile(`^(\${?(\w+)(?::-([^}\\]*))?}?)`)

func interpolateDotenv(value string, lookup func(string) string, parsed map[string]string, depth int) (string, error) {
	if depth > 100 {
		return "", errors.New("variables expand into each other without end")
	}
	last := -1
	for i := len(value) - 1; i >= 0; i-- {
		if value[i] == '$' && (i == 0 || value[i-1] != '\\') {
			last = i
			break
		}
	}
	if last < 0 {
		return value, nil
	}
	m := dotenvGroup.FindStringSubmatch(value[last:])
	if m == nil {
		return value, nil
	}
	group, name, def := m[1], m[2], m[3]
	repl := lookup(name)
	if repl == "" {
		repl = def
	}
	if repl == "" {
		repl = parsed[name]
	}
	return interpolateDotenv(strings.Replace(value, group, repl, 1), lookup, parsed, depth+1)
}

// loadDotenv is what useDotenv loads for stage from dir, as the framework's
// lib/cli/load-dotenv.js: .env.<stage> if it exists, else .env (never
// both); values the environment already has are kept.
func loadDotenv(dir, stage string, getenv func(string) (string, bool)) (vals map[string]string, file string, err error) {
	for _, name := range []string{".env." + stage, ".env"} {
		p := filepath.Join(dir, name)
		src, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, p, fmt.Errorf("failed to load environment variables from %s: %w", p, err)
		}
		keys, parsed := parseDotenv(string(src))
		vals, err := dotenvExpand(keys, parsed, getenv)
		if err != nil {
			return nil, p, fmt.Errorf("failed to load environment variables from %s: %w", p, err)
		}
		return vals, p, nil
	}
	return nil, "", nil
}
