package alarm

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/metrics"
)

// StateInfo is an alarm's state and why it is in it (DescribeAlarms'
// StateValue, StateReason, StateReasonData, StateUpdatedTimestamp).
type StateInfo struct {
	Value      State
	Reason     string
	ReasonData string // JSON, empty for manual changes
	Updated    time.Time
}

// Change is one state transition of an alarm.
type Change struct {
	Alarm      string
	Old, New   State
	Reason     string
	ReasonData string
	Time       time.Time // clock time of the transition
}

// Listener is called on every state change, synchronously and in order for
// one alarm. It must return quickly (hand work to another goroutine) and
// must not call SetAlarmState, Put or Delete for the same alarm, which
// would wait for the listener to return.
type Listener func(Change)

// listeners is a set of listeners kept in subscription order.
type listeners struct {
	next int
	list []listenerEntry
}

type listenerEntry struct {
	id int
	fn Listener
}

func (ls *listeners) add(fn Listener) int {
	ls.next++
	ls.list = append(ls.list, listenerEntry{ls.next, fn})
	return ls.next
}

func (ls *listeners) remove(id int) {
	ls.list = slices.DeleteFunc(ls.list, func(e listenerEntry) bool { return e.id == id })
}

// subscribe adds l under mu (the lock guarding ls) and returns its cancel.
func (ls *listeners) subscribe(mu *sync.Mutex, l Listener) (cancel func()) {
	mu.Lock()
	id := ls.add(l)
	mu.Unlock()
	return func() {
		mu.Lock()
		ls.remove(id)
		mu.Unlock()
	}
}

func (ls *listeners) snapshot() []Listener {
	out := make([]Listener, len(ls.list))
	for i, e := range ls.list {
		out[i] = e.fn
	}
	return out
}

// Evaluator evaluates alarms over one metrics store, on the store's clock.
type Evaluator struct {
	store *metrics.Store
	clock clock.Clock
	log   *slog.Logger
	wg    sync.WaitGroup // alarm goroutines

	saver *saver               // nil: states are not saved
	saved map[string]StateInfo // states saved by a previous engine, not yet restored

	mu        sync.Mutex
	alarms    map[string]*Alarm
	listeners listeners
	closed    bool
}

// Option configures an Evaluator.
type Option func(*Evaluator)

// WithLogger logs state changes to l instead of slog.Default().
func WithLogger(l *slog.Logger) Option { return func(e *Evaluator) { e.log = l } }

// NewEvaluator returns an evaluator of alarms over store.
func NewEvaluator(store *metrics.Store, opts ...Option) *Evaluator {
	e := &Evaluator{store: store, clock: store.Clock(), log: slog.Default(), alarms: map[string]*Alarm{}}
	for _, o := range opts {
		o(e)
	}
	if e.saver != nil {
		e.saver.log = e.log
		e.saved = e.saver.load()
		e.saver.start()
	}
	return e
}

// Put creates the alarm, or reconfigures the alarm of that name (keeping its
// state and listeners, as PutMetricAlarm does), and evaluates it at once
// over the data already recorded. A new alarm starts in INSUFFICIENT_DATA.
func (e *Evaluator) Put(spec Spec) (*Alarm, error) {
	c, err := compile(spec)
	if err != nil {
		return nil, err
	}
	series, err := e.store.Series(spec.SeriesID())
	if err != nil {
		return nil, fmt.Errorf("alarm %q: %w", spec.Name, err)
	}
	// The evaluation range, plus the period in progress, must stay in the store.
	e.store.EnsureRetention(time.Duration(c.rng+1) * spec.Period)

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, errors.New("alarm evaluator is closed")
	}
	a, ok := e.alarms[spec.Name]
	if !ok {
		now := e.clock.Now()
		a = &Alarm{ev: e, name: spec.Name, info: StateInfo{
			Value:   StateInsufficientData,
			Reason:  "Unchecked: Initial alarm creation",
			Updated: now,
		}}
		if saved, ok := e.saved[spec.Name]; ok {
			delete(e.saved, spec.Name)
			a.info, a.restoredUntil = saved, now.Add(restoredFor(c))
		}
		e.alarms[spec.Name] = a
	}
	e.mu.Unlock()
	a.start(c, series)
	return a, nil
}

