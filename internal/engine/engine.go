// Package engine wires a running service (`sluice serve`): the state store,
// the registry of versions and aliases, the execution environments behind
// the invoker, the HTTP gateway, schedules, metrics and alarms, the
// deployment engine, and the AWS API endpoint functions and tools call.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/awsapi"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/cron"
	"github.com/sluice-dev/sluice/internal/dashboard"
	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/gateway"
	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/logs"
	"github.com/sluice-dev/sluice/internal/metrics"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/runtime"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/validate"
)

// Defaults of `sluice serve`.
const (
	DefaultHost    = "127.0.0.1"
	DefaultPort    = 3000
	DefaultAPIPort = 3001
	// DefaultAddr and DefaultAPIAddr are where the listeners are when
	// Options leave them empty: this machine only.
	DefaultAddr    = "127.0.0.1:3000"
	DefaultAPIAddr = "127.0.0.1:3001"
	// AnyLoopbackAddr is a free port on this machine only, for tests and
	// tools that run an engine beside others.
	AnyLoopbackAddr = "127.0.0.1:0"
	// StateDirName is where state lives beside serverless.yml.
	StateDirName = ".sluice"
)

// Options configure an engine.
type Options struct {
	// Config is the serverless.yml (or JSON) to serve.
	Config string
	// Stage, Region and Params are the loader's --stage, --region and --param.
	Stage, Region string
	Params        map[string]string
	// Vars are the loader's --var: local values of AWS-only variables.
	Vars map[string]string
	// StateDir holds the store, code snapshots and logs (default .sluice
	// beside the config).
	StateDir string
	// Addr and APIAddr are where the gateway and the AWS APIs listen, as
	// host:port; port 0 picks a free one (net.Listen). Empty means
	// DefaultAddr / DefaultAPIAddr: nothing outside this machine reaches the
	// functions unless asked for.
	Addr, APIAddr string
	// Clock drives schedules, deployments and alarms (default: the wall
	// clock scaled by TimeScale).
	Clock     clock.Clock
	TimeScale float64
	// Out receives the route table and warnings (default io.Discard).
	Out io.Writer
	// Logger receives operational messages (default slog.Default()).
	Logger *slog.Logger
	// RequestLog, when set, receives a line per gateway request and the
	// functions' output as they run (`sluice serve` without --quiet).
	RequestLog io.Writer
	// HookTimeout is how long a deployment waits for a hook's report, in
	// clock time (default CodeDeploy's hour).
	HookTimeout time.Duration
	// Invoke tunes the invoker (idle timeouts, concurrency); the engine
	// fills in what it owns (registry, metrics, logs, clock, environment).
	Invoke invoke.Options
	// APIAccessKey is the access key id the AWS-compatible APIs accept; the
	// engine hands it to its functions. Nil means DefaultAccessKeyID; an
	// empty string accepts any caller (--api-access-key '').
	APIAccessKey *string
}

// DefaultAccessKeyID is the dummy access key id functions get, and the one
// the AWS-compatible APIs accept by default.
const DefaultAccessKeyID = "AKIASLUICELOCAL00000"

// Engine is one running service.
type Engine struct {
	opts     Options
	clock    clock.Clock
	log      *slog.Logger
	stateDir string
	// requestLog prints requests and function output; nil with --quiet.
	requestLog *requestLog
	// nodeSDK caches the AWS SDK for JavaScript packages functions load.
	nodeSDK runtime.NodeSDK

	db       *store.DB
	registry *registry.Registry
	logs     *logs.Store
	metrics  *metrics.Store
	alarms   *alarm.Evaluator
	invoker  *invoke.Invoker
	gateway  *gateway.Gateway
	deployer *deploy.Controller
	api      *http.ServeMux
	canary   canaryAlarms // deploymentSettings.canaryAlarms, following deployments

	gatewaySrv, apiSrv *http.Server
	gatewayURL, apiURL string
	token              string // the control API's
	marker             string // markerName=… in every function process's environment
	served             sync.WaitGroup

	stack stackClock // the stack the AWS-compatible CloudFormation API models

	mu        sync.Mutex // serialises Reload and Shutdown
	svc       *config.Service
	applied   *desired // the state last applied
	schedules *cron.Runner
	closed    bool
}

