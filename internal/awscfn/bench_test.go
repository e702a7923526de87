package awscfn

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/awscfn/awscfntest"
	"github.com/sluice-dev/sluice/internal/config"
)

// generated is awscfntest.Service(n) as Transform meets it: the service
// loaded by config, the template decoded from JSON.
func generated(t testing.TB, n int) (*config.Service, Template) {
	t.Helper()
	service, template := awscfntest.Service(n)
	src, err := json.Marshal(service)
	if err != nil {
		t.Fatal(err)
	}
	svc, _, err := config.LoadBytes("service.json", t.TempDir(), src, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return svc, normalize(t, template)
}

// TestGeneratedService checks that the benchmark's input exercises what it
// should: every function gets its alias, and no permission, event source or
// notification is left on a function.
func TestGeneratedService(t *testing.T) {
	svc, tpl := generated(t, 20)
	out, diags, err := Transform(tpl, svc)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diags {
		if !strings.Contains(d.Msg, "is not in the template") { // the alarms, until aws-alerts lands
			t.Errorf("unexpected diagnostic %v", d)
		}
	}
	res := obj(out["Resources"])
	for i := 0; i < 20; i++ {
		if res[fmt.Sprintf("Function%dLambdaFunctionAliasLive", i)] == nil {
			t.Errorf("function%d has no alias", i)
		}
	}
	found := 0
	for id, r := range res {
		walkArnRefs(at(r, "Properties"), func(fn string) {
			if strings.HasPrefix(fn, "Function") && !isPassive(str(at(r, "Type"))) {
				t.Errorf("%s still invokes %s directly", id, fn)
			}
		})
		if at(r, "Type") == "AWS::Lambda::Permission" {
			found++
			if !strings.HasSuffix(refTarget(at(r, "Properties", "FunctionName")), "AliasLive") {
				t.Errorf("permission %s not moved to the alias", id)
			}
		}
	}
	if found != 20*4 {
		t.Errorf("%d permissions, want 80", found)
	}
}

// BenchmarkTransform200 transforms a 200-function service (http, sns, sqs,
// kinesis, s3 and schedule events on every function, all gradual, with
// alarms); bench/package runs the JavaScript plugins on the same input.
func BenchmarkTransform200(b *testing.B) {
	svc, tpl := generated(b, 200)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Transform(tpl, svc); err != nil {
			b.Fatal(err)
		}
	}
}
