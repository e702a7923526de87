package engine

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/alerts"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/deploy"
)

// canaryAlarms are the alarms of deploymentSettings.canaryAlarms at work.
// On AWS each watches ExecutedVersion = Fn::GetAtt <Version>.Version, which
// CloudFormation sets to the new version before the alias update (the
// alias depends on the alarms) starts the deployment. Here a deployment's
// creation does the same: the alarms of its function are put again on the
// target version before the deployment watches them.
type canaryAlarms struct {
	mu         sync.Mutex
	byFunction map[string][]alerts.CanaryAlarm // by deployed function name
	version    map[string]string               // function → the version its canary alarms watch
	generation map[string]int                  // function → deployments followed, so a late rollback does not undo a newer one
	ref        alarm.RefResolver
}

// canaryVersionID stands for the function's version resource in the
// alarms' template form; WithExecutedVersion replaces it.
const canaryVersionID = "Version"

// buildCanaryAlarms resolves every gradually deployed function's canaryAlarms.
func buildCanaryAlarms(svc *config.Service, gradual bool) (map[string][]alerts.CanaryAlarm, config.Diagnostics) {
	out := map[string][]alerts.CanaryAlarm{}
	var diags config.Diagnostics
	if !gradual {
		return out, nil
	}
	for _, f := range svc.Functions {
		if f.DeploymentSettings == nil || f.Image != "" {
			continue
		}
		list, ds := alerts.CanaryAlarms(svc, f, canaryVersionID)
		diags = append(diags, ds...)
		if len(list) > 0 {
			out[f.Name] = list
		}
	}
	return out, diags
}

// putCanaryAlarms puts the service's canary alarms, each on the version its
// function's alarms already watch, else the one its alias points at, and
// deletes those no longer configured.
func (e *Engine) putCanaryAlarms(set *alarmSet) error {
	c := &e.canary
	c.mu.Lock()
	defer c.mu.Unlock()
	c.initLocked()
	for fn, old := range c.byFunction {
		for _, a := range old {
			if !hasCanary(set.canary[fn], a.AlarmName) {
				e.alarms.Delete(a.AlarmName)
			}
		}
	}
	c.byFunction, c.ref = set.canary, set.ref
	for fn := range set.canary {
		v := c.version[fn]
		if v == "" {
			v = e.aliasVersion(fn, set.canary[fn])
		}
		if err := e.pointCanaryAlarmsLocked(fn, v); err != nil {
			return err
		}
	}
	return nil
}

func (c *canaryAlarms) initLocked() {
	if c.version == nil {
		c.version, c.generation = map[string]string{}, map[string]int{}
	}
}

func hasCanary(list []alerts.CanaryAlarm, name string) bool {
	for _, a := range list {
		if a.AlarmName == name {
			return true
		}
	}
	return false
}

// aliasVersion is the version the function's alias points at (its main
// version during a deployment), or "" when it has none yet.
func (e *Engine) aliasVersion(fn string, list []alerts.CanaryAlarm) string {
	f := e.registry.Function(fn)
	if f == nil || len(list) == 0 {
		return ""
	}
	// Every canary alarm of a function is on its alias: Resource = fn:alias.
	_, alias, _ := strings.Cut(list[0].Dimensions[1].Value, ":")
	if a := f.Alias(alias); a != nil {
		return strconv.Itoa(a.Routing().Version.Number)
	}
	if v := f.LatestVersion(); v != nil {
		return strconv.Itoa(v.Number)
	}
	return ""
}

// pointCanaryAlarmsLocked puts fn's canary alarms on version.
func (e *Engine) pointCanaryAlarmsLocked(fn, version string) error {
	c := &e.canary
	if version == "" {
		return nil
	}
	for _, a := range c.byFunction[fn] {
		spec, err := alarm.FromCloudFormation(a.LogicalID, a.WithExecutedVersion(version), c.ref)
		if err != nil {
			return fmt.Errorf("canary alarm %s of %s: %w", a.Name, a.Function, err)
		}
		if _, err := e.alarms.Put(spec); err != nil {
			return fmt.Errorf("canary alarm %s of %s: %w", a.Name, a.Function, err)
		}
	}
	c.version[fn] = version
	return nil
}

// followDeployment points a function's canary alarms at the version a new
// deployment shifts traffic to, before the deployment starts watching them,
// and after a rollback at the version the alias returned to.
//
// A rollback is published from inside the stopped deployment's run, whose
// alarm watches are still subscribed: putting the alarms there could call
// back into that run, so it is done on another goroutine, and dropped if a
// newer deployment of the function has re-pointed them meanwhile.
func (e *Engine) followDeployment(d deploy.Deployment) {
	c := &e.canary
	fn, version := d.Target.FunctionName, strconv.Itoa(d.Target.TargetVersion)
	switch {
	case d.Status == deploy.StatusCreated:
		c.mu.Lock()
		defer c.mu.Unlock()
		c.initLocked()
		c.generation[fn]++
		if err := e.pointCanaryAlarmsLocked(fn, version); err != nil {
			e.log.Error("canary alarms cannot follow the deployment", "deployment", d.ID, "err", err)
		}
	case d.Creator == deploy.CreatorRollback:
		c.mu.Lock()
		c.initLocked()
		c.generation[fn]++
		gen := c.generation[fn]
		c.mu.Unlock()
		go func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.generation[fn] != gen {
				return
			}
			if err := e.pointCanaryAlarmsLocked(fn, version); err != nil {
				e.log.Error("canary alarms cannot follow the rollback", "deployment", d.ID, "err", err)
			}
		}()
	}
}

// serveAlarms answers control.AlarmsPath: every alarm's state, canary
// alarms with the version they watch.
func (e *Engine) serveAlarms(w http.ResponseWriter, _ *http.Request) {
	c := &e.canary
	c.mu.Lock()
	canary := map[string][2]string{}
	for fn, list := range c.byFunction {
		for _, a := range list {
			canary[a.AlarmName] = [2]string{fn, c.version[fn]}
		}
	}
	c.mu.Unlock()
	out := []control.AlarmStatus{}
	for _, a := range e.alarms.Alarms() {
		st := a.State()
		s := control.AlarmStatus{Name: a.Name(), State: st.Value.String(), Reason: st.Reason, Updated: st.Updated}
		if fv, ok := canary[a.Name()]; ok {
			s.Function, s.ExecutedVersion = fv[0], fv[1]
		}
		out = append(out, s)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