// Start loads the service, restores or publishes its versions, and starts
// serving. On error nothing is left running.
func Start(opts Options) (_ *Engine, err error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.APIAddr == "" {
		opts.APIAddr = DefaultAPIAddr
	}
	e := &Engine{opts: opts, log: opts.Logger}
	if opts.RequestLog != nil {
		e.requestLog = &requestLog{out: opts.RequestLog}
	}
	svc, err := e.load()
	if err != nil {
		return nil, err
	}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()

	e.stateDir = opts.StateDir
	if e.stateDir == "" {
		e.stateDir = filepath.Join(svc.Dir, StateDirName)
	}
	if e.stateDir, err = filepath.Abs(e.stateDir); err != nil {
		return nil, err
	}
	if err := checkNotRunning(e.stateDir); err != nil {
		return nil, err
	}
	e.marker = processMarker(e.stateDir)
	if n := runtime.KillMarked(e.marker); n > 0 {
		fmt.Fprintf(opts.Out, "Stopped %d function processes that a previous engine on this state left running (it was killed?)\n", n)
	}
	if e.db, err = store.Open(e.stateDir); err != nil {
		return nil, err
	}
	if err := writeStateGitignore(e.stateDir); err != nil {
		return nil, fmt.Errorf("keep %s out of git: %w", e.stateDir, err)
	}
	cleanup = append(cleanup, func() { e.db.Close() })
	if e.clock = opts.Clock; e.clock == nil {
		// A scaled clock runs ahead of the wall clock; resume from the last
		// run's time so recorded times never go backwards across restarts.
		latest, err := e.db.Latest()
		if err != nil {
			return nil, fmt.Errorf("read the state's latest time: %w", err)
		}
		e.clock = clock.ScaledFrom(opts.TimeScale, latest)
		// The CLI shows people wall times: it needs this run's clock.
		scale := opts.TimeScale
		if scale <= 0 {
			scale = 1 // as ScaledFrom takes it
		}
		if err := control.RecordClock(e.stateDir, control.ClockRun{Wall: time.Now().UTC(), Clock: e.clock.Now().UTC(), Scale: scale}); err != nil {
			return nil, fmt.Errorf("record the clock in %s: %w", e.stateDir, err)
		}
	}
	e.opts.Clock = e.clock
	if e.registry, err = registry.Open(e.db, e.clock, filepath.Join(e.stateDir, "code")); err != nil {
		return nil, fmt.Errorf("open the registry in %s: %w", e.stateDir, err)
	}
	if e.logs, err = logs.Open(filepath.Join(e.stateDir, "logs"), logs.Options{Logger: e.log}); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { e.logs.Close() })
	e.metrics = metrics.NewStore(e.clock)
	e.alarms = alarm.NewEvaluator(e.metrics, alarm.WithLogger(e.log), alarm.WithStateStore(e.db))
	cleanup = append(cleanup, e.alarms.Close)

	// Listen first: the functions' environment names the API's address.
	gatewayLn, err := listen(opts.Addr, "gateway (--host, --port)")
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { gatewayLn.Close() })
	apiLn, err := listen(opts.APIAddr, "AWS API (--host, --api-port)")
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { apiLn.Close() })
	e.gatewayURL = localURL(gatewayLn.Addr())
	e.apiURL = localURL(apiLn.Addr())

	iopts := opts.Invoke
	iopts.Registry, iopts.Metrics, iopts.Logs, iopts.Clock, iopts.Logger = e.registry, e.metrics, e.logs, e.clock, e.log
	iopts.Region, iopts.Account = svc.Region, config.LocalAccountID
	accessKey := DefaultAccessKeyID
	if opts.APIAccessKey != nil && *opts.APIAccessKey != "" {
		accessKey = *opts.APIAccessKey
	}
	iopts.Environment = functionEnvironment(e.apiURL, accessKey, iopts.Environment)
	iopts.Environment[markerName] = e.marker[len(markerName)+1:]
	// Stack traces name the service's files, not the version's snapshot.
	iopts.Environment["SLUICE_SOURCE_DIR"] = svc.Dir
	// Lambda's Node.js runtimes include the AWS SDK v3; so does the cache.
	if sdk, sdkErr := runtime.DefaultNodeSDK(); sdkErr != nil {
		e.log.Warn("the AWS SDK for JavaScript will not be provided to functions that do not bundle it", "err", sdkErr)
	} else {
		e.nodeSDK = sdk
		iopts.Environment[runtime.NodeSDKEnv] = sdk.NodeModules()
	}
	e.warnRuntimeDifferences(svc)
	if iopts.RuntimeDir == "" {
		iopts.RuntimeDir = filepath.Join(e.stateDir, "runtime")
	}
	e.invoker = invoke.New(iopts)
	cleanup = append(cleanup, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.invoker.Close(ctx)
	})
	e.gateway = gateway.New(gateway.Options{Stage: svc.Stage, Region: svc.Region, Account: config.LocalAccountID,
		Clock: e.clock, Logger: e.log})

	plan, err := e.plan(svc)
	if err != nil {
		return nil, err
	}
	e.deployer = deploy.New(deploy.Config{Clock: e.clock, Registry: e.registry, Store: e.db, Hooks: e.invoker,
		Alarms: alarmWatcher{e.alarms}, Logger: e.log, Groups: plan.groups})
	cleanup = append(cleanup, e.deployer.Close, e.deployer.Subscribe(e.followDeployment))
	published, err := e.apply(plan)
	cleanup = append(cleanup, func() {
		if e.schedules != nil {
			e.schedules.Stop()
		}
	})
	if err != nil {
		return nil, err
	}
	settled, err := e.deployer.Recover()
	if err != nil {
		return nil, fmt.Errorf("settle the deployments a previous engine left unfinished: %w", err)
	}
	for _, d := range settled {
		fmt.Fprintf(opts.Out, "Deployment %s of %s was interrupted by the last shutdown: marked Failed%s\n",
			d.ID, d.Target.FunctionName, map[bool]string{true: " and rolled back", false: ""}[d.RolledBack()])
	}

	e.api = http.NewServeMux()
	lambdaAPI := &awsapi.Lambda{Invoker: e.invoker, Registry: e.registry, Logs: e.logs}
	e.api.Handle(awsapi.LambdaPathPrefix+"/", lambdaAPI)
	e.api.Handle(awsapi.LambdaPathPrefix, lambdaAPI)
	codeDeploy := &awsapi.CodeDeploy{Engine: e.deployer}
	// CloudWatch and CloudFormation's read APIs, for `sluice follow --endpoint-url`.
	e.stack.created = e.clock.Now()
	cloudWatch := awsapi.NewCloudWatch(e.alarms)
	cleanup = append(cleanup, cloudWatch.Close)
	e.api.Handle(awsapi.CloudWatchPathPrefix, cloudWatch)
	e.api.HandleFunc(control.AlarmsPath, e.serveAlarms)
	e.api.HandleFunc(control.InvocationsPath, e.serveInvocations)
	e.api.Handle(control.Prefix, &control.Server{Deployments: e.deployer, Registry: e.registry, Publisher: e, Logger: e.log})
	// The dashboard; its controls call the control API with the token.
	e.token = control.NewToken()
	dash := dashboard.New(dashboard.Options{Deployments: e.deployer, Registry: e.registry, Alarms: e.alarms, Metrics: e.metrics,
		Logs: e.logs, Clock: e.clock, Wall: e.wallClock, Functions: e.functionNames, Token: e.token, Logger: e.log})
	cleanup = append(cleanup, dash.Close)
	e.api.Handle(dashboard.Prefix, dash)
	// The AWS/Lambda series in Prometheus' format, for a local Grafana or a curl.
	promRegistry := prometheus.NewRegistry()
	promRegistry.MustRegister(metrics.NewCollector(e.metrics))
	e.api.Handle("/metrics", promhttp.HandlerFor(promRegistry, promhttp.HandlerOpts{}))
	var gatewayHandler http.Handler = e.gateway
	if e.requestLog != nil {
		gatewayHandler = e.requestLog.handler(e.gateway)
		e.requestLog.follow(e.logs, e.clock.Now(), e.Service)
		cleanup = append(cleanup, e.requestLog.stop)
	}
	e.gatewaySrv = newServer(gatewayHandler, gatewayTimeout, gatewayTimeout)
	var api http.Handler = apiHandler{codeDeploy: codeDeploy, cloudFormation: &awsapi.CloudFormation{Stack: e.stackInputs}, mux: e.api}
	if opts.APIAccessKey == nil || *opts.APIAccessKey != "" {
		api = awsapi.RequireAccessKey(api, accessKey, control.Prefix, "/metrics", dashboard.Prefix)
	}
	api = &control.Guard{Token: e.token, LoopbackListener: control.IsLoopback(hostOf(opts.APIAddr)), Next: api}
	if !control.IsLoopback(hostOf(opts.Addr)) || !control.IsLoopback(hostOf(opts.APIAddr)) {
		fmt.Fprintf(opts.Out, "WARNING: listening on %s and %s: anyone who can reach this machine can invoke the functions (gateway and Lambda API). "+
			"The control API (deploy, stop, rollback) still answers only this machine.\n", opts.Addr, opts.APIAddr)
	}
	e.apiSrv = newServer(api, apiReadTimeout, apiWriteTimeout)
	e.serve(e.gatewaySrv, limitConns(gateway.Listener(gatewayLn), gatewayMaxConns))
	e.serve(e.apiSrv, limitConns(apiLn, apiMaxConns))
	if err := e.writeInfo(svc); err != nil {
		e.log.Warn("cannot write the engine file; CLI commands will not find this engine", "err", err)
	}
	e.svc = svc
	e.printSummary(plan, published)
	fmt.Fprintf(opts.Out, "Dashboard: %s\n", e.DashboardURL())
	return e, nil
}

