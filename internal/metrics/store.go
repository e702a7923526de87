// Package metrics records CloudWatch-style datapoints (the AWS/Lambda
// metrics of every invocation, or any custom metric) and computes CloudWatch
// statistics over them.
//
// A metric is identified by namespace, name and exact dimension set
// (SeriesID). Each Series keeps one-second buckets of clock time, so a
// scaled clock shrinks a 10-second alarm period to a sixth of a second of
// wall time without losing resolution, and a fake clock makes tests exact.
// Data older than the store's retention (clock time) is dropped as new data
// arrives, so a long `sluice serve` does not grow without bound.
//
// Recording is on the request path: callers resolve a handle once
// (Store.Series, Store.InvocationRecorder) and record through it with no
// global lock and, in steady state, no allocation. Subscribers learn about
// new datapoints through coalescing channels that recording never waits on.
package metrics

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// DefaultRetention is how much clock time of data a Store keeps unless told
// otherwise: CloudWatch's retention for one-second data.
const DefaultRetention = 3 * time.Hour

// Store holds every series of one engine.
type Store struct {
	clock     clock.Clock
	retention atomic.Int64 // seconds of clock time
	series    sync.Map     // SeriesID.key() → *Series
	groups    sync.Map     // namespace and dimensions → *lockGroup
	recorders sync.Map     // function/resource/version → *InvocationRecorder
}

// Option configures a Store.
type Option func(*Store)

// WithRetention keeps d of clock time (at least one second) instead of
// DefaultRetention.
func WithRetention(d time.Duration) Option {
	return func(st *Store) { st.retention.Store(max(int64(d/time.Second), 1)) }
}

// NewStore returns an empty store reading time from clk.
func NewStore(clk clock.Clock, opts ...Option) *Store {
	st := &Store{clock: clk}
	st.retention.Store(int64(DefaultRetention / time.Second))
	for _, o := range opts {
		o(st)
	}
	return st
}

// Clock is the clock datapoints are stamped with.
func (st *Store) Clock() clock.Clock { return st.clock }

// Retention is how much clock time of data the store keeps.
func (st *Store) Retention() time.Duration {
	return time.Duration(st.retention.Load()) * time.Second
}

// EnsureRetention raises the retention to at least d, so that, for example,
// an alarm looking back one day finds its data. It never lowers it.
func (st *Store) EnsureRetention(d time.Duration) {
	want := int64((d + time.Second - 1) / time.Second)
	for {
		cur := st.retention.Load()
		if cur >= want || st.retention.CompareAndSwap(cur, want) {
			return
		}
	}
}

// Series returns the series of id, creating it if needed (so an alarm may
// subscribe to a metric before its first datapoint, as in CloudWatch).
func (st *Store) Series(id SeriesID) (*Series, error) {
	id, err := id.normalize()
	if err != nil {
		return nil, err
	}
	key := id.key()
	if s, ok := st.series.Load(key); ok {
		return s.(*Series), nil
	}
	group, _ := st.groups.LoadOrStore(SeriesID{Namespace: id.Namespace, Dimensions: id.Dimensions}.key(), &lockGroup{})
	s, _ := st.series.LoadOrStore(key, &Series{id: id, store: st, group: group.(*lockGroup)})
	return s.(*Series), nil
}

// lookup returns the series of id if it exists.
func (st *Store) lookup(id SeriesID) (*Series, bool, error) {
	id, err := id.normalize()
	if err != nil {
		return nil, false, err
	}
	s, ok := st.series.Load(id.key())
	if !ok {
		return nil, false, nil
	}
	return s.(*Series), true, nil
}

// Put records one datapoint of id now, like PutMetricData. On a hot path
// resolve the Series once and call its Record instead.
func (st *Store) Put(id SeriesID, value float64) error {
	s, err := st.Series(id)
	if err != nil {
		return err
	}
	return s.Record(value)
}

