package corpus_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/sluice-dev/sluice/integrations/serverless/frameworktest"
)

var (
	update = flag.Bool("update", false, "rewrite sluice's goldens (sluice.<line>.json, sluice.<line>.txt)")
	regen  = flag.Bool("regen", false, "run the real framework lines and rewrite their goldens (framework.<line>.json, plugins.<line>.json or .err); slow: see regen.sh")
)

// lines are the framework lines the corpus is packaged with, by the short
// name their goldens carry.
var lines = []struct {
	key  string
	line frameworktest.Line
}{{"v3", frameworktest.V3}, {"osls4", frameworktest.OSLS}}

// sluiceBin is cmd/sluice, built once for the tests.
var sluiceBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "sluice-corpus")
	if err != nil {
		panic(err)
	}
	if sluiceBin, err = frameworktest.BuildSluice(dir); err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// provenance is a case's PROVENANCE.yml.
type provenance struct {
	Repository string   `yaml:"repository"`
	Path       string   `yaml:"path"`
	Commit     string   `yaml:"commit"`
	Licence    string   `yaml:"licence"`
	About      string   `yaml:"about"`
	Adapted    []string `yaml:"adapted"`
	Stage      string   `yaml:"stage"`
	Region     string   `yaml:"region"`
}

type corpusCase struct {
	name string
	dir  string
	prov provenance
}

func cases(t *testing.T) []corpusCase {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var cs []corpusCase
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c := corpusCase{name: e.Name(), dir: filepath.Join("testdata", e.Name())}
		b, err := os.ReadFile(filepath.Join(c.dir, "PROVENANCE.yml"))
		if err != nil {
			t.Fatalf("%s: every case needs a PROVENANCE.yml: %v", c.name, err)
		}
		if err := yaml.UnmarshalWithOptions(b, &c.prov, yaml.Strict()); err != nil {
			t.Fatalf("%s/PROVENANCE.yml: %v", c.name, err)
		}
		p := c.prov
		if p.Repository == "" || p.Path == "" || len(p.Commit) != 40 || p.Licence == "" || p.About == "" || p.Stage == "" || p.Region == "" {
			t.Fatalf("%s/PROVENANCE.yml: repository, path, commit (40 hex digits), licence, about, stage and region are all required: %+v", c.name, p)
		}
		cs = append(cs, c)
	}
	return cs
}

// The corpus holds at least 15 public services.
func TestCorpusSize(t *testing.T) {
	if n := len(cases(t)); n < 15 {
		t.Fatalf("the corpus has %d services; it must keep at least 15", n)
	}
}

// TestCorpus runs `sluice package` on the template the real framework
// compiled for each service (framework.<line>.json, made by regen.sh), and
// compares its output and messages with the goldens, then with what the
// real JS plugins produced (plugins.<line>.json): every difference must be
// a deviation named in the case's deviations.txt and described in
// DEVIATIONS.md.
func TestCorpus(t *testing.T) {
	if *regen {
		frameworktest.Require(t)
	}
	documented := documentedDeviations(t)
	var mu sync.Mutex
	used := map[string]bool{}
	checked, all := 0, len(cases(t))
	t.Run("services", func(t *testing.T) {
		for _, c := range cases(t) {
			checkCase(t, c, documented, func(name string) {
				mu.Lock()
				defer mu.Unlock()
				if name == "" {
					checked++
				} else {
					used[name] = true
				}
			})
		}
	})
	// With every case checked (no -run filter), each documented deviation
	// must still occur somewhere.
	if !t.Failed() && checked == all {
		for name := range documented {
			if !used[name] {
				t.Errorf("DEVIATIONS.md describes %q, which no case shows: remove it or add a case", name)
			}
		}
	}
}

