package engine

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/metrics"
)

// serveInvocations answers control.InvocationsPath from the AWS/Lambda
// metrics: how many invocations of function:alias ran version, and how
// many of them failed, in [from, to).
func (e *Engine) serveInvocations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := control.Invocations{Function: q.Get("function"), Alias: q.Get("alias"), Version: q.Get("version")}
	var err1, err2 error
	out.From, err1 = time.Parse(time.RFC3339Nano, q.Get("from"))
	out.To, err2 = time.Parse(time.RFC3339Nano, q.Get("to"))
	if err1 != nil || err2 != nil || out.Function == "" || out.Version == "" || !out.To.After(out.From) {
		http.Error(w, `{"code":"BadRequest","error":"give function, alias, version, and from < to as RFC 3339 times"}`, http.StatusBadRequest)
		return
	}
	want := map[string]string{metrics.DimFunctionName: out.Function, metrics.DimExecutedVersion: out.Version}
	if out.Alias != "" {
		want[metrics.DimResource] = out.Function + ":" + out.Alias
	}
	for _, id := range e.metrics.List() {
		if id.Namespace != "AWS/Lambda" || (id.MetricName != "Invocations" && id.MetricName != "Errors") || len(id.Dimensions) != len(want) {
			continue
		}
		match := true
		for _, d := range id.Dimensions {
			match = match && want[d.Name] == d.Value
		}
		if !match {
			continue
		}
		// Short periods count the window without the minute around it;
		// they double until CloudWatch's datapoint limit allows them.
		period := time.Second
		for out.To.Sub(out.From)/period > 1000 {
			period *= 2
		}
		dps, err := e.metrics.GetMetricStatistics(metrics.Query{Namespace: id.Namespace, MetricName: id.MetricName, Dimensions: id.Dimensions,
			Start: out.From.Truncate(period), End: out.To.Add(period), Period: period, Statistics: []string{"Sum"}})
		if err != nil {
			continue
		}
		for _, dp := range dps {
			if id.MetricName == "Invocations" {
				out.Invocations += int(dp.Sum)
			} else {
				out.Errors += int(dp.Sum)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
