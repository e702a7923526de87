package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/cron"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/gateway"
	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/runtime"
	"github.com/sluice-dev/sluice/internal/schedule"
)

// Published is what a publish did to one function.
type Published struct {
	Key      string // the key under `functions`
	Function string // the deployed name
	// Old is the latest version before (0 for a new function), New the
	// latest version after; Changed tells whether New was created now.
	Old, New int
	Changed  bool
	// Alias is the function's deployment alias ("" for none); Gradual tells
	// that a deployment group shifts traffic on it. Functions that are not
	// gradual are live at New at once.
	Alias   string
	Gradual bool
}

// desired is the complete state a service definition asks of the engine.
// plan builds and checks all of it before anything changes, and rejects it
// whole on any error; apply then makes it so in one step, removals
// included. A configuration that is refused leaves the engine as it was.
type desired struct {
	svc       *config.Service
	functions []desiredFunction
	alarms    *alarmSet // the canary alarms among them follow deployments (canary.go)
	groups    []*deploy.Group
	routes    []gateway.Route // without targets: apply resolves them once the versions exist
	cors      *gateway.CORS   // provider.httpApi.cors
	binary    []string        // provider.apiGateway.binaryMediaTypes
	schedules []scheduled
	other     []otherEvent
	skipped   []string // functions not run locally, with why
	// only, when set, is the one function (deployed name) whose code and
	// configuration apply publishes (`sluice deploy --function`); the others
	// keep the versions they have.
	only string
}

// desiredFunction is a function as it is to be published.
type desiredFunction struct {
	fn       *config.Function
	code     registry.Code // as the framework would package it
	cfg      registry.Config
	settings invoke.Settings
	alias    string // the deployment alias of a function deployed gradually, else ""
}

type scheduled struct {
	function, qualifier, expr string
	sched                     cron.Schedule
	payload                   func(at time.Time) []byte
}

type otherEvent struct{ typ, function, path string }

