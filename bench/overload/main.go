// Command overload drives examples/orders, served by sluice's engine with
// its cap on execution environments, at a fixed request rate through a
// good and a bad gradual deployment, then overloads it and measures how
// fast it recovers. See README.md.
//
// The load generator is open-loop: requests leave on schedule whether or
// not earlier ones have been answered (a closed pool of workers would slow
// down with the server and hide an overload). It is bounded in count, in
// time and in requests in flight, and only targets loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/demo"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/invoke"
)

func main() {
	rate := flag.Int("rate", 300, "requests per second during the deployments")
	overRate := flag.Int("overload-rate", 3000, "requests per second during the overload")
	overFor := flag.Duration("overload", 3*time.Second, "how long the overload lasts")
	after := flag.Duration("after", 10*time.Second, "how long the normal rate runs after the overload")
	maxEnvs := flag.Int("max-environments", 2*goruntime.NumCPU(), "sluice serve's --max-environments (0: no cap)")
	scale := flag.Float64("time-scale", 60, "engine time scale (60: the 10-minute linear deployment takes 10 s)")
	flag.Parse()
	if err := run(*rate, *overRate, *overFor, *after, *maxEnvs, *scale); err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
}

func run(rate, overRate int, overFor, after time.Duration, maxEnvs int, scale float64) error {
	dir, err := os.MkdirTemp("", "sluice-overload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := demo.CopyExample(dir); err != nil {
		return err
	}
	eng, err := engine.Start(engine.Options{Config: filepath.Join(dir, "serverless.yml"), Addr: engine.AnyLoopbackAddr, APIAddr: engine.AnyLoopbackAddr, TimeScale: scale,
		Out: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Invoke: invoke.Options{MaxEnvironments: maxEnvs}})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		eng.Shutdown(ctx)
	}()
	client, err := control.Dial(eng.StateDir())
	if err != nil {
		return err
	}
	fmt.Printf("examples/orders, --max-environments %d, --time-scale %g, %d CPUs\n", maxEnvs, scale, goruntime.NumCPU())
	peak := watchEnvironments(eng)

	// 1. Good then bad deployment at a steady rate.
	load := newLoad(eng.GatewayURL(), 20000)
	stop := load.at(rate, 10*time.Minute)
	metricsFrom := eng.Clock().Now()
	began := time.Now()
	if err := demo.EditHandler(dir, "'first release'", "'second release'"); err != nil {
		return err
	}
	good, err := deployAndWait(client)
	if err != nil {
		return err
	}
	if err := demo.EditHandler(dir, "  if (id) {\n", "  if (id) {\n    throw new Error('orders database unreachable');\n"); err != nil {
		return err
	}
	bad, err := deployAndWait(client)
	if err != nil {
		return err
	}
	stop()
	phase1 := load.take()
	_, errs := demo.VersionCounts(eng.Metrics(), good.Target.FunctionName, good.Target.FunctionAlias, metricsFrom, eng.Clock().Now())
	s := summarize(phase1)
	fmt.Printf("\n1. %d req/s for %.1f s through a good (%d: %s) and a bad (%d: %s, rolled back %v) deployment\n",
		rate, time.Since(began).Seconds(), good.Target.TargetVersion, good.Status, bad.Target.TargetVersion, bad.Status, bad.RolledBack())
	fmt.Printf("   %s\n", s)
	own := errs[strconv.Itoa(bad.Target.TargetVersion)]
	fmt.Printf("   function errors of the bad version %d: %d; failed requests apart from them: %d\n", bad.Target.TargetVersion, own, s.failed-own)
	fmt.Printf("   peak environments: %d\n", peak.Swap(0))

	// 2. Overload, then the normal rate again: how soon does it recover?
	load.during(overRate, overFor)
	overEnd := time.Now()
	load.during(rate, after)
	all := load.take()
	var over, post []answer
	for _, a := range all {
		if a.sent.Before(overEnd) {
			over = append(over, a)
		} else {
			post = append(post, a)
		}
	}
	fmt.Printf("\n2. overload: %d req/s for %v\n   %s\n", overRate, overFor, summarize(over))
	fmt.Printf("   peak environments: %d; cap: %+v; generator skipped %d (too many in flight)\n", peak.Load(), eng.Invoker().EnvironmentStats(), load.dropped.Load())
	rec, ok := recovery(post, overEnd)
	fmt.Printf("\n3. back to %d req/s for %v\n   %s\n", rate, after, summarize(post))
	if ok {
		fmt.Printf("   recovered %.2f s after the overload ended (every request sent from then on answered 2xx within 1 s)\n", rec.Seconds())
	} else {
		fmt.Println("   did not recover within the run")
	}
	return nil
}

// ---- load -------------------------------------------------------------------

type answer struct {
	sent    time.Time
	latency time.Duration
	status  int // 0: no answer (transport error)
}

type load struct {
	urls     []string
	client   *http.Client
	mu       sync.Mutex
	answers  []answer
	inflight atomic.Int64
	max      int64
	dropped  atomic.Int64
	wg       sync.WaitGroup
}

