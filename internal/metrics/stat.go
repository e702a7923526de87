package metrics

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// statKind is the family of a statistic.
type statKind uint8

const (
	kindSampleCount    statKind = iota // number of values
	kindSum                            // sum of values
	kindAverage                        // Sum / SampleCount
	kindMinimum                        // lowest value
	kindMaximum                        // highest value
	kindPercentile                     // pNN: nearest-rank percentile
	kindTrimmedMean                    // tmNN, TM(a:b), IQM: mean of the values inside the bounds
	kindWinsorizedMean                 // wmNN, WM(a:b): mean with outside values clamped to the bounds
	kindTrimmedCount                   // tcNN, TC(a:b): number of values inside the bounds
	kindTrimmedSum                     // tsNN, TS(a:b): sum of the values inside the bounds
	kindPercentileRank                 // PR(a:b): percentage of values inside the bounds
)

// Stat is a CloudWatch statistic: one of the five standard statistics
// (SampleCount, Sum, Average, Minimum, Maximum) or an extended statistic
// (p99, p99.9, tm90, TM(10%:90%), IQM, wm98, WM(5%:95%), tc90, TC(0.005:0.030),
// ts90, TS(80%:), PR(:300), PR(100:2000)). Parse one with ParseStat.
//
// Definitions follow "CloudWatch statistics definitions":
//   - pNN is the nearest-rank percentile: the value at rank ceil(NN/100 × n).
//   - Percentage bounds a%:b% keep the values ranked above floor(a/100 × n)
//     and at or below n − floor((100−b)/100 × n), so tm90 drops the highest
//     10 % and its largest kept value is p90.
//   - Absolute bounds a:b keep the values v with a < v ≤ b ("includes values
//     equal to the higher boundary, but does not include values equal to the
//     lower boundary").
//   - WM replaces the values outside the bounds by the value at the edge and
//     averages all n values.
type Stat struct {
	kind    statKind
	lo, hi  float64 // bounds; percentages when percent is set
	hasLo   bool
	hasHi   bool
	percent bool
	text    string
}

// Standard statistics.
var (
	SampleCount = Stat{kind: kindSampleCount, text: "SampleCount"}
	Sum         = Stat{kind: kindSum, text: "Sum"}
	Average     = Stat{kind: kindAverage, text: "Average"}
	Minimum     = Stat{kind: kindMinimum, text: "Minimum"}
	Maximum     = Stat{kind: kindMaximum, text: "Maximum"}
)

const statHelp = "use SampleCount, Sum, Average, Minimum, Maximum, or an extended statistic " +
	"such as p99, p99.9, tm90, wm90, tc90, ts90, IQM, TM(10%:90%), WM(:95%), TC(100:2000), TS(80%:), PR(:300)"

// ParseStat parses a statistic as CloudWatch spells it.
func ParseStat(s string) (Stat, error) {
	switch s {
	case "SampleCount":
		return SampleCount, nil
	case "Sum":
		return Sum, nil
	case "Average":
		return Average, nil
	case "Minimum":
		return Minimum, nil
	case "Maximum":
		return Maximum, nil
	case "IQM":
		return Stat{kind: kindTrimmedMean, lo: 25, hi: 75, hasLo: true, hasHi: true, percent: true, text: s}, nil
	case "":
		return Stat{}, fmt.Errorf("statistic is empty: %s", statHelp)
	}
	if st, ok, err := parseShortStat(s); ok {
		return st, err
	}
	if st, ok, err := parseRangeStat(s); ok {
		return st, err
	}
	return Stat{}, fmt.Errorf("unknown statistic %q: %s", s, statHelp)
}

// MustParseStat is ParseStat for statistics known to be valid; it panics
// otherwise and is meant for constants in code and tests.
func MustParseStat(s string) Stat {
	st, err := ParseStat(s)
	if err != nil {
		panic(err)
	}
	return st
}

