package rehearse

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/demo"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/gateway"
)

// traffic sends steady requests through the function's alias: to its
// first HTTP route through the gateway, else with Lambda's Invoke API.
type traffic struct {
	ctx      context.Context
	send     func(ctx context.Context, i int)
	describe string

	mu    sync.Mutex
	rate  int
	pacer *demo.Pacer
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

func startTraffic(ctx context.Context, eng *engine.Engine, svc *config.Service, f *config.Function, rate int) (*traffic, error) {
	t := &traffic{ctx: ctx}
	var route *gateway.Route
	for _, r := range eng.Routes() {
		if r.Function == f.Name && r.Path != "*" {
			route = &r
			break
		}
	}
	if route != nil {
		method := route.Method
		if method == "ANY" || method == "*" {
			method = http.MethodGet
		}
		path := pathParam.ReplaceAllStringFunc(route.Path, func(p string) string {
			if strings.HasSuffix(p, "+}") {
				return "rehearse"
			}
			return "1"
		})
		if route.Kind == gateway.REST {
			path = "/" + svc.Stage + path
		}
		url := eng.GatewayURL() + path
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
		t.describe = fmt.Sprintf("to %s %s", method, path)
		t.send = func(ctx context.Context, _ int) {
			var body io.Reader
			if method != http.MethodGet && method != http.MethodHead {
				body = strings.NewReader("{}")
			}
			req, _ := http.NewRequestWithContext(ctx, method, url, body)
			if resp, err := client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	} else {
		client := lambda.NewFromConfig(aws.Config{Region: svc.Region, BaseEndpoint: aws.String(eng.APIURL()),
			Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
			Credentials: credentials.NewStaticCredentialsProvider(engine.DefaultAccessKeyID, "local", "")})
		alias := f.DeploymentSettings.Alias
		t.describe = fmt.Sprintf("with Invoke of %s:%s", f.Name, alias)
		t.send = func(ctx context.Context, _ int) {
			client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(f.Name), Qualifier: aws.String(alias), Payload: []byte("{}")})
		}
	}
	t.setRate(rate)
	return t, nil
}

// setRate changes the rate (a new pacer takes over).
func (t *traffic) setRate(rate int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pacer != nil && t.rate == rate {
		return
	}
	if t.pacer != nil {
		t.pacer.Stop()
	}
	t.rate = rate
	t.pacer = demo.StartPacer(t.ctx, rate, t.send)
}

func (t *traffic) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pacer != nil {
		t.pacer.Stop()
	}
}
