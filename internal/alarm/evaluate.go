package alarm

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// evaluationRange is how many recent periods CloudWatch retrieves to
// evaluate an alarm with n evaluation periods. AWS documents that it
// retrieves more than n ("the evaluation range") but gives the size only by
// example: 5 for n = 3. sluice uses n + 2 for every n.
func evaluationRange(n int) int { return n + 2 }

// point is one period of the evaluation range.
type point struct {
	start       time.Time
	present     bool    // the period has datapoints
	value       float64 // the statistic, when present
	sampleCount float64
}

// decision is the outcome of evaluating an alarm over its evaluation range.
type decision struct {
	state     State
	retain    bool  // keep the current state (TreatMissingData ignore)
	evaluated []int // indexes of the real points evaluated, newest first
	filled    int   // missing points filled in with the TreatMissingData setting
	premature bool  // ALARM by the premature-alarm rule
}

// decide evaluates an alarm over points, the evaluation range oldest first,
// as "How alarm state is evaluated when data is missing" describes:
//
//  1. With at least n real points in the range, the n most recent real
//     points are evaluated; TreatMissingData is not needed.
//  2. Otherwise all real points are evaluated, and n minus their number
//     missing points are filled in with the TreatMissingData setting
//     ("CloudWatch uses missing data points only as few times as possible").
//     For missing and ignore the filled points are unknown:
//     - m real breaching points trip the alarm anyway;
//     - no real point at all: INSUFFICIENT_DATA (missing) or no change (ignore);
//     - the premature-alarm rule: if every real point is breaching and the
//     oldest is at least m periods old ("- - X - -" with m = 3), ALARM
//     (missing) or no change (ignore);
//     - every real point breaching but too recent ("- - - - X"): not enough
//     to decide, INSUFFICIENT_DATA (missing) or no change (ignore);
//     - otherwise some real point is not breaching and the alarm is OK.
//
// In every case the alarm is ALARM when at least m evaluated points breach.
func decide(points []point, n, m int, breaches func(float64) bool, treat TreatMissingData) decision {
	var d decision
	breaching := 0
	for i := len(points) - 1; i >= 0 && (len(d.evaluated) < n); i-- {
		if points[i].present {
			d.evaluated = append(d.evaluated, i)
			if breaches(points[i].value) {
				breaching++
			}
		}
	}
	if len(d.evaluated) >= n {
		return d.threshold(breaching >= m)
	}
	d.filled = n - len(d.evaluated)
	switch {
	case treat == TreatBreaching:
		return d.threshold(breaching+d.filled >= m)
	case treat == TreatNotBreaching || breaching >= m:
		return d.threshold(breaching >= m)
	}
	unknown := func() decision {
		if treat == TreatIgnore {
			return decision{retain: true, evaluated: d.evaluated, filled: d.filled}
		}
		d.state = StateInsufficientData
		return d
	}
	if len(d.evaluated) == 0 || breaching < len(d.evaluated) {
		if len(d.evaluated) == 0 {
			return unknown()
		}
		return d.threshold(false)
	}
	// Every real point breaches, yet fewer than m of them.
	oldest := d.evaluated[len(d.evaluated)-1]
	if age := len(points) - 1 - oldest; age+1 >= m {
		if treat == TreatIgnore {
			return decision{retain: true, evaluated: d.evaluated, filled: d.filled}
		}
		d.state, d.premature = StateAlarm, true
		return d
	}
	return unknown()
}

func (d decision) threshold(alarm bool) decision {
	d.state = StateOK
	if alarm {
		d.state = StateAlarm
	}
	return d
}

