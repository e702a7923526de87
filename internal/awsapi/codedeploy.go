package awsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/registry"
)

// CodeDeployTargetPrefix prefixes the X-Amz-Target header of CodeDeploy calls.
const CodeDeployTargetPrefix = "CodeDeploy_20141006."

// CodeDeploy serves the CodeDeploy API (JSON 1.1) over a deployment engine.
type CodeDeploy struct {
	Engine *deploy.Controller
}

func (c *CodeDeploy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), CodeDeployTargetPrefix)
	handler, ok := map[string]func(*http.Request) (any, error){
		"PutLifecycleEventHookExecutionStatus": c.putLifecycleEventHookExecutionStatus,
		"GetDeployment":                        c.getDeployment,
		"BatchGetDeployments":                  c.batchGetDeployments,
		"ListDeployments":                      c.listDeployments,
		"StopDeployment":                       c.stopDeployment,
		"CreateDeployment":                     c.createDeployment,
		"GetDeploymentTarget":                  c.getDeploymentTarget,
		"ListDeploymentTargets":                c.listDeploymentTargets,
		"ListApplications":                     c.listApplications,
		"ListDeploymentGroups":                 c.listDeploymentGroups,
		"GetDeploymentGroup":                   c.getDeploymentGroup,
	}[op]
	if r.Method != http.MethodPost || !ok {
		writeJSON11Error(w, errorf(http.StatusBadRequest, "UnknownOperationException",
			fmt.Sprintf("sluice does not implement CodeDeploy operation %q", op)))
		return
	}
	out, err := handler(r)
	if err != nil {
		writeJSON11Error(w, err)
		return
	}
	writeJSON11(w, out)
}

// deployError maps the engine's errors to CodeDeploy's exceptions.
func deployError(err error) error {
	for _, m := range []struct {
		err error
		typ string
	}{
		{deploy.ErrDeploymentNotFound, "DeploymentDoesNotExistException"},
		{deploy.ErrGroupNotFound, "DeploymentGroupDoesNotExistException"},
		{deploy.ErrAlreadyInProgress, "DeploymentLimitExceededException"},
		{deploy.ErrAlreadyCompleted, "DeploymentAlreadyCompletedException"},
		{deploy.ErrHookExecutionNotFound, "InvalidLifecycleEventHookExecutionIdException"},
		{deploy.ErrHookAlreadyCompleted, "LifecycleEventAlreadyCompletedException"},
		{deploy.ErrInvalidHookStatus, "InvalidLifecycleEventHookExecutionStatusException"},
		{deploy.ErrNothingToDeploy, "InvalidRevisionException"},
		{deploy.ErrInvalidTarget, "InvalidRevisionException"},
		{registry.ErrVersionNotFound, "InvalidRevisionException"},
	} {
		if errors.Is(err, m.err) {
			return errorf(http.StatusBadRequest, m.typ, err.Error())
		}
	}
	return err
}

// maxBatch is the most IDs a CodeDeploy batch call takes.
const maxBatch = 25

// deploymentStatuses are CodeDeploy's deployment statuses.
var deploymentStatuses = []string{"Created", "Queued", "InProgress", "Baking", "Succeeded", "Failed", "Stopped", "Ready"}

// required answers a missing field with CodeDeploy's <Field>RequiredException.
func required(name, value string) error {
	if value == "" {
		return errorf(http.StatusBadRequest, strings.ToUpper(name[:1])+name[1:]+"RequiredException", name+" is required")
	}
	return nil
}

func (c *CodeDeploy) putLifecycleEventHookExecutionStatus(r *http.Request) (any, error) {
	var in struct {
		DeploymentID                  string `json:"deploymentId"`
		LifecycleEventHookExecutionID string `json:"lifecycleEventHookExecutionId"`
		Status                        string `json:"status"`
	}
	if err := readJSON(r, &in); err != nil {
		return nil, err
	}
	if err := required("deploymentId", in.DeploymentID); err != nil {
		return nil, err
	}
	if in.LifecycleEventHookExecutionID == "" {
		return nil, errorf(http.StatusBadRequest, "InvalidLifecycleEventHookExecutionIdException", "lifecycleEventHookExecutionId is required")
	}
	if err := c.Engine.PutHookStatus(in.DeploymentID, in.LifecycleEventHookExecutionID, in.Status); err != nil {
		return nil, deployError(err)
	}
	return map[string]string{"lifecycleEventHookExecutionId": in.LifecycleEventHookExecutionID}, nil
}

