package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/registry/registrytest"
	"github.com/sluice-dev/sluice/internal/schedule"
	"github.com/sluice-dev/sluice/internal/store"
)

const fn = "svc-dev-api"

// publisher publishes the code in src as the next version and deploys it,
// as the engine does after re-reading serverless.yml; invalid stands for a
// configuration the engine refuses.
type publisher struct {
	reg         *registry.Registry
	deployments *deploy.Controller
	src         string
	invalid     bool
}

func (p *publisher) PublishAndDeploy() ([]Change, error) {
	if active := p.deployments.Active(); len(active) > 0 {
		return nil, fmt.Errorf("%w: deployment %s is in progress", deploy.ErrAlreadyInProgress, active[0].ID)
	}
	if p.invalid {
		return nil, &PublishError{Err: errors.New("serverless.yml:7:9: functions.api.events.0.schedule: rate(bogus) is not a rate")}
	}
	from := p.reg.Function(fn).LatestVersion().Number
	v, created, err := p.reg.Publish(fn, registry.Config{Runtime: "nodejs20.x", Handler: "h.api"}, p.src, "")
	if err != nil || !created {
		return nil, err
	}
	c := Change{Key: "api", Function: fn, FromVersion: from, ToVersion: v.Number, Group: "svc-dev-ApiLambdaFunctionDeploymentGroup"}
	d, err := p.deployments.Create(deploy.CreateInput{Group: c.Group, TargetVersion: v.Number})
	if err != nil {
		c.Error = err.Error()
	} else {
		c.DeploymentID = d.ID
	}
	return []Change{c}, nil
}

type fixture struct {
	state  string
	src    string
	clock  *clock.Fake
	engine *deploy.Controller
	client *Client
	reg    *registry.Registry
	pub    *publisher
	url    string // the control API's server
}

type noHooks struct{}

func (noHooks) InvokeHook(string, []byte, func(error)) {}

type noAlarms struct{}

func (noAlarms) Watch(string, func(deploy.AlarmState)) (func(), error) { return func() {}, nil }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{src: t.TempDir(), clock: clock.NewFake(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))}
	var db *store.DB
	f.reg, db, f.state = registrytest.Open(t, f.clock)
	f.write("v1")
	if _, _, err := f.reg.Publish(fn, registry.Config{Runtime: "nodejs20.x", Handler: "h.api"}, f.src, ""); err != nil {
		t.Fatal(err)
	}
	f.reg.SetAlias(fn, "Live", 1, 0, 0, nil)
	typ, _ := schedule.Parse("Canary10Percent5Minutes")
	f.engine = deploy.New(deploy.Config{Clock: f.clock, Registry: f.reg, Store: db, Hooks: noHooks{}, Alarms: noAlarms{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Groups: []*deploy.Group{{Application: "SvcdevDeploymentApplication", Name: "svc-dev-ApiLambdaFunctionDeploymentGroup",
			Function: fn, Alias: "Live", Type: typ, AutoRollback: deploy.DefaultAutoRollback}}})
	t.Cleanup(f.engine.Close)
	f.pub = &publisher{reg: f.reg, deployments: f.engine, src: f.src}
	srv := httptest.NewServer(&Server{Deployments: f.engine, Registry: f.reg, Publisher: f.pub})
	t.Cleanup(srv.Close)
	f.url = srv.URL
	if err := WriteInfo(f.state, Info{PID: os.Getpid(), APIURL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.client, err = Dial(f.state); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) write(body string) {
	os.WriteFile(filepath.Join(f.src, "h.js"), []byte(body), 0o644)
}

func TestDeployWatchAndFinish(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var seen []deploy.Deployment
	ready := make(chan struct{})
	changed := make(chan struct{}, 100)
	go f.client.Watch(ctx, func() { close(ready) }, func(d deploy.Deployment) {
		mu.Lock()
		seen = append(seen, d)
		mu.Unlock()
		changed <- struct{}{}
	})
	<-ready

	f.write("v2")
	res, err := f.client.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changes) != 1 || res.Changes[0].ToVersion != 2 || res.Changes[0].DeploymentID == "" {
		t.Fatalf("deploy result %+v", res)
	}
	id := res.Changes[0].DeploymentID
	waitSeen := func(what string, cond func(deploy.Deployment) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			mu.Lock()
			for _, d := range seen {
				if d.ID == id && cond(d) {
					mu.Unlock()
					return
				}
			}
			mu.Unlock()
			select {
			case <-changed:
			case <-deadline:
				t.Fatalf("the watch stream never showed %s", what)
			}
		}
	}
	waitSeen("the 10% step", func(d deploy.Deployment) bool { return d.StepReached == 1 })

	// A second deploy while one runs is refused, before anything is published.
	f.write("v3")
	_, err = f.client.Deploy(ctx)
	var ae *apiErr
	if !errors.As(err, &ae) || ae.Code != "DeploymentInProgress" || !strings.Contains(ae.Message, id) {
		t.Fatalf("second deploy: err = %v", err)
	}
	if n := len(f.reg.Function(fn).Versions()); n != 2 {
		t.Fatalf("the refused deploy published: %d versions", n)
	}

	f.clock.Advance(5 * time.Minute)
	waitSeen("Succeeded", func(d deploy.Deployment) bool { return d.Status == deploy.StatusSucceeded })

	st, err := ReadStatus(f.state)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running || len(st.Aliases) != 1 || st.Aliases[0].Version != 2 || len(st.Deployments) != 1 || st.Deployments[0].ID != id {
		t.Fatalf("status %+v", st)
	}
	rb, err := f.client.Rollback(ctx, fn)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Target.TargetVersion != 1 {
		t.Fatalf("rollback deployment %+v", rb)
	}
	hist, err := ReadHistory(f.state, fn)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history = %d deployments, %v", len(hist), err)
	}
}

