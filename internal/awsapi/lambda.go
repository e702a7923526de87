package awsapi

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/logs"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/runtime"
)

// LambdaPathPrefix is where Lambda's REST API lives.
const LambdaPathPrefix = lambdaFunctions

// Lambda serves Lambda's REST API: Invoke, and the read-only GetFunction,
// ListFunctions, ListVersionsByFunction, GetAlias and ListAliases.
type Lambda struct {
	Invoker  *invoke.Invoker
	Registry *registry.Registry
	// Logs, when set, serves X-Amz-Log-Type: Tail.
	Logs *logs.Store

	once sync.Once
	mux  *http.ServeMux
}

// lambdaError writes an error the way Lambda does: the type in the
// X-Amzn-ErrorType header, {"Type": "User", "Message": …} as the body.
func lambdaError(w http.ResponseWriter, status int, typ, msg string) {
	kind := "User"
	if status >= 500 {
		kind = "Service"
	}
	body, _ := json.Marshal(map[string]string{"Type": kind, "Message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func lambdaJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// Lambda's REST API, routed by http.ServeMux patterns. {function} is a
// name, a partial ARN or an ARN, with or without a qualifier.
const (
	lambdaFunctions = "/2015-03-31/functions"
	lambdaFunction  = lambdaFunctions + "/{function}"
)

// Lambda's input limits: a function name (or ARN, with its qualifier) of
// at most 170 characters whose name part is 1-64 letters, digits, '-' or
// '_', and a client context of at most 3,583 bytes of base64.
const (
	maxFunctionNameLength = 170
	maxClientContext      = 3583
)

var functionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ServeHTTP routes Lambda's REST API; the routes are built on first use.
func (l *Lambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.once.Do(l.route)
	l.mux.ServeHTTP(w, r)
}

func (l *Lambda) route() {
	l.mux = http.NewServeMux()
	listFunctions := func(w http.ResponseWriter, _ *http.Request) { l.listFunctions(w) }
	l.mux.HandleFunc("GET "+lambdaFunctions, listFunctions)
	l.mux.HandleFunc("GET "+lambdaFunctions+"/{$}", listFunctions)
	l.mux.HandleFunc("POST "+lambdaFunction+"/invocations", l.named(l.invoke))
	l.mux.HandleFunc("GET "+lambdaFunction, l.named(func(w http.ResponseWriter, _ *http.Request, name, qualifier string) {
		l.getFunction(w, name, qualifier)
	}))
	l.mux.HandleFunc("GET "+lambdaFunction+"/versions", l.named(func(w http.ResponseWriter, _ *http.Request, name, _ string) {
		l.listVersions(w, name)
	}))
	l.mux.HandleFunc("GET "+lambdaFunction+"/aliases", l.named(func(w http.ResponseWriter, _ *http.Request, name, _ string) {
		l.listAliases(w, name)
	}))
	l.mux.HandleFunc("GET "+lambdaFunction+"/aliases/{alias}", l.named(func(w http.ResponseWriter, r *http.Request, name, _ string) {
		l.getAlias(w, name, r.PathValue("alias"))
	}))
	l.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		lambdaError(w, http.StatusNotFound, "UnknownOperationException",
			"sluice implements Invoke, GetFunction, ListFunctions, ListVersionsByFunction, GetAlias and ListAliases of the Lambda API, not "+r.Method+" "+r.URL.Path)
	})
}

// named resolves the {function} of a route and its Qualifier parameter
// before calling h.
func (l *Lambda) named(h func(w http.ResponseWriter, r *http.Request, name, qualifier string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw := r.PathValue("function")
		if len(raw) > maxFunctionNameLength {
			lambdaError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf(
				"1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to %d", raw, maxFunctionNameLength))
			return
		}
		name, qualifier, err := l.parseName(raw)
		if err == nil && !functionNameRE.MatchString(name) {
			lambdaError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf(
				"1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: a name of 1 to 64 letters, digits, '-' or '_'", raw))
			return
		}
		if err != nil {
			lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
			return
		}
		if q := r.URL.Query().Get("Qualifier"); q != "" {
			if qualifier != "" && q != qualifier {
				lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException",
					fmt.Sprintf("the function name carries qualifier %s and the Qualifier parameter says %s: give one", qualifier, q))
				return
			}
			qualifier = q
		}
		h(w, r, name, qualifier)
	}
}