// deploymentInfo is CodeDeploy's DeploymentInfo for a Lambda deployment.
type deploymentInfo struct {
	ApplicationName           string               `json:"applicationName"`
	DeploymentGroupName       string               `json:"deploymentGroupName"`
	DeploymentConfigName      string               `json:"deploymentConfigName"`
	DeploymentID              string               `json:"deploymentId"`
	Status                    deploy.Status        `json:"status"`
	ErrorInformation          *deploy.ErrorInfo    `json:"errorInformation,omitempty"`
	CreateTime                epoch                `json:"createTime"`
	StartTime                 *epoch               `json:"startTime,omitempty"`
	CompleteTime              *epoch               `json:"completeTime,omitempty"`
	DeploymentOverview        deploy.Overview      `json:"deploymentOverview"`
	Description               string               `json:"description,omitempty"`
	Creator                   string               `json:"creator"`
	AutoRollbackConfiguration autoRollback         `json:"autoRollbackConfiguration"`
	RollbackInfo              *deploy.RollbackInfo `json:"rollbackInfo,omitempty"`
	DeploymentStyle           map[string]string    `json:"deploymentStyle"`
	ComputePlatform           string               `json:"computePlatform"`
	Revision                  revision             `json:"revision"`
	// TargetVersionWeight is not in CodeDeploy's DeploymentInfo (it lives in
	// GetDeploymentTarget); it is added here so `sluice status` and tools
	// see the traffic split in one call. SDKs ignore unknown members.
	TargetVersionWeight float64 `json:"targetVersionWeight"`
}

type autoRollback struct {
	Enabled bool     `json:"enabled"`
	Events  []string `json:"events,omitempty"`
}

type revision struct {
	RevisionType   string `json:"revisionType"`
	AppSpecContent struct {
		Content string `json:"content"`
	} `json:"appSpecContent"`
}

// appSpec is a Lambda AppSpec: what CodeDeploy records as a deployment's revision.
type appSpec struct {
	Version   any                          `json:"version"`
	Resources []map[string]appSpecResource `json:"Resources"`
	Hooks     []map[string]string          `json:"Hooks,omitempty"`
}

type appSpecResource struct {
	Type       string `json:"Type"`
	Properties struct {
		Name           string `json:"Name"`
		Alias          string `json:"Alias"`
		CurrentVersion string `json:"CurrentVersion"`
		TargetVersion  string `json:"TargetVersion"`
	} `json:"Properties"`
}

