package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/schedule"
)

// Publisher publishes new versions of the functions whose code or
// configuration changed (the engine re-reads serverless.yml) and starts
// their deployments, as one step: it refuses while a deployment is in
// progress (deploy.ErrAlreadyInProgress) or when the service cannot be
// published (*PublishError), before publishing anything.
type Publisher interface {
	PublishAndDeploy() ([]Change, error)
}

// DeployOptions are the options of one deploy (the body of POST deploy).
type DeployOptions struct {
	// Function, when set, deploys only this function (its key in
	// serverless.yml or its deployed name); the others stay as they are.
	Function string `json:"function,omitempty"`
	// IgnoreAlarms: the deployments this deploy starts are not stopped by
	// their groups' alarms; each records it (ignoreAlarms).
	IgnoreAlarms bool `json:"ignoreAlarms,omitempty"`
	// Type, when set, replaces the groups' deployment type for this deploy
	// (e.g. AllAtOnce, for an emergency fix).
	Type string `json:"type,omitempty"`
	// Schedule is Type parsed, set by the server.
	Schedule *schedule.Type `json:"-"`
}

// OptionsPublisher is a Publisher that takes a deploy's options.
type OptionsPublisher interface {
	PublishAndDeployWith(DeployOptions) ([]Change, error)
}

// PublishError refuses a deploy whose service cannot be published: its
// configuration is invalid, or a function cannot run. Nothing changed.
type PublishError struct{ Err error }

func (e *PublishError) Error() string { return e.Err.Error() }
func (e *PublishError) Unwrap() error { return e.Err }

// Change is one function's new version and how it reaches traffic: at
// once, or through a deployment from the version its alias serves.
type Change struct {
	Key         string `json:"key"`      // the function's key in serverless.yml
	Function    string `json:"function"` // its deployed name
	FromVersion int    `json:"fromVersion"`
	ToVersion   int    `json:"toVersion"`
	// Group is the deployment group when the function deploys gradually;
	// without one the new version serves at once.
	Group string `json:"group,omitempty"`
	// Set by the deploy call:
	DeploymentID string `json:"deploymentId,omitempty"`
	Error        string `json:"error,omitempty"`
}

// DeployResult answers POST /sluice/v1/deploy.
type DeployResult struct {
	Changes []Change `json:"changes"`
}

// Server serves the control API.
type Server struct {
	Deployments *deploy.Controller
	Registry    *registry.Registry
	Publisher   Publisher
	Logger      *slog.Logger

	once sync.Once
	mux  *http.ServeMux
}

// apiErr is an error response: a message that says what to do, and a code.
type apiErr struct {
	Code    string `json:"code"`
	Message string `json:"error"`
	status  int
}

func (e *apiErr) Error() string { return e.Message }

// ServeHTTP routes the control API; the routes are built on first use.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.route)
	s.mux.ServeHTTP(w, r)
}

func (s *Server) route() {
	p := strings.TrimSuffix(Prefix, "/")
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST "+p+"/deploy", s.json(s.deploy))
	s.mux.HandleFunc("GET "+p+"/watch", s.watch)
	s.mux.HandleFunc("GET "+p+"/deployments/{id}", s.json(func(r *http.Request) (any, error) {
		return s.result(r)(s.Deployments.Get(r.PathValue("id")))
	}))
	s.mux.HandleFunc("POST "+p+"/deployments/{id}/stop", s.json(s.stop))
	s.mux.HandleFunc("POST "+p+"/functions/{function}/stop", s.json(s.stop))
	s.mux.HandleFunc("POST "+p+"/functions/{function}/rollback", s.json(s.rollback))
	s.mux.HandleFunc("POST "+p+"/functions/{function}/promote", s.json(func(r *http.Request) (any, error) {
		return s.result(r)(s.Deployments.Promote(r.PathValue("function")))
	}))
	s.mux.HandleFunc("POST "+p+"/functions/{function}/retry", s.json(func(r *http.Request) (any, error) {
		return s.result(r)(s.Deployments.Retry(r.PathValue("function")))
	}))
	s.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, &apiErr{Code: "NotFound", Message: fmt.Sprintf("no control API at %s %s", r.Method, r.URL.Path), status: http.StatusNotFound})
	})
}

