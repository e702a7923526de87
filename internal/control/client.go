package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
)

// Client calls a running engine's control API.
type Client struct {
	Info Info
	http *http.Client
}

// Dial finds the engine running for stateDir.
func Dial(stateDir string) (*Client, error) {
	info, err := ReadInfo(stateDir)
	if err != nil {
		return nil, err
	}
	return &Client{Info: info, http: &http.Client{}}, nil
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Info.APIURL, "/")+Prefix+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("the engine at %s does not answer (%v); is `sluice serve` still running?", c.Info.APIURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e apiErr
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Message != "" {
			return &e
		}
		return fmt.Errorf("the engine answered %s", resp.Status)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// authorize adds the engine's token, which proves the caller could read
// engine.json.
func (c *Client) authorize(req *http.Request) {
	if c.Info.Token != "" {
		req.Header.Set(TokenHeader, "Bearer "+c.Info.Token)
	}
}

// Deploy publishes what changed and starts deployments.
func (c *Client) Deploy(ctx context.Context) (DeployResult, error) {
	var out DeployResult
	err := c.call(ctx, http.MethodPost, "deploy", struct{}{}, &out)
	return out, err
}

// Deployment reads one deployment.
func (c *Client) Deployment(ctx context.Context, id string) (deploy.Deployment, error) {
	var d deploy.Deployment
	err := c.call(ctx, http.MethodGet, "deployments/"+url.PathEscape(id), nil, &d)
	return d, err
}

// Stop stops a deployment, moving traffic back when rollback is set.
func (c *Client) Stop(ctx context.Context, id string, rollback bool) (deploy.Deployment, error) {
	var d deploy.Deployment
	err := c.call(ctx, http.MethodPost, "deployments/"+url.PathEscape(id)+"/stop", map[string]bool{"rollback": rollback}, &d)
	return d, err
}

// Rollback moves a function's alias back to its previous version.
func (c *Client) Rollback(ctx context.Context, function string) (deploy.Deployment, error) {
	var d deploy.Deployment
	err := c.call(ctx, http.MethodPost, "functions/"+url.PathEscape(function)+"/rollback", struct{}{}, &d)
	return d, err
}

// DeployWith is Deploy with options: one function, ignoring alarms, or
// another deployment type.
func (c *Client) DeployWith(ctx context.Context, in DeployOptions) (DeployResult, error) {
	var out DeployResult
	err := c.call(ctx, http.MethodPost, "deploy", in, &out)
	return out, err
}

// RollbackWith is Rollback with options (a version to go back to); with
// wait, it answers once the rollback has ended.
func (c *Client) RollbackWith(ctx context.Context, function string, in RollbackRequest, wait bool) (deploy.Deployment, error) {
	var d deploy.Deployment
	err := c.call(ctx, http.MethodPost, "functions/"+url.PathEscape(function)+"/rollback"+waitQuery(wait), in, &d)
	return d, err
}

// StopFunction stops the function's deployment in progress.
func (c *Client) StopFunction(ctx context.Context, function string, rollback bool) (deploy.Deployment, error) {
	var d deploy.Deployment
	err := c.call(ctx, http.MethodPost, "functions/"+url.PathEscape(function)+"/stop", map[string]bool{"rollback": rollback}, &d)
	return d, err
}

// Promote moves the function's deployment in progress to 100% now; with
// wait, it answers once the deployment has ended.
func (c *Client) Promote(ctx context.Context, function string, wait bool) (deploy.Deployment, error) {
	var d deploy.Deployment
	err := c.call(ctx, http.MethodPost, "functions/"+url.PathEscape(function)+"/promote"+waitQuery(wait), struct{}{}, &d)
	return d, err
}

// Retry deploys the target of the function's last, failed, deployment
// again; with wait, it answers once the new deployment has ended.
func (c *Client) Retry(ctx context.Context, function string, wait bool) (deploy.Deployment, error) {
	var d deploy.Deployment
	err := c.call(ctx, http.MethodPost, "functions/"+url.PathEscape(function)+"/retry"+waitQuery(wait), struct{}{}, &d)
	return d, err
}

// Wait answers once the deployment has ended (or ctx ends).
func (c *Client) Wait(ctx context.Context, id string) (deploy.Deployment, error) {
	var d deploy.Deployment
	err := c.call(ctx, http.MethodGet, "deployments/"+url.PathEscape(id)+waitQuery(true), nil, &d)
	return d, err
}

func waitQuery(wait bool) string {
	if wait {
		return "?wait=true"
	}
	return ""
}

// Watch calls fn with every deployment change until ctx ends or the engine
// goes away. ready, when not nil, is called once the stream is established
// (after the deployments in progress have been delivered).
func (c *Client) Watch(ctx context.Context, ready func(), fn func(deploy.Deployment)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.Info.APIURL, "/")+Prefix+"watch", nil)
	if err != nil {
		return err
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("watch deployments at %s: %w", c.Info.APIURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e apiErr
		if json.NewDecoder(resp.Body).Decode(&e) == nil && e.Message != "" {
			return fmt.Errorf("watch deployments: %w", &e)
		}
		return fmt.Errorf("watch deployments: the engine answered %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := strings.TrimPrefix(line, "data: ")
			switch event {
			case "ready":
				if ready != nil {
					ready()
				}
			case "deployment":
				var d deploy.Deployment
				if err := json.Unmarshal([]byte(data), &d); err == nil {
					fn(d)
				}
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("watch deployments: %w", err)
	}
	return fmt.Errorf("the engine closed the connection (did `sluice serve` stop?)")
}

// Follow watches deployment changes in the background, calling fn for each,
// and returns once the watch is established, so a deployment started after
// it returns cannot be missed. The returned channel receives how the watch
// ended (nil when ctx ended it).
func (c *Client) Follow(ctx context.Context, fn func(deploy.Deployment)) (<-chan error, error) {
	ended := make(chan error, 1)
	ready := make(chan struct{})
	go func() { ended <- c.Watch(ctx, func() { close(ready) }, fn) }()
	select {
	case <-ready:
		return ended, nil
	case err := <-ended:
		if err == nil {
			err = ctx.Err()
		}
		return nil, err
	}
}
