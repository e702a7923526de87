package alarm

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/cfn")

// describe renders what FromCloudFormation made of a resource.
func describe(spec Spec, err error) string {
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	var b strings.Builder
	stat := spec.Statistic + spec.ExtendedStatistic
	fmt.Fprintf(&b, "name: %s\n", spec.Name)
	fmt.Fprintf(&b, "metric: %s\n", spec.SeriesID())
	if spec.Scale != 0 {
		fmt.Fprintf(&b, "scale: %v\n", spec.Scale)
	}
	fmt.Fprintf(&b, "condition: %s %s %s for %d out of %d periods of %v\n",
		stat, spec.ComparisonOperator, javaDouble(spec.Threshold), spec.M(), spec.EvaluationPeriods, spec.Period)
	fmt.Fprintf(&b, "missing data: %s\n", spec.TreatMissingData)
	for _, w := range spec.Warnings() {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

func TestFromCloudFormation(t *testing.T) {
	files, err := filepath.Glob("testdata/cfn/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	ref := func(id string) (string, error) {
		if name, ok := map[string]string{"HelloLambdaFunction": "svc-dev-hello"}[id]; ok {
			return name, nil
		}
		return "", fmt.Errorf("no resource %s in the template", id)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var fixture struct {
				LogicalId  string
				Properties map[string]any
			}
			if err := json.Unmarshal(data, &fixture); err != nil {
				t.Fatal(err)
			}
			got := describe(FromCloudFormation(fixture.LogicalId, fixture.Properties, ref))
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s (go test -update rewrites it):\n got:\n%s\nwant:\n%s", file, golden, got, want)
			}
		})
	}
}