// checkCase checks one service; use records each deviation it shows, and
// "" once the case is checked.
func checkCase(t *testing.T, c corpusCase, documented map[string]bool, use func(name string)) {
	t.Run(c.name, func(t *testing.T) {
		if *regen {
			t.Parallel() // the framework runs take a while
			for _, l := range lines {
				regenerate(t, c, l.key, l.line)
			}
		}
		devs := readDeviations(t, c, documented)
		covered := make([]bool, len(devs))
		for _, l := range lines {
			framework := filepath.Join(c.dir, "framework."+l.key+".json")
			if _, err := os.Stat(framework); err != nil {
				t.Fatalf("%v: run corpus/regen.sh to package the service with the real framework", err)
			}
			out, msgs, ok := runSluice(t, c, framework)
			golden(t, filepath.Join(c.dir, "sluice."+l.key+".txt"), []byte(msgs))
			if ok {
				golden(t, filepath.Join(c.dir, "sluice."+l.key+".json"), out)
			} else if _, err := os.Stat(filepath.Join(c.dir, "sluice."+l.key+".json")); err == nil && !*update {
				t.Errorf("sluice refused the service on %s, and a template golden exists:\n%s", l.key, msgs)
			}

			// The real plugins' result: a template, or their error.
			var diffs []string
			plugins, perr := os.ReadFile(filepath.Join(c.dir, "plugins."+l.key+".json"))
			switch {
			case perr == nil && ok:
				diffs = differences(decode(t, out), decode(t, plugins), "")
			case perr == nil && !ok:
				diffs = []string{"* (sluice refuses what the plugins package)"}
			case errors.Is(perr, os.ErrNotExist) && ok:
				if _, err := os.Stat(filepath.Join(c.dir, "plugins."+l.key+".err")); err != nil {
					t.Fatalf("no plugins.%s.json nor .err: run corpus/regen.sh", l.key)
				}
				diffs = []string{"* (the plugins fail where sluice packages)"}
			case errors.Is(perr, os.ErrNotExist):
				// Both refuse the service.
			default:
				t.Fatal(perr)
			}
			for _, d := range diffs {
				i := coveringDeviation(devs, d)
				if i < 0 {
					t.Errorf("%s: sluice differs from the plugins at %s: name the deviation in %s/deviations.txt", l.key, d, c.dir)
					continue
				}
				covered[i] = true
				use(devs[i].name)
			}
		}
		use("") // this case was checked
		for i, d := range devs {
			if !covered[i] {
				t.Errorf("deviations.txt lists %s (%s), but sluice and the plugins no longer differ there: remove it", d.path, d.name)
			}
		}
	})
}

