package rehearse

import (
	"context"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/demo"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/registry"
)

// badRequestsPerPeriod is how many requests the bad version should get in
// each alarm period at the first traffic step, for the rate sizing.
const badRequestsPerPeriod = 10

// Rates outside these bounds are clamped when sized automatically.
const (
	minRate = 20
	maxRate = 300
	// latencyRate caps the rate while a copy is slowed down: every slow
	// invocation holds an execution environment (a process) for its length.
	latencyRate = 50
)

// run is the rehearsal of one function.
type run struct {
	opts    Options
	svc     *config.Service
	f       *config.Function
	eng     *engine.Engine
	group   *deploy.Group
	alias   string
	origin  *registry.Version // the version live when the rehearsal started
	traffic *traffic
}

func rehearseFunction(ctx context.Context, svc *config.Service, f *config.Function, opts Options) (*Function, error) {
	start := time.Now()
	scale, typ, err := timeScale(f, opts.WallPerDeployment)
	if err != nil {
		return nil, &ConfigError{err}
	}
	state, cleanup, err := tempState()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	eng, err := startEngine(opts, state, scale)
	if err != nil {
		return nil, &ConfigError{err}
	}
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Shutdown(shutdown)
	}()
	r := &run{opts: opts, svc: eng.Service(), f: f, eng: eng, alias: f.DeploymentSettings.Alias}
	if r.group = eng.Deployer().Group(r.svc.DeploymentGroupName(f)); r.group == nil {
		return nil, fmt.Errorf("the engine has no deployment group for %s", f.Key)
	}
	fn := eng.Registry().Function(f.Name)
	if fn == nil || fn.Alias(r.alias) == nil {
		return nil, fmt.Errorf("%s has no alias %s after starting", f.Key, r.alias)
	}
	r.origin = fn.Alias(r.alias).Routing().Version

	res := &Function{Function: f.Key, Type: f.DeploymentSettings.Type, Alarms: r.group.Alarms, TimeScale: scale}
	rate := opts.Rate
	if rate == 0 {
		rate = r.sizeRate(typ.Steps()[0].Weight, scale)
	}
	res.Rate = rate
	if r.traffic, err = startTraffic(ctx, eng, r.svc, f, rate); err != nil {
		return nil, err
	}
	defer r.traffic.stop()
	res.Traffic = r.traffic.describe
	fmt.Fprintf(opts.Progress, "rehearsing %s: %s, alarms %v, %d requests/s %s, time ×%g\n", f.Key, res.Type, r.group.Alarms, rate, r.traffic.describe, scale)

	latency, latencyWhy := r.latencyFault()
	faults := map[string]string{
		FaultHealthy:   "none",
		FaultAllFail:   "error",
		FaultShareFail: "error:" + strconv.FormatFloat(opts.Share, 'f', -1, 64),
		FaultLatency:   latency,
	}
	// The healthy copy goes first: an alarm that fires on it fires on nothing.
	results := map[string]Fault{}
	for _, name := range []string{FaultHealthy, FaultAllFail, FaultShareFail, FaultLatency} {
		if name == FaultLatency && latency == "" {
			results[name] = Fault{Fault: name, Skipped: latencyWhy}
			continue
		}
		if name == FaultLatency {
			r.traffic.setRate(min(rate, latencyRate))
		}
		fr, err := r.rehearse(ctx, name, faults[name])
		r.traffic.setRate(rate)
		if err != nil {
			return nil, fmt.Errorf("fault %s: %w", name, err)
		}
		fmt.Fprintf(opts.Progress, "  %s\n", fr.line())
		results[name] = fr
	}
	for _, name := range []string{FaultAllFail, FaultShareFail, FaultLatency, FaultHealthy} {
		res.Faults = append(res.Faults, results[name])
	}
	res.Wall = time.Since(start).Seconds()
	return res, nil
}

// sizeRate sends enough requests for each alarm period (scaled) to see
// badRequestsPerPeriod requests of the bad version at the first step.
func (r *run) sizeRate(firstWeight, scale float64) int {
	shortest := time.Minute
	for _, name := range r.group.Alarms {
		if a, ok := r.eng.Alarms().Alarm(name); ok {
			shortest = min(shortest, a.Spec().Period)
		}
	}
	wallPeriod := shortest.Seconds() / scale
	if firstWeight <= 0 {
		firstWeight = 1
	}
	rate := int(math.Ceil(badRequestsPerPeriod / (firstWeight * wallPeriod)))
	return max(minRate, min(maxRate, rate))
}

