// Package bundle decides which files of a service directory make a
// function's code, as the Serverless Framework (v3) packages it: every file,
// then the framework's default exclusions, the definition file,
// package.exclude and .env files (with useDotenv), then package.include and
// package.patterns in order (a pattern starting with ! excludes), then the
// Node.js devDependencies last. A function packaged individually adds its
// own package.patterns; otherwise they are ignored, as the framework does.
//
// Rules are pure: they answer for paths relative to the service directory
// and never touch the disk, except Load reading the package lock.
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/jsvalue"
)

// DefaultExcludes are the framework's (lib/plugins/package/lib/package-service.js).
var DefaultExcludes = []string{".git/**", ".gitignore", ".DS_Store", "npm-debug.log", "yarn-*.log", ".serverless/**", ".serverless_plugins/**"}

// LocalExcludes are left out of local snapshots besides the framework's:
// sluice's own state and the caches tools keep in node_modules, which no
// function loads and which would make every snapshot change.
var LocalExcludes = []string{".sluice/**", "node_modules/.cache/**"}

// Rule is one step of the decision: files matching Pattern are included
// (or excluded, when Exclude).
type Rule struct {
	Pattern string
	Exclude bool
}

// Rules decide a function's files; later rules win, and the
// devDependencies, excluded last, win over all.
type Rules struct {
	rules []Rule
	// devDirs and devFiles are the devDependencies' directories and bin
	// links: hundreds of literal paths, looked up rather than matched.
	devDirs, devFiles map[string]bool
	// Key identifies the rules: functions with equal keys share one snapshot.
	Key string
}

// Include reports whether the file rel (slash-separated, relative to the
// service directory) is part of the code.
func (r *Rules) Include(rel string) bool {
	in := true // globby('**') lists every file first
	for _, ru := range r.rules {
		if match(ru.Pattern, rel) {
			in = !ru.Exclude
		}
	}
	return in && !r.devDependency(rel)
}

func (r *Rules) devDependency(rel string) bool {
	if r.devFiles[rel] {
		return true
	}
	for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if r.devDirs[dir] {
			return true
		}
	}
	return false
}

// Prune reports whether every file below the directory rel is excluded, so
// a walk need not enter it: an exclusion covers the whole directory and no
// later inclusion can reach into it.
func (r *Rules) Prune(rel string) bool {
	if r.devDirs[rel] {
		return true
	}
	for i := len(r.rules) - 1; i >= 0; i-- {
		ru := r.rules[i]
		if !ru.Exclude {
			if mayReach(ru.Pattern, rel) {
				return false
			}
			continue
		}
		if base, ok := strings.CutSuffix(ru.Pattern, "/**"); ok && match(base, rel) {
			return true
		}
	}
	return false
}

// match is micromatch's test with {dot: true}, which doublestar's matches.
func match(pattern, rel string) bool {
	ok, err := doublestar.Match(strings.TrimPrefix(pattern, "./"), rel)
	return err == nil && ok
}

// mayReach reports whether pattern could match a path below dir.
func mayReach(pattern, dir string) bool {
	lit := strings.TrimPrefix(pattern, "./")
	if i := strings.IndexAny(lit, "*?[{"); i >= 0 {
		lit = lit[:i]
	}
	litDir := ""
	if i := strings.LastIndexByte(lit, '/'); i >= 0 {
		litDir = lit[:i]
	}
	if litDir == "" {
		return true
	}
	return strings.HasPrefix(dir+"/", litDir+"/") || strings.HasPrefix(litDir+"/", dir+"/")
}

// Individually reports whether f is packaged on its own.
func Individually(svc *config.Service, f *config.Function) bool {
	return jsvalue.Truthy(section(svc.Raw)["individually"]) || jsvalue.Truthy(section(f.Raw)["individually"])
}

