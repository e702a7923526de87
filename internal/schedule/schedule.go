// Package schedule turns a deployment type into the traffic shifts it makes.
//
// It is pure: `sluice package` uses it to validate types and emit custom
// CodeDeploy deployment configs, `sluice plan` prints it, and the local
// deployment engine walks its steps against a clock.
package schedule

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind is the shape of a traffic shift.
type Kind int

const (
	AllAtOnce Kind = iota // all traffic moves at once
	Canary                // Percent moves at once, the rest after Interval
	Linear                // Percent more moves every Interval until all has moved
)

func (k Kind) String() string { return [...]string{"AllAtOnce", "Canary", "Linear"}[k] }

// CodeDeploy's limits on custom Lambda deployment configs.
const (
	MaxPercent  = 99
	MaxInterval = 2880 * time.Minute // also the most from first to last shift
)

// Type is a parsed deployment type.
type Type struct {
	Name     string        // as written, e.g. Linear10PercentEvery1Minute
	Kind     Kind          //
	Percent  int           // traffic per shift, 1–99; 0 for AllAtOnce
	Interval time.Duration // between shifts, whole minutes; 0 for AllAtOnce
	// Predefined is true for the nine types CodeDeploy defines itself
	// (CodeDeployDefault.Lambda<Name>); others need a custom deployment config.
	Predefined bool
}

// Step is one traffic shift: at Offset from the start of AllowTraffic the
// new version receives Weight (0–1] of the traffic.
type Step struct {
	Offset time.Duration
	Weight float64
}

// Predefined lists CodeDeploy's own Lambda deployment types.
var Predefined = []string{
	"Canary10Percent5Minutes", "Canary10Percent10Minutes", "Canary10Percent15Minutes", "Canary10Percent30Minutes",
	"Linear10PercentEvery1Minute", "Linear10PercentEvery2Minutes", "Linear10PercentEvery3Minutes", "Linear10PercentEvery10Minutes",
	"AllAtOnce",
}

var (
	canaryRE = regexp.MustCompile(`^Canary(\d+)Percent(\d+)Minutes?$`)
	linearRE = regexp.MustCompile(`^Linear(\d+)PercentEvery(\d+)Minutes?$`)
)

// Parse reads a deployment type: one of Predefined, or a custom
// Canary<P>Percent<N>Minute(s) / Linear<P>PercentEvery<N>Minute(s). A custom
// spelling of a predefined type (Canary10Percent5Minute) is that type.
func Parse(name string) (Type, error) {
	t, err := parse(name)
	if err != nil {
		return Type{}, err
	}
	for _, p := range predefined {
		if p.Kind == t.Kind && p.Percent == t.Percent && p.Interval == t.Interval {
			return p, nil
		}
	}
	return t, nil
}

var predefined = func() []Type {
	types := make([]Type, len(Predefined))
	for i, name := range Predefined {
		t, err := parse(name)
		if err != nil {
			panic(err) // the table above is wrong
		}
		t.Predefined = true
		types[i] = t
	}
	return types
}()

func parse(name string) (Type, error) {
	t := Type{Name: name}
	if name == "AllAtOnce" {
		return t, nil
	}
	var m []string
	switch {
	case canaryRE.MatchString(name):
		m, t.Kind = canaryRE.FindStringSubmatch(name), Canary
	case linearRE.MatchString(name):
		m, t.Kind = linearRE.FindStringSubmatch(name), Linear
	default:
		return Type{}, unknownType(name)
	}
	p, errP := strconv.Atoi(m[1])
	n, errN := strconv.Atoi(m[2])
	if errP != nil || errN != nil {
		return Type{}, unknownType(name)
	}
	t.Percent, t.Interval = p, time.Duration(n)*time.Minute
	if p < 1 || p > MaxPercent {
		return Type{}, fmt.Errorf("deployment type %s shifts %d%% at a time; CodeDeploy allows 1 to %d percent", name, p, MaxPercent)
	}
	if n < 1 || t.Interval > MaxInterval {
		return Type{}, fmt.Errorf("deployment type %s waits %d minutes between shifts; CodeDeploy allows 1 to %d minutes", name, n, int(MaxInterval.Minutes()))
	}
	if d := t.Duration(); d > MaxInterval {
		return Type{}, fmt.Errorf("deployment type %s takes %d minutes from first to last shift; CodeDeploy allows at most %d — use a larger percentage or a shorter interval", name, int(d.Minutes()), int(MaxInterval.Minutes()))
	}
	return t, nil
}

func unknownType(name string) error {
	hint := ""
	if strings.HasPrefix(name, "CodeDeployDefault.") {
		hint = fmt.Sprintf(" (write %s: the CodeDeployDefault.Lambda prefix is added for you)", strings.TrimPrefix(strings.TrimPrefix(name, "CodeDeployDefault."), "Lambda"))
	}
	return fmt.Errorf("unknown deployment type %q%s; use one of %s, or a custom Canary<P>Percent<N>Minutes / Linear<P>PercentEvery<N>Minutes such as Canary25Percent45Minutes",
		name, hint, strings.Join(Predefined, ", "))
}

// Steps lists the traffic shifts in order; the last one has Weight 1.
func (t Type) Steps() []Step {
	switch t.Kind {
	case Canary:
		return []Step{{0, pct(t.Percent)}, {t.Interval, 1}}
	case Linear:
		var steps []Step
		for k := 1; ; k++ {
			w := k * t.Percent
			if w >= 100 {
				return append(steps, Step{time.Duration(k-1) * t.Interval, 1})
			}
			steps = append(steps, Step{time.Duration(k-1) * t.Interval, pct(w)})
		}
	}
	return []Step{{0, 1}}
}

func pct(p int) float64 { return float64(p) / 100 }

// Duration is the time from the first shift to the last.
func (t Type) Duration() time.Duration {
	switch t.Kind {
	case Canary:
		return t.Interval
	case Linear:
		shifts := (100 + t.Percent - 1) / t.Percent
		return time.Duration(shifts-1) * t.Interval
	}
	return 0
}

// ConfigName is the CodeDeploy deployment config name for a predefined type.
func (t Type) ConfigName() string { return "CodeDeployDefault.Lambda" + t.Name }
