package metrics

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes a Store to Prometheus: every series becomes a summary
// (count and sum of every datapoint ever recorded, so it survives the
// store's retention) in a family per namespace and metric name, labelled by
// its dimensions. AWS/Lambda Errors{FunctionName=hello} becomes
//
//	aws_lambda_errors_count{function_name="hello"} and aws_lambda_errors_sum{…}.
//
// Series of one family with fewer dimensions than others get empty labels,
// which Prometheus treats as absent.
type Collector struct {
	store *Store
}

// NewCollector returns a collector over st; register it with a
// prometheus.Registry to serve /metrics.
func NewCollector(st *Store) *Collector { return &Collector{store: st} }

// Describe sends nothing: the families depend on the data, which makes this
// an unchecked collector.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends the current totals of every series.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	type family struct {
		name   string
		help   string
		labels []string // dimension names, sorted
		series []*Series
	}
	families := map[string]*family{}
	c.store.series.Range(func(_, v any) bool {
		s := v.(*Series)
		name := promName(s.id.Namespace) + "_" + promName(s.id.MetricName)
		f, ok := families[name]
		if !ok {
			f = &family{name: name, help: fmt.Sprintf("CloudWatch metric %s %s: count and sum of every datapoint recorded.", s.id.Namespace, s.id.MetricName)}
			families[name] = f
		}
		for _, d := range s.id.Dimensions {
			if !slices.Contains(f.labels, d.Name) {
				f.labels = append(f.labels, d.Name)
			}
		}
		f.series = append(f.series, s)
		return true
	})
	for _, f := range families {
		slices.Sort(f.labels)
		labelNames := make([]string, len(f.labels))
		for i, l := range f.labels {
			labelNames[i] = promName(l)
		}
		labelNames = dedupe(labelNames)
		desc := prometheus.NewDesc(f.name, f.help, labelNames, nil)
		for _, s := range f.series {
			values := make([]string, len(f.labels))
			for _, d := range s.id.Dimensions {
				values[slices.Index(f.labels, d.Name)] = d.Value
			}
			n, sum := s.totals()
			m, err := prometheus.NewConstSummary(desc, n, sum, nil, values...)
			if err != nil {
				ch <- prometheus.NewInvalidMetric(desc, err)
				continue
			}
			ch <- m
		}
	}
}

// promName turns a CloudWatch name into a Prometheus one: "AWS/Lambda" →
// "aws_lambda", "ConcurrentExecutions" → "concurrent_executions".
func promName(s string) string {
	var b strings.Builder
	runes := []rune(s)
	for i, r := range runes {
		switch {
		case unicode.IsUpper(r):
			// A word starts at an upper-case letter after a lower-case
			// one, or before a lower-case one at the end of an acronym.
			if i > 0 && (unicode.IsLower(runes[i-1]) ||
				(i+1 < len(runes) && unicode.IsLower(runes[i+1]) && unicode.IsUpper(runes[i-1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.Trim(b.String(), "_")
	for strings.Contains(out, "__") {
		out = strings.ReplaceAll(out, "__", "_")
	}
	if out == "" || unicode.IsDigit(rune(out[0])) {
		out = "m_" + out
	}
	return out
}

// dedupe makes label names unique by suffixing repeats (FunctionName and
// function_name would otherwise collide).
func dedupe(names []string) []string {
	seen := map[string]int{}
	for i, n := range names {
		seen[n]++
		if seen[n] > 1 {
			names[i] = fmt.Sprintf("%s_%d", n, seen[n])
		}
	}
	return names
}
