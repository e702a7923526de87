// Package demo is `sluice demo`: a gradual deployment that succeeds and one
// that fails and rolls back by itself, on the embedded orders example,
// under steady traffic, in well under a minute.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/examples"
	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/progress"
)

// Options tune the demo.
type Options struct {
	Out  io.Writer
	Mode progress.Mode // how deployment progress is shown
	// Display, when its Width is set (a terminal), replaces Mode: bars cut
	// to the width, coloured as --color says.
	Display   progress.Display
	TimeScale float64 // how much faster than the wall clock time runs (default 60)
	Rate      int     // requests per second of steady traffic (default 200)
	Keep      bool    // keep the service directory (its path is printed)
}

// Result is what the demo measured.
type Result struct {
	Good, Bad        deploy.Deployment
	Rollback         deploy.Deployment
	Requests         int            // HTTP requests answered
	ServerErrors     int            // of them, 5xx answers
	Invocations      map[string]int // per version, from the AWS/Lambda metrics
	Errors           map[string]int // function errors per version, from the metrics
	BadAfterRollback int            // requests sent after the rollback that reached the bad version or failed
	Wall             time.Duration
	TimeScale        float64
	Rate             int
	RollbackReaction time.Duration
	ServiceDir       string
	Kept             bool // ServiceDir was kept (--keep)
	GoodVer, BadVer  string
	OriginalVer      string
}

