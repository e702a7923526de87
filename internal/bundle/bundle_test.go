package bundle

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestRulesAsTheFrameworkPackages builds every testdata service from its
// files.txt, and lists per function the files its code holds, the
// directories a walk skips, and the warnings, against want.golden.
func TestRulesAsTheFrameworkPackages(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*")
	if len(dirs) == 0 {
		t.Fatal("no test data")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "files.txt"))
			if err != nil {
				t.Fatal(err)
			}
			files := strings.Fields(string(src))
			svc, _, err := config.Load(filepath.Join(dir, "serverless.yml"), config.Options{})
			if err != nil {
				t.Fatal(err)
			}
			dev, err := DevDependencies(dir)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, f := range svc.Functions {
				rules, warnings := ForFunction(svc, f, dev)
				fmt.Fprintf(&b, "## %s (individually: %v)\n", f.Key, Individually(svc, f))
				for _, w := range warnings {
					fmt.Fprintf(&b, "warning: %s\n", w)
				}
				pruned := map[string]bool{}
				for _, file := range files {
					if rules.Include(file) {
						fmt.Fprintf(&b, "  + %s\n", file)
					}
					for d := filepath.Dir(file); d != "."; d = filepath.Dir(d) {
						if rules.Prune(d) {
							pruned[d] = true
						}
					}
				}
				var ps []string
				for d := range pruned {
					ps = append(ps, d)
				}
				sort.Strings(ps)
				fmt.Fprintf(&b, "  pruned: %s\n", strings.Join(ps, " "))
				// A pruned directory never hides an included file.
				for _, file := range files {
					for d := filepath.Dir(file); d != "."; d = filepath.Dir(d) {
						if pruned[d] && rules.Include(file) {
							t.Errorf("%s: %s is pruned but %s is included", f.Key, d, file)
						}
					}
				}
			}
			golden := filepath.Join(dir, "want.golden")
			if *update {
				os.WriteFile(golden, []byte(b.String()), 0o644)
				return
			}
			want, _ := os.ReadFile(golden)
			if b.String() != string(want) {
				t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", golden, b.String(), want)
			}
		})
	}
}

// Without a package lock (yarn, say), the devDependencies come from npm ls,
// as the framework finds them.
func TestDevDependenciesWithoutALockAskNpm(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("no npm")
	}
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"name": "svc", "version": "1.0.0", "dependencies": {"lib": "1.0.0"}, "devDependencies": {"tool": "1.0.0"}}`)
	write("node_modules/lib/package.json", `{"name": "lib", "version": "1.0.0"}`)
	write("node_modules/tool/package.json", `{"name": "tool", "version": "1.0.0", "bin": {"tool": "cli.js"}, "dependencies": {"helper": "1.0.0"}}`)
	write("node_modules/helper/package.json", `{"name": "helper", "version": "1.0.0"}`)
	got, err := DevDependencies(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "node_modules/.bin/tool node_modules/helper/** node_modules/tool/**"
	if strings.Join(got, " ") != want {
		t.Fatalf("DevDependencies = %q, want %q", got, want)
	}
}