// json adapts a handler that returns a value or an error to JSON responses.
func (s *Server) json(h func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := h(r)
		if err != nil {
			writeErr(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	}
}

// RollbackRequest is the body of POST functions/{function}/rollback (optional).
type RollbackRequest struct {
	ToVersion int `json:"toVersion,omitempty"` // 0: the version served before
}

func (s *Server) rollback(r *http.Request) (any, error) {
	var in RollbackRequest
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return s.result(r)(s.Deployments.Rollback(deploy.RollbackInput{Group: r.PathValue("function"), ToVersion: in.ToVersion}))
}

// stop serves deployments/{id}/stop and functions/{function}/stop: either
// names the deployment in progress.
func (s *Server) stop(r *http.Request) (any, error) {
	var in struct {
		Rollback bool `json:"rollback"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	name := r.PathValue("id")
	if name == "" {
		name = r.PathValue("function")
	}
	return s.result(r)(s.Deployments.Stop(name, in.Rollback))
}

// result answers with a deployment; with ?wait=true, once it has ended
// (or the client has gone away).
func (s *Server) result(r *http.Request) func(deploy.Deployment, error) (any, error) {
	return func(d deploy.Deployment, err error) (any, error) {
		if err != nil || r.URL.Query().Get("wait") != "true" {
			return d, err
		}
		return s.Deployments.Wait(r.Context(), d.ID)
	}
}

func decode(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v); err != nil {
		return &apiErr{Code: "BadRequest", Message: "the request is not valid JSON: " + err.Error(), status: http.StatusBadRequest}
	}
	return nil
}

func writeErr(w http.ResponseWriter, err error) {
	var ae *apiErr
	var pe *PublishError
	if errors.As(err, &pe) {
		ae = &apiErr{Code: "PublishFailed", Message: pe.Error(), status: http.StatusBadRequest}
	} else if !errors.As(err, &ae) {
		ae = &apiErr{Code: "Error", Message: err.Error(), status: http.StatusInternalServerError}
		for _, m := range []struct {
			err    error
			code   string
			status int
		}{
			{deploy.ErrDeploymentNotFound, "DeploymentNotFound", http.StatusNotFound},
			{deploy.ErrGroupNotFound, "GroupNotFound", http.StatusNotFound},
			{deploy.ErrAlreadyInProgress, "DeploymentInProgress", http.StatusConflict},
			{deploy.ErrAlreadyCompleted, "DeploymentCompleted", http.StatusConflict},
			{deploy.ErrNothingToDeploy, "NothingToDeploy", http.StatusConflict},
			{deploy.ErrNoDeploymentActive, "NoDeploymentInProgress", http.StatusConflict},
			{deploy.ErrCannotPromote, "CannotPromote", http.StatusConflict},
			{deploy.ErrNothingToRetry, "NothingToRetry", http.StatusConflict},
			{deploy.ErrInvalidTarget, "InvalidTarget", http.StatusBadRequest},
			{registry.ErrVersionNotFound, "VersionNotFound", http.StatusNotFound},
		} {
			if errors.Is(err, m.err) {
				ae.Code, ae.status = m.code, m.status
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.status)
	json.NewEncoder(w).Encode(ae)
}

// deploy publishes what changed and starts a deployment for each function
// that deploys gradually; the others switch at once. A refused deploy
// changes nothing.
//
// Options (DeployOptions) need an OptionsPublisher; they are checked
// before anything is published.
func (s *Server) deploy(r *http.Request) (any, error) {
	var in DeployOptions
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.Type != "" {
		t, err := schedule.Parse(in.Type)
		if err != nil {
			return nil, &apiErr{Code: "InvalidDeploymentType", Message: err.Error(), status: http.StatusBadRequest}
		}
		in.Schedule = &t
	}
	var changes []Change
	var err error
	if op, ok := s.Publisher.(OptionsPublisher); ok {
		changes, err = op.PublishAndDeployWith(in)
	} else if in != (DeployOptions{}) {
		return nil, &apiErr{Code: "NotSupported", Message: "this engine takes no deploy options; deploy without them", status: http.StatusNotImplemented}
	} else {
		changes, err = s.Publisher.PublishAndDeploy()
	}
	if err != nil {
		return nil, err
	}
	return DeployResult{Changes: changes}, nil
}

// watch streams every deployment change as server-sent events until the
// client goes away. The deployments in progress are sent first.
func (s *Server) watch(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeErr(w, errors.New("the connection cannot stream"))
		return
	}
	updates := make(chan deploy.Deployment, 256)
	cancel := s.Deployments.Subscribe(func(d deploy.Deployment) {
		select {
		case updates <- d:
		default: // a client this far behind gets the next update instead
		}
	})
	defer cancel()
	// The stream lasts as long as the client watches: no write deadline.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(d deploy.Deployment) bool {
		b, _ := json.Marshal(d)
		if _, err := fmt.Fprintf(w, "event: deployment\ndata: %s\n\n", b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	for _, d := range s.Deployments.Active() {
		if !send(d) {
			return
		}
	}
	fmt.Fprint(w, "event: ready\ndata: {}\n\n")
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case d := <-updates:
			if !send(d) {
				return
			}
		}
	}
}
