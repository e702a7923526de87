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
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	answers []answer
	once    sync.Once
}

type answer struct {
	sent    time.Time
	status  int
	version string // from the body; "" when the function failed
}

func startTraffic(ctx context.Context, gateway string, rate int) *traffic {
	ctx, cancel := context.WithCancel(ctx)
	t := &traffic{cancel: cancel}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	paths := []string{gateway + "/orders", gateway + "/dev/orders/42"}
	ticks := make(chan string)
	t.wg.Add(1)
	go func() { // the pacer: one request slot every 1/rate seconds
		defer t.wg.Done()
		defer close(ticks)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case ticks <- paths[i%len(paths)]:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	for range 8 {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for url := range ticks {
				t.send(ctx, client, url)
			}
		}()
	}
	return t
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

func (t *traffic) stop() {
	t.once.Do(func() {
		t.cancel()
		t.wg.Wait()
	})
}

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
