package alarm

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/metrics"
)

func TestValidateNamesWhatIsWrong(t *testing.T) {
	for _, c := range []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Name = "" }, "has no name"},
		{func(s *Spec) { s.Name = "fehlerrate-über-5%" }, "non-ASCII"},
		{func(s *Spec) { s.Name = strings.Repeat("a", 256) }, "at most 255"},
		{func(s *Spec) { s.Namespace = "" }, "namespace is empty"},
		{func(s *Spec) { s.Period = 0 }, "Period 0s is not allowed"},
		{func(s *Spec) { s.Period = 90 * time.Second }, "Period 1m30s is not allowed"},
		{func(s *Spec) { s.EvaluationPeriods = 0 }, "EvaluationPeriods is 0"},
		{func(s *Spec) { s.DatapointsToAlarm = 2 }, "DatapointsToAlarm 2 must be between 1 and EvaluationPeriods (1)"},
		{func(s *Spec) { s.EvaluationPeriods = 1441 }, "may not exceed 24h0m0s"},
		{func(s *Spec) { s.Period = time.Hour; s.EvaluationPeriods = 169 }, "may not exceed 168h0m0s"},
		{func(s *Spec) { s.Statistic = "p99" }, `Statistic "p99": use SampleCount, Average, Sum, Minimum or Maximum`},
		{func(s *Spec) { s.Statistic, s.ExtendedStatistic = "", "Sum" }, "is a standard statistic: put it in Statistic"},
		{func(s *Spec) { s.Statistic, s.ExtendedStatistic = "", "p999" }, `ExtendedStatistic: statistic "p999"`},
		{func(s *Spec) { s.Statistic = "" }, "no statistic"},
		{func(s *Spec) { s.ComparisonOperator = 0 }, "ComparisonOperator is not set"},
		{func(s *Spec) { s.Threshold = math.NaN() }, "Threshold NaN is not a finite number"},
		{func(s *Spec) { s.TreatMissingData = 9 }, "TreatMissingData 9 is unknown"},
	} {
		spec := errorsAlarm("errors")
		c.edit(&spec)
		err := spec.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate() = %v, want it to contain %q", err, c.want)
		}
	}
	ok := errorsAlarm("errors")
	ok.Period, ok.EvaluationPeriods = time.Hour, 168
	if err := ok.Validate(); err != nil {
		t.Errorf("a week of hourly periods is allowed: %v", err)
	}
}

func TestParseEnums(t *testing.T) {
	if s, err := ParseState("ALARM"); err != nil || s != StateAlarm {
		t.Errorf("ParseState(ALARM) = %v, %v", s, err)
	}
	if _, err := ParseState("alarm"); err == nil {
		t.Error("ParseState accepted lower case")
	}
	if op, err := ParseComparisonOperator("LessThanOrEqualToThreshold"); err != nil || op != LessThanOrEqualToThreshold {
		t.Errorf("ParseComparisonOperator = %v, %v", op, err)
	}
	if tr, err := ParseTreatMissingData(""); err != nil || tr != TreatMissing {
		t.Errorf("ParseTreatMissingData(\"\") = %v, %v; want the default, missing", tr, err)
	}
}

func TestLongAlarmsKeepTheirDataInTheStore(t *testing.T) {
	store := metrics.NewStore(clock.NewFake(epoch), metrics.WithRetention(time.Hour))
	ev := NewEvaluator(store, WithLogger(quiet))
	defer ev.Close()
	spec := errorsAlarm("slow")
	spec.Period, spec.EvaluationPeriods = time.Hour, 5
	if _, err := ev.Put(spec); err != nil {
		t.Fatal(err)
	}
	// 5 evaluation periods + 2 more of evaluation range + the one in progress.
	if got := store.Retention(); got < 8*time.Hour {
		t.Errorf("store retention %v, want at least 8h for a 5 × 1h alarm", got)
	}
}