// Run runs the demo. It fails unless everything it shows happened: the good
// version took all traffic, and the bad one tripped its alarm and was
// rolled back, after which nothing reached it.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if opts.TimeScale <= 0 {
		opts.TimeScale = 60
	}
	if opts.Rate <= 0 {
		opts.Rate = 200
	}
	out := opts.Out
	start := time.Now()
	res := &Result{TimeScale: opts.TimeScale, Rate: opts.Rate, Kept: opts.Keep}

	dir, err := os.MkdirTemp("", "sluice-demo-")
	if err != nil {
		return nil, err
	}
	res.ServiceDir = dir
	if !opts.Keep {
		defer os.RemoveAll(dir)
	}
	if err := CopyExample(dir); err != nil {
		return nil, fmt.Errorf("copy the example service: %w", err)
	}

	fmt.Fprintf(out, "sluice demo: the orders API (examples/orders) with time running %g× faster — a minute of deployment schedule takes %s\n", opts.TimeScale, roundWall(time.Duration(float64(time.Minute)/opts.TimeScale)))
	eng, err := engine.Start(engine.Options{Config: filepath.Join(dir, "serverless.yml"), Addr: engine.AnyLoopbackAddr, APIAddr: engine.AnyLoopbackAddr,
		TimeScale: opts.TimeScale, Out: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// As sluice serve's default: at the demo's rates, one process per
		// concurrent request would be a cold-start storm.
		Invoke: invoke.Options{MaxEnvironments: 2 * goruntime.NumCPU()}})
	if err != nil {
		return nil, fmt.Errorf("serve the example: %w", err)
	}
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		eng.Shutdown(shutdown)
	}()
	client, err := control.Dial(eng.StateDir())
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "serving %s/orders and %s/dev/orders/{id}: %d requests a second, half on each route\n\n", eng.GatewayURL(), eng.GatewayURL(), opts.Rate)
	traffic := startTraffic(ctx, eng.GatewayURL(), opts.Rate)
	defer traffic.stop()
	metricsFrom := eng.Clock().Now()

	// 1. A good version, deployed gradually.
	fmt.Fprintln(out, "1. a good version: the api answers with a new note; deployed with Linear10PercentEvery1Minute after a pre-traffic smoke test")
	if err := EditHandler(dir, "'first release'", "'second release'"); err != nil {
		return nil, err
	}
	good, err := deployAndFollow(ctx, client, out, opts.display())
	if err != nil {
		return nil, fmt.Errorf("the good deployment: %w", err)
	}
	res.Good = good
	if good.Status != deploy.StatusSucceeded {
		return res, fmt.Errorf("the good deployment ended %s: %s", good.Status, errorText(good))
	}
	res.OriginalVer, res.GoodVer = strconv.Itoa(good.Target.CurrentVersion), strconv.Itoa(good.Target.TargetVersion)

	// 2. A bad version: the smoke test passes (GET /orders works), but
	// GET /orders/{id} fails under real traffic; its error alarm trips.
	fmt.Fprintln(out, "\n2. a bad version: GET /orders/{id} throws (the smoke test on GET /orders still passes); the error alarm watches")
	if err := EditHandler(dir, "  if (id) {\n", "  if (id) {\n    throw new Error('orders database unreachable');\n"); err != nil {
		return nil, err
	}
	bad, err := deployAndFollow(ctx, client, out, opts.display())
	if err != nil {
		return nil, fmt.Errorf("the bad deployment: %w", err)
	}
	rolledBackAt := time.Now()
	res.Bad, res.BadVer, res.RollbackReaction = bad, strconv.Itoa(bad.Target.TargetVersion), bad.RollbackReaction
	if bad.Status != deploy.StatusStopped || bad.ErrorInformation == nil || bad.ErrorInformation.Code != deploy.ErrAlarmActive || !bad.RolledBack() {
		return res, fmt.Errorf("the bad deployment was not stopped by its alarm and rolled back: %s %s", bad.Status, errorText(bad))
	}
	if res.Rollback, err = client.Deployment(ctx, bad.RollbackInfo.RollbackDeploymentID); err != nil {
		return res, err
	}

	// 3. Traffic goes on: after the rollback nothing reaches the bad version.
	settle := time.NewTimer(time.Second)
	select {
	case <-settle.C:
	case <-ctx.Done():
		return res, ctx.Err()
	}
	traffic.stop()
	res.Requests, res.ServerErrors, res.BadAfterRollback = traffic.summary(res.BadVer, rolledBackAt)
	res.Invocations, res.Errors = VersionCounts(eng.Metrics(), good.Target.FunctionName, good.Target.FunctionAlias, metricsFrom, eng.Clock().Now())
	res.Wall = time.Since(start)
	printSummary(out, res)
	if res.BadAfterRollback > 0 {
		return res, fmt.Errorf("%d requests sent after the rollback still reached version %s or failed", res.BadAfterRollback, res.BadVer)
	}
	if res.Invocations[res.GoodVer] == 0 || res.Errors[res.BadVer] == 0 {
		return res, errors.New("the metrics do not show traffic on both new versions")
	}
	return res, nil
}

// deployAndFollow deploys what changed and follows the api's deployment to
// its end, as `sluice deploy --wait` does.
// display is how progress shows: Display, or else Mode alone.
func (o Options) display() progress.Display {
	if o.Display.Width != nil || o.Display.Color || o.Display.Mode != progress.TTY {
		return o.Display
	}
	return progress.Display{Mode: o.Mode}
}

func deployAndFollow(ctx context.Context, client *control.Client, out io.Writer, disp progress.Display) (deploy.Deployment, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := progress.New(out, progress.Config{Display: disp})
	watchErr, err := client.Follow(ctx, t.Update)
	if err != nil {
		return deploy.Deployment{}, err
	}
	result, err := client.Deploy(ctx)
	if err != nil {
		return deploy.Deployment{}, err
	}
	id := ""
	for _, c := range result.Changes {
		if c.Error != "" {
			return deploy.Deployment{}, fmt.Errorf("%s: %s", c.Function, c.Error)
		}
		if c.DeploymentID != "" {
			id = c.DeploymentID
		}
	}
	if id == "" {
		return deploy.Deployment{}, errors.New("no deployment was started")
	}
	d, err := client.Deployment(ctx, id)
	if err != nil {
		return d, err
	}
	t.Track(d)
	code, err := t.Wait(ctx, watchErr)
	if err != nil {
		return d, err
	}
	t.Finish(code, nil) // a failure's full reason, once
	return client.Deployment(ctx, id)
}

