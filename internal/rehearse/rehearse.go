// Package rehearse is `sluice rehearse`: it proves, before a release, that a
// function's deployment group stops a bad version. For each function that
// deploys gradually it serves the service locally on temporary state and
// deploys copies of the live version with faults the runtime injects
// (SLUICE_FAULT, read by sluice's bootstraps; the code is unchanged): every
// invocation failing, a share failing, latency past the Duration alarms'
// thresholds, and a healthy copy that must deploy. Traffic flows through the
// alias the whole time. The report says, per fault, whether the deployment
// was stopped, by which alarm or hook, and what the bad version did first.
package rehearse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/schedule"
)

// The faults, in the order they are reported.
const (
	FaultAllFail   = "all-fail"   // (a) every invocation fails
	FaultShareFail = "share-fail" // (b) a share of invocations fails
	FaultLatency   = "latency"    // (c) every invocation is slower than the Duration alarms allow
	FaultHealthy   = "healthy"    // (d) a healthy copy, which must deploy
)

// Options configure a rehearsal.
type Options struct {
	Config   string         // serverless.yml
	Load     config.Options // --stage, --region, --param, --var (Local is set)
	Function string         // one function's key; "" for every function with deploymentSettings
	Rate     int            // requests per second through the alias; 0 sizes it from the alarm periods
	Share    float64        // the failing share of fault share-fail (default 0.1)
	// WallPerDeployment is about how long one full deployment may take in
	// wall time; the time scale follows from it (default 5 s).
	WallPerDeployment time.Duration
	Progress          io.Writer // a line per fault as it is rehearsed (nil: none)
	Logger            *slog.Logger
}

// Report is the outcome of a rehearsal.
type Report struct {
	Functions []Function `json:"functions"`
}

// OK reports whether every fault was caught and every healthy copy deployed.
func (r *Report) OK() bool {
	for _, f := range r.Functions {
		for _, x := range f.Faults {
			if x.Skipped == "" && !x.OK {
				return false
			}
		}
	}
	return true
}

// Function is one function's rehearsal.
type Function struct {
	Function  string   `json:"function"` // its key in serverless.yml
	Type      string   `json:"type"`     // the deployment type
	Alarms    []string `json:"alarms"`   // the deployment group's alarms
	TimeScale float64  `json:"timeScale"`
	Rate      int      `json:"rate"` // requests per second sent
	Traffic   string   `json:"traffic"`
	Faults    []Fault  `json:"faults"`
	Wall      float64  `json:"wallSeconds"`
}

// Fault is what one faulty (or healthy) copy did.
type Fault struct {
	Fault   string `json:"fault"`
	Detail  string `json:"detail"`            // the SLUICE_FAULT injected
	Caught  bool   `json:"caught"`            // the deployment was stopped
	OK      bool   `json:"ok"`                // caught, or for the healthy copy, deployed
	By      string `json:"by,omitempty"`      // the alarm or hook that stopped it
	Skipped string `json:"skipped,omitempty"` // why it was not rehearsed
	// Requests and Errors are the copy's invocations through the alias and
	// how many of them failed, before it was stopped.
	Requests int `json:"requests"`
	Errors   int `json:"errors"`
	// ScheduleSeconds is how long the copy had traffic, from AllowTraffic to
	// the deployment's end, in schedule time (the time AWS would have
	// taken); WallSeconds how long the whole deployment took here.
	ScheduleSeconds float64 `json:"scheduleSeconds"`
	WallSeconds     float64 `json:"wallSeconds"`
	Status          string  `json:"status"` // the deployment's end: Succeeded, Stopped, Failed
	Version         int     `json:"version"`
}

// ConfigError is a problem with the command line or the service: exit 1.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Run rehearses the service's gradually deployed functions.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Share == 0 {
		opts.Share = 0.1
	}
	if opts.Share <= 0 || opts.Share >= 1 {
		return nil, &ConfigError{fmt.Errorf("--share %v: give the failing share as a number between 0 and 1, e.g. 0.1", opts.Share)}
	}
	if opts.Rate < 0 {
		return nil, &ConfigError{fmt.Errorf("--rate %d: give requests per second, or 0 to size it from the alarm periods", opts.Rate)}
	}
	if opts.WallPerDeployment <= 0 {
		opts.WallPerDeployment = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	opts.Load.Local = true
	svc, diags, err := config.Load(opts.Config, opts.Load)
	if err != nil {
		return nil, &ConfigError{err}
	}
	if err := diags.Err(); err != nil {
		return nil, &ConfigError{err}
	}
	targets, err := functions(svc, opts.Function)
	if err != nil {
		return nil, &ConfigError{err}
	}
	report := &Report{}
	for _, f := range targets {
		res, err := rehearseFunction(ctx, svc, f, opts)
		if err != nil {
			return report, fmt.Errorf("rehearse %s: %w", f.Key, err)
		}
		report.Functions = append(report.Functions, *res)
	}
	return report, nil
}

// functions picks the functions to rehearse.
func functions(svc *config.Service, only string) ([]*config.Function, error) {
	if !svc.GradualStage() {
		return nil, fmt.Errorf("stage %s is not in custom.deploymentSettings.stages, so nothing deploys gradually there: pass --stage with one of %s", svc.Stage, strings.Join(svc.DeploymentSettings.Stages, ", "))
	}
	var out, gradual []*config.Function
	for _, f := range svc.Functions {
		if f.DeploymentSettings == nil || f.Image != "" {
			continue
		}
		gradual = append(gradual, f)
		if only == "" || f.Key == only {
			out = append(out, f)
		}
	}
	var keys []string
	for _, f := range gradual {
		keys = append(keys, f.Key)
	}
	switch {
	case len(gradual) == 0:
		return nil, errors.New("no function has deploymentSettings: there is no gradual deployment to rehearse")
	case len(out) == 0:
		return nil, fmt.Errorf("--function %s: no function of that key has deploymentSettings; rehearse one of %s", only, strings.Join(keys, ", "))
	}
	for _, f := range out {
		if !strings.HasPrefix(f.Runtime, "nodejs") && !strings.HasPrefix(f.Runtime, "python") {
			return nil, fmt.Errorf("function %s runs %s: sluice injects faults in its Node.js and Python runtimes only; rehearse the other functions with --function", f.Key, f.Runtime)
		}
	}
	return out, nil
}

// timeScale makes one full deployment of f take about wall.
func timeScale(f *config.Function, wall time.Duration) (float64, schedule.Type, error) {
	typ, err := schedule.Parse(f.DeploymentSettings.Type)
	if err != nil {
		return 0, typ, err
	}
	steps := typ.Steps()
	span := steps[len(steps)-1].Offset
	// The hooks and the last step's bake need time too: count one interval more.
	span += typ.Interval
	if span <= 0 {
		span = time.Minute
	}
	return math.Max(1, math.Round(float64(span)/float64(wall))), typ, nil
}

// tempState is a state directory removed when the rehearsal ends.
func tempState() (string, func(), error) {
	dir, err := os.MkdirTemp("", "sluice-rehearse-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// startEngine serves the service on temporary state.
func startEngine(opts Options, stateDir string, scale float64) (*engine.Engine, error) {
	l := opts.Load
	return engine.Start(engine.Options{Config: opts.Config, Stage: l.Stage, Region: l.Region, Params: l.Params, Vars: l.Vars, StateDir: stateDir, Addr: engine.AnyLoopbackAddr, APIAddr: engine.AnyLoopbackAddr,
		TimeScale: scale, Out: io.Discard, Logger: opts.Logger})
}