// parseName reads a function name as Lambda accepts it: name, name:qualifier,
// account:function:name[:qualifier] or arn:aws:lambda:region:account:function:name[:qualifier].
func (l *Lambda) parseName(s string) (name, qualifier string, err error) {
	f := strings.Split(s, ":")
	switch {
	case len(f) >= 7 && f[0] == "arn" && f[2] == "lambda" && f[5] == "function" && len(f) <= 8:
		if f[3] != l.Invoker.Region() || f[4] != l.Invoker.Account() {
			return "", "", fmt.Errorf("%s is not in this engine's region %s and account %s", s, l.Invoker.Region(), l.Invoker.Account())
		}
		name = f[6]
		if len(f) == 8 {
			qualifier = f[7]
		}
	case len(f) >= 3 && f[1] == "function" && len(f) <= 4:
		if f[0] != l.Invoker.Account() {
			return "", "", fmt.Errorf("%s is not in this engine's account %s", s, l.Invoker.Account())
		}
		name = f[2]
		if len(f) == 4 {
			qualifier = f[3]
		}
	case len(f) == 1:
		name = f[0]
	case len(f) == 2:
		name, qualifier = f[0], f[1]
	default:
		return "", "", fmt.Errorf("%q is not a function name, partial ARN or ARN", s)
	}
	if name == "" {
		return "", "", fmt.Errorf("%q names no function", s)
	}
	return name, qualifier, nil
}

// notFound maps lookup errors to ResourceNotFoundException.
func (l *Lambda) notFound(w http.ResponseWriter, err error, name, qualifier string) bool {
	if errors.Is(err, registry.ErrFunctionNotFound) || errors.Is(err, registry.ErrVersionNotFound) || errors.Is(err, registry.ErrAliasNotFound) {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+l.Invoker.ARN(name, qualifier))
		return true
	}
	return false
}

func (l *Lambda) invoke(w http.ResponseWriter, r *http.Request, name, qualifier string) {
	typ, err := invoke.ParseType(r.Header.Get("X-Amz-Invocation-Type"))
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", err.Error())
		return
	}
	limit := invoke.MaxSyncPayload
	if typ == invoke.Event {
		limit = invoke.MaxAsyncPayload
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "cannot read the request body: "+err.Error())
		return
	}
	if len(payload) > limit {
		lambdaError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the %s invocation", limit, typ))
		return
	}
	if len(payload) > 0 && !json.Valid(payload) {
		lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: the payload must be a JSON document")
		return
	}
	if len(payload) == 0 {
		payload = nil
	}
	req := invoke.Request{Payload: payload}
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		if len(cc) > maxClientContext {
			lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException",
				fmt.Sprintf("Client context must be a valid Base64-encoded JSON object of at most %d bytes; got %d bytes", maxClientContext, len(cc)))
			return
		}
		raw, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(raw) {
			lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")
			return
		}
		req.ClientContext = string(raw)
	}
	target, err := l.Invoker.Target(name, qualifier)
	if l.notFound(w, err, name, qualifier) {
		return
	}
	if err != nil {
		lambdaError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return
	}
	switch typ {
	case invoke.DryRun:
		if err := target.Check(); l.notFound(w, err, name, qualifier) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	case invoke.Event:
		id, err := target.InvokeAsync(req, nil)
		if l.notFound(w, err, name, qualifier) {
			return
		}
		if err != nil {
			lambdaError(w, http.StatusInternalServerError, "ServiceException", err.Error())
			return
		}
		w.Header().Set("X-Amzn-Requestid", id)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	res, err := target.Invoke(r.Context(), req)
	switch {
	case errors.Is(err, invoke.ErrThrottled):
		// Lambda's two throttles: the function's reserved concurrency, or the
		// account's limit, which sluice's --max-environments stands for.
		reason := "ReservedFunctionConcurrentInvocationLimitExceeded"
		if errors.Is(err, runtime.ErrEnvironmentsBusy) {
			reason = "ConcurrentInvocationLimitExceeded"
		}
		body, _ := json.Marshal(map[string]string{"Type": "User", "Message": "Rate Exceeded.", "Reason": reason})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write(body)
		return
	case l.notFound(w, err, name, qualifier):
		return
	case err != nil:
		lambdaError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Requestid", res.RequestID)
	h.Set("X-Amz-Executed-Version", res.ExecutedVersion)
	if res.FunctionError != "" {
		h.Set("X-Amz-Function-Error", res.FunctionError)
	}
	if r.Header.Get("X-Amz-Log-Type") == "Tail" && l.Logs != nil {
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(l.tail(r.Context(), name, res)))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload)
}

