package rehearse

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// rehearseTutorial rehearses the hello function of a tutorial configuration.
func rehearseTutorial(t *testing.T, file string) Function {
	t.Helper()
	var progress strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{Config: "testdata/tutorial/" + file, Function: "hello", Progress: &progress})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Functions) != 1 {
		t.Fatalf("rehearsed %d functions, want hello alone", len(rep.Functions))
	}
	return rep.Functions[0]
}

func faultOf(t *testing.T, f Function, name string) Fault {
	t.Helper()
	for _, x := range f.Faults {
		if x.Fault == name {
			return x
		}
	}
	t.Fatalf("no fault %s in %+v", name, f.Faults)
	return Fault{}
}

func TestSumOfErrorsCatchesEveryFault(t *testing.T) {
	// Given the tutorial's alarm with statistic Sum
	f := rehearseTutorial(t, "sum.yml")
	// Then both error faults are caught by that alarm, after the bad copy
	// served some failing requests, and the healthy copy deploys
	for _, name := range []string{FaultAllFail, FaultShareFail} {
		x := faultOf(t, f, name)
		if !x.Caught || !x.OK || x.By != "alarm HelloFooAlarm" || x.Requests == 0 || x.Errors == 0 || x.Status != "Stopped" {
			t.Errorf("%s: %+v, want caught by alarm HelloFooAlarm after failing requests", name, x)
		}
	}
	if x := faultOf(t, f, FaultHealthy); x.Caught || !x.OK || x.Status != "Succeeded" || x.Requests == 0 || x.Errors != 0 {
		t.Errorf("healthy copy: %+v, want deployed with requests and no errors", x)
	}
	if x := faultOf(t, f, FaultLatency); x.Skipped == "" {
		t.Errorf("latency: %+v, want skipped: nothing watches Duration", x)
	}
	rep := Report{Functions: []Function{f}}
	if !rep.OK() {
		t.Error("the report is not OK")
	}
}

// The Minimum tutorial, which misses faults, runs through the CLI:
// cmd/sluice's TestRehearseExitCodes.

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Config: "testdata/tutorial/sum.yml", Function: "preHook"}, "no function of that key has deploymentSettings"},
		{Options{Config: "testdata/tutorial/nope.yml"}, "nope.yml"},
		{Options{Config: "testdata/tutorial/sum.yml", Share: 2}, "--share"},
	} {
		_, err := Run(context.Background(), c.opts)
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want a ConfigError containing %q", c.opts, err, c.want)
		}
	}
}

func TestCanaryAlarmsCatchErrorsAndLatency(t *testing.T) {
	// Given canary alarms on the new version's error rate and duration
	f := rehearseTutorial(t, "canary.yml")
	// Then every fault is caught by the alarm on what it breaks
	for name, by := range map[string]string{
		FaultAllFail:   "alarm tutorial-dev-hello-canary-errorRate",
		FaultShareFail: "alarm tutorial-dev-hello-canary-errorRate",
		FaultLatency:   "alarm tutorial-dev-hello-canary-functionDuration",
	} {
		if x := faultOf(t, f, name); !x.Caught || x.By != by || x.Requests == 0 {
			t.Errorf("%s: %+v, want caught by %s", name, x, by)
		}
	}
	if x := faultOf(t, f, FaultHealthy); x.Caught {
		t.Errorf("healthy copy stopped by %s", x.By)
	}
}
