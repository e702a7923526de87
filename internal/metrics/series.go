package metrics

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// rawBatch values are buffered unsorted in the newest bucket before they
	// are merged into its sorted distinct values: recording is an append.
	rawBatch = 256
	// maxDistinct distinct values are kept exactly per one-second bucket;
	// beyond that a bucket's values are quantized (see quantize), which
	// bounds memory for continuous metrics such as Duration under load.
	maxDistinct = 512
	// nShards spreads concurrent recorders of one series over several locks.
	nShards = 4
	// quantAlpha is the relative accuracy of quantized values (0.5 %).
	quantAlpha = 0.005
)

var logGamma = math.Log((1 + quantAlpha) / (1 - quantAlpha))

// bucket holds one second (of clock time) of a series.
type bucket struct {
	sec           int64 // Unix second the bucket covers
	n             uint64
	sum, min, max float64
	vals          []valueCount // sorted distinct values, excluding the shard's pending raw values
	quantized     bool         // vals are log-bucketed approximations
}

func (b *bucket) observe(v float64) {
	if b.n == 0 {
		b.min, b.max = v, v
	} else {
		b.min, b.max = min(b.min, v), max(b.max, v)
	}
	b.n++
	b.sum += v
}

// shard is one lock's worth of a series' data. The lock itself lives in the
// series' lockGroup, shared by every metric with the same namespace and
// dimensions, so recording an invocation's five Lambda metrics under one
// dimension set takes one lock, not five.
type shard struct {
	buckets  []bucket  // ordered by sec, oldest first
	raw      []float64 // values recorded into the last bucket, not yet in its vals
	totalN   uint64    // all values ever recorded, for Prometheus counters
	totalSum float64
	_        [64]byte // keeps shards on separate cache lines
}

// lockGroup holds the shard locks of the metrics that share a namespace and
// dimension set. Recorders take the first free lock, so without contention
// everything lands in shard 0 and memory is not multiplied; under
// contention recorders spread over the shards.
type lockGroup struct {
	locks [nShards]struct {
		sync.Mutex
		_ [56]byte // one lock per cache line
	}
}

// lock locks and returns the first free shard index, or a random one when
// all are busy.
func (g *lockGroup) lock() int {
	for i := range g.locks {
		if g.locks[i].TryLock() {
			return i
		}
	}
	i := rand.IntN(nShards)
	g.locks[i].Lock()
	return i
}

func (g *lockGroup) unlock(i int) { g.locks[i].Unlock() }

// Series is one CloudWatch metric (namespace, name, dimension set) and its
// recent datapoints at one-second resolution of clock time. Get one from
// Store.Series once and record through it: recording takes no global lock.
type Series struct {
	id     SeriesID
	store  *Store
	group  *lockGroup
	shards [nShards]shard
	subsMu sync.Mutex
	subs   atomic.Pointer[[]chan struct{}]
}

// ID is the metric this series records.
func (s *Series) ID() SeriesID { return s.id }

// errBadValue is returned for values CloudWatch would reject.
var errBadValue = errors.New("metric values must be finite numbers")

// Record adds one datapoint with the current clock time and wakes the
// subscribers without waiting for them.
func (s *Series) Record(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("metric %s: value %v: %w", s.id, v, errBadValue)
	}
	s.record(s.store.clock.Now().Unix(), v)
	s.notify()
	return nil
}

func (s *Series) record(sec int64, v float64) {
	i := s.group.lock()
	s.shards[i].add(sec, v, s.store.retention.Load())
	s.group.unlock(i)
}

// Subscribe returns a channel that receives a signal after datapoints are
// recorded, and a function that ends the subscription. Signals coalesce: the
// channel holds at most one, and recording never waits for a reader, so a
// subscriber must re-read the series after each signal rather than count them.
func (s *Series) Subscribe() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	s.subsMu.Lock()
	var subs []chan struct{}
	if old := s.subs.Load(); old != nil {
		subs = slices.Clone(*old)
	}
	subs = append(subs, c)
	s.subs.Store(&subs)
	s.subsMu.Unlock()
	return c, func() {
		s.subsMu.Lock()
		defer s.subsMu.Unlock()
		old := s.subs.Load()
		if old == nil {
			return
		}
		subs := slices.DeleteFunc(slices.Clone(*old), func(x chan struct{}) bool { return x == c })
		s.subs.Store(&subs)
	}
}