// tailBytes is how much of the log an X-Amz-Log-Result carries.
const tailBytes = 4096

// tail is the end of the invocation's log: its stream's lines from START
// to REPORT. The runtime writes them through a pipe, so they are awaited
// (briefly) rather than read at once.
func (l *Lambda) tail(ctx context.Context, function string, res runtime.Result) []byte {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var out []byte
	started := false
	_ = l.Logs.Follow(ctx, logs.GroupName(function), logs.Filter{Version: res.ExecutedVersion}, func(ev logs.Event) {
		if ev.Stream != res.LogStream {
			return
		}
		if strings.HasPrefix(ev.Message, "START RequestId: "+res.RequestID) {
			started = true
		}
		if !started {
			return
		}
		out = append(out, ev.Message...)
		out = append(out, '\n')
		if strings.HasPrefix(ev.Message, "REPORT RequestId: "+res.RequestID) {
			started = false
			cancel()
		}
	})
	if len(out) > tailBytes {
		out = out[len(out)-tailBytes:]
	}
	return out
}

// functionConfiguration is Lambda's FunctionConfiguration.
type functionConfiguration struct {
	FunctionName     string            `json:"FunctionName"`
	FunctionArn      string            `json:"FunctionArn"`
	Runtime          string            `json:"Runtime"`
	Role             string            `json:"Role"`
	Handler          string            `json:"Handler"`
	CodeSize         int64             `json:"CodeSize"`
	Description      string            `json:"Description"`
	Timeout          int               `json:"Timeout"`
	MemorySize       int               `json:"MemorySize"`
	LastModified     string            `json:"LastModified"`
	CodeSha256       string            `json:"CodeSha256"`
	Version          string            `json:"Version"`
	Environment      *environment      `json:"Environment,omitempty"`
	State            string            `json:"State"`
	LastUpdateStatus string            `json:"LastUpdateStatus"`
	PackageType      string            `json:"PackageType"`
	Architectures    []string          `json:"Architectures"`
	RevisionID       string            `json:"RevisionId"`
	Layers           []json.RawMessage `json:"Layers,omitempty"`
}

type environment struct {
	Variables map[string]string `json:"Variables"`
}

func (l *Lambda) configuration(v *registry.Version, qualifier string) functionConfiguration {
	c := functionConfiguration{
		FunctionName:     v.Function,
		FunctionArn:      l.Invoker.ARN(v.Function, qualifier),
		Runtime:          v.Config.Runtime,
		Role:             "arn:aws:iam::" + l.Invoker.Account() + ":role/sluice-local",
		Handler:          v.Config.Handler,
		Description:      v.Description,
		Timeout:          int((v.Config.Timeout + time.Second - 1) / time.Second),
		MemorySize:       v.Config.MemorySize,
		LastModified:     v.Created.UTC().Format("2006-01-02T15:04:05.000-0700"),
		CodeSha256:       hexToBase64(v.CodeSHA256),
		Version:          qualifier,
		State:            "Active",
		LastUpdateStatus: "Successful",
		PackageType:      "Zip",
		Architectures:    []string{"x86_64"},
		RevisionID:       v.ConfigSHA256[:min(len(v.ConfigSHA256), 32)],
	}
	if len(v.Config.Environment) > 0 {
		c.Environment = &environment{Variables: v.Config.Environment}
	}
	return c
}