func (e *Engine) serve(srv *http.Server, ln net.Listener) {
	e.served.Add(1)
	go func() {
		defer e.served.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// load reads and validates the service definition from disk.
func (e *Engine) load() (*config.Service, error) {
	svc, diags, err := config.Load(e.opts.Config, config.Options{Stage: e.opts.Stage, Region: e.opts.Region, Params: e.opts.Params, Vars: e.opts.Vars, Local: true})
	for _, d := range diags.Warnings() {
		fmt.Fprintln(e.opts.Out, d.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not valid:\n%w", e.opts.Config, err)
	}
	vd := validate.Service(svc)
	for _, d := range vd.Warnings() {
		fmt.Fprintln(e.opts.Out, d.Error())
	}
	if err := vd.Err(); err != nil {
		return nil, fmt.Errorf("%s is not valid:\n%w", e.opts.Config, err)
	}
	return svc, nil
}

// listen binds addr (host:port; port 0 picks a free one).
func listen(addr, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s for the %s: %w (is another sluice serve or server using it? choose another port)", addr, what, err)
	}
	return ln, nil
}

// hostOf is the host of a host:port address.
func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// markerName is the variable that marks the processes of the engine on
// one state directory, so that whatever a function leaves behind can be
// found and stopped (runtime.KillMarked).
const markerName = "SLUICE_ENGINE_ID"

func processMarker(stateDir string) string {
	h := sha256.Sum256([]byte(stateDir))
	return markerName + "=" + hex.EncodeToString(h[:8])
}

// localURL is how this machine reaches a listener: a wildcard address
// (--host 0.0.0.0) through 127.0.0.1, so that functions and the CLI send a
// loopback Host, which the control API requires.
func localURL(addr net.Addr) string {
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
	}
	return "http://" + addr.String()
}

// functionEnvironment is what every function gets besides its configured
// environment: the engine as its AWS endpoint, and dummy credentials whose
// access key id the engine's APIs accept (signatures are not checked).
func functionEnvironment(apiURL, accessKey string, extra map[string]string) map[string]string {
	env := map[string]string{
		"AWS_ENDPOINT_URL":      apiURL,
		"AWS_ACCESS_KEY_ID":     accessKey,
		"AWS_SECRET_ACCESS_KEY": "sluice-local-secret-access-key",
		"AWS_SESSION_TOKEN":     "sluice-local-session-token",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// apiHandler dispatches the API listener: JSON 1.1 calls by X-Amz-Target,
// everything else (Lambda's REST API, the control API) by path.
type apiHandler struct {
	codeDeploy     http.Handler
	cloudFormation http.Handler // the query protocol: form-encoded POSTs to /
	mux            *http.ServeMux
}

func (h apiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if strings.HasPrefix(t, awsapi.CodeDeployTargetPrefix) {
			h.codeDeploy.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": "UnknownOperationException",
			"message": "sluice serves CodeDeploy (JSON 1.1) and Lambda (REST) here, not " + t})
		return
	}
	if r.URL.Path == "/" && r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		h.cloudFormation.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-") {
		// A JSON 1.x call that names no operation: AWS's answer, not a 404 page.
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", "UnknownOperationException")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": "UnknownOperationException",
			"message": "the request has no X-Amz-Target header naming the operation (e.g. CodeDeploy_20141006.GetDeployment)"})
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "UnknownOperationException")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]string{"Type": "User", "Message": "sluice serves no API at " + r.Method + " " + r.URL.Path})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// Handle adds a handler to the API listener's mux (e.g. the control API
// under /sluice/v1/).
func (e *Engine) Handle(pattern string, h http.Handler) { e.api.Handle(pattern, h) }

