package engine

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/metrics"
)

func TestCanaryAlarmsJoinTheGroupOnAVersion(t *testing.T) {
	src := `
service: shop
functions:
  checkout:
    handler: h.checkout
    deploymentSettings:
      type: AllAtOnce
      alias: Live
      canaryAlarms: [functionErrors, {name: errorRate, threshold: 2}]
`
	svc, _, err := config.LoadBytes("serverless.yml", t.TempDir(), []byte(src), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, diags := buildAlarms(svc)
	if len(diags) != 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	names, _ := set.groupAlarms(svc, svc.Function("checkout"))
	want := []string{"shop-dev-checkout-canary-functionErrors", "shop-dev-checkout-canary-errorRate"}
	if !slices.Equal(names, want) {
		t.Errorf("group alarms %v, want %v", names, want)
	}
	list := set.canary["shop-dev-checkout"]
	if len(list) != 2 {
		t.Fatalf("canary alarms %+v", list)
	}
	dims := []metrics.Dimension{{Name: "ExecutedVersion", Value: "3"}, {Name: "FunctionName", Value: "shop-dev-checkout"}, {Name: "Resource", Value: "shop-dev-checkout:Live"}}
	for i, a := range list {
		spec, err := alarm.FromCloudFormation(a.LogicalID, a.WithExecutedVersion("3"), set.ref)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		got := slices.SortedFunc(slices.Values(spec.Dimensions), func(a, b metrics.Dimension) int { return strings.Compare(a.Name, b.Name) })
		if !slices.Equal(got, dims) || spec.Name != want[i] || spec.TreatMissingData != alarm.TreatNotBreaching {
			t.Errorf("%s: %+v, want %s on %v, notBreaching", a.Name, spec, want[i], dims)
		}
	}
	if spec, _ := alarm.FromCloudFormation(list[1].LogicalID, list[1].WithExecutedVersion("3"), set.ref); spec.Scale != 100 || spec.Threshold != 2 || spec.Statistic != "Average" {
		t.Errorf("errorRate: %+v, want 100 × Average(Errors) >= 2", spec)
	}
}