// reasonFor writes the StateReason and StateReasonData of a decision that
// moves the alarm from old to d.state, in CloudWatch's words and format.
func (c *compiled) reasonFor(d decision, points []point, old State, now time.Time) (reason, data string) {
	n, m := c.spec.EvaluationPeriods, c.spec.M()
	breaching := func(i int) bool { return c.spec.ComparisonOperator.breaches(points[i].value, c.spec.Threshold) }
	var b strings.Builder
	switch d.state {
	case StateInsufficientData:
		fmt.Fprintf(&b, "Insufficient Data: %s %s unknown.", plural(d.filled, "datapoint"), wasWere(d.filled))
	default:
		wantBreach := d.state == StateAlarm
		var listed []int
		for _, i := range d.evaluated {
			if breaching(i) == wantBreach {
				listed = append(listed, i)
			}
		}
		fill := ""
		if d.filled > 0 && (c.spec.TreatMissingData == TreatBreaching || c.spec.TreatMissingData == TreatNotBreaching) {
			as := "NonBreaching"
			if c.spec.TreatMissingData == TreatBreaching {
				as = "Breaching"
			}
			fill = fmt.Sprintf("%s %s treated as [%s]", plural(d.filled, "missing datapoint"), wasWere(d.filled), as)
		}
		b.WriteString("Threshold Crossed: ")
		if len(listed) == 0 {
			if len(d.evaluated) == 0 {
				fmt.Fprintf(&b, "no datapoints were received for %s and ", plural(d.filled, "period"))
			}
			b.WriteString(fill)
			b.WriteString(".")
			break
		}
		not := ""
		if !wantBreach {
			not = "not "
		}
		transition := (old == StateOK && d.state == StateAlarm) || (old == StateAlarm && d.state == StateOK)
		if transition {
			fmt.Fprintf(&b, "%d out of the last %d datapoints ", len(listed), n)
		} else {
			fmt.Fprintf(&b, "%s ", plural(len(listed), "datapoint"))
		}
		b.WriteString("[")
		for j, i := range listed {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (%s)", javaDouble(points[i].value), points[i].start.UTC().Format("02/01/06 15:04:05"))
		}
		fmt.Fprintf(&b, "] %s %s%s the threshold (%s)", wasWere(len(listed)), not, operatorPhrases[c.spec.ComparisonOperator], javaDouble(c.spec.Threshold))
		if fill != "" {
			b.WriteString(" and " + fill)
		}
		if d.premature {
			fmt.Fprintf(&b, "; the oldest breaching datapoint is at least %s old and every later period is breaching or missing", plural(m, "period"))
		}
		if transition && !d.premature {
			need := m
			if d.state == StateOK {
				need = n - m + 1
			}
			fmt.Fprintf(&b, " (minimum %s for %s -> %s transition)", plural(need, "datapoint"), old, d.state)
		}
		b.WriteString(".")
	}
	return b.String(), c.reasonData(d, points, now)
}

// reasonData renders StateReasonData as CloudWatch does: JSON with the
// recent datapoints (oldest first) and the evaluated ones (newest first).
func (c *compiled) reasonData(d decision, points []point, now time.Time) string {
	var b strings.Builder
	b.WriteString(`{"version":"1.0","queryDate":"`)
	b.WriteString(cwTime(now))
	b.WriteString(`","startDate":"`)
	if len(points) > 0 {
		b.WriteString(cwTime(points[0].start))
	}
	key := "statistic"
	if c.stat.Extended() {
		key = "extendedStatistic"
	}
	fmt.Fprintf(&b, `","%s":%q,"period":%d,"recentDatapoints":[`, key, c.stat.String(), int64(c.spec.Period/time.Second))
	first := true
	for _, p := range points {
		if p.present {
			if !first {
				b.WriteString(",")
			}
			first = false
			b.WriteString(javaDouble(p.value))
		}
	}
	fmt.Fprintf(&b, `],"threshold":%s`, javaDouble(c.spec.Threshold))
	if len(d.evaluated) > 0 {
		b.WriteString(`,"evaluatedDatapoints":[`)
		for j, i := range d.evaluated {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"timestamp":"%s","sampleCount":%s,"value":%s}`, cwTime(points[i].start), javaDouble(points[i].sampleCount), javaDouble(points[i].value))
		}
		b.WriteString("]")
	}
	b.WriteString("}")
	return b.String()
}

// cwTime formats a time as CloudWatch's JSON does: 2026-11-22T10:01:00.000+0000.
func cwTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-0700") }

// javaDouble formats v as Java's Double.toString, which CloudWatch's texts
// use: 3.0, 0.05, 1.0166666666666666, 1.0E7.
func javaDouble(v float64) string {
	a := math.Abs(v)
	if v == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(v, 'E', -1, 64), "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}