func (s *Series) notify() {
	subs := s.subs.Load()
	if subs == nil {
		return
	}
	for _, c := range *subs {
		select {
		case c <- struct{}{}:
		default: // a signal is already pending; the subscriber will see this datapoint too
		}
	}
}

// Value is a statistic over one period.
type Value struct {
	Start       time.Time // start of the period
	SampleCount float64   // datapoints in the period; 0 means the period is missing
	Value       float64   // the statistic, when OK
	OK          bool      // the period has data and the statistic has a value there
}

// Aggregate computes stat over len(out) consecutive periods, the first one
// starting at from (truncated to the second), and writes them to out.
func (s *Series) Aggregate(stat Stat, from time.Time, period time.Duration, out []Value) error {
	if err := checkPeriod(period); err != nil {
		return err
	}
	if stat.IsZero() {
		return errors.New("no statistic given: " + statHelp)
	}
	dists := s.distributions(from.Unix(), int64(period/time.Second), len(out), stat.Extended())
	p := int64(period / time.Second)
	for i := range out {
		v, ok := stat.compute(&dists[i])
		out[i] = Value{
			Start:       time.Unix(from.Unix()+int64(i)*p, 0).UTC(),
			SampleCount: float64(dists[i].n),
			Value:       v,
			OK:          ok,
		}
	}
	return nil
}

func checkPeriod(period time.Duration) error {
	if period < time.Second || period%time.Second != 0 {
		return fmt.Errorf("period %v: use a whole number of seconds, at least 1s", period)
	}
	return nil
}

// distributions gathers count consecutive periods of p seconds from the Unix
// second from. Values are gathered only when withVals is set.
func (s *Series) distributions(from, p int64, count int, withVals bool) []distribution {
	dists := make([]distribution, count)
	to := from + p*int64(count)
	for i := range s.shards {
		sh := &s.shards[i]
		s.group.locks[i].Lock()
		if withVals {
			sh.flush()
		}
		start, _ := slices.BinarySearchFunc(sh.buckets, from, func(b bucket, sec int64) int { return cmpInt(b.sec, sec) })
		for j := start; j < len(sh.buckets) && sh.buckets[j].sec < to; j++ {
			b := &sh.buckets[j]
			d := &dists[(b.sec-from)/p]
			if d.n == 0 {
				d.min, d.max = b.min, b.max
			} else {
				d.min, d.max = min(d.min, b.min), max(d.max, b.max)
			}
			d.n += b.n
			d.sum += b.sum
			if withVals {
				d.vals = append(d.vals, b.vals...)
			}
		}
		s.group.unlock(i)
	}
	if withVals {
		for i := range dists {
			dists[i].vals = mergeDuplicates(dists[i].vals)
		}
	}
	return dists
}

// totals sums the running SampleCount and Sum of every shard.
func (s *Series) totals() (n uint64, sum float64) {
	for i := range s.shards {
		s.group.locks[i].Lock()
		n += s.shards[i].totalN
		sum += s.shards[i].totalSum
		s.group.unlock(i)
	}
	return n, sum
}

