package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/rehearse"
)

func TestRehearseExitCodes(t *testing.T) {
	const tutorial = "../../internal/rehearse/testdata/tutorial/"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", tutorial + "sum.yml", "--function", "preHook"}, "no function of that key has deploymentSettings"},
		{[]string{"-c", tutorial + "sum.yml", "--share", "1.5"}, "--share 1.5"},
		{[]string{"-c", tutorial + "sum.yml", "-o", "xml"}, `invalid argument "xml"`},
	} {
		if r := cliT(t, append([]string{"rehearse"}, c.args...)...); r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("rehearse %v: exit %d, %s", c.args, r.code, r.stderr)
		}
	}

	// The README's alarm with statistic Minimum: a share of failures goes
	// through, so the rehearsal exits 2 and its JSON says what was missed.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := cli(ctx, "rehearse", "-c", tutorial+"minimum.yml", "-o", "json")
	var rep rehearse.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != exitMissed || len(rep.Functions) != 1 {
		t.Fatalf("rehearse minimum.yml: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	for _, f := range rep.Functions[0].Faults {
		switch f.Fault {
		case rehearse.FaultShareFail:
			if f.Caught || f.Errors == 0 || f.Requests == 0 {
				t.Errorf("share-fail %+v: want not caught, with failed requests", f)
			}
		case rehearse.FaultHealthy:
			if f.Caught {
				t.Errorf("healthy copy stopped by %s", f.By)
			}
		}
	}
}