// List returns the ids of every series, sorted.
func (st *Store) List() []SeriesID {
	var ids []SeriesID
	st.series.Range(func(_, s any) bool {
		ids = append(ids, s.(*Series).id)
		return true
	})
	slices.SortFunc(ids, func(a, b SeriesID) int { return strings.Compare(a.key(), b.key()) })
	return ids
}

// Prune drops data older than the retention from every series. Recording
// already prunes the series it writes to; call Prune now and then to trim
// series that stopped receiving data.
func (st *Store) Prune() {
	cut := st.clock.Now().Unix() - st.retention.Load()
	st.series.Range(func(_, s any) bool {
		s.(*Series).prune(cut)
		return true
	})
}

// MaxDatapoints is CloudWatch's limit of datapoints per GetMetricStatistics call.
const MaxDatapoints = 1440

// Query asks for statistics of one metric, like GetMetricStatistics.
type Query struct {
	Namespace  string
	MetricName string
	Dimensions []Dimension
	Start, End time.Time     // [Start, End); Start is rounded down to a period boundary
	Period     time.Duration // whole seconds; periods are aligned to the Unix epoch
	Statistics []string      // standard (Sum, …) or extended (p99, tm90, …); at least one
}

// Datapoint is the statistics of one period that has data.
type Datapoint struct {
	Timestamp   time.Time // start of the period
	SampleCount float64
	Sum         float64
	Average     float64
	Minimum     float64
	Maximum     float64
	// ExtendedStatistics holds the requested extended statistics that have
	// a value in this period (a trimmed mean of nothing has none).
	ExtendedStatistics map[string]float64
}

// GetMetricStatistics returns one datapoint per period of q that has
// samples, oldest first. The standard statistics are always filled in. A
// metric that was never recorded has no datapoints (not an error, as in
// CloudWatch).
func (st *Store) GetMetricStatistics(q Query) ([]Datapoint, error) {
	var errs []error
	if err := checkPeriod(q.Period); err != nil {
		errs = append(errs, err)
	}
	if !q.Start.Before(q.End) {
		errs = append(errs, fmt.Errorf("start %v is not before end %v", q.Start, q.End))
	}
	if len(q.Statistics) == 0 {
		errs = append(errs, errors.New("no statistics requested: "+statHelp))
	}
	var extended []Stat
	for _, s := range q.Statistics {
		stat, err := ParseStat(s)
		if err != nil {
			errs = append(errs, err)
		} else if stat.Extended() {
			extended = append(extended, stat)
		}
	}
	id := SeriesID{Namespace: q.Namespace, MetricName: q.MetricName, Dimensions: q.Dimensions}
	s, found, err := st.lookup(id)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("GetMetricStatistics: %w", errors.Join(errs...))
	}
	p := int64(q.Period / time.Second)
	from := floorDiv(q.Start.Unix(), p) * p
	to := q.End.Unix()
	if q.End.Nanosecond() > 0 {
		to++
	}
	count := (to - from + p - 1) / p
	if count > MaxDatapoints {
		return nil, fmt.Errorf("GetMetricStatistics: %d periods of %v between %v and %v exceed CloudWatch's limit of %d datapoints: use a longer period or a shorter range",
			count, q.Period, q.Start, q.End, MaxDatapoints)
	}
	if !found {
		return nil, nil
	}
	dists := s.distributions(from, p, int(count), len(extended) > 0)
	var out []Datapoint
	for i := range dists {
		d := &dists[i]
		if d.n == 0 {
			continue
		}
		dp := Datapoint{
			Timestamp:   time.Unix(from+int64(i)*p, 0).UTC(),
			SampleCount: float64(d.n),
			Sum:         d.sum,
			Average:     d.sum / float64(d.n),
			Minimum:     d.min,
			Maximum:     d.max,
		}
		for _, stat := range extended {
			if v, ok := stat.compute(d); ok {
				if dp.ExtendedStatistics == nil {
					dp.ExtendedStatistics = make(map[string]float64, len(extended))
				}
				dp.ExtendedStatistics[stat.String()] = v
			}
		}
		out = append(out, dp)
	}
	return out, nil
}

// floorDiv divides rounding towards negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
