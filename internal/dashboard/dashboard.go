// Package dashboard serves `sluice serve`'s web dashboard at /ui/: each
// function's traffic split, its deployment's progress and alarms, a
// deployment's timeline and per-version charts, and one sentence that says
// why it ended. Changes are pushed with Server-Sent Events; the page polls
// nothing. Its assets are embedded, with no build step and no CDN, so it
// works offline. Its controls call the control API, as the CLI does.
package dashboard

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/logs"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/registry"
)

// Prefix is where the dashboard lives on the API listener.
const Prefix = "/ui/"

//go:embed assets
var assets embed.FS

// Deployments is what the dashboard reads of the deployment engine.
type Deployments interface {
	List(group string) ([]deploy.Deployment, error)
	Get(id string) (deploy.Deployment, error)
	Groups() []*deploy.Group
	Subscribe(func(deploy.Deployment)) (cancel func())
}

// Options are the engine parts the dashboard reads.
type Options struct {
	Deployments Deployments
	Registry    *registry.Registry
	Alarms      *alarm.Evaluator
	Metrics     *metrics.Store
	Logs        *logs.Store
	Clock       clock.Clock
	// Wall turns the engine's clock into wall time (the scale noted).
	Wall func() Wall
	// Functions lists the service's deployed function names, in its order.
	Functions func() []string
	// Token is the control API's token, handed to the page so its controls
	// can call the control API; the page is served to this machine only.
	Token  string
	Logger *slog.Logger
}

// Dashboard is the /ui/ handler.
type Dashboard struct {
	opts Options
	mux  *http.ServeMux

	mu      sync.Mutex
	clients map[chan string]struct{}
	cancel  []func()
	done    chan struct{}
}

// New returns the dashboard; Close stops its event feed.
func New(opts Options) *Dashboard {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	d := &Dashboard{opts: opts, mux: http.NewServeMux(), clients: map[chan string]struct{}{}, done: make(chan struct{})}
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	d.mux.HandleFunc("GET /ui/{$}", d.index)
	d.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", files))
	d.mux.HandleFunc("GET /ui/api/overview", d.json(func(*http.Request) (any, error) { return d.overview(), nil }))
	d.mux.HandleFunc("GET /ui/api/deployments", d.json(func(*http.Request) (any, error) { return d.history() }))
	d.mux.HandleFunc("GET /ui/api/deployments/{id}", d.json(func(r *http.Request) (any, error) { return d.detail(r.PathValue("id")) }))
	d.mux.HandleFunc("GET /ui/api/logs", d.json(d.logLines))
	d.mux.HandleFunc("GET /ui/events", d.events)
	d.cancel = append(d.cancel,
		opts.Deployments.Subscribe(func(dep deploy.Deployment) { d.broadcast("deployment", dep.ID) }),
		opts.Alarms.Subscribe(func(c alarm.Change) { d.broadcast("alarm", c.Alarm) }))
	go d.tick()
	return d
}

// Close ends every event stream.
func (d *Dashboard) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.done:
		return
	default:
	}
	close(d.done)
	for _, c := range d.cancel {
		c()
	}
}

func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The page carries the control API's token: serve it to this machine
	// only, under a name of this machine (no DNS rebinding), even when the
	// engine listens on every interface.
	if !localRequest(r) {
		http.Error(w, "the dashboard answers only this machine: open it at http://127.0.0.1:<api-port>/ui/", http.StatusForbidden)
		return
	}
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	d.mux.ServeHTTP(w, r)
}

func localRequest(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return false
	}
	h := r.Host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.ToLower(strings.Trim(h, "[]"))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (d *Dashboard) index(w http.ResponseWriter, r *http.Request) {
	page, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(strings.Replace(string(page), "{{TOKEN}}", d.opts.Token, 1)))
}

func (d *Dashboard) json(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := fn(r)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]string{"message": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(v)
	}
}

func (d *Dashboard) wall() Wall { return d.opts.Wall() }