// Alarm returns the alarm of that name.
func (e *Evaluator) Alarm(name string) (*Alarm, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.alarms[name]
	return a, ok
}

// Alarms returns every alarm, sorted by name.
func (e *Evaluator) Alarms() []*Alarm {
	e.mu.Lock()
	out := make([]*Alarm, 0, len(e.alarms))
	for _, a := range e.alarms {
		out = append(out, a)
	}
	e.mu.Unlock()
	slices.SortFunc(out, func(a, b *Alarm) int { return strings.Compare(a.name, b.name) })
	return out
}

// Delete stops evaluating the alarm and forgets it. It reports whether the
// alarm existed.
func (e *Evaluator) Delete(name string) bool {
	e.mu.Lock()
	a, ok := e.alarms[name]
	delete(e.alarms, name)
	delete(e.saved, name)
	e.mu.Unlock()
	if ok {
		a.stop()
	}
	if e.saver != nil {
		e.saver.put(name, nil)
	}
	return ok
}

// SetAlarmState sets the alarm's state by hand, as CloudWatch's
// SetAlarmState does: listeners hear of the change, and the state lasts
// only until the alarm is next evaluated.
func (e *Evaluator) SetAlarmState(name string, state State, reason string) error {
	a, ok := e.Alarm(name)
	if !ok {
		return fmt.Errorf("SetAlarmState: alarm %q does not exist: create it first", name)
	}
	if int(state) >= len(stateNames) {
		return fmt.Errorf("SetAlarmState: %v: use OK, ALARM or INSUFFICIENT_DATA", state)
	}
	if reason == "" {
		return errors.New("SetAlarmState: give a reason: CloudWatch requires StateReason")
	}
	a.evalMu.Lock()
	defer a.evalMu.Unlock()
	a.transitionLocked(state, reason, "", e.clock.Now())
	return nil
}

// Subscribe calls l on every state change of every alarm, after the alarm's
// own listeners. Call the returned function to stop.
func (e *Evaluator) Subscribe(l Listener) (cancel func()) { return e.listeners.subscribe(&e.mu, l) }

// Close stops every alarm and waits for their goroutines to end.
func (e *Evaluator) Close() {
	e.mu.Lock()
	e.closed = true
	alarms := make([]*Alarm, 0, len(e.alarms))
	for _, a := range e.alarms {
		alarms = append(alarms, a)
	}
	e.mu.Unlock()
	for _, a := range alarms {
		a.stop()
	}
	e.wg.Wait()
	if e.saver != nil {
		e.saver.close()
	}
}

// Alarm is one alarm at work.
type Alarm struct {
	ev   *Evaluator
	name string

	evalMu sync.Mutex // serializes evaluations, reconfiguration and listener calls
	run    *watch     // the current configuration, guarded by evalMu
	// restoredUntil: until then, a state restored from the store is kept
	// when there is no datapoint to judge (see WithStateStore).
	restoredUntil time.Time

	mu        sync.Mutex // guards the fields below
	spec      Spec
	info      StateInfo
	listeners listeners
}

// Name is the alarm's name.
func (a *Alarm) Name() string { return a.name }

// Spec is the alarm's current configuration.
func (a *Alarm) Spec() Spec {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.spec
}

// State is the alarm's current state.
func (a *Alarm) State() StateInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.info
}

// Subscribe calls l on every state change of this alarm. Call the returned
// function to stop.
func (a *Alarm) Subscribe(l Listener) (cancel func()) { return a.listeners.subscribe(&a.mu, l) }

// watch is one configuration of an alarm at work: its subscription to the
// metric, its period timer and its goroutine.
type watch struct {
	c       *compiled
	series  *metrics.Series
	notify  <-chan struct{}
	cancel  func() // ends the subscription
	done    chan struct{}
	timer   clock.Timer // guarded by the alarm's evalMu
	stopped bool        // guarded by the alarm's evalMu
	values  []metrics.Value
	points  []point
}