func TestDeployOfAnInvalidServiceIsABadRequest(t *testing.T) {
	f := newFixture(t)
	f.pub.invalid = true
	_, err := f.client.Deploy(context.Background())
	var ae *apiErr
	if !errors.As(err, &ae) || ae.Code != "PublishFailed" || !strings.Contains(ae.Message, "serverless.yml:7:9") {
		t.Fatalf("deploy of an invalid service: err = %v, want PublishFailed with the position", err)
	}
}

// Status tells an alias that serves an older version than the latest:
// `sluice deploy` has something to deploy.
func TestStatusTellsTheLatestVersionIsNotDeployed(t *testing.T) {
	f := newFixture(t)
	st, err := ReadStatus(f.state)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Aliases) != 1 || !st.Aliases[0].LatestDeployed() {
		t.Fatalf("before a new version: aliases %+v, want the latest deployed", st.Aliases)
	}
	f.write("v2")
	if _, _, err := f.reg.Publish(fn, registry.Config{Runtime: "nodejs20.x", Handler: "h.api"}, f.src, ""); err != nil {
		t.Fatal(err)
	}
	if st, err = ReadStatus(f.state); err != nil {
		t.Fatal(err)
	}
	if a := st.Aliases[0]; a.LatestDeployed() || a.LatestVersion != 2 || a.Version != 1 {
		t.Fatalf("after publishing v2: alias %+v, want v1 served and latest v2 not deployed", a)
	}
	// A split that no deployment is moving (a stop without rollback) does
	// not deploy v2.
	if _, err := f.reg.SetAlias(fn, "Live", 1, 2, 0.1, nil); err != nil {
		t.Fatal(err)
	}
	if st, err = ReadStatus(f.state); err != nil {
		t.Fatal(err)
	}
	if a := st.Aliases[0]; a.LatestDeployed() {
		t.Fatalf("split left by a stopped deployment: alias %+v, want latest v2 not deployed", a)
	}
	// A deployment shifting traffic to v2 deploys it.
	d, err := f.engine.Create(deploy.CreateInput{Group: fn, TargetVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.engine.Stop(d.ID, false) })
	if st, err = ReadStatus(f.state); err != nil {
		t.Fatal(err)
	}
	if a := st.Aliases[0]; a.DeployingVersion != 2 || !a.LatestDeployed() {
		t.Fatalf("during deployment %s: alias %+v, want v2 being deployed", d.ID, a)
	}
}

func TestStopThroughTheClient(t *testing.T) {
	f := newFixture(t)
	f.write("v2")
	res, err := f.client.Deploy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.client.Stop(context.Background(), res.Changes[0].DeploymentID, true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != deploy.StatusStopped {
		t.Fatalf("status after stop: %s", d.Status)
	}
	if _, err := f.client.Stop(context.Background(), "d-NOSUCH123", true); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("stop of an unknown deployment: err = %v", err)
	}
}

func TestReadInfoIgnoresAnEngineThatIsGone(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadInfo(dir); !errors.Is(err, ErrNoEngine) {
		t.Fatalf("no file: err = %v", err)
	}
	WriteInfo(dir, Info{PID: 1 << 30, APIURL: "http://127.0.0.1:1"})
	if _, err := ReadInfo(dir); !errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), "has exited") {
		t.Fatalf("dead pid: err = %v", err)
	}
	if _, err := ReadStatus(dir); !errors.Is(err, ErrNoState) {
		t.Fatalf("status of a service never served: err = %v", err)
	}
}

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/sluice/v1/deployments/d-NOSUCH", http.StatusNotFound, "DeploymentNotFound"},
		{"POST", "/sluice/v1/deployments/d-NOSUCH/stop", http.StatusNotFound, "DeploymentNotFound"},
		{"POST", "/sluice/v1/functions/nosuch/rollback", http.StatusNotFound, "GroupNotFound"},
		{"GET", "/sluice/v1/deploy", http.StatusNotFound, "NotFound"},
		{"POST", "/sluice/v1/nosuch", http.StatusNotFound, "NotFound"},
	} {
		req, _ := http.NewRequest(c.method, f.url+c.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Code, Error string }
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != c.status || body.Code != c.code || body.Error == "" {
			t.Errorf("%s %s = %d %+v, want %d with code %s and a message", c.method, c.path, res.StatusCode, body, c.status, c.code)
		}
	}
}
