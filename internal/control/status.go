package control

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/store"
)

// AliasStatus is where an alias sends traffic.
type AliasStatus struct {
	Function          string  `json:"function"`
	Alias             string  `json:"alias"`
	Version           int     `json:"version"`
	AdditionalVersion int     `json:"additionalVersion,omitempty"`
	AdditionalWeight  float64 `json:"additionalWeight,omitempty"`
	// LatestVersion is the function's newest version; DeployingVersion the
	// target of the alias's deployment in progress, if any.
	LatestVersion    int `json:"latestVersion"`
	DeployingVersion int `json:"deployingVersion,omitempty"`
}

// LatestDeployed reports whether the alias serves the function's latest
// version alone, or a deployment in progress is shifting traffic to it.
// Otherwise (a rollback, a stopped or failed deployment, a version
// published at a restart) `sluice deploy` has it to deploy.
func (a AliasStatus) LatestDeployed() bool {
	if a.DeployingVersion != 0 {
		return a.DeployingVersion == a.LatestVersion
	}
	return a.Version == a.LatestVersion && a.AdditionalVersion == 0
}

// FunctionStatus is a function's newest version.
type FunctionStatus struct {
	Function      string `json:"function"`
	LatestVersion int    `json:"latestVersion"`
}

// Status is the state of a service's engine, read from its state directory.
type Status struct {
	Running     bool                `json:"running"` // an engine is serving right now
	Engine      *Info               `json:"engine,omitempty"`
	Functions   []FunctionStatus    `json:"functions"`
	Aliases     []AliasStatus       `json:"aliases"`
	Deployments []deploy.Deployment `json:"deployments"`      // in progress, or the last of each function
	Alarms      []AlarmStatus       `json:"alarms,omitempty"` // the running engine's (ReadAlarms)
}

// ErrNoState says a service has never been served.
var ErrNoState = errors.New("no sluice state")

// openState opens the state database read for status and history.
func openState(stateDir string) (*store.DB, error) {
	if _, err := os.Stat(filepath.Join(stateDir, store.FileName)); err != nil {
		return nil, fmt.Errorf("%w in %s: start the service once with `sluice serve`", ErrNoState, stateDir)
	}
	return store.Open(stateDir)
}

// ReadStatus reads functions, aliases and the latest deployment of each
// function from stateDir.
func ReadStatus(stateDir string) (Status, error) {
	var st Status
	if info, err := ReadInfo(stateDir); err == nil {
		st.Running, st.Engine = true, &info
	}
	db, err := openState(stateDir)
	if err != nil {
		return st, err
	}
	defer db.Close()
	versions, err := db.Versions()
	if err != nil {
		return st, err
	}
	latest := map[string]int{}
	for _, v := range versions {
		latest[v.Function] = max(latest[v.Function], v.Version)
	}
	for fn, v := range latest {
		st.Functions = append(st.Functions, FunctionStatus{Function: fn, LatestVersion: v})
	}
	sort.Slice(st.Functions, func(i, j int) bool { return st.Functions[i].Function < st.Functions[j].Function })
	aliases, err := db.Aliases()
	if err != nil {
		return st, err
	}
	for _, a := range aliases {
		st.Aliases = append(st.Aliases, AliasStatus{Function: a.Function, Alias: a.Name, Version: a.Version,
			AdditionalVersion: a.AdditionalVersion, AdditionalWeight: a.AdditionalWeight, LatestVersion: latest[a.Function]})
	}
	all, err := deploy.History(db, "")
	if err != nil {
		return st, err
	}
	last := map[string]int{}
	for i, d := range all {
		if d.Creator == deploy.CreatorRollback {
			continue // shown through the deployment it rolled back
		}
		last[d.Target.FunctionName] = i
	}
	for _, i := range last {
		st.Deployments = append(st.Deployments, all[i])
	}
	sort.Slice(st.Deployments, func(i, j int) bool { return st.Deployments[i].CreateTime.Before(st.Deployments[j].CreateTime) })
	for i := range st.Aliases {
		a := &st.Aliases[i]
		for _, d := range all {
			if d.Target.FunctionName == a.Function && d.Target.FunctionAlias == a.Alias && !d.Status.Done() {
				a.DeployingVersion = d.Target.TargetVersion
			}
		}
	}
	return st, nil
}

// ReadHistory reads the deployments of one function ("" for all), oldest first.
func ReadHistory(stateDir, function string) ([]deploy.Deployment, error) {
	db, err := openState(stateDir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return deploy.History(db, function)
}