// start replaces the alarm's configuration with c and evaluates it.
func (a *Alarm) start(c *compiled, series *metrics.Series) {
	a.evalMu.Lock()
	defer a.evalMu.Unlock()
	if a.run != nil {
		a.run.stopLocked()
	}
	notify, cancel := series.Subscribe()
	w := &watch{
		c: c, series: series, notify: notify, cancel: cancel, done: make(chan struct{}),
		values: make([]metrics.Value, c.rng), points: make([]point, c.rng),
	}
	a.run = w
	a.mu.Lock()
	a.spec = c.spec
	a.mu.Unlock()

	now := a.ev.clock.Now()
	a.evaluatePeriodsLocked(w, now)
	a.evaluateEarlyLocked(w, now)
	a.armLocked(w, periodStart(now, c.spec.Period).Add(c.spec.Period))
	a.ev.wg.Add(1)
	go a.loop(w)
}

// stop ends the alarm's evaluation.
func (a *Alarm) stop() {
	a.evalMu.Lock()
	defer a.evalMu.Unlock()
	if a.run != nil {
		a.run.stopLocked()
	}
}

func (w *watch) stopLocked() {
	if w.stopped {
		return
	}
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
	w.cancel()
	close(w.done)
}

// loop evaluates the period in progress whenever a datapoint arrives.
func (a *Alarm) loop(w *watch) {
	defer a.ev.wg.Done()
	for {
		select {
		case <-w.done:
			return
		case <-w.notify:
			a.evalMu.Lock()
			if !w.stopped {
				a.evaluateEarlyLocked(w, a.ev.clock.Now())
			}
			a.evalMu.Unlock()
		}
	}
}

// armLocked schedules the evaluation at the period boundary due. The wait is
// kept positive: a fake clock runs a timer that is already due inside
// AfterFunc, which would wait for the evalMu held here.
func (a *Alarm) armLocked(w *watch, due time.Time) {
	d := max(due.Sub(a.ev.clock.Now()), time.Nanosecond)
	w.timer = a.ev.clock.AfterFunc(d, func() { a.onBoundary(w, due) })
}

// onBoundary evaluates the periods that just closed and arms the next boundary.
func (a *Alarm) onBoundary(w *watch, due time.Time) {
	a.evalMu.Lock()
	defer a.evalMu.Unlock()
	if w.stopped {
		return
	}
	now := a.ev.clock.Now()
	if now.Before(due) { // a scaled clock's wall timer may fire a hair early
		a.armLocked(w, due)
		return
	}
	a.evaluatePeriodsLocked(w, now)
	a.armLocked(w, periodStart(now, w.c.spec.Period).Add(w.c.spec.Period))
}

// evaluatePeriodsLocked evaluates the evaluation range of closed periods
// that ends where the period in progress at now begins.
func (a *Alarm) evaluatePeriodsLocked(w *watch, now time.Time) {
	p := w.c.spec.Period
	end := periodStart(now, p)
	points := w.load(end.Add(-time.Duration(w.c.rng)*p), w.c.rng)
	a.applyLocked(w, decide(points, w.c.spec.EvaluationPeriods, w.c.spec.M(), w.c.breaches, w.c.spec.TreatMissingData), points, now)
}

// evaluateEarlyLocked trips the alarm before the period in progress closes
// when that period already breaches and can no longer stop breaching (see
// earlyTrips): the decision equals the one at the period's close.
func (a *Alarm) evaluateEarlyLocked(w *watch, now time.Time) {
	if !w.c.early || a.State().Value == StateAlarm {
		return
	}
	p := w.c.spec.Period
	cur := periodStart(now, p)
	if err := w.series.Aggregate(w.c.stat, cur, p, w.values[:1]); err != nil || !w.values[0].OK || !w.c.breaches(w.values[0].Value*w.c.spec.scale()) {
		return
	}
	points := w.load(cur.Add(-time.Duration(w.c.rng-1)*p), w.c.rng)
	d := decide(points, w.c.spec.EvaluationPeriods, w.c.spec.M(), w.c.breaches, w.c.spec.TreatMissingData)
	if d.state == StateAlarm && !d.retain {
		a.applyLocked(w, d, points, now)
	}
}