// overview is the front page's rows.
func (d *Dashboard) overview() Overview {
	w := d.wall()
	now := d.opts.Clock.Now()
	ov := Overview{Scale: w.Scale(now), Functions: []FunctionRow{}}
	all := d.alarmViews()
	groups := d.opts.Deployments.Groups()
	deps, _ := d.opts.Deployments.List("")
	for _, name := range d.opts.Functions() {
		f := d.opts.Registry.Function(name)
		if f == nil {
			continue
		}
		row := FunctionRow{Name: name, Alarms: []AlarmView{}, Split: []Share{}}
		if v := f.LatestVersion(); v != nil {
			row.Latest = v.Number
		}
		var g *deploy.Group
		for _, gg := range groups {
			if gg.Function == name {
				g = gg
			}
		}
		if g != nil {
			row.Gradual, row.Alias = true, g.Alias
			row.Alarms = groupAlarms(all, g.Alarms, name)
			if a := f.Alias(g.Alias); a != nil {
				rt := a.Routing()
				row.Split = append(row.Split, Share{Version: rt.Version.Number, Percent: 100 * (1 - rt.Weight)})
				if rt.Additional != nil {
					row.Split = append(row.Split, Share{Version: rt.Additional.Number, Percent: 100 * rt.Weight})
				} else {
					row.Split[0].Percent = 100
				}
			}
		} else {
			row.Alarms = groupAlarms(all, nil, name)
			row.Split = append(row.Split, Share{Version: row.Latest, Percent: 100})
		}
		for i := len(deps) - 1; i >= 0; i-- {
			dep := deps[i]
			if dep.Target.FunctionName != name || dep.Creator == deploy.CreatorRollback {
				continue
			}
			s := summarize(dep, w)
			if !dep.Status.Done() && row.Active == nil {
				row.Active = &s
			} else if dep.Status.Done() && row.Last == nil {
				row.Last = &s
			}
			if row.Last != nil {
				break
			}
		}
		ov.Functions = append(ov.Functions, row)
	}
	return ov
}

func (d *Dashboard) alarmViews() []AlarmView {
	var out []AlarmView
	for _, a := range d.opts.Alarms.Alarms() {
		out = append(out, alarmView(a.Spec(), a.State()))
	}
	return out
}

// history is every deployment, newest first.
func (d *Dashboard) history() ([]Summary, error) {
	deps, err := d.opts.Deployments.List("")
	if err != nil {
		return nil, err
	}
	w := d.wall()
	out := make([]Summary, 0, len(deps))
	for i := len(deps) - 1; i >= 0; i-- {
		out = append(out, summarize(deps[i], w))
	}
	return out, nil
}

// detail is one deployment's view: timeline, hooks, charts and alarms.
func (d *Dashboard) detail(id string) (Detail, error) {
	dep, err := d.opts.Deployments.Get(id)
	if err != nil {
		return Detail{}, err
	}
	w := d.wall()
	det := Detail{Summary: summarize(dep, w), Scale: w.Scale(dep.CreateTime), Timeline: timeline(dep, w), Hooks: hookViews(dep)}
	if det.Hooks == nil {
		det.Hooks = []HookView{}
	}
	if r := dep.RollbackInfo; r != nil {
		for _, other := range []string{r.RollbackDeploymentID, r.RollbackTriggeringDeploymentID} {
			if other == "" {
				continue
			}
			if o, err := d.opts.Deployments.Get(other); err == nil {
				s := summarize(o, w)
				if other == r.RollbackDeploymentID {
					det.Rollback = &s
				} else {
					det.Trigger = &s
				}
			}
		}
	}
	// The window: from a little before the deployment to its end (or now).
	from := dep.CreateTime
	to := d.opts.Clock.Now()
	if dep.CompleteTime != nil {
		to = dep.CompleteTime.Add(dep.CompleteTime.Sub(from) / 10)
	}
	span := max(to.Sub(from), time.Second)
	period := chartPeriod(span)
	from = from.Add(-period * 3).Truncate(period)
	det.Period, det.Window = period, [2]time.Time{w.Wall(from), w.Wall(to)}

	var group *deploy.Group
	for _, g := range d.opts.Deployments.Groups() {
		if g.Name == dep.DeploymentGroupName {
			group = g
		}
	}
	var names []string
	alias := dep.Target.FunctionAlias
	if group != nil {
		names = group.Alarms
	}
	det.Alarms = groupAlarms(d.alarmViews(), names, dep.Target.FunctionName)
	if det.Alarms == nil {
		det.Alarms = []AlarmView{}
	}
	breaches := map[string][]time.Time{}
	for _, a := range d.opts.Alarms.Alarms() {
		if slices.ContainsFunc(det.Alarms, func(v AlarmView) bool { return v.Name == a.Name() }) {
			breaches[a.Name()] = d.breaches(a.Spec(), from, to)
		}
	}
	var stats []versionStats
	for _, v := range []string{fmt.Sprint(dep.Target.CurrentVersion), fmt.Sprint(dep.Target.TargetVersion)} {
		stats = append(stats, d.versionStats(dep.Target.FunctionName, alias, v, from, to, period))
	}
	det.Charts = charts(stats, from, w, det.Alarms, breaches)
	return det, nil
}

// versionStats reads one version's ExecutedVersion series.
func (d *Dashboard) versionStats(fn, alias, version string, from, to time.Time, period time.Duration) versionStats {
	dims := []metrics.Dimension{{Name: metrics.DimExecutedVersion, Value: version}, {Name: metrics.DimFunctionName, Value: fn},
		{Name: metrics.DimResource, Value: fn + ":" + alias}}
	q := func(metric string, stats ...string) []metrics.Datapoint {
		dps, err := d.opts.Metrics.GetMetricStatistics(metrics.Query{Namespace: metrics.NamespaceLambda, MetricName: metric,
			Dimensions: dims, Start: from, End: to, Period: period, Statistics: stats})
		if err != nil {
			d.opts.Logger.Debug("dashboard: metric query", "err", err)
		}
		return dps
	}
	return versionStats{label: "v" + version, points: q(metrics.MetricInvocations, "Sum"), errs: q(metrics.MetricErrors, "Sum"),
		dur: q(metrics.MetricDuration, "p50", "p99")}
}

