package validate

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// TestGolden validates every testdata/*.yml and compares the findings with
// the .golden file beside it (`go test ./internal/validate -update` rewrites).
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yml")
	if len(files) == 0 {
		t.Fatal("no test data")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			svc, diags, err := config.Load(file, config.Options{})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			diags = append(diags, Service(svc)...)
			diags.Sort()
			var b strings.Builder
			for _, d := range diags {
				b.WriteString(d.Error() + "\n")
			}
			golden := strings.TrimSuffix(file, ".yml") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(b.String()), 0o644)
				return
			}
			want, _ := os.ReadFile(golden)
			if b.String() != string(want) {
				t.Errorf("findings differ from %s:\n--- got\n%s--- want\n%s", golden, b.String(), want)
			}
		})
	}
}

func TestValidServiceHasNoFindings(t *testing.T) {
	src := `
service: fine
functions:
  hello:
    handler: h.hello
    deploymentSettings: {type: Linear10PercentEvery1Minute, alias: Live, preTrafficHook: pre}
  pre:
    handler: h.pre
`
	svc, _, err := config.LoadBytes("serverless.yml", t.TempDir(), []byte(src), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ds := Service(svc); len(ds) != 0 {
		t.Fatalf("findings on a valid service:\n%v", ds)
	}
}