// latencyFault is the SLUICE_FAULT that makes every invocation slower than
// the group's Duration alarms allow, or "" with why when none watches Duration.
func (r *run) latencyFault() (string, string) {
	worst := 0.0
	for _, name := range r.group.Alarms {
		a, ok := r.eng.Alarms().Alarm(name)
		if !ok {
			continue
		}
		s := a.Spec()
		if s.MetricName == "Duration" && (s.ComparisonOperator == alarm.GreaterThanThreshold || s.ComparisonOperator == alarm.GreaterThanOrEqualToThreshold) {
			worst = max(worst, s.Threshold)
		}
	}
	if worst == 0 {
		return "", "no alarm of the deployment group watches Duration"
	}
	ms := int(math.Ceil(worst*1.2)) + 50
	if limit := r.f.Timeout.Milliseconds(); int64(ms) >= limit {
		return "", fmt.Sprintf("the Duration threshold (%v ms) is not below the function's timeout (%v)", worst, r.f.Timeout)
	}
	return "latency:" + strconv.Itoa(ms), ""
}

// rehearse deploys one copy of the live version with fault and follows the
// deployment (and its rollback) to the end.
func (r *run) rehearse(ctx context.Context, name, fault string) (Fault, error) {
	out := Fault{Fault: name, Detail: "SLUICE_FAULT=" + fault}
	if err := r.settle(ctx); err != nil {
		return out, err
	}
	v, err := r.publishCopy(name, fault)
	if err != nil {
		return out, err
	}
	out.Version = v.Number
	from := r.eng.Clock().Now()
	wallStart := time.Now()
	d, err := r.deploy(ctx, v)
	if err != nil {
		return out, err
	}
	out.WallSeconds = time.Since(wallStart).Seconds()
	out.Status = string(d.Status)
	out.ScheduleSeconds = trafficTime(d).Seconds()
	out.Caught = d.Status != deploy.StatusSucceeded
	out.By = stoppedBy(d)
	invocations, errs := demo.VersionCounts(r.eng.Metrics(), r.f.Name, r.alias, from, r.eng.Clock().Now())
	out.Requests, out.Errors = invocations[v.Qualifier()], errs[v.Qualifier()]
	out.OK = out.Caught != (name == FaultHealthy)
	// Whatever happened, the next copy starts from the original version.
	if rt := r.eng.Registry().Function(r.f.Name).Alias(r.alias).Routing(); rt.Version.Number != r.origin.Number || rt.Additional != nil {
		if _, err := r.eng.Registry().SetAlias(r.f.Name, r.alias, r.origin.Number, 0, 0, nil); err != nil {
			return out, fmt.Errorf("return alias %s to version %d: %w", r.alias, r.origin.Number, err)
		}
	}
	return out, nil
}

// publishCopy publishes the original version's code and configuration with
// SLUICE_FAULT set, and readies it to run.
func (r *run) publishCopy(name, fault string) (*registry.Version, error) {
	cfg := r.origin.Config
	cfg.Environment = maps.Clone(cfg.Environment)
	if cfg.Environment == nil {
		cfg.Environment = map[string]string{}
	}
	cfg.Environment["SLUICE_FAULT"] = fault
	v, _, err := r.eng.Registry().PublishCode(r.f.Name, cfg, registry.Code{SHA256: r.origin.CodeSHA256, Dir: r.origin.CodeDir},
		"sluice rehearse: "+name+" copy of version "+r.origin.Qualifier())
	if err != nil {
		return nil, err
	}
	if err := r.eng.Invoker().Prepare(v); err != nil {
		return nil, fmt.Errorf("ready version %d: %w", v.Number, err)
	}
	return v, nil
}