// parseShortStat parses the one-number forms: p99, p99.9, tm90, wm90, tc90, ts90.
func parseShortStat(s string) (Stat, bool, error) {
	var kind statKind
	var num string
	switch {
	case strings.HasPrefix(s, "tm"):
		kind, num = kindTrimmedMean, s[2:]
	case strings.HasPrefix(s, "wm"):
		kind, num = kindWinsorizedMean, s[2:]
	case strings.HasPrefix(s, "tc"):
		kind, num = kindTrimmedCount, s[2:]
	case strings.HasPrefix(s, "ts"):
		kind, num = kindTrimmedSum, s[2:]
	case strings.HasPrefix(s, "p"):
		kind, num = kindPercentile, s[1:]
	default:
		return Stat{}, false, nil
	}
	if strings.HasPrefix(num, "(") {
		return Stat{}, true, fmt.Errorf("statistic %q: use upper case for a range, e.g. %s(10%%:90%%)", s, strings.ToUpper(s[:len(s)-len(num)]))
	}
	v, err := parseBound(num)
	if err != nil || v < 0 || v > 100 {
		return Stat{}, true, fmt.Errorf("statistic %q: %q is not a percentage between 0 and 100 (e.g. p99, p99.9, tm90)", s, num)
	}
	return Stat{kind: kind, hi: v, hasHi: true, percent: true, text: s}, true, nil
}

// parseRangeStat parses TM(a:b), WM(a:b), TC(a:b), TS(a:b) and PR(a:b), with
// either bound optional and both given as percentages or both as values.
func parseRangeStat(s string) (Stat, bool, error) {
	kinds := map[string]statKind{"TM": kindTrimmedMean, "WM": kindWinsorizedMean, "TC": kindTrimmedCount, "TS": kindTrimmedSum, "PR": kindPercentileRank}
	if len(s) < 3 || s[2] != '(' {
		return Stat{}, false, nil
	}
	kind, ok := kinds[s[:2]]
	if !ok {
		return Stat{}, false, nil
	}
	if !strings.HasSuffix(s, ")") {
		return Stat{}, true, fmt.Errorf("statistic %q: missing closing parenthesis, e.g. %s(10%%:90%%)", s, s[:2])
	}
	lo, hi, found := strings.Cut(s[3:len(s)-1], ":")
	if !found {
		return Stat{}, true, fmt.Errorf("statistic %q: give the bounds as lower:upper, e.g. %s(10%%:90%%) or %s(:300)", s, s[:2], s[:2])
	}
	st := Stat{kind: kind, text: s}
	loPct, hiPct := strings.HasSuffix(lo, "%"), strings.HasSuffix(hi, "%")
	st.percent = loPct || hiPct
	if lo != "" && hi != "" && loPct != hiPct {
		return Stat{}, true, fmt.Errorf("statistic %q: give both bounds as percentages or both as values", s)
	}
	if kind == kindPercentileRank && st.percent {
		return Stat{}, true, fmt.Errorf("statistic %q: percentile rank bounds are values, not percentages, e.g. PR(100:2000)", s)
	}
	var err error
	if lo != "" {
		st.hasLo = true
		if st.lo, err = parseBound(strings.TrimSuffix(lo, "%")); err != nil {
			return Stat{}, true, fmt.Errorf("statistic %q: lower bound %q is not a number", s, lo)
		}
	}
	if hi != "" {
		st.hasHi = true
		if st.hi, err = parseBound(strings.TrimSuffix(hi, "%")); err != nil {
			return Stat{}, true, fmt.Errorf("statistic %q: upper bound %q is not a number", s, hi)
		}
	}
	switch {
	case !st.hasLo && !st.hasHi:
		return Stat{}, true, fmt.Errorf("statistic %q: give at least one bound, e.g. %s(:95%%)", s, s[:2])
	case st.percent && ((st.hasLo && (st.lo < 0 || st.lo > 100)) || (st.hasHi && (st.hi < 0 || st.hi > 100))):
		return Stat{}, true, fmt.Errorf("statistic %q: percentages must be between 0 and 100", s)
	case st.hasLo && st.hasHi && st.lo >= st.hi:
		return Stat{}, true, fmt.Errorf("statistic %q: the lower bound must be below the upper bound", s)
	}
	return st, true, nil
}

// parseBound parses a plain decimal number (no sign, exponent, NaN or Inf).
func parseBound(s string) (float64, error) {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }) {
		return 0, fmt.Errorf("%q is not a plain number", s)
	}
	return strconv.ParseFloat(s, 64)
}

// String is the statistic as CloudWatch spells it.
func (st Stat) String() string { return st.text }