// The committed framework goldens are what the real framework produces:
// two cases are packaged again here, one on each line.
func TestFrameworkGoldensAreCurrent(t *testing.T) {
	frameworktest.Require(t)
	for i, l := range lines {
		c := pick(t, []string{"canary-plugin-example", "acloudguru-alerts-example"}[i])
		t.Run(l.key+"/"+c.name, func(t *testing.T) {
			t.Parallel()
			got, out, err := packageWithFramework(t, c, l.line, noPlugins)
			if err != nil {
				t.Fatalf("%s package: %v\n%s", l.line.Name, err, out)
			}
			want, err := os.ReadFile(filepath.Join(c.dir, "framework."+l.key+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if d := differences(decode(t, got), decode(t, want), ""); len(d) > 0 {
				t.Fatalf("%s now compiles %s differently from its golden (run corpus/regen.sh): %v", l.line.Name, c.name, d)
			}
		})
	}
}

// On real services too, the serverless-sluice plugin (in place of the two
// JS plugins) produces the template `sluice package` writes: two cases,
// one on each line.
func TestServerlessSluicePlugin(t *testing.T) {
	frameworktest.Require(t)
	for i, l := range lines {
		c := pick(t, []string{"better-apis-workshop", "typescript-template-canary-alerts"}[i])
		t.Run(l.key+"/"+c.name, func(t *testing.T) {
			t.Parallel()
			got, out, err := packageWithFramework(t, c, l.line, withSluicePlugin)
			if err != nil {
				t.Fatalf("%s package with serverless-sluice: %v\n%s", l.line.Name, err, out)
			}
			want, err := os.ReadFile(filepath.Join(c.dir, "sluice."+l.key+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if d := differences(decode(t, got), decode(t, want), ""); len(d) > 0 {
				t.Fatalf("the plugin's template differs from sluice package's golden at %v", d)
			}
		})
	}
}

func pick(t *testing.T, name string) corpusCase {
	for _, c := range cases(t) {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no case %s", name)
	return corpusCase{}
}

// regenerate packages the case with the real framework line, without and
// with the JS plugins, and writes the goldens.
func regenerate(t *testing.T, c corpusCase, key string, line frameworktest.Line) {
	t.Helper()
	tpl, out, err := packageWithFramework(t, c, line, noPlugins)
	if err != nil {
		t.Fatalf("%s package (no plugins): %v\n%s", line.Name, err, out)
	}
	writeFile(t, filepath.Join(c.dir, "framework."+key+".json"), tpl)

	tpl, out, err = packageWithFramework(t, c, line, withJSPlugins)
	jsonPath, errPath := filepath.Join(c.dir, "plugins."+key+".json"), filepath.Join(c.dir, "plugins."+key+".err")
	os.Remove(jsonPath)
	os.Remove(errPath)
	if err != nil {
		writeFile(t, errPath, []byte(frameworkError(out)))
		return
	}
	writeFile(t, jsonPath, tpl)
}

// What a packaging lists in plugins:.
type pluginsListed int

const (
	noPlugins        pluginsListed = iota
	withJSPlugins                  // the case's own list: the JS plugins
	withSluicePlugin               // serverless-sluice in their place
)

// packageWithFramework runs `<line> package` on a copy of the case with
// lenient validation (the plugins' keys are not all declared, nor those of
// plugins left out) and returns the compiled template.
func packageWithFramework(t *testing.T, c corpusCase, line frameworktest.Line, plugins pluginsListed) (tpl []byte, out string, err error) {
	dir, err := os.MkdirTemp("", "sluice-corpus-"+c.name)
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)
	src, err := os.ReadFile(filepath.Join(c.dir, "serverless.yml"))
	if err != nil {
		return nil, "", err
	}
	if plugins != withJSPlugins {
		src = withoutPlugins(src)
	}
	src = append(append(bytes.TrimRight(src, "\n"), '\n'), "configValidationMode: warn\n"...)
	var env []string
	if plugins == withSluicePlugin {
		// Installed outside the service, so that the package (and the
		// version IDs hashed from it) holds the same files as the goldens'.
		elsewhere := t.TempDir()
		frameworktest.InstallSluicePlugin(t, elsewhere)
		src = fmt.Appendf(src, "plugins:\n  localPath: %s\n  modules:\n    - serverless-sluice\n", filepath.Join(elsewhere, "node_modules"))
		env = []string{"SLUICE_BIN=" + sluiceBin}
	}
	if err := os.WriteFile(filepath.Join(dir, "serverless.yml"), src, 0o644); err != nil {
		return nil, "", err
	}
	// One stub for every handler: the corpus packages configuration, not
	// code, and the same file in every run keeps the code hashes (and so
	// the version IDs) equal.
	if err := os.WriteFile(filepath.Join(dir, "handler.js"), []byte("// stub\n"), 0o644); err != nil {
		return nil, "", err
	}
	out, err = frameworktest.Run(line, dir, env, "package", "--stage", c.prov.Stage, "--region", c.prov.Region)
	if err != nil {
		return nil, out, err
	}
	tpl, err = os.ReadFile(filepath.Join(dir, ".serverless", "cloudformation-template-update-stack.json"))
	if err != nil {
		return nil, out, err
	}
	return canonical(frameworktest.Stable(tpl)), out, nil
}

// canonical re-encodes a template with its keys sorted: the framework's key
// order varies from run to run (osls compiles function versions
// concurrently), and sluice keeps the order it reads, so without this every
// regeneration would churn the goldens.
func canonical(b []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return b // not JSON: left for the comparison to report
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return b
	}
	return out.Bytes()
}

// withoutPlugins drops the top-level plugins: block.
func withoutPlugins(src []byte) []byte {
	var out bytes.Buffer
	skipping := false
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := sc.Text()
		topLevel := line != "" && line[0] != ' ' && line[0] != '#' && line[0] != '\t'
		if topLevel {
			skipping = strings.HasPrefix(line, "plugins:")
		}
		if !skipping {
			out.WriteString(line + "\n")
		}
	}
	return out.Bytes()
}

// frameworkError keeps the framework's error message, without the lines
// that name this machine (paths, versions).
var machineSpecific = regexp.MustCompile(`(?m)^(Environment|Docs|Support|Bugs|Credentials):.*\n|/[^ \n]*/sluice-corpus-[^ /\n]*`)

func frameworkError(out string) string {
	if i := strings.Index(out, "Error:"); i >= 0 {
		out = out[i:]
	}
	return strings.TrimSpace(machineSpecific.ReplaceAllString(out, "")) + "\n"
}

// runSluice runs `sluice package` on a framework golden; out is the
// template, msgs what it printed to standard error and its exit status.
func runSluice(t *testing.T, c corpusCase, template string) (out []byte, msgs string, ok bool) {
	t.Helper()
	cmd := exec.Command(sluiceBin, "package", "--config", filepath.Join(c.dir, "serverless.yml"),
		"--stage", c.prov.Stage, "--region", c.prov.Region, "--template", template)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	code := cmd.ProcessState.ExitCode()
	return stdout.Bytes(), fmt.Sprintf("%sexit status %d\n", stderr.String(), code), code == 0
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		writeFile(t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./corpus -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what sluice writes now (review, then go test ./corpus -update):\n%s", path, firstLineDiff(want, got))
	}
}

func firstLineDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  golden: %s\n  now:    %s", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return v
}

// differences lists the paths where sluice's template (a) and the
// plugins' (b) differ: a key only one has, or a value that differs.
func differences(a, b any, path string) []string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return []string{path}
		}
		var out []string
		for k, av := range x {
			p := join(path, k)
			bv, ok := y[k]
			if !ok {
				out = append(out, p+" (only sluice)")
				continue
			}
			out = append(out, differences(av, bv, p)...)
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				out = append(out, join(path, k)+" (only the plugins)")
			}
		}
		sort.Strings(out)
		return out
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return []string{path}
		}
		var out []string
		for i := range x {
			out = append(out, differences(x[i], y[i], fmt.Sprintf("%s[%d]", path, i))...)
		}
		return out
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		return []string{path}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// deviation is one line of a case's deviations.txt: the path where sluice
// and the plugins differ (everything under it) and the name of the reason.
type deviation struct{ path, name string }

func readDeviations(t *testing.T, c corpusCase, documented map[string]bool) []deviation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "deviations.txt"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var devs []deviation
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("%s/deviations.txt:%d: want `<path> <deviation name>`, got %q", c.dir, i+1, line)
		}
		if !documented[f[1]] {
			t.Fatalf("%s/deviations.txt:%d: %q is not a deviation described in DEVIATIONS.md", c.dir, i+1, f[1])
		}
		devs = append(devs, deviation{path: f[0], name: f[1]})
	}
	return devs
}

// coveringDeviation returns the index of the deviation whose path is diff's
// path or one of its parents, or -1.
func coveringDeviation(devs []deviation, diff string) int {
	p, _, _ := strings.Cut(diff, " (")
	for i, d := range devs {
		if p == d.path || strings.HasPrefix(p, d.path+".") || strings.HasPrefix(p, d.path+"[") {
			return i
		}
	}
	return -1
}

// documentedDeviations reads the names of DEVIATIONS.md's "### name"
// headings.
func documentedDeviations(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("DEVIATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "### "); ok {
			names[strings.Trim(strings.TrimSpace(name), "`")] = true
		}
	}
	return names
}