// ForFunction builds f's rules. devExcludes are the devDependency
// exclusions (DevDependencies); warnings say what the framework would warn.
func ForFunction(svc *config.Service, f *config.Function, devExcludes []string) (r *Rules, warnings []string) {
	var ex, in []string
	ex = append(ex, DefaultExcludes...)
	ex = append(ex, LocalExcludes...)
	ex = append(ex, filepath.Base(svc.File))
	sp := section(svc.Raw)
	ex = append(ex, stringList(sp["exclude"])...)
	if jsvalue.Truthy(svc.Raw["useDotenv"]) {
		ex = append(ex, ".env*")
	}
	in = append(in, stringList(sp["include"])...)
	in = append(in, stringList(sp["patterns"])...)
	fp := section(f.Raw)
	if Individually(svc, f) {
		ex = append(ex, stringList(fp["exclude"])...)
		in = append(in, stringList(fp["include"])...)
		in = append(in, stringList(fp["patterns"])...)
	} else if len(stringList(fp["patterns"])) > 0 {
		warnings = append(warnings, fmt.Sprintf("functions.%s.package.patterns apply only with package.individually: true (as the framework does, they are ignored)", f.Key))
	}
	r = &Rules{}
	for _, p := range union(ex) {
		if e, ok := strings.CutPrefix(p, "!"); ok {
			r.rules = append(r.rules, Rule{Pattern: e})
		} else {
			r.rules = append(r.rules, Rule{Pattern: p, Exclude: true})
		}
	}
	for _, p := range union(in) {
		if e, ok := strings.CutPrefix(p, "!"); ok {
			r.rules = append(r.rules, Rule{Pattern: e, Exclude: true})
		} else {
			r.rules = append(r.rules, Rule{Pattern: p})
		}
	}
	excludeDev := true
	if v, ok := sp["excludeDevDependencies"]; ok && v != nil {
		excludeDev = jsvalue.Truthy(v)
	}
	r.devDirs, r.devFiles = map[string]bool{}, map[string]bool{}
	if excludeDev {
		for _, p := range devExcludes {
			if dir, ok := strings.CutSuffix(p, "/**"); ok {
				r.devDirs[dir] = true
			} else {
				r.devFiles[p] = true
			}
		}
	}
	var key strings.Builder
	for _, ru := range r.rules {
		fmt.Fprintf(&key, "%v %s\n", ru.Exclude, ru.Pattern)
	}
	if excludeDev {
		for _, p := range devExcludes {
			fmt.Fprintf(&key, "dev %s\n", p)
		}
	}
	r.Key = key.String()
	return r, warnings
}

// DevDependencies returns exclusion patterns (dir/** and literal bin
// links, no other globs) for the packages of dir's
// node_modules that only devDependencies need, read from package-lock.json
// (or npm's hidden node_modules/.package-lock.json): the packages npm marks
// "dev", and their .bin links, as the framework excludes what `npm ls --dev`
// lists but `npm ls --prod` does not. Without a lock file (yarn, say) it
// asks npm ls, as the framework does; without npm, nothing is excluded.
func DevDependencies(dir string) ([]string, error) {
	var lock struct {
		Packages map[string]struct {
			Dev bool            `json:"dev"`
			Bin json.RawMessage `json:"bin"`
		} `json:"packages"`
	}
	var src []byte
	var err error
	for _, name := range []string{"package-lock.json", filepath.Join("node_modules", ".package-lock.json")} {
		src, err = os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if src == nil {
		return npmLsDev(dir), nil
	}
	if err := json.Unmarshal(src, &lock); err != nil {
		return nil, fmt.Errorf("read the package lock of %s: %w", dir, err)
	}
	var out []string
	for p, pkg := range lock.Packages {
		if pkg.Dev && strings.Contains(p, "node_modules/") {
			out = append(out, devExcludes(p, pkg.Bin)...)
		}
	}
	sort.Strings(out)
	return out, nil
}

// devExcludes are the patterns that leave out the package at rel (a path
// below node_modules) and its bin links, which live in the .bin of the
// node_modules holding it. bin is package.json's: a string or a mapping.
func devExcludes(rel string, bin json.RawMessage) []string {
	out := []string{rel + "/**"}
	i := strings.LastIndex(rel, "node_modules/") + len("node_modules/")
	binDir, name := rel[:i]+".bin/", rel[i:]
	var bins map[string]string
	if json.Unmarshal(bin, &bins) == nil {
		for b := range bins {
			out = append(out, binDir+b)
		}
	} else if len(bin) > 0 && bin[0] == '"' {
		out = append(out, binDir+path.Base(name))
	}
	return out
}

// npmLsDev is the framework's own way: the packages `npm ls --all` lists
// in dir's node_modules that `npm ls --all --omit=dev` does not.
func npmLsDev(dir string) []string {
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		return nil
	}
	list := func(args ...string) map[string]bool {
		cmd := exec.Command("npm", append([]string{"ls", "--parseable", "--all", "--silent"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "NODE_ENV=")
		out, _ := cmd.Output() // npm ls exits 1 on any extraneous or missing package; its list still holds
		m := map[string]bool{}
		for _, line := range strings.Split(string(out), "\n") {
			if rel, err := filepath.Rel(dir, strings.TrimSpace(line)); err == nil && strings.HasPrefix(rel, "node_modules"+string(filepath.Separator)) {
				m[filepath.ToSlash(rel)] = true
			}
		}
		return m
	}
	all := list()
	if len(all) == 0 {
		return nil
	}
	prod := list("--omit=dev")
	var out []string
	for rel := range all {
		if prod[rel] {
			continue
		}
		var pkg struct {
			Bin json.RawMessage `json:"bin"`
		}
		if b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel), "package.json")); err == nil {
			json.Unmarshal(b, &pkg)
		}
		out = append(out, devExcludes(rel, pkg.Bin)...)
	}
	sort.Strings(out)
	return out
}

func section(raw map[string]any) map[string]any {
	m, _ := raw["package"].(map[string]any)
	return m
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, it := range list {
		if s, ok := it.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// union keeps the first of each pattern, as lodash's _.union.
func union(list []string) []string {
	seen := map[string]bool{}
	out := list[:0:0]
	for _, p := range list {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