func hexToBase64(h string) string {
	b, err := hex.DecodeString(h)
	if err != nil {
		return h
	}
	return base64.StdEncoding.EncodeToString(b)
}

func (l *Lambda) function(w http.ResponseWriter, name string) *registry.Function {
	fn := l.Registry.Function(name)
	if fn == nil || fn.LatestVersion() == nil {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+l.Invoker.ARN(name, ""))
		return nil
	}
	return fn
}

func (l *Lambda) getFunction(w http.ResponseWriter, name, qualifier string) {
	fn := l.function(w, name)
	if fn == nil {
		return
	}
	rt, _, err := fn.Resolve(qualifier)
	if l.notFound(w, err, name, qualifier) {
		return
	}
	q := qualifier
	if q == "" {
		q = registry.Latest // sluice's $LATEST is the newest version
	}
	if _, err := strconv.Atoi(q); err != nil && q != registry.Latest {
		q = rt.Version.Qualifier() // an alias: the version it points at
	}
	lambdaJSON(w, http.StatusOK, map[string]any{
		"Configuration": l.configuration(rt.Version, q),
		"Code":          map[string]string{"RepositoryType": "S3", "Location": "file://" + rt.Version.CodeDir},
	})
}

func (l *Lambda) listFunctions(w http.ResponseWriter) {
	var out []functionConfiguration
	for _, fn := range l.Registry.Functions() {
		if v := fn.LatestVersion(); v != nil {
			out = append(out, l.configuration(v, registry.Latest))
		}
	}
	lambdaJSON(w, http.StatusOK, map[string]any{"Functions": out})
}

func (l *Lambda) listVersions(w http.ResponseWriter, name string) {
	fn := l.function(w, name)
	if fn == nil {
		return
	}
	out := []functionConfiguration{l.configuration(fn.LatestVersion(), registry.Latest)}
	for _, v := range fn.Versions() {
		out = append(out, l.configuration(v, v.Qualifier()))
	}
	lambdaJSON(w, http.StatusOK, map[string]any{"Versions": out})
}

// aliasConfiguration is Lambda's AliasConfiguration.
type aliasConfiguration struct {
	AliasArn        string         `json:"AliasArn"`
	Name            string         `json:"Name"`
	FunctionVersion string         `json:"FunctionVersion"`
	Description     string         `json:"Description"`
	RoutingConfig   *routingConfig `json:"RoutingConfig,omitempty"`
	RevisionID      string         `json:"RevisionId"`
}

type routingConfig struct {
	AdditionalVersionWeights map[string]float64 `json:"AdditionalVersionWeights"`
}

func (l *Lambda) alias(a *registry.Alias) aliasConfiguration {
	rt := a.Routing()
	c := aliasConfiguration{AliasArn: l.Invoker.ARN(a.Function, a.Name), Name: a.Name, FunctionVersion: rt.Version.Qualifier()}
	if rt.Additional != nil {
		c.RoutingConfig = &routingConfig{AdditionalVersionWeights: map[string]float64{rt.Additional.Qualifier(): rt.Weight}}
	}
	c.RevisionID = fmt.Sprintf("%s-%s-%g", c.FunctionVersion, additionalOf(rt), rt.Weight)
	return c
}

func additionalOf(rt *registry.Routing) string {
	if rt.Additional == nil {
		return "0"
	}
	return rt.Additional.Qualifier()
}

func (l *Lambda) getAlias(w http.ResponseWriter, name, alias string) {
	fn := l.function(w, name)
	if fn == nil {
		return
	}
	a := fn.Alias(alias)
	if a == nil {
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Alias not found: "+l.Invoker.ARN(name, alias))
		return
	}
	lambdaJSON(w, http.StatusOK, l.alias(a))
}

func (l *Lambda) listAliases(w http.ResponseWriter, name string) {
	fn := l.function(w, name)
	if fn == nil {
		return
	}
	out := []aliasConfiguration{}
	for _, a := range fn.Aliases() {
		out = append(out, l.alias(a))
	}
	lambdaJSON(w, http.StatusOK, map[string]any{"Aliases": out})
}
