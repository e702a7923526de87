package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-dev/sluice/internal/clock"
)

// TestCollectorServesMetrics scrapes a real /metrics endpoint over loopback.
func TestCollectorServesMetrics(t *testing.T) {
	clk := clock.NewFake(epoch)
	st := NewStore(clk, WithRetention(time.Minute))
	rec, err := st.InvocationRecorder("hello", "hello:live", "2")
	if err != nil {
		t.Fatal(err)
	}
	rec.Record(Invocation{Duration: 250 * time.Millisecond, Error: true, Concurrency: 1})
	clk.Advance(time.Hour) // totals outlive the retention
	rec.Record(Invocation{Duration: 50 * time.Millisecond, Concurrency: 1})
	st.Prune()

	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(NewCollector(st)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`aws_lambda_errors_sum{executed_version="",function_name="hello",resource="hello:live"} 1`,
		`aws_lambda_errors_count{executed_version="2",function_name="hello",resource="hello:live"} 2`,
		`aws_lambda_errors_count{executed_version="",function_name="",resource=""} 2`,
		`aws_lambda_duration_sum{executed_version="",function_name="hello",resource=""} 300`,
		`aws_lambda_concurrent_executions_count{executed_version="",function_name="hello",resource=""} 2`,
		`# HELP aws_lambda_invocations CloudWatch metric AWS/Lambda Invocations`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s\n%s", want, body)
		}
	}
}

func TestPromName(t *testing.T) {
	for in, want := range map[string]string{
		"AWS/Lambda": "aws_lambda", "ConcurrentExecutions": "concurrent_executions", "FunctionName": "function_name",
		"HTTPCode_Target_5XX_Count": "http_code_target_5xx_count", "p99": "p99", "9lives": "m_9lives", "": "m_",
	} {
		if got := promName(in); got != want {
			t.Errorf("promName(%q) = %q, want %q", in, got, want)
		}
	}
}