// load reads count periods from from into the watch's points.
func (w *watch) load(from time.Time, count int) []point {
	vals := w.values[:count]
	if err := w.series.Aggregate(w.c.stat, from, w.c.spec.Period, vals); err != nil {
		// Unreachable for a validated spec; treat as no data rather than panic.
		clear(vals)
	}
	pts := w.points[:count]
	for i, v := range vals {
		// A statistic without a value (a trimmed mean of nothing) is missing.
		pts[i] = point{start: v.Start, present: v.OK, value: v.Value * w.c.spec.scale(), sampleCount: v.SampleCount}
	}
	return pts
}

// applyLocked moves the alarm to the decided state, if it changes.
func (a *Alarm) applyLocked(w *watch, d decision, points []point, now time.Time) {
	if d.retain || (len(d.evaluated) == 0 && now.Before(a.restoredUntil)) {
		return
	}
	old := a.State().Value
	if d.state == old {
		return
	}
	reason, data := w.c.reasonFor(d, points, old, now)
	a.transitionLocked(d.state, reason, data, now)
}

// transitionLocked records a state change and tells the listeners.
func (a *Alarm) transitionLocked(state State, reason, data string, now time.Time) {
	a.mu.Lock()
	old := a.info.Value
	if old == state {
		a.mu.Unlock()
		return
	}
	a.info = StateInfo{Value: state, Reason: reason, ReasonData: data, Updated: now}
	info := a.info
	ls := a.listeners.snapshot()
	a.mu.Unlock()
	if a.ev.saver != nil {
		a.ev.saver.put(a.name, &info)
	}

	a.ev.mu.Lock()
	ls = append(ls, a.ev.listeners.snapshot()...)
	a.ev.mu.Unlock()

	a.ev.log.Info("alarm state changed", "alarm", a.name, "old", old.String(), "new", state.String(), "reason", reason)
	ch := Change{Alarm: a.name, Old: old, New: state, Reason: reason, ReasonData: data, Time: now}
	for _, l := range ls {
		l(ch)
	}
}

// periodStart is the start of the period of length p that contains t;
// periods are aligned to the Unix epoch.
func periodStart(t time.Time, p time.Duration) time.Time {
	s := int64(p / time.Second)
	u := t.Unix()
	q := u / s
	if u%s != 0 && u < 0 {
		q--
	}
	return time.Unix(q*s, 0).UTC()
}

// compiled is a validated Spec ready for evaluation.
type compiled struct {
	spec  Spec
	stat  metrics.Stat
	rng   int  // evaluation range in periods
	early bool // the period in progress may trip ALARM before it closes
}

func compile(spec Spec) (*compiled, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	stat, _ := spec.stat() // valid: checked by Validate
	spec.Dimensions = slices.Clone(spec.Dimensions)
	return &compiled{
		spec:  spec,
		stat:  stat,
		rng:   evaluationRange(spec.EvaluationPeriods),
		early: earlyTrips(stat, spec.ComparisonOperator, spec.Namespace),
	}, nil
}

func (c *compiled) breaches(v float64) bool {
	return c.spec.ComparisonOperator.breaches(v, c.spec.Threshold)
}

// earlyTrips reports whether the period in progress may be judged before it
// closes. CloudWatch judges a period once it is over; sluice wants a
// deployment to roll back within milliseconds of the first error, so it
// judges the open period early, but only when the verdict can no longer
// change as more datapoints arrive, so the result is the one CloudWatch
// would reach at the period's close:
//   - SampleCount and Maximum only grow, so once above a Greater* threshold
//     they stay above it;
//   - Sum only grows when values are non-negative, which holds for every
//     AWS/Lambda metric (not for custom metrics, which may be negative);
//   - Minimum only shrinks, so once below a Less* threshold it stays below.
//
// So `Sum(Errors) >= 1` trips on the very first error, while Average,
// percentiles, trimmed means and Minimum(Errors) >= 1 wait for the period
// to close. Early judgement only ever moves an alarm into ALARM; every other
// transition happens at period boundaries.
func earlyTrips(stat metrics.Stat, op ComparisonOperator, namespace string) bool {
	switch stat.String() {
	case "SampleCount", "Maximum":
		return op.greater()
	case "Sum":
		return op.greater() && namespace == metrics.NamespaceLambda
	case "Minimum":
		return !op.greater()
	}
	return false
}