// VersionCounts reads invocations and errors of the alias per executed
// version from the AWS/Lambda metrics, as a CloudWatch console would show them.
func VersionCounts(st *metrics.Store, function, alias string, from, to time.Time) (invocations, errs map[string]int) {
	invocations, errs = map[string]int{}, map[string]int{}
	for _, id := range st.List() {
		if id.Namespace != "AWS/Lambda" || (id.MetricName != "Invocations" && id.MetricName != "Errors") {
			continue
		}
		var fn, res, ver string
		for _, d := range id.Dimensions {
			switch d.Name {
			case metrics.DimFunctionName:
				fn = d.Value
			case metrics.DimResource:
				res = d.Value
			case metrics.DimExecutedVersion:
				ver = d.Value
			}
		}
		if fn != function || res != function+":"+alias || ver == "" {
			continue
		}
		dps, err := st.GetMetricStatistics(metrics.Query{Namespace: id.Namespace, MetricName: id.MetricName, Dimensions: id.Dimensions,
			Start: from, End: to.Add(time.Minute), Period: 24 * time.Hour, Statistics: []string{"Sum"}})
		if err != nil {
			continue
		}
		for _, dp := range dps {
			if id.MetricName == "Invocations" {
				invocations[ver] += int(dp.Sum)
			} else {
				errs[ver] += int(dp.Sum)
			}
		}
	}
	return invocations, errs
}

func printSummary(out io.Writer, r *Result) {
	fmt.Fprintln(out, "\nsummary")
	fmt.Fprintf(out, "  requests answered:        %d at %d/s, %d of them 5xx\n", r.Requests, r.Rate, r.ServerErrors)
	fmt.Fprintf(out, "  invocations per version:  v%s %d · v%s %d · v%s %d (AWS/Lambda Invocations by ExecutedVersion)\n",
		r.OriginalVer, r.Invocations[r.OriginalVer], r.GoodVer, r.Invocations[r.GoodVer], r.BadVer, r.Invocations[r.BadVer])
	fmt.Fprintf(out, "  bad version v%s:           %d invocations, %d failed, before its alarm rolled it back\n", r.BadVer, r.Invocations[r.BadVer], r.Errors[r.BadVer])
	fmt.Fprintf(out, "  rollback reaction:        %s from ALARM to v%s serving 100%% (inside the engine)\n", roundWall(r.RollbackReaction), r.GoodVer)
	fmt.Fprintf(out, "  after the rollback:       %d requests reached v%s or failed\n", r.BadAfterRollback, r.BadVer)
	fmt.Fprintf(out, "  wall time:                %s\n", roundWall(r.Wall))
	if r.Kept {
		fmt.Fprintf(out, "  service directory:        %s (kept)\n", r.ServiceDir)
	}
}

func roundWall(d time.Duration) string {
	if d < time.Second {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func errorText(d deploy.Deployment) string {
	if d.ErrorInformation == nil {
		return ""
	}
	return string(d.ErrorInformation.Code) + ": " + d.ErrorInformation.Message
}

// CopyExample writes the embedded orders example into dir.
func CopyExample(dir string) error {
	sub, err := fs.Sub(examples.FS, "orders")
	if err != nil {
		return err
	}
	return fs.WalkDir(sub, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := fs.ReadFile(sub, path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// EditHandler changes the orders api's code as a developer would.
func EditHandler(dir, old, replacement string) error {
	path := filepath.Join(dir, "src", "api.js")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), old) {
		return fmt.Errorf("%s does not contain %q", path, old)
	}
	return os.WriteFile(path, []byte(strings.Replace(string(b), old, replacement, 1)), 0o644)
}
