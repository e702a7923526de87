package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/internal/awscfn"
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

// plan is what a service definition makes of the engine.
type plan struct {
	published []Published
	groups    []*deploy.Group
	routes    []gateway.Route
	schedules []scheduled
	other     []otherEvent
	skipped   []string // functions not run locally, with why
}

type scheduled struct {
	function, qualifier, expr string
	sched                     cron.Schedule
	payload                   func(at time.Time) []byte
}

type otherEvent struct{ typ, function, path string }

// apply publishes the service's functions (a new version only where code
// or configuration changed), creates missing aliases, configures the
// invoker, alarms and gateway, and (re)starts the schedules.
func (e *Engine) apply(svc *config.Service) (*plan, error) {
	p := &plan{}
	gradualStage := awscfn.GradualStage(svc)

	// Alarms first: deployment groups name them.
	set, diags := buildAlarms(svc)
	for _, d := range diags.Warnings() {
		fmt.Fprintln(e.opts.Out, d.Error())
	}
	if err := diags.Err(); err != nil {
		return nil, err
	}
	for _, spec := range set.specs {
		if _, err := e.alarms.Put(spec); err != nil {
			return nil, fmt.Errorf("alarm %s: %w", spec.Name, err)
		}
	}

	// The framework packages one artifact for the functions that are not
	// packaged individually: they share one snapshot.
	codes, err := e.snapshotCode(svc)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, f := range svc.Functions {
		if f.Image != "" {
			p.skipped = append(p.skipped, fmt.Sprintf("%s: a container image function (image: %s) is not run locally", f.Key, f.Image))
			continue
		}
		pub, err := e.publish(svc, f, codes[f.Key], gradualStage)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.published = append(p.published, pub)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := e.putCanaryAlarms(set); err != nil {
		return nil, err
	}

	for _, f := range svc.Functions {
		if f.Image != "" {
			continue
		}
		qualifier := ""
		if f.DeploymentSettings != nil && gradualStage {
			g, err := e.group(svc, f, set)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p.groups = append(p.groups, g)
			qualifier = g.Alias
		}
		target, err := e.invoker.Target(f.Name, qualifier)
		if err != nil {
			errs = append(errs, fmt.Errorf("function %s: %w", f.Key, err))
			continue
		}
		for i, ev := range f.Events {
			path := fmt.Sprintf("functions.%s.events.%d", f.Key, i)
			switch {
			case ev.HTTP != nil:
				p.routes = append(p.routes, gateway.Route{Kind: gateway.REST, Method: ev.HTTP.Method, Path: "/" + ev.HTTP.Path,
					CORS: ev.HTTP.CORS, Function: f.Name, Qualifier: qualifier, Timeout: f.Timeout, Target: target})
			case ev.HTTPAPI != nil:
				p.routes = append(p.routes, gateway.Route{Kind: gateway.HTTPAPI, Method: ev.HTTPAPI.Method, Path: ev.HTTPAPI.Path,
					Function: f.Name, Qualifier: qualifier, Timeout: f.Timeout, Target: target})
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
					p.schedules = append(p.schedules, scheduled{function: f.Name, qualifier: qualifier, expr: expr, sched: s, payload: payload})
				}
			default:
				p.other = append(p.other, otherEvent{typ: ev.Type, function: f.Name, path: path})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := e.gateway.SetRoutes(p.routes); err != nil {
		return nil, fmt.Errorf("the service's http/httpApi routes: %w", err)
	}
	e.startSchedules(p.schedules)
	return p, nil
}

// publish publishes f's code and configuration (reusing the latest version
// when nothing changed), creates its alias if missing, and readies its pool.
func (e *Engine) publish(svc *config.Service, f *config.Function, code registry.Code, gradualStage bool) (Published, error) {
	pub := Published{Key: f.Key, Function: f.Name}
	if fn := e.registry.Function(f.Name); fn != nil {
		if v := fn.LatestVersion(); v != nil {
			pub.Old = v.Number
		}
	}
	cfg := registry.Config{Runtime: f.Runtime, Handler: f.Handler, Environment: f.Environment, Timeout: f.Timeout, MemorySize: f.MemorySize}
	v, created, err := e.registry.PublishCode(f.Name, cfg, code, "")
	if err != nil {
		return pub, fmt.Errorf("%s: publish %s: %w", svc.Pos("functions."+f.Key), f.Key, err)
	}
	pub.New, pub.Changed = v.Number, created
	settings, err := functionSettings(svc, f)
	if err != nil {
		return pub, err
	}
	e.invoker.Configure(f.Name, settings)
	if err := e.invoker.Prepare(v); err != nil {
		return pub, fmt.Errorf("%s: function %s cannot run: %w", svc.Pos("functions."+f.Key+".handler"), f.Key, err)
	}
	if ds := f.DeploymentSettings; ds != nil && gradualStage {
		pub.Alias, pub.Gradual = ds.Alias, true
		if e.registry.Function(f.Name).Alias(ds.Alias) == nil {
			// A new alias starts on the version just published; an existing
			// one stays where deployments left it.
			if _, err := e.registry.SetAlias(f.Name, ds.Alias, v.Number, 0, 0, nil); err != nil {
				return pub, fmt.Errorf("create alias %s of %s: %w", ds.Alias, f.Key, err)
			}
		}
	}
	return pub, nil
}

// functionSettings reads reservedConcurrency, maximumRetryAttempts and maximumEventAge.
func functionSettings(svc *config.Service, f *config.Function) (invoke.Settings, error) {
	s := invoke.Settings{ReservedConcurrency: f.ReservedConcurrency}
	if n, ok, err := rawInt(f.Raw, "maximumRetryAttempts", 0, 2); err != nil {
		return s, svc.Diag(config.SeverityError, "functions."+f.Key+".maximumRetryAttempts", err.Error(), "use 0, 1 or 2")
	} else if ok {
		s.MaximumRetryAttempts = &n
	}
	if n, ok, err := rawInt(f.Raw, "maximumEventAge", 60, 21600); err != nil {
		return s, svc.Diag(config.SeverityError, "functions."+f.Key+".maximumEventAge", err.Error(), "give seconds between 60 and 21600")
	} else if ok {
		s.MaximumEventAge = time.Duration(n) * time.Second
	}
	return s, nil
}

func rawInt(raw map[string]any, key string, lo, hi int) (int, bool, error) {
	v, ok := raw[key]
	if !ok || v == nil {
		return 0, false, nil
	}
	var n int
	switch x := v.(type) {
	case float64:
		n = int(x)
		if float64(n) != x {
			return 0, false, fmt.Errorf("%s must be a whole number, not %v", key, x)
		}
	case int:
		n = x
	case int64:
		n = int(x)
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			return 0, false, fmt.Errorf("%s must be a whole number, not %v", key, x)
		}
		n = int(i)
	default:
		return 0, false, fmt.Errorf("%s must be a number, not %v", key, v)
	}
	if n < lo || n > hi {
		return 0, false, fmt.Errorf("%s %d is outside %d–%d", key, n, lo, hi)
	}
	return n, true, nil
}

// group is f's deployment group, named as `sluice package` names it.
func (e *Engine) group(svc *config.Service, f *config.Function, set *alarmSet) (*deploy.Group, error) {
	ds := f.DeploymentSettings
	typ, err := schedule.Parse(ds.Type)
	if err != nil {
		return nil, svc.Diag(config.SeverityError, svc.SettingPath(f, "type"), err.Error(), "")
	}
	g := &deploy.Group{
		Application:  awscfn.DeploymentApplicationName(svc),
		Name:         awscfn.DeploymentGroupName(svc, f),
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
	for _, d := range diags.Warnings() {
		fmt.Fprintln(e.opts.Out, d.Error())
	}
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

// Reload reads the service definition from disk again and publishes a new
// version of every function whose code or configuration changed. Functions
// with a deployment group keep their alias where it is: shifting traffic to
// the new version is a deployment's job (Deployer). Functions without one
// are live at once (their routes follow the latest version). Routes,
// schedules and alarms follow the new definition; deployment groups are
// those of the start (restart the engine to change them).
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
	p, err := e.apply(svc)
	if err != nil {
		return nil, err
	}
	e.deployer.SetGroups(p.groups)
	e.svc = svc
	return p.published, nil
}

// printSummary prints the routes, schedules and what is not emulated.
func (e *Engine) printSummary(p *plan) {
	out := e.opts.Out
	fmt.Fprintf(out, "Serving %s (stage %s) — gateway %s, AWS API %s\n", e.svc.Name, e.svc.Stage, e.gatewayURL, e.apiURL)
	for _, pub := range p.published {
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

// httpAPICORS is provider.httpApi.cors: true for the framework's defaults,
// or an object overriding them.
func httpAPICORS(svc *config.Service) *gateway.CORS {
	provider, _ := svc.Raw["provider"].(map[string]any)
	httpAPI, _ := provider["httpApi"].(map[string]any)
	c := gateway.DefaultHTTPAPICORS
	switch v := httpAPI["cors"].(type) {
	case bool:
		if !v {
			return nil
		}
	case map[string]any:
		list := func(key string, dst *[]string) {
			if xs, ok := v[key].([]any); ok {
				*dst = nil
				for _, x := range xs {
					if s, ok := x.(string); ok {
						*dst = append(*dst, s)
					}
				}
			}
		}
		list("allowedOrigins", &c.AllowOrigins)
		list("allowedHeaders", &c.AllowHeaders)
		list("allowedMethods", &c.AllowMethods)
		list("exposedResponseHeaders", &c.ExposeHeaders)
		c.AllowCredentials, _ = v["allowCredentials"].(bool)
		if n, ok, _ := rawInt(v, "maxAge", 0, 86400); ok {
			c.MaxAge = n
		}
	default:
		return nil
	}
	return &c
}

// binaryMediaTypes is provider.apiGateway.binaryMediaTypes.
func binaryMediaTypes(svc *config.Service) []string {
	provider, _ := svc.Raw["provider"].(map[string]any)
	apigw, _ := provider["apiGateway"].(map[string]any)
	list, _ := apigw["binaryMediaTypes"].([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