// Extended reports whether st is an extended statistic (CloudWatch's
// ExtendedStatistic) rather than one of the five standard ones.
func (st Stat) Extended() bool { return st.kind >= kindPercentile }

// IsZero reports whether st is the zero Stat (no statistic).
func (st Stat) IsZero() bool { return st.text == "" }

// valueCount is one distinct value and how often it occurred.
type valueCount struct {
	v float64
	n uint64
}

// distribution is the data of one period: exact aggregates plus the sorted
// distinct values that extended statistics need.
type distribution struct {
	n             uint64
	sum, min, max float64
	vals          []valueCount // sorted by v, distinct
}

// rankEps absorbs binary rounding in rank arithmetic: 0.9 × 10 is
// 9.000000000000002, and its ceiling must still be 9.
const rankEps = 1e-9

// compute evaluates st over d; ok is false when the statistic has no value
// (no data, or nothing left inside the bounds of a trimmed mean).
func (st Stat) compute(d *distribution) (v float64, ok bool) {
	if d.n == 0 {
		return 0, false
	}
	n := float64(d.n)
	switch st.kind {
	case kindSampleCount:
		return n, true
	case kindSum:
		return d.sum, true
	case kindAverage:
		return d.sum / n, true
	case kindMinimum:
		return d.min, true
	case kindMaximum:
		return d.max, true
	case kindPercentile:
		rank := uint64(math.Ceil(st.hi/100*n - rankEps))
		// Clamped because a quantized value may lie just outside [min, max].
		return min(max(d.valueAtRank(max(rank, 1)), d.min), d.max), true
	}

	// The bounded statistics: find what lies inside the bounds.
	var cnt, sum float64
	var lowEdge, highEdge float64 // for WM: values clamped to these
	var below, above float64      // for WM: how many values lie outside
	if st.percent {
		lowCut, highCut := uint64(0), uint64(0)
		if st.hasLo {
			lowCut = uint64(math.Floor(st.lo/100*n + rankEps))
		}
		if st.hasHi {
			highCut = uint64(math.Floor((100-st.hi)/100*n + rankEps))
		}
		if lowCut+highCut >= d.n {
			cnt = 0
		} else {
			first, last := lowCut+1, d.n-highCut // ranks kept, 1-based
			cnt = float64(last - first + 1)
			sum = d.sumRanks(first, last)
			lowEdge, highEdge = d.valueAtRank(first), d.valueAtRank(last)
			below, above = float64(lowCut), float64(highCut)
		}
	} else {
		lo, hi := math.Inf(-1), math.Inf(1)
		if st.hasLo {
			lo = st.lo
		}
		if st.hasHi {
			hi = st.hi
		}
		lowEdge, highEdge = lo, hi
		for _, vc := range d.vals {
			c := float64(vc.n)
			switch {
			case vc.v <= lo:
				below += c
			case vc.v > hi:
				above += c
			default:
				cnt += c
				sum += vc.v * c
			}
		}
	}

	switch st.kind {
	case kindTrimmedCount:
		return cnt, true
	case kindTrimmedSum:
		return sum, true
	case kindPercentileRank:
		return 100 * cnt / n, true
	case kindTrimmedMean:
		if cnt == 0 {
			return 0, false
		}
		return sum / cnt, true
	case kindWinsorizedMean:
		if st.percent && cnt == 0 {
			return 0, false
		}
		if below > 0 { // guarded: an absent bound is ±Inf and 0 × Inf is NaN
			sum += below * lowEdge
		}
		if above > 0 {
			sum += above * highEdge
		}
		return sum / n, true
	}
	return 0, false
}

// valueAtRank returns the value at 1-based rank r of the sorted data.
func (d *distribution) valueAtRank(r uint64) float64 {
	var seen uint64
	for _, vc := range d.vals {
		seen += vc.n
		if seen >= r {
			return vc.v
		}
	}
	return d.max
}

// sumRanks sums the values ranked first..last (1-based, inclusive).
func (d *distribution) sumRanks(first, last uint64) float64 {
	var seen uint64
	var sum float64
	for _, vc := range d.vals {
		lo, hi := seen+1, seen+vc.n // ranks held by this value
		seen = hi
		if hi < first {
			continue
		}
		if lo > last {
			break
		}
		sum += vc.v * float64(min(hi, last)-max(lo, first)+1)
	}
	return sum
}