// breaches are the starts of the alarm's periods in [from, to) whose
// statistic breached its threshold.
func (d *Dashboard) breaches(spec alarm.Spec, from, to time.Time) []time.Time {
	if spec.Namespace != metrics.NamespaceLambda || spec.Period <= 0 {
		return nil
	}
	s, err := d.opts.Metrics.Series(spec.SeriesID())
	if err != nil {
		return nil
	}
	stat, err := metrics.ParseStat(spec.Statistic + spec.ExtendedStatistic)
	if err != nil {
		return nil
	}
	start := from.Truncate(spec.Period)
	n := int(to.Sub(start)/spec.Period) + 1
	if n <= 0 || n > 2000 {
		return nil
	}
	vals := make([]metrics.Value, n)
	if err := s.Aggregate(stat, start, spec.Period, vals); err != nil {
		return nil
	}
	var out []time.Time
	for _, v := range vals {
		if v.OK && breaching(spec.ComparisonOperator.String(), v.Value, spec.Threshold) {
			out = append(out, v.Start)
		}
	}
	return out
}

func breaching(op string, v, threshold float64) bool {
	switch op {
	case "GreaterThanOrEqualToThreshold":
		return v >= threshold
	case "GreaterThanThreshold":
		return v > threshold
	case "LessThanThreshold":
		return v < threshold
	case "LessThanOrEqualToThreshold":
		return v <= threshold
	}
	return false
}

// logLines are a function's recent log events (for a hook's link).
func (d *Dashboard) logLines(r *http.Request) (any, error) {
	fn := r.URL.Query().Get("function")
	if d.opts.Registry.Function(fn) == nil {
		return nil, fmt.Errorf("no function %q", fn)
	}
	f := logs.Filter{}
	if s := r.URL.Query().Get("since"); s != "" {
		var sec int64
		fmt.Sscan(s, &sec)
		f.Since = time.Unix(sec, 0)
	}
	events, err := d.opts.Logs.Events(logs.GroupName(fn), f)
	if err != nil {
		return nil, err
	}
	if len(events) > 500 {
		events = events[len(events)-500:]
	}
	w := d.wall()
	type line struct {
		Time    time.Time `json:"time"`
		Stream  string    `json:"stream"`
		Message string    `json:"message"`
	}
	out := make([]line, 0, len(events))
	for _, e := range events {
		out = append(out, line{w.Wall(e.Time), e.Stream, strings.TrimRight(e.Message, "\n")})
	}
	return map[string]any{"function": fn, "events": out}, nil
}

// events streams changes to the page (Server-Sent Events): a deployment or
// an alarm changed, or, while a deployment runs, new datapoints may have
// arrived (a tick each second).
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	// The stream lasts as long as the page is open: lift the API server's
	// write deadline.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	ch := make(chan string, 64)
	d.mu.Lock()
	d.clients[ch] = struct{}{}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.clients, ch)
		d.mu.Unlock()
	}()
	fmt.Fprint(w, "retry: 1000\nevent: hello\ndata: {}\n\n")
	flusher.Flush()
	// Bound a stream's life (the browser reconnects) so that a server
	// shutdown never waits on a page left open.
	limit := time.NewTimer(5 * time.Minute)
	defer limit.Stop()
	for {
		select {
		case msg := <-ch:
			if _, err := fmt.Fprint(w, msg); err != nil {
				return
			}
			flusher.Flush()
		case <-r.Context().Done():
			return
		case <-d.done:
			return
		case <-limit.C:
			return
		}
	}
}

// broadcast sends an event to every page; a page that lags loses events,
// which is harmless: each event only says what to read again.
func (d *Dashboard) broadcast(kind, id string) {
	b, _ := json.Marshal(map[string]string{"kind": kind, "id": id})
	msg := "event: change\ndata: " + string(b) + "\n\n"
	d.mu.Lock()
	defer d.mu.Unlock()
	for ch := range d.clients {
		select {
		case ch <- msg:
		default:
		}
	}
}

// tick pushes a "metrics" event each second while a deployment runs, so
// charts grow without the page polling.
func (d *Dashboard) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-t.C:
			d.mu.Lock()
			n := len(d.clients)
			d.mu.Unlock()
			if n == 0 {
				continue
			}
			if deps, err := d.opts.Deployments.List(""); err == nil && slices.ContainsFunc(deps, func(x deploy.Deployment) bool { return !x.Status.Done() }) {
				d.broadcast("metrics", "")
			}
		}
	}
}