// The engine's parts, for `sluice deploy` and the control API.
func (e *Engine) Registry() *registry.Registry { return e.registry }
func (e *Engine) Deployer() *deploy.Controller { return e.deployer }
func (e *Engine) Metrics() *metrics.Store      { return e.metrics }
func (e *Engine) Alarms() *alarm.Evaluator     { return e.alarms }
func (e *Engine) Clock() clock.Clock           { return e.clock }
func (e *Engine) Invoker() *invoke.Invoker     { return e.invoker }
func (e *Engine) Logs() *logs.Store            { return e.logs }
func (e *Engine) StateDir() string             { return e.stateDir }

// GatewayURL and APIURL are where the listeners are (http://127.0.0.1:3000, …).
func (e *Engine) GatewayURL() string { return e.gatewayURL }
func (e *Engine) APIURL() string     { return e.apiURL }

// Service is the service definition being served.
func (e *Engine) Service() *config.Service {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.svc
}

// Routes are the HTTP routes being served.
func (e *Engine) Routes() []gateway.Route { return e.gateway.Routes() }

// Shutdown stops the engine: no new requests or schedule firings, in-flight
// invocations drain (until ctx ends: then they are killed), environments
// stop, and the state is closed. Deployments in progress are left for the
// next start's recovery, as a crash would leave them.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.schedules.Stop()
	e.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	for _, srv := range []*http.Server{e.gatewaySrv, e.apiSrv} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
		}()
	}
	wg.Wait()
	e.served.Wait()
	e.deployer.Close()
	if err := e.invoker.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	runtime.KillMarked(e.marker) // what the functions started outside their process groups
	e.alarms.Close()
	e.requestLog.stop()
	errs = append(errs, e.logs.Close(), e.db.Close())
	if err := control.RemoveInfo(e.stateDir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (e *Engine) writeInfo(svc *config.Service) error {
	return control.WriteInfo(e.stateDir, control.Info{PID: os.Getpid(), GatewayURL: e.gatewayURL, APIURL: e.apiURL,
		Config: svc.File, Service: svc.Name, Stage: svc.Stage, Started: time.Now().UTC(), Token: e.token})
}

// checkNotRunning refuses to start a second engine on the same state.
func checkNotRunning(stateDir string) error {
	info, err := control.ReadInfo(stateDir)
	if err != nil {
		return nil
	}
	if info.PID == os.Getpid() {
		return fmt.Errorf("an engine in this process already serves the state in %s", stateDir)
	}
	return fmt.Errorf("sluice serve is already running on this service (pid %d, %s): stop it first, or pass another --state-dir", info.PID, info.GatewayURL)
}