func infoOf(d deploy.Deployment) deploymentInfo {
	info := deploymentInfo{
		ApplicationName: d.ApplicationName, DeploymentGroupName: d.DeploymentGroupName, DeploymentConfigName: d.DeploymentConfigName,
		DeploymentID: d.ID, Status: d.Status, ErrorInformation: d.ErrorInformation, CreateTime: epoch(d.CreateTime),
		StartTime: epochPtr(d.StartTime), CompleteTime: epochPtr(d.CompleteTime), DeploymentOverview: d.Overview(),
		Description: d.Description, Creator: d.Creator, RollbackInfo: d.RollbackInfo,
		AutoRollbackConfiguration: autoRollback{Enabled: len(d.AutoRollback) > 0, Events: d.AutoRollback},
		DeploymentStyle:           map[string]string{"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
		ComputePlatform:           "Lambda", TargetVersionWeight: d.Target.TargetVersionWeight,
	}
	spec := appSpec{Version: 0.0}
	res := appSpecResource{Type: "AWS::Lambda::Function"}
	res.Properties.Name, res.Properties.Alias = d.Target.FunctionName, d.Target.FunctionAlias
	res.Properties.CurrentVersion, res.Properties.TargetVersion = strconv.Itoa(d.Target.CurrentVersion), strconv.Itoa(d.Target.TargetVersion)
	spec.Resources = []map[string]appSpecResource{{d.Target.FunctionName: res}}
	for _, ev := range d.LifecycleEvents {
		if ev.Hook != "" {
			spec.Hooks = append(spec.Hooks, map[string]string{ev.Name + "Hook": ev.Hook})
		}
	}
	content, _ := json.Marshal(spec)
	info.Revision.RevisionType = "AppSpecContent"
	info.Revision.AppSpecContent.Content = string(content)
	return info
}

// oneDeployment reads the input of the calls that name one deployment, and
// the deployment it names.
func (c *CodeDeploy) oneDeployment(r *http.Request, needTarget bool) (d deploy.Deployment, targetID string, err error) {
	var in struct {
		DeploymentID string `json:"deploymentId"`
		TargetID     string `json:"targetId"`
	}
	if err := readJSON(r, &in); err != nil {
		return d, "", err
	}
	if err := required("deploymentId", in.DeploymentID); err != nil {
		return d, "", err
	}
	if needTarget && in.TargetID == "" {
		return d, "", errorf(http.StatusBadRequest, "DeploymentTargetIdRequiredException", "targetId is required: ListDeploymentTargets gives it")
	}
	if d, err = c.Engine.Get(in.DeploymentID); err != nil {
		return d, "", deployError(err)
	}
	return d, in.TargetID, nil
}

func (c *CodeDeploy) getDeployment(r *http.Request) (any, error) {
	d, _, err := c.oneDeployment(r, false)
	if err != nil {
		return nil, err
	}
	return map[string]any{"deploymentInfo": infoOf(d)}, nil
}

func (c *CodeDeploy) batchGetDeployments(r *http.Request) (any, error) {
	var in struct {
		DeploymentIDs []string `json:"deploymentIds"`
	}
	if err := readJSON(r, &in); err != nil {
		return nil, err
	}
	switch {
	case len(in.DeploymentIDs) == 0:
		return nil, errorf(http.StatusBadRequest, "DeploymentIdRequiredException", "deploymentIds is required: give 1 to 25 deployment IDs")
	case len(in.DeploymentIDs) > maxBatch:
		return nil, errorf(http.StatusBadRequest, "BatchLimitExceededException", fmt.Sprintf("%d deployment IDs: at most %d per call", len(in.DeploymentIDs), maxBatch))
	}
	infos := []deploymentInfo{}
	for _, id := range in.DeploymentIDs {
		if d, err := c.Engine.Get(id); err == nil {
			infos = append(infos, infoOf(d))
		}
	}
	return map[string]any{"deploymentsInfo": infos}, nil
}

func (c *CodeDeploy) listDeployments(r *http.Request) (any, error) {
	var in struct {
		ApplicationName     string   `json:"applicationName"`
		DeploymentGroupName string   `json:"deploymentGroupName"`
		IncludeOnlyStatuses []string `json:"includeOnlyStatuses"`
		NextToken           string   `json:"nextToken"`
		CreateTimeRange     struct {
			Start *float64 `json:"start"` // JSON 1.1 timestamps: epoch seconds
			End   *float64 `json:"end"`
		} `json:"createTimeRange"`
	}
	if err := readJSON(r, &in); err != nil {
		return nil, err
	}
	for _, st := range in.IncludeOnlyStatuses {
		if !slices.Contains(deploymentStatuses, st) {
			return nil, errorf(http.StatusBadRequest, "InvalidDeploymentStatusException",
				fmt.Sprintf("%q is not a deployment status: use %s", st, strings.Join(deploymentStatuses, ", ")))
		}
	}
	// CodeDeploy takes both names or neither.
	switch {
	case in.ApplicationName != "" && in.DeploymentGroupName == "":
		return nil, errorf(http.StatusBadRequest, "DeploymentGroupNameRequiredException", "deploymentGroupName is required with applicationName")
	case in.DeploymentGroupName != "" && in.ApplicationName == "":
		return nil, errorf(http.StatusBadRequest, "ApplicationNameRequiredException", "applicationName is required with deploymentGroupName")
	case in.ApplicationName != "":
		if _, err := c.group(in.ApplicationName, in.DeploymentGroupName); err != nil {
			return nil, err
		}
	}
	if tr := in.CreateTimeRange; tr.Start != nil && tr.End != nil && *tr.Start > *tr.End {
		return nil, errorf(http.StatusBadRequest, "InvalidTimeRangeException", "createTimeRange starts after it ends")
	}
	ds, err := c.Engine.List(in.DeploymentGroupName)
	if err != nil {
		return nil, deployError(err)
	}
	// Newest first, as CodeDeploy lists them; pages of 100.
	var ids []string
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		if in.ApplicationName != "" && d.ApplicationName != in.ApplicationName {
			continue
		}
		if len(in.IncludeOnlyStatuses) > 0 && !slices.Contains(in.IncludeOnlyStatuses, string(d.Status)) {
			continue
		}
		if r := in.CreateTimeRange; (r.Start != nil && epochSeconds(d.CreateTime) < *r.Start) || (r.End != nil && epochSeconds(d.CreateTime) > *r.End) {
			continue
		}
		ids = append(ids, d.ID)
	}
	start := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 || n > len(ids) {
			return nil, errorf(http.StatusBadRequest, "InvalidNextTokenException", "the nextToken is not one sluice gave out")
		}
		start = n
	}
	out := map[string]any{}
	end := min(start+100, len(ids))
	out["deployments"] = append([]string{}, ids[start:end]...)
	if end < len(ids) {
		out["nextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (c *CodeDeploy) stopDeployment(r *http.Request) (any, error) {
	var in struct {
		DeploymentID        string `json:"deploymentId"`
		AutoRollbackEnabled *bool  `json:"autoRollbackEnabled"`
	}
	if err := readJSON(r, &in); err != nil {
		return nil, err
	}
	if err := required("deploymentId", in.DeploymentID); err != nil {
		return nil, err
	}
	d, err := c.Engine.Get(in.DeploymentID)
	if err != nil {
		return nil, deployError(err)
	}
	// Without the flag, the group's configuration decides (DEPLOYMENT_STOP_ON_REQUEST).
	rollback := slices.Contains(d.AutoRollback, deploy.RollbackOnRequest)
	if in.AutoRollbackEnabled != nil {
		rollback = *in.AutoRollbackEnabled
	}
	if _, err := c.Engine.Stop(in.DeploymentID, rollback); err != nil {
		return nil, deployError(err)
	}
	return map[string]string{"status": "Succeeded", "statusMessage": "The deployment was stopped"}, nil
}

func (c *CodeDeploy) createDeployment(r *http.Request) (any, error) {
	var in struct {
		ApplicationName     string `json:"applicationName"`
		DeploymentGroupName string `json:"deploymentGroupName"`
		Description         string `json:"description"`
		Revision            struct {
			RevisionType   string `json:"revisionType"`
			AppSpecContent struct {
				Content string `json:"content"`
			} `json:"appSpecContent"`
		} `json:"revision"`
	}
	if err := readJSON(r, &in); err != nil {
		return nil, err
	}
	if err := required("applicationName", in.ApplicationName); err != nil {
		return nil, err
	}
	if err := required("deploymentGroupName", in.DeploymentGroupName); err != nil {
		return nil, err
	}
	g, err := c.group(in.ApplicationName, in.DeploymentGroupName)
	if err != nil {
		return nil, err
	}
	if in.Revision.RevisionType != "AppSpecContent" {
		return nil, errorf(http.StatusBadRequest, "InvalidRevisionException", "sluice deploys Lambda AppSpec revisions: set revision.revisionType to AppSpecContent")
	}
	ci, err := parseAppSpec(in.Revision.AppSpecContent.Content, g)
	if err != nil {
		return nil, err
	}
	ci.Group, ci.Description = g.Name, in.Description
	d, err := c.Engine.Create(ci)
	if err != nil {
		return nil, deployError(err)
	}
	return map[string]string{"deploymentId": d.ID}, nil
}

// parseAppSpec reads a Lambda AppSpec (JSON, or YAML in its JSON-compatible
// subset) for the group's function and alias.
func parseAppSpec(content string, g *deploy.Group) (deploy.CreateInput, error) {
	invalid := func(msg string) error {
		return errorf(http.StatusBadRequest, "InvalidRevisionException", "the AppSpec "+msg)
	}
	var spec struct {
		Version   any                          `json:"version"`
		Resources []map[string]appSpecResource `json:"Resources"`
		Hooks     []map[string]string          `json:"Hooks"`
	}
	if err := json.Unmarshal([]byte(content), &spec); err != nil {
		return deploy.CreateInput{}, invalid("is not valid JSON: " + err.Error())
	}
	if v := fmt.Sprint(spec.Version); v != "0" && v != "0.0" {
		return deploy.CreateInput{}, invalid("version must be 0.0")
	}
	if len(spec.Resources) != 1 || len(spec.Resources[0]) != 1 {
		return deploy.CreateInput{}, invalid("must name exactly one Lambda function under Resources")
	}
	var res appSpecResource
	for _, v := range spec.Resources[0] {
		res = v
	}
	p := res.Properties
	if res.Type != "AWS::Lambda::Function" || p.Name != g.Function || p.Alias != g.Alias {
		return deploy.CreateInput{}, invalid(fmt.Sprintf("must deploy AWS::Lambda::Function %s alias %s (the group's), not %s %s alias %s",
			g.Function, g.Alias, res.Type, p.Name, p.Alias))
	}
	current, err1 := strconv.Atoi(p.CurrentVersion)
	target, err2 := strconv.Atoi(p.TargetVersion)
	if err1 != nil || err2 != nil {
		return deploy.CreateInput{}, invalid("CurrentVersion and TargetVersion must be version numbers")
	}
	ci := deploy.CreateInput{CurrentVersion: current, TargetVersion: target}
	none := ""
	ci.PreTrafficHook, ci.PostTrafficHook = &none, &none // an AppSpec without Hooks runs none
	for _, h := range spec.Hooks {
		for k, v := range h {
			v := v
			switch k {
			case "BeforeAllowTraffic":
				ci.PreTrafficHook = &v
			case "AfterAllowTraffic":
				ci.PostTrafficHook = &v
			default:
				return deploy.CreateInput{}, invalid("hook " + k + " is not a Lambda lifecycle event (BeforeAllowTraffic, AfterAllowTraffic)")
			}
		}
	}
	return ci, nil
}

func (c *CodeDeploy) getDeploymentTarget(r *http.Request) (any, error) {
	d, target, err := c.oneDeployment(r, true)
	if err != nil {
		return nil, err
	}
	if target != targetID(d) {
		return nil, errorf(http.StatusBadRequest, "DeploymentTargetDoesNotExistException", "the deployment's target is "+targetID(d))
	}
	events := make([]map[string]any, 0, len(d.LifecycleEvents))
	for _, ev := range d.LifecycleEvents {
		m := map[string]any{"lifecycleEventName": ev.Name, "status": ev.Status}
		if ev.StartTime != nil {
			m["startTime"] = epoch(*ev.StartTime)
		}
		if ev.EndTime != nil {
			m["endTime"] = epoch(*ev.EndTime)
		}
		if ev.Diagnostics != "" {
			m["diagnostics"] = map[string]string{"message": ev.Diagnostics, "errorCode": "ScriptFailed"}
		}
		events = append(events, m)
	}
	status := map[deploy.Status]string{deploy.StatusSucceeded: "Succeeded", deploy.StatusFailed: "Failed", deploy.StatusStopped: "Failed"}[d.Status]
	if status == "" {
		status = "InProgress"
	}
	return map[string]any{"deploymentTarget": map[string]any{
		"deploymentTargetType": "LambdaTarget",
		"lambdaTarget": map[string]any{
			"deploymentId": d.ID, "targetId": targetID(d), "status": status, "lifecycleEvents": events,
			"targetArn": fmt.Sprintf("arn:aws:lambda:us-east-1:000000000000:function:%s:%s", d.Target.FunctionName, d.Target.FunctionAlias),
			"lambdaFunctionInfo": map[string]any{
				"functionName": d.Target.FunctionName, "functionAlias": d.Target.FunctionAlias,
				"currentVersion": strconv.Itoa(d.Target.CurrentVersion), "targetVersion": strconv.Itoa(d.Target.TargetVersion),
				"targetVersionWeight": d.Target.TargetVersionWeight,
			},
		},
	}}, nil
}

func targetID(d deploy.Deployment) string {
	return d.Target.FunctionName + ":" + d.Target.FunctionAlias
}

func (c *CodeDeploy) listDeploymentTargets(r *http.Request) (any, error) {
	d, _, err := c.oneDeployment(r, false)
	if err != nil {
		return nil, err
	}
	return map[string]any{"targetIds": []string{targetID(d)}}, nil
}

func (c *CodeDeploy) listApplications(r *http.Request) (any, error) {
	seen := map[string]bool{}
	apps := []string{}
	for _, g := range c.Engine.Groups() {
		if !seen[g.Application] {
			seen[g.Application] = true
			apps = append(apps, g.Application)
		}
	}
	slices.Sort(apps)
	return map[string]any{"applications": apps}, nil
}

func (c *CodeDeploy) listDeploymentGroups(r *http.Request) (any, error) {
	var in struct {
		ApplicationName string `json:"applicationName"`
	}
	if err := readJSON(r, &in); err != nil {
		return nil, err
	}
	if err := required("applicationName", in.ApplicationName); err != nil {
		return nil, err
	}
	groups := []string{}
	for _, g := range c.Engine.Groups() {
		if g.Application == in.ApplicationName {
			groups = append(groups, g.Name)
		}
	}
	if len(groups) == 0 {
		return nil, errorf(http.StatusBadRequest, "ApplicationDoesNotExistException", "no application "+in.ApplicationName)
	}
	return map[string]any{"applicationName": in.ApplicationName, "deploymentGroups": groups}, nil
}

func (c *CodeDeploy) getDeploymentGroup(r *http.Request) (any, error) {
	var in struct {
		ApplicationName     string `json:"applicationName"`
		DeploymentGroupName string `json:"deploymentGroupName"`
	}
	if err := readJSON(r, &in); err != nil {
		return nil, err
	}
	if err := required("applicationName", in.ApplicationName); err != nil {
		return nil, err
	}
	if err := required("deploymentGroupName", in.DeploymentGroupName); err != nil {
		return nil, err
	}
	g, err := c.group(in.ApplicationName, in.DeploymentGroupName)
	if err != nil {
		return nil, err
	}
	alarms := []map[string]string{}
	for _, a := range g.Alarms {
		alarms = append(alarms, map[string]string{"name": a})
	}
	return map[string]any{"deploymentGroupInfo": map[string]any{
		"applicationName": g.Application, "deploymentGroupName": g.Name, "computePlatform": "Lambda",
		"deploymentConfigName":      g.ConfigName(),
		"alarmConfiguration":        map[string]any{"enabled": len(alarms) > 0, "alarms": alarms},
		"autoRollbackConfiguration": autoRollback{Enabled: len(g.AutoRollback) > 0, Events: g.AutoRollback},
		"deploymentStyle":           map[string]string{"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
	}}, nil
}

// group finds a deployment group by application and name, answering as
// CodeDeploy does for an unknown application and an unknown group.
func (c *CodeDeploy) group(application, name string) (*deploy.Group, error) {
	known := false
	for _, g := range c.Engine.Groups() {
		if g.Application == application {
			known = true
			if g.Name == name {
				return g, nil
			}
		}
	}
	if !known {
		return nil, errorf(http.StatusBadRequest, "ApplicationDoesNotExistException", "no application "+application+": ListApplications names the ones sluice serves")
	}
	return nil, errorf(http.StatusBadRequest, "DeploymentGroupDoesNotExistException",
		fmt.Sprintf("no deployment group %s in application %s", name, application))
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
