package demo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// traffic sends steady requests to the orders API and remembers each answer.
type traffic struct {
	pacer   *Pacer
	mu      sync.Mutex
	answers []answer
}

type answer struct {
	sent    time.Time
	status  int
	version string // from the body; "" when the function failed
}

func startTraffic(ctx context.Context, gateway string, rate int) *traffic {
	t := &traffic{}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	paths := []string{gateway + "/orders", gateway + "/dev/orders/42"}
	t.pacer = StartPacer(ctx, rate, func(ctx context.Context, i int) { t.send(ctx, client, paths[i%len(paths)]) })
	return t
}

// Pacer calls a function at a steady rate from a few workers: the traffic
// of the demo, and of `sluice rehearse`.
type Pacer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// StartPacer calls send rate times a second (the i-th call gets i), from 8
// workers, until ctx ends or Stop is called.
func StartPacer(ctx context.Context, rate int, send func(ctx context.Context, i int)) *Pacer {
	ctx, cancel := context.WithCancel(ctx)
	p := &Pacer{cancel: cancel}
	ticks := make(chan int)
	p.wg.Add(1)
	go func() { // one call slot every 1/rate seconds
		defer p.wg.Done()
		defer close(ticks)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case ticks <- i:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	for range 8 {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for i := range ticks {
				send(ctx, i)
			}
		}()
	}
	return p
}

// Stop ends the calls and waits for those in flight.
func (p *Pacer) Stop() {
	p.once.Do(func() {
		p.cancel()
		p.wg.Wait()
	})
}

func (t *traffic) send(ctx context.Context, client *http.Client, url string) {
	a := answer{sent: time.Now()}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return // cancelled at the end
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a.status = resp.StatusCode
	var v struct{ Version string }
	if json.Unmarshal(body, &v) == nil {
		a.version = v.Version
	}
	t.mu.Lock()
	t.answers = append(t.answers, a)
	t.mu.Unlock()
}

func (t *traffic) stop() { t.pacer.Stop() }

// summary counts the answers, the 5xx among them, and the requests sent
// after `after` that reached version bad or failed.
func (t *traffic) summary(bad string, after time.Time) (requests, serverErrors, badAfter int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, a := range t.answers {
		requests++
		if a.status >= 500 {
			serverErrors++
		}
		if a.sent.After(after) && (a.version == bad || a.status >= 500) {
			badAfter++
		}
	}
	return requests, serverErrors, badAfter
}