// plan builds the state svc asks for and checks every part of it: alarms,
// the code each function would run, deployment groups, routes and
// schedules. Every error is reported, joined; nothing is changed.
func (e *Engine) plan(svc *config.Service) (*desired, error) {
	d := &desired{svc: svc, cors: httpAPICORS(svc), binary: svc.Provider.BinaryMediaTypes}
	var errs []error

	// Alarms first: deployment groups name them.
	set, diags := buildAlarms(svc)
	e.warn(diags)
	if err := diags.Err(); err != nil {
		errs = append(errs, err)
	}
	d.alarms = set
	for _, list := range set.canary {
		for _, a := range list {
			// Checked on a version number now; put on the version the alias
			// serves by apply.
			if _, err := alarm.FromCloudFormation(a.LogicalID, a.WithExecutedVersion("1"), set.ref); err != nil {
				errs = append(errs, svc.Diag(config.SeverityError, a.Path, fmt.Sprintf("canary alarm %s: %v", a.AlarmName, err), ""))
			}
		}
	}

	// The framework packages one artifact for the functions that are not
	// packaged individually: they share one snapshot. Snapshots are
	// content-addressed: storing one changes nothing that is served.
	codes, err := e.snapshotCode(svc)
	if err != nil {
		return nil, err
	}
	gradual := svc.GradualStage()
	routeAt := map[string]string{} // kind and route key → the event defining it
	for _, f := range svc.Functions {
		if f.Image != "" {
			d.skipped = append(d.skipped, fmt.Sprintf("%s: a container image function (image: %s) is not run locally", f.Key, f.Image))
			continue
		}
		df := desiredFunction{fn: f, code: codes[f.Key],
			cfg: registry.Config{Runtime: f.Runtime, Handler: f.Handler, Environment: f.Environment, Timeout: f.Timeout, MemorySize: f.MemorySize},
			settings: invoke.Settings{ReservedConcurrency: f.ReservedConcurrency, MaximumRetryAttempts: f.MaximumRetryAttempts,
				MaximumEventAge: f.MaximumEventAge}}
		if err := e.invoker.Check(f.Name, df.cfg, df.code.Dir); err != nil {
			errs = append(errs, fmt.Errorf("%s: function %s cannot run: %w", svc.Pos("functions."+f.Key+".handler"), f.Key, err))
		}
		if f.DeploymentSettings != nil && gradual {
			g, err := e.group(svc, f, set)
			if err != nil {
				errs = append(errs, err)
			} else {
				d.groups = append(d.groups, g)
				df.alias = g.Alias
			}
		}
		d.functions = append(d.functions, df)
		errs = append(errs, e.planEvents(d, f, df.alias, routeAt)...)
	}
	if err := gateway.CheckRoutes(d.routes); err != nil {
		errs = append(errs, fmt.Errorf("the service's http/httpApi routes: %w", err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// planEvents adds f's routes and schedules to d; they reach f through
// qualifier (its alias, or "" for the latest version). routeAt records
// where each route is defined, to report one defined twice.
func (e *Engine) planEvents(d *desired, f *config.Function, qualifier string, routeAt map[string]string) []error {
	svc := d.svc
	var errs []error
	addRoute := func(r gateway.Route, path string) {
		key := r.Kind.String() + " " + r.RouteKey()
		if first, ok := routeAt[key]; ok {
			errs = append(errs, svc.Diag(config.SeverityError, path, fmt.Sprintf("route %s is already defined at %s (%s)", r.RouteKey(), first, svc.Pos(first)),
				"give each route one function: change the method or path of one of them"))
			return
		}
		routeAt[key] = path
		d.routes = append(d.routes, r)
	}
	for i, ev := range f.Events {
		path := fmt.Sprintf("functions.%s.events.%d", f.Key, i)
		switch {
		case ev.HTTP != nil:
			addRoute(gateway.Route{Kind: gateway.REST, Method: ev.HTTP.Method, Path: "/" + ev.HTTP.Path,
				CORS: ev.HTTP.CORS, Function: f.Name, Qualifier: qualifier, Timeout: f.Timeout}, path+".http")
		case ev.HTTPAPI != nil:
			addRoute(gateway.Route{Kind: gateway.HTTPAPI, Method: ev.HTTPAPI.Method, Path: ev.HTTPAPI.Path,
				Function: f.Name, Qualifier: qualifier, Timeout: f.Timeout}, path+".httpApi")
		case ev.Schedule != nil:
			if !ev.Schedule.Enabled {
				continue
			}
			for j, expr := range ev.Schedule.Expressions {
				s, err := cron.Parse(expr, e.clock.Now())
				if err != nil {
					errs = append(errs, svc.Diag(config.SeverityError, path+".schedule", err.Error(), ""))
					continue
				}
				rule := ev.Schedule.Name
				if rule == "" {
					rule = fmt.Sprintf("%s-%sEventsRuleSchedule%d", svc.StackName(), f.LogicalID(), i+1)
				}
				if len(ev.Schedule.Expressions) > 1 && ev.Schedule.Name == "" {
					rule += fmt.Sprintf("-%d", j+1)
				}
				payload, err := e.schedulePayload(ev.Schedule.Input, rule, svc.Region)
				if err != nil {
					errs = append(errs, svc.Diag(config.SeverityError, path+".schedule.input", err.Error(), "write input as a mapping or a JSON string"))
					continue
				}
				d.schedules = append(d.schedules, scheduled{function: f.Name, qualifier: qualifier, expr: expr, sched: s, payload: payload})
			}
		default:
			d.other = append(d.other, otherEvent{typ: ev.Type, function: f.Name, path: path})
		}
	}
	return errs
}

// apply makes the engine serve d: it publishes each function (a new
// version only where code or configuration changed) and creates missing
// aliases, then replaces the alarms, deployment groups, routes and
// schedules with d's, removing those d no longer has. d has been checked
// by plan: what can fail here is the state on disk.
func (e *Engine) apply(d *desired) ([]Published, error) {
	var published []Published
	for _, df := range d.functions {
		if d.only != "" && df.fn.Name != d.only {
			continue
		}
		pub, err := e.publish(d.svc, df)
		if err != nil {
			return nil, err
		}
		published = append(published, pub)
	}
	// Routes reach functions through targets, which exist once the
	// functions and their aliases do.
	routes := append([]gateway.Route(nil), d.routes...)
	for i := range routes {
		r := &routes[i]
		t, err := e.invoker.Target(r.Function, r.Qualifier)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", r.RouteKey(), err)
		}
		r.Target = e.routeTarget(d.svc, r.Function, t)
	}
	if err := e.setAlarms(d.alarms); err != nil {
		return nil, err
	}
	e.deployer.SetGroups(d.groups)
	if err := e.gateway.Set(gateway.Config{Routes: routes, HTTPAPICORS: d.cors, BinaryMediaTypes: d.binary}); err != nil {
		return nil, fmt.Errorf("the service's http/httpApi routes: %w", err)
	}
	e.startSchedules(d.schedules)
	e.applied = d
	return published, nil
}

// setAlarms makes the evaluator judge exactly set's alarms: new and
// changed ones are put (a changed one keeps its state), removed ones
// deleted. The canary alarms are put on the version they watch.
func (e *Engine) setAlarms(set *alarmSet) error {
	keep := make(map[string]bool, len(set.specs))
	for _, spec := range set.specs {
		keep[spec.Name] = true
		if _, err := e.alarms.Put(spec); err != nil {
			return fmt.Errorf("alarm %s: %w", spec.Name, err)
		}
	}
	for _, list := range set.canary {
		for _, a := range list {
			keep[a.AlarmName] = true
		}
	}
	for _, a := range e.alarms.Alarms() {
		if !keep[a.Name()] {
			e.alarms.Delete(a.Name())
		}
	}
	return e.putCanaryAlarms(set)
}

// warn prints diagnostics' warnings.
func (e *Engine) warn(diags config.Diagnostics) {
	for _, d := range diags.Warnings() {
		fmt.Fprintln(e.opts.Out, d.Error())
	}
}

// publish publishes df's code and configuration (reusing the latest
// version when nothing changed), creates its alias if missing, and readies
// its pool.
func (e *Engine) publish(svc *config.Service, df desiredFunction) (Published, error) {
	f := df.fn
	pub := Published{Key: f.Key, Function: f.Name, Alias: df.alias, Gradual: df.alias != ""}
	if fn := e.registry.Function(f.Name); fn != nil {
		if v := fn.LatestVersion(); v != nil {
			pub.Old = v.Number
		}
	}
	v, created, err := e.registry.PublishCode(f.Name, df.cfg, df.code, "")
	if err != nil {
		return pub, fmt.Errorf("%s: publish %s: %w", svc.Pos("functions."+f.Key), f.Key, err)
	}
	pub.New, pub.Changed = v.Number, created
	e.invoker.Configure(f.Name, df.settings)
	if err := e.invoker.Prepare(v); err != nil {
		return pub, fmt.Errorf("%s: function %s cannot run: %w", svc.Pos("functions."+f.Key+".handler"), f.Key, err)
	}
	if df.alias != "" && e.registry.Function(f.Name).Alias(df.alias) == nil {
		// A new alias starts where traffic was: on the version that served
		// before this publish, so that a function that just became gradual
		// deploys its change gradually; an existing alias stays where
		// deployments left it.
		at := pub.Old
		if at == 0 {
			at = v.Number
		}
		if _, err := e.registry.SetAlias(f.Name, df.alias, at, 0, 0, nil); err != nil {
			return pub, fmt.Errorf("create alias %s of %s: %w", df.alias, f.Key, err)
		}
	}
	return pub, nil
}

// group is f's deployment group, named as `sluice package` names it.
func (e *Engine) group(svc *config.Service, f *config.Function, set *alarmSet) (*deploy.Group, error) {
	ds := f.DeploymentSettings
	typ, err := schedule.Parse(ds.Type)
	if err != nil {
		return nil, svc.Diag(config.SeverityError, svc.SettingPath(f, "type"), err.Error(), "")
	}
	g := &deploy.Group{
		Application:  svc.DeploymentApplicationName(),
		Name:         svc.DeploymentGroupName(f),
		Function:     f.Name,
		Alias:        ds.Alias,
		Type:         typ,
		AutoRollback: deploy.DefaultAutoRollback,
		HookTimeout:  e.opts.HookTimeout,
	}
	for _, h := range []struct {
		key string
		dst *string
	}{{ds.PreTrafficHook, &g.PreTrafficHook}, {ds.PostTrafficHook, &g.PostTrafficHook}} {
		if h.key == "" {
			continue
		}
		hf := svc.Function(h.key)
		if hf == nil {
			return nil, fmt.Errorf("function %s: hook function %q does not exist", f.Key, h.key)
		}
		*h.dst = hf.Name
	}
	alarms, diags := set.groupAlarms(svc, f)
	e.warn(diags)
	g.Alarms = alarms
	for i, tc := range ds.TriggerConfigurations {
		raw, _ := json.Marshal(tc)
		// Written as CloudFormation's TriggerConfig (the plugin passes them
		// through to AWS::CodeDeploy::DeploymentGroup).
		var t struct {
			Name   any      `json:"TriggerName"`
			Events []string `json:"TriggerEvents"`
			Target any      `json:"TriggerTargetArn"`
		}
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, svc.Diag(config.SeverityError, fmt.Sprintf("%s.%d", svc.SettingPath(f, "triggerConfigurations"), i), "a trigger configuration must have TriggerName, TriggerEvents and TriggerTargetArn", "")
		}
		g.Triggers = append(g.Triggers, deploy.Trigger{Name: fmt.Sprint(t.Name), Events: t.Events, Target: plainOrJSON(t.Target)})
	}
	return g, nil
}

// plainOrJSON is a string as is, an intrinsic ({"Ref": …}) as its JSON.
func plainOrJSON(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// schedulePayload returns the event a schedule sends: the configured input,
// else EventBridge's scheduled event for the firing time.
func (e *Engine) schedulePayload(input any, rule, region string) (func(time.Time) []byte, error) {
	if input != nil {
		var raw []byte
		if s, ok := input.(string); ok && json.Valid([]byte(s)) {
			raw = []byte(s) // the framework takes a JSON string as the document itself
		} else {
			var err error
			if raw, err = json.Marshal(input); err != nil {
				return nil, err
			}
		}
		return func(time.Time) []byte { return raw }, nil
	}
	ruleARN := "arn:aws:events:" + region + ":" + config.LocalAccountID + ":rule/" + rule
	return func(at time.Time) []byte {
		b, _ := json.Marshal(events.CloudWatchEvent{
			Version:    "0",
			ID:         runtime.NewRequestID(),
			DetailType: "Scheduled Event",
			Source:     "aws.events",
			AccountID:  config.LocalAccountID,
			Time:       at.UTC(),
			Region:     region,
			Resources:  []string{ruleARN},
			Detail:     json.RawMessage("{}"),
		})
		return b
	}, nil
}

// startSchedules replaces the running schedules.
func (e *Engine) startSchedules(list []scheduled) {
	if e.schedules != nil {
		e.schedules.Stop()
	}
	r := cron.NewRunner(e.clock)
	for _, s := range list {
		target, err := e.invoker.Target(s.function, s.qualifier)
		if err != nil {
			e.log.Error("schedule has no target", "function", s.function, "schedule", s.expr, "err", err)
			continue
		}
		r.Add(s.sched, func(at time.Time) {
			// EventBridge invokes asynchronously, with Lambda's retries.
			if _, err := target.InvokeAsync(invoke.Request{Payload: s.payload(at)}, nil); err != nil && !errors.Is(err, invoke.ErrClosed) {
				e.log.Error("scheduled invocation failed", "function", s.function, "schedule", s.expr, "err", err)
			}
		})
	}
	e.schedules = r
}

// Reload reads the service definition from disk again, checks all of it,
// and only then applies it: a new version of every function whose code or
// configuration changed, and the routes, schedules, alarms and deployment
// groups of the new definition, removals included. A definition with any
// error is refused whole and changes nothing. Functions with a deployment
// group keep their alias where it is: shifting traffic to the new version
// is a deployment's job (PublishAndDeploy). Functions without one are live
// at once (their routes follow the latest version).
func (e *Engine) Reload() ([]Published, error) {
	svc, err := e.load()
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("the engine is shutting down")
	}
	return e.reloadLocked(svc, "")
}

// checkOnly refuses a plan that one function's deploy cannot apply: every
// other function must already have a version, since only the named one is
// published.
func (e *Engine) checkOnly(d *desired, only string) error {
	found := false
	for _, df := range d.functions {
		if df.fn.Name == only {
			found = true
			continue
		}
		if fn := e.registry.Function(df.fn.Name); fn == nil || fn.LatestVersion() == nil {
			return fmt.Errorf("%s: function %s is new: it has no version yet, so deploy the whole service (without --function) once", d.svc.Pos("functions."+df.fn.Key), df.fn.Key)
		}
	}
	if !found {
		return fmt.Errorf("%s has no function %s that runs locally", d.svc.File, only)
	}
	return nil
}

// reloadLocked plans svc, then applies it: all of it, or, with only set
// (a deployed name), only that function's new version (the rest of the
// plan — routes, schedules, alarms, groups — as always). Called with e.mu
// held.
func (e *Engine) reloadLocked(svc *config.Service, only string) ([]Published, error) {
	d, err := e.plan(svc)
	if err != nil {
		return nil, err
	}
	if only != "" {
		if err := e.checkOnly(d, only); err != nil {
			return nil, err
		}
		d.only = only
	}
	published, err := e.apply(d)
	if err != nil {
		return nil, err
	}
	e.svc = svc
	return published, nil
}

// printSummary prints the routes, schedules and what is not emulated.
func (e *Engine) printSummary(p *desired, published []Published) {
	out := e.opts.Out
	fmt.Fprintf(out, "Serving %s (stage %s) — gateway %s, AWS API %s\n", e.svc.Name, e.svc.Stage, e.gatewayURL, e.apiURL)
	for _, pub := range published {
		note := "version " + fmt.Sprint(pub.New)
		switch {
		case pub.Old == 0:
			note += " (published)"
		case pub.Changed:
			note += fmt.Sprintf(" (published; was %d)", pub.Old)
		default:
			note += " (unchanged)"
		}
		if pub.Alias != "" {
			if a := e.registry.Function(pub.Function).Alias(pub.Alias); a != nil {
				note += ", alias " + pub.Alias + " → " + describeRouting(a.Routing())
			}
		}
		fmt.Fprintf(out, "  %-28s %s\n", pub.Function, note)
	}
	if len(p.routes) > 0 {
		fmt.Fprintln(out, "Routes:")
		routes := append([]gateway.Route(nil), p.routes...)
		sort.SliceStable(routes, func(i, j int) bool { return routes[i].Kind < routes[j].Kind })
		for i := range routes {
			r := &routes[i]
			method := r.Method
			if method == "*" {
				method = "ANY"
			}
			url := e.gatewayURL + e.gateway.URL(r)
			if r.Kind == gateway.HTTPAPI && r.Path == "*" {
				url = e.gatewayURL + "/* (any other path)"
			}
			to := "latest version"
			if r.Qualifier != "" {
				to = "alias " + r.Qualifier
			}
			fmt.Fprintf(out, "  %-7s %-48s %s (%s, %s)\n", method, url, r.Function, to, r.Kind)
		}
	}
	if len(p.schedules) > 0 {
		fmt.Fprintln(out, "Schedules:")
		for _, s := range p.schedules {
			fmt.Fprintf(out, "  %-28s %s\n", s.expr, s.function)
		}
	}
	if len(p.other) > 0 {
		fmt.Fprintln(out, "Not emulated locally (they still package for AWS):")
		for _, o := range p.other {
			fmt.Fprintf(out, "  %-10s %s (%s)\n", o.typ, o.function, o.path)
		}
	}
	for _, s := range p.skipped {
		fmt.Fprintln(out, "Not run locally:", s)
	}
}

func describeRouting(rt *registry.Routing) string {
	s := "version " + rt.Version.Qualifier()
	if rt.Additional != nil {
		s += fmt.Sprintf(" + version %s at %g%%", rt.Additional.Qualifier(), rt.Weight*100)
	}
	return s
}

// httpAPICORS is the gateway's CORS for provider.httpApi.cors: the
// framework's defaults, with what the configuration overrides.
func httpAPICORS(svc *config.Service) *gateway.CORS {
	cfg := svc.Provider.HTTPAPICORS
	if cfg == nil {
		return nil
	}
	c := gateway.DefaultHTTPAPICORS
	for _, l := range []struct{ src, dst *[]string }{{&cfg.AllowedOrigins, &c.AllowOrigins}, {&cfg.AllowedHeaders, &c.AllowHeaders},
		{&cfg.AllowedMethods, &c.AllowMethods}, {&cfg.ExposedResponseHeaders, &c.ExposeHeaders}} {
		if *l.src != nil {
			*l.dst = *l.src
		}
	}
	c.AllowCredentials = cfg.AllowCredentials
	if cfg.MaxAge != nil {
		c.MaxAge = *cfg.MaxAge
	}
	return &c
}
