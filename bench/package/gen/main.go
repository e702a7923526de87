// Command gen writes the benchmark's input for the JavaScript side: the
// service (service.json) and the compiled template (template.json) that
// awscfntest.Service generates for BenchmarkTransform200.
//
//	go run ./bench/package/gen -n 200 -o bench/package/out
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-dev/sluice/internal/awscfn/awscfntest"
)

func main() {
	n := flag.Int("n", 200, "functions in the generated service")
	out := flag.String("o", "out", "directory to write service.json and template.json to")
	flag.Parse()
	service, template := awscfntest.Service(*n)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	for name, v := range map[string]any{"service.json": service, "template.json": template} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gen:", err)
	os.Exit(1)
}