// prune drops the buckets older than the Unix second cut.
func (s *Series) prune(cut int64) {
	for i := range s.shards {
		s.group.locks[i].Lock()
		s.shards[i].flush()
		s.shards[i].expire(cut)
		s.group.unlock(i)
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// add records v at Unix second sec; the shard is locked.
func (sh *shard) add(sec int64, v float64, retention int64) {
	sh.totalN++
	sh.totalSum += v
	last := len(sh.buckets) - 1
	switch {
	case last < 0 || sh.buckets[last].sec < sec:
		sh.flush()
		sh.expire(sec - retention)
		sh.buckets = append(sh.buckets, bucket{sec: sec})
		last = len(sh.buckets) - 1
	case sh.buckets[last].sec > sec:
		// Two recorders read the clock in one order and took the lock in
		// the other: file the value under its own (older) second.
		sh.addLate(sec, v, retention)
		return
	}
	sh.buckets[last].observe(v)
	sh.raw = append(sh.raw, v)
	if len(sh.raw) == rawBatch {
		sh.flush()
	}
}

// addLate records v into an older second than the newest bucket.
func (sh *shard) addLate(sec int64, v float64, retention int64) {
	if sec < sh.buckets[len(sh.buckets)-1].sec-retention {
		return // already past retention
	}
	i, found := slices.BinarySearchFunc(sh.buckets, sec, func(b bucket, sec int64) int { return cmpInt(b.sec, sec) })
	if !found {
		sh.buckets = slices.Insert(sh.buckets, i, bucket{sec: sec})
	}
	b := &sh.buckets[i]
	b.observe(v)
	one := []float64{v}
	if b.quantized {
		quantizeRaw(one)
	}
	b.vals = mergeSorted(b.vals, one)
}

// flush merges the pending raw values into the newest bucket.
func (sh *shard) flush() {
	if len(sh.raw) == 0 {
		return
	}
	b := &sh.buckets[len(sh.buckets)-1]
	if b.quantized {
		quantizeRaw(sh.raw)
	}
	slices.Sort(sh.raw)
	b.vals = mergeSorted(b.vals, sh.raw)
	sh.raw = sh.raw[:0]
	if !b.quantized && len(b.vals) > maxDistinct {
		b.quantized = true
		for i := range b.vals {
			b.vals[i].v = quantize(b.vals[i].v)
		}
		b.vals = mergeDuplicates(b.vals)
	}
}

// expire drops the buckets older than the Unix second cut; raw is empty.
func (sh *shard) expire(cut int64) {
	k := 0
	for k < len(sh.buckets) && sh.buckets[k].sec < cut {
		k++
	}
	if k > 0 {
		clear(sh.buckets[:k]) // release their values now
		sh.buckets = sh.buckets[k:]
	}
}

// mergeSorted merges sorted raw values into sorted distinct vals. When raw
// brings no new distinct value (the usual case for 0/1 metrics such as
// Errors) vals is updated in place; otherwise a new slice of exactly the
// needed size is returned.
func mergeSorted(vals []valueCount, raw []float64) []valueCount {
	// First pass: how many distinct values does raw add?
	added := 0
	i := 0
	for j := 0; j < len(raw); {
		v := raw[j]
		for j < len(raw) && raw[j] == v {
			j++
		}
		for i < len(vals) && vals[i].v < v {
			i++
		}
		if i == len(vals) || vals[i].v != v {
			added++
		}
	}
	if added == 0 {
		i = 0
		for _, v := range raw {
			for vals[i].v != v {
				i++
			}
			vals[i].n++
		}
		return vals
	}
	out := make([]valueCount, 0, len(vals)+added)
	i = 0
	for j := 0; j < len(raw); {
		v := raw[j]
		k := j
		for j < len(raw) && raw[j] == v {
			j++
		}
		for i < len(vals) && vals[i].v < v {
			out = append(out, vals[i])
			i++
		}
		if i < len(vals) && vals[i].v == v {
			out = append(out, valueCount{v, vals[i].n + uint64(j-k)})
			i++
		} else {
			out = append(out, valueCount{v, uint64(j - k)})
		}
	}
	return append(out, vals[i:]...)
}

// mergeDuplicates sorts vals and combines entries with equal values, in place.
func mergeDuplicates(vals []valueCount) []valueCount {
	slices.SortFunc(vals, func(a, b valueCount) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	out := vals[:0]
	for _, vc := range vals {
		if len(out) > 0 && out[len(out)-1].v == vc.v {
			out[len(out)-1].n += vc.n
			continue
		}
		out = append(out, vc)
	}
	return out
}

// quantize maps v to the representative of its logarithmic bin, within
// quantAlpha of v (the DDSketch mapping). Zero stays zero; the sign is kept.
func quantize(v float64) float64 {
	if v == 0 {
		return 0
	}
	a := math.Abs(v)
	k := math.Ceil(math.Log(a) / logGamma)
	rep := 2 * math.Exp(k*logGamma) / (1 + math.Exp(logGamma))
	return math.Copysign(rep, v)
}

func quantizeRaw(raw []float64) {
	for i, v := range raw {
		raw[i] = quantize(v)
	}
}
