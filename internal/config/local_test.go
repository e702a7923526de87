package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// loadCase is one way of loading a testdata/local service: the options a
// command line would give.
type loadCase struct {
	Stage  string            `yaml:"stage"`
	Params map[string]string `yaml:"params"`
	Vars   map[string]string `yaml:"vars"`
	Local  *bool             `yaml:"local"`
}

// TestLoadLocalValues loads each service directory under testdata/local
// (found as a directory, as `sluice` finds serverless.yml/.yaml/.json) with
// each option set of its case.yml, and compares the diagnostics, the stage
// and every function's environment with want.golden. `-update` rewrites them.
func TestLoadLocalValues(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/local/*")
	if len(dirs) == 0 {
		t.Fatal("no test data")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "case.yml"))
			if err != nil {
				t.Fatal(err)
			}
			var cases []loadCase
			if err := yaml.Unmarshal(src, &cases); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, c := range cases {
				local := true
				if c.Local != nil {
					local = *c.Local
				}
				fmt.Fprintf(&b, "## stage=%q params=%v vars=%v local=%v\n", c.Stage, c.Params, c.Vars, local)
				svc, diags, err := Load(dir, Options{Stage: c.Stage, Params: c.Params, Vars: c.Vars, Local: local, Getenv: testEnv})
				if err != nil && len(diags) == 0 {
					fmt.Fprintf(&b, "error: %v\n", err)
				}
				for _, d := range diags {
					fmt.Fprintf(&b, "%s\n", d.Error())
				}
				if svc == nil {
					continue
				}
				fmt.Fprintf(&b, "service %s, stage %s, file %s\n", svc.Name, svc.Stage, filepath.Base(svc.File))
				for _, f := range svc.Functions {
					for _, k := range SortedKeys(f.Environment) {
						fmt.Fprintf(&b, "  %s %s=%q\n", f.Key, k, f.Environment[k])
					}
				}
			}
			golden := filepath.Join(dir, "want.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, _ := os.ReadFile(golden)
			if b.String() != string(want) {
				t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", golden, b.String(), want)
			}
		})
	}
}

func TestDotenvParseAndExpandAsDotenv16(t *testing.T) {
	src := "A=1\nexport B = two words  # comment\nC='single $A'\nD=\"dq\\n$A\"\nE=`back`\nF=${A}-${MISSING:-def}-$B\nG=\\$A\nH=\nA=again\nI: colon\n"
	keys, parsed := parseDotenv(src)
	got, err := dotenvExpand(keys, parsed, func(k string) (string, bool) {
		if k == "B" {
			return "from-process", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "again", "B": "from-process", "C": "single again", "D": "dq\nagain", "E": "back",
		"F": "again-def-from-process", "G": "$A", "H": "", "I": "colon"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if strings.Join(keys, ",") != "A,B,C,D,E,F,G,H,I" {
		t.Errorf("keys in order = %v", keys)
	}
	if _, err := dotenvExpand([]string{"X"}, map[string]string{"X": "$X"}, func(string) (string, bool) { return "", false }); err == nil {
		t.Error("a variable expanding into itself must be an error, not a hang")
	}
}

func TestParseAssignments(t *testing.T) {
	m, err := ParseAssignments("param", []string{"a=b=c", "k=v  "})
	if err != nil || m["a"] != "b=c" || m["k"] != "v" {
		t.Fatalf("ParseAssignments = %v, %v", m, err)
	}
	for _, bad := range []string{"novalue", "=x", "k="} {
		if _, err := ParseAssignments("param", []string{bad}); err == nil || !strings.Contains(err.Error(), "--param '<key>=<value>'") {
			t.Errorf("ParseAssignments(%q) err = %v", bad, err)
		}
	}
}
