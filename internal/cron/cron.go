// Package cron reads EventBridge schedule expressions — rate(5 minutes),
// cron(0 12 ? * MON-FRI *) — and fires them on a clock, for functions'
// `schedule` events.
//
// cron() parsing is hashicorp/cronexpr (it already knows ?, L, W, # and the
// year field); this package adds AWS's rules on top: exactly six fields,
// day-of-week numbered 1–7 from Sunday, and one of the two day fields `?`.
package cron

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/cronexpr"
)

// Schedule is a parsed schedule expression.
type Schedule interface {
	// Next is the first firing strictly after t.
	Next(t time.Time) time.Time
	String() string
}

var (
	rateRE = regexp.MustCompile(`^rate\(\s*(\d+)\s+(minutes?|hours?|days?)\s*\)$`)
	cronRE = regexp.MustCompile(`^cron\((.*)\)$`)
)

// Parse reads rate(…) or cron(…). A rate counts from start, as EventBridge
// counts from the rule's creation.
func Parse(expr string, start time.Time) (Schedule, error) {
	expr = strings.TrimSpace(expr)
	if m := rateRE.FindStringSubmatch(expr); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: the rate must be a positive whole number", expr)
		}
		unit := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[m[2][0]]
		singular := !strings.HasSuffix(m[2], "s")
		if (n == 1) != singular {
			want := strings.TrimSuffix(m[2], "s")
			if n != 1 {
				want += "s"
			}
			return nil, fmt.Errorf("%s: AWS requires rate(%d %s)", expr, n, want)
		}
		return rate{every: time.Duration(n) * unit, start: start, expr: expr}, nil
	}
	if m := cronRE.FindStringSubmatch(expr); m != nil {
		return parseCron(expr, m[1])
	}
	return nil, fmt.Errorf("%q is not a schedule expression; write rate(5 minutes) or cron(0 12 * * ? *)", expr)
}

type rate struct {
	every time.Duration
	start time.Time
	expr  string
}

func (r rate) Next(t time.Time) time.Time {
	if t.Before(r.start) {
		return r.start.Add(r.every)
	}
	n := t.Sub(r.start)/r.every + 1
	return r.start.Add(n * r.every)
}

func (r rate) String() string { return r.expr }

type cronSchedule struct {
	expr *cronexpr.Expression
	text string
}

func (c cronSchedule) Next(t time.Time) time.Time { return c.expr.Next(t.UTC()) }
func (c cronSchedule) String() string             { return c.text }

// dowNumber is a day-of-week number not preceded by # (the nth-weekday count).
var dowNumber = regexp.MustCompile(`(^|[^#\d])(\d+)`)

func parseCron(text, body string) (Schedule, error) {
	fields := strings.Fields(body)
	if len(fields) != 6 {
		return nil, fmt.Errorf("%s: AWS cron expressions have 6 fields (minutes hours day-of-month month day-of-week year), found %d", text, len(fields))
	}
	dom, dow := fields[2], fields[4]
	if (dom == "?") == (dow == "?") {
		return nil, fmt.Errorf("%s: exactly one of day-of-month (%s) and day-of-week (%s) must be ?", text, dom, dow)
	}
	// AWS numbers days of the week 1 (SUN) to 7 (SAT); cronexpr 0 to 6.
	var bad error
	fields[4] = dowNumber.ReplaceAllStringFunc(dow, func(s string) string {
		m := dowNumber.FindStringSubmatch(s)
		n, _ := strconv.Atoi(m[2])
		if n < 1 || n > 7 {
			bad = fmt.Errorf("%s: day-of-week %d is out of range 1-7 (1 is Sunday)", text, n)
		}
		return m[1] + strconv.Itoa(n-1)
	})
	if bad != nil {
		return nil, bad
	}
	expr, err := cronexpr.Parse(strings.Join(fields, " "))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", text, err)
	}
	if expr.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("%s: the expression never fires", text)
	}
	return cronSchedule{expr: expr, text: text}, nil
}
