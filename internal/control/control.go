// Package control is how the sluice CLI talks to a running engine: a small
// JSON API under /sluice/v1/ on the engine's API listener, and its client.
//
// Only commands that change the engine's state go through it (deploy,
// stop, rollback, promote, retry) or need it live (watching a deployment).
// Status and history read the state database directly, so they work
// whether or not an engine is running.
//
// Endpoints (bodies are JSON and optional; errors are {"code","error"} with
// an HTTP status: 404 DeploymentNotFound, GroupNotFound, VersionNotFound;
// 409 DeploymentInProgress, DeploymentCompleted, NothingToDeploy,
// NoDeploymentInProgress, CannotPromote, NothingToRetry; 400 BadRequest,
// InvalidTarget, InvalidDeploymentType, PublishFailed):
//
//	POST deploy                     {"function","ignoreAlarms","type"} → DeployResult
//	                                function: publish and deploy only it (its key or deployed name); the others keep their versions;
//	                                ignoreAlarms: the deployments' alarms do not stop them (recorded in each);
//	                                type: e.g. "AllAtOnce", instead of the groups' own deployment type
//	GET  deployments/{id}           → the deployment
//	POST deployments/{id}/stop      {"rollback"} → the stopped deployment
//	POST functions/{function}/stop  {"rollback"} → the function's deployment in progress, stopped
//	POST functions/{function}/rollback {"toVersion"} → the rollback deployment; alarms do not stop
//	                                it; a rollback in progress or ended in the last 5 s is returned
//	                                instead of a new one (deploy.RollbackGrace)
//	POST functions/{function}/promote → the deployment in progress, at 100% now; its
//	                                AfterAllowTraffic hook still runs (local only: AWS has no promote)
//	POST functions/{function}/retry → a new deployment of the target of the function's last
//	                                deployment, which must have failed or been stopped
//	GET  watch                      server-sent events: every deployment change
//
// {id} is a deployment id (d-…); {function} is a function's deployed name
// or its deployment group's name (the CLI turns a serverless.yml key into
// the deployed name). Every endpoint that returns a deployment takes
// ?wait=true to answer only once it has ended (or the client has gone).
package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Prefix is the path prefix of the control API.
const Prefix = "/sluice/v1/"

// InfoFile is the file in the state directory that tells CLI commands where
// the running engine listens. The engine writes it when it is ready and
// removes it when it stops.
const InfoFile = "engine.json"

// Info describes a running engine.
type Info struct {
	PID        int       `json:"pid"`
	GatewayURL string    `json:"gatewayUrl"` // the HTTP events
	APIURL     string    `json:"apiUrl"`     // AWS APIs and the control API
	Config     string    `json:"config"`     // the service definition it serves
	Service    string    `json:"service"`
	Stage      string    `json:"stage"`
	Started    time.Time `json:"started"`
	// Token authenticates the CLI to the control API; the file is readable
	// by its owner only, which is what makes the token a secret.
	Token string `json:"token,omitempty"`
}

// WriteInfo records a running engine in stateDir, atomically, readable by
// its owner only (it holds the control API's token).
func WriteInfo(stateDir string, info Info) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(stateDir, "."+InfoFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(stateDir, InfoFile))
}

// RemoveInfo forgets the engine recorded in stateDir.
func RemoveInfo(stateDir string) error {
	err := os.Remove(filepath.Join(stateDir, InfoFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// ErrNoEngine says no engine is running for a state directory.
var ErrNoEngine = errors.New("no sluice engine is running for this service")

// ReadInfo finds the engine running for stateDir. A file left by an engine
// that was killed (its process is gone) counts as no engine.
func ReadInfo(stateDir string) (Info, error) {
	var info Info
	b, err := os.ReadFile(filepath.Join(stateDir, InfoFile))
	if errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("%w (no %s in %s); start one with `sluice serve`", ErrNoEngine, InfoFile, stateDir)
	}
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("%s is unreadable (%v); remove it and start the engine again", filepath.Join(stateDir, InfoFile), err)
	}
	if !alive(info.PID) {
		return info, fmt.Errorf("%w (the engine recorded in %s, pid %d, has exited); start one with `sluice serve`", ErrNoEngine, filepath.Join(stateDir, InfoFile), info.PID)
	}
	return info, nil
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}