func newLoad(gateway string, maxInflight int64) *load {
	u, err := url.Parse(gateway)
	if err != nil || !loopback(u.Hostname()) {
		panic("the load generator only targets loopback, not " + gateway)
	}
	return &load{
		urls:   []string{gateway + "/orders", gateway + "/dev/orders/42"},
		client: &http.Client{Timeout: 35 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}},
		max:    maxInflight,
	}
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// at sends rate requests a second, alternating the two routes, until the
// returned stop is called or d has passed. Answers are collected in the
// background (see take).
func (l *load) at(rate int, d time.Duration) (stop func()) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	done := make(chan struct{})
	go func() {
		defer close(done)
		interval := time.Second / time.Duration(rate)
		start := time.Now()
		for i := 0; ; i++ {
			next := start.Add(time.Duration(i) * interval)
			if wait := time.Until(next); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			} else if ctx.Err() != nil {
				return
			}
			if l.inflight.Load() >= l.max {
				l.dropped.Add(1)
				continue
			}
			l.inflight.Add(1)
			l.wg.Add(1)
			go l.send(l.urls[i%len(l.urls)])
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// during sends rate requests a second for d.
func (l *load) during(rate int, d time.Duration) {
	stop := l.at(rate, d)
	time.Sleep(d) // the load's own schedule: this is the phase's length
	stop()
}

func (l *load) send(url string) {
	defer l.wg.Done()
	defer l.inflight.Add(-1)
	a := answer{sent: time.Now()}
	resp, err := l.client.Get(url)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		a.status = resp.StatusCode
	}
	a.latency = time.Since(a.sent)
	l.mu.Lock()
	l.answers = append(l.answers, a)
	l.mu.Unlock()
}

// take waits for every request sent to be answered and returns the answers
// since the last take, in the order they were sent.
func (l *load) take() []answer {
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.answers
	l.answers = nil
	sort.Slice(out, func(i, j int) bool { return out[i].sent.Before(out[j].sent) })
	return out
}

type summary struct {
	n, failed int
	byStatus  map[int]int
	p50, p99  time.Duration
}

func summarize(as []answer) summary {
	s := summary{n: len(as), byStatus: map[int]int{}}
	lat := make([]time.Duration, 0, len(as))
	for _, a := range as {
		s.byStatus[a.status]++
		if a.status == 0 || a.status >= 400 {
			s.failed++
		}
		lat = append(lat, a.latency)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		s.p50, s.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return s
}

func (s summary) String() string {
	var codes []string
	keys := make([]int, 0, len(s.byStatus))
	for k := range s.byStatus {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		name := fmt.Sprint(k)
		if k == 0 {
			name = "no answer"
		}
		codes = append(codes, fmt.Sprintf("%s: %d", name, s.byStatus[k]))
	}
	return fmt.Sprintf("%d requests, %d failed (%s), p50 %v, p99 %v", s.n, s.failed, strings.Join(codes, ", "),
		s.p50.Round(100*time.Microsecond), s.p99.Round(100*time.Microsecond))
}

// recovery is how long after end the first request was sent from which on
// every request succeeded within a second.
func recovery(as []answer, end time.Time) (time.Duration, bool) {
	last := -1
	for i, a := range as {
		if a.status == 0 || a.status >= 400 || a.latency > time.Second {
			last = i
		}
	}
	if last == len(as)-1 {
		return 0, false
	}
	return max(0, as[last+1].sent.Sub(end)), true
}

// ---- the engine ------------------------------------------------------------

func watchEnvironments(eng *engine.Engine) *atomic.Int64 {
	var peak atomic.Int64
	go func() {
		for range time.Tick(20 * time.Millisecond) {
			n := 0
			for _, s := range eng.Invoker().Stats() {
				n += s.Environments
			}
			if int64(n) > peak.Load() {
				peak.Store(int64(n))
			}
		}
	}()
	return &peak
}

func deployAndWait(client *control.Client) (deploy.Deployment, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ended := make(chan deploy.Deployment, 16)
	var id atomic.Value
	id.Store("")
	watchErr, err := client.Follow(ctx, func(d deploy.Deployment) {
		if d.ID == id.Load().(string) && (d.Status == deploy.StatusSucceeded || d.Status == deploy.StatusFailed || d.Status == deploy.StatusStopped) {
			ended <- d
		}
	})
	if err != nil {
		return deploy.Deployment{}, err
	}
	res, err := client.Deploy(ctx)
	if err != nil {
		return deploy.Deployment{}, err
	}
	for _, c := range res.Changes {
		if c.Error != "" {
			return deploy.Deployment{}, errors.New(c.Error)
		}
		if c.DeploymentID != "" {
			id.Store(c.DeploymentID)
		}
	}
	if id.Load().(string) == "" {
		return deploy.Deployment{}, errors.New("no deployment started")
	}
	if d, err := client.Deployment(ctx, id.Load().(string)); err == nil && (d.Status == deploy.StatusSucceeded || d.Status == deploy.StatusFailed || d.Status == deploy.StatusStopped) {
		return d, nil
	}
	select {
	case d := <-ended:
		return d, nil
	case err := <-watchErr:
		return deploy.Deployment{}, fmt.Errorf("watch: %v", err)
	case <-ctx.Done():
		return deploy.Deployment{}, ctx.Err()
	}
}