// deploy creates the deployment of v and waits until it, and the rollback
// it may start, have ended.
func (r *run) deploy(ctx context.Context, v *registry.Version) (deploy.Deployment, error) {
	dep := r.eng.Deployer()
	updates := make(chan deploy.Deployment, 1024)
	cancel := dep.Subscribe(func(d deploy.Deployment) {
		select {
		case updates <- d:
		default: // the final state is read below in any case
		}
	})
	defer cancel()
	d, err := dep.Create(deploy.CreateInput{Group: r.group.Name, TargetVersion: v.Number, Description: "sluice rehearse"})
	if err != nil {
		return d, err
	}
	deadline := time.NewTimer(r.deadline())
	defer deadline.Stop()
	for {
		cur, err := dep.Get(d.ID)
		if err != nil {
			return d, err
		}
		if cur.Status.Done() && len(dep.Active()) == 0 {
			return cur, nil
		}
		select {
		case <-updates:
		case <-deadline.C:
			return cur, fmt.Errorf("deployment %s did not end within %v (status %s): is a hook not reporting its result?", d.ID, r.deadline(), cur.Status)
		case <-ctx.Done():
			return cur, ctx.Err()
		}
	}
}

// deadline is how long a deployment may take in wall time: its schedule,
// plus an hour of schedule time for hooks, scaled.
func (r *run) deadline() time.Duration {
	typ := r.group.Type
	steps := typ.Steps()
	span := steps[len(steps)-1].Offset + typ.Interval + 2*time.Hour
	return time.Duration(float64(span)/clock.Scale(r.eng.Clock())) + 10*time.Second
}

// settle waits, with traffic on the original version, until no alarm of
// the group is in ALARM, so that a deployment is judged on its own copy.
func (r *run) settle(ctx context.Context) error {
	changed := make(chan struct{}, 1)
	cancel := r.eng.Alarms().Subscribe(func(alarm.Change) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer cancel()
	longest := time.Duration(0)
	for _, name := range r.group.Alarms {
		if a, ok := r.eng.Alarms().Alarm(name); ok {
			s := a.Spec()
			longest = max(longest, s.Period*time.Duration(s.EvaluationPeriods+3))
		}
	}
	wait := time.Duration(float64(longest)/clock.Scale(r.eng.Clock())) + 5*time.Second
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		firing := ""
		for _, name := range r.group.Alarms {
			if a, ok := r.eng.Alarms().Alarm(name); ok && a.State().Value == alarm.StateAlarm {
				firing = name
			}
		}
		if firing == "" {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return fmt.Errorf("alarm %s stays in ALARM while version %d (the original) serves all traffic: it would stop every deployment; fix the alarm before rehearsing", firing, r.origin.Number)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// trafficTime is how long, in schedule time, the copy had traffic: from
// the start of AllowTraffic to the end of the deployment (0 when a
// BeforeAllowTraffic hook stopped it first).
func trafficTime(d deploy.Deployment) time.Duration {
	for _, ev := range d.LifecycleEvents {
		if ev.Name == deploy.EventAllowTraffic && ev.StartTime != nil && d.CompleteTime != nil {
			return d.CompleteTime.Sub(*ev.StartTime)
		}
	}
	return 0
}

var alarmStop = regexp.MustCompile(`alarm (.+?) went into ALARM`)

// stoppedBy names what stopped a deployment.
func stoppedBy(d deploy.Deployment) string {
	if d.ErrorInformation == nil {
		return ""
	}
	switch d.ErrorInformation.Code {
	case deploy.ErrAlarmActive:
		if m := alarmStop.FindStringSubmatch(d.ErrorInformation.Message); m != nil {
			return "alarm " + m[1]
		}
	case deploy.ErrHookFailure, deploy.ErrTimeout:
		for _, ev := range d.LifecycleEvents {
			if ev.Status == deploy.EventFailed {
				return ev.Name + " hook " + ev.Hook
			}
		}
	}
	return string(d.ErrorInformation.Code)
}

// line is the fault's progress line.
func (f Fault) line() string {
	verdict := "not caught"
	switch {
	case f.Fault == FaultHealthy && !f.Caught:
		verdict = "deployed"
	case f.Fault == FaultHealthy:
		verdict = "STOPPED by " + f.By
	case f.Caught:
		verdict = "caught by " + f.By
	}
	return fmt.Sprintf("%-10s %s: %s after %d requests (%d failed), %s of schedule (%.1fs wall)",
		f.Fault, f.Detail, verdict, f.Requests, f.Errors, (time.Duration(f.ScheduleSeconds * float64(time.Second))).Round(time.Second), f.WallSeconds)
}
