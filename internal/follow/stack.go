package follow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/codedeploy"
	cdtypes "github.com/aws/aws-sdk-go-v2/service/codedeploy/types"
)

// Stack is a deployed stack's CodeDeploy side: what `sluice status`,
// `history`, `stop` and `rollback` act on with --aws.
type Stack struct {
	c      Clients
	Name   string
	Groups []Group
}

// Group is one CodeDeploy deployment group of the stack.
type Group struct {
	LogicalID   string // e.g. ApiLambdaFunctionDeploymentGroup
	Application string
	Name        string // the physical name CloudFormation gave it
	Alarms      []string
}

// OpenStack reads the stack's CodeDeploy application(s) and deployment
// groups: DescribeStackResources names them (a group's physical id is its
// name), listing each application's groups pairs them, and GetDeploymentGroup
// gives each group's alarms.
func OpenStack(ctx context.Context, c Clients, name string) (*Stack, error) {
	out, err := c.CloudFormation.DescribeStackResources(ctx, &cfn.DescribeStackResourcesInput{StackName: &name})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil, fmt.Errorf("%w: %s (check --stack, --stage and --region)", ErrNoStack, name)
		}
		return nil, fmt.Errorf("read the resources of stack %s: %w", name, err)
	}
	var apps []string
	logical := map[string]string{} // group name → logical id
	for _, r := range out.StackResources {
		if r.PhysicalResourceId == nil {
			continue
		}
		switch deref(r.ResourceType) {
		case "AWS::CodeDeploy::Application":
			apps = append(apps, *r.PhysicalResourceId)
		case "AWS::CodeDeploy::DeploymentGroup":
			logical[*r.PhysicalResourceId] = deref(r.LogicalResourceId)
		}
	}
	if len(logical) == 0 {
		return nil, fmt.Errorf("stack %s has no CodeDeploy deployment group: was it packaged with sluice (or the canary plugin)?", name)
	}
	st := &Stack{c: c, Name: name}
	for _, app := range apps {
		in := &codedeploy.ListDeploymentGroupsInput{ApplicationName: &app}
		for {
			lo, err := c.CodeDeploy.ListDeploymentGroups(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("list the deployment groups of application %s: %w", app, err)
			}
			for _, g := range lo.DeploymentGroups {
				if id, ok := logical[g]; ok {
					st.Groups = append(st.Groups, Group{LogicalID: id, Application: app, Name: g})
				}
			}
			if lo.NextToken == nil {
				break
			}
			in.NextToken = lo.NextToken
		}
	}
	for i := range st.Groups {
		g := &st.Groups[i]
		out, err := c.CodeDeploy.GetDeploymentGroup(ctx, &codedeploy.GetDeploymentGroupInput{ApplicationName: &g.Application, DeploymentGroupName: &g.Name})
		if err != nil {
			return nil, fmt.Errorf("read deployment group %s: %w", g.Name, err)
		}
		if ac := out.DeploymentGroupInfo.AlarmConfiguration; ac != nil && ac.Enabled {
			for _, a := range ac.Alarms {
				g.Alarms = append(g.Alarms, deref(a.Name))
			}
		}
	}
	slices.SortFunc(st.Groups, func(a, b Group) int { return strings.Compare(a.LogicalID, b.LogicalID) })
	return st, nil
}

// GroupOf is the deployment group of a function, by the function's logical
// id (as serverless.yml's key gives it: api → Api).
func (s *Stack) GroupOf(functionLogicalID string) (*Group, error) {
	want := functionLogicalID + "LambdaFunctionDeploymentGroup"
	var names []string
	for i := range s.Groups {
		if s.Groups[i].LogicalID == want {
			return &s.Groups[i], nil
		}
		names = append(names, strings.TrimSuffix(s.Groups[i].LogicalID, "LambdaFunctionDeploymentGroup"))
	}
	return nil, fmt.Errorf("stack %s deploys no function %s gradually (its deployment groups are those of %s)", s.Name, functionLogicalID, strings.Join(names, ", "))
}

// History is a group's deployments, newest first, at most limit of them,
// each read whole (target, weight, alarms).
func (s *Stack) History(ctx context.Context, g *Group, limit int) ([]Deployment, error) {
	f := New(s.c, Options{}, nil)
	f.groups[g.Name] = groupInfo{application: g.Application, alarms: g.Alarms}
	in := &codedeploy.ListDeploymentsInput{ApplicationName: &g.Application, DeploymentGroupName: &g.Name}
	var out []Deployment
	for len(out) < limit {
		lo, err := s.c.CodeDeploy.ListDeployments(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list the deployments of group %s: %w", g.Name, err)
		}
		for _, id := range lo.Deployments {
			if len(out) == limit {
				break
			}
			d, err := f.describe(ctx, id, Deployment{})
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		if lo.NextToken == nil {
			break
		}
		in.NextToken = lo.NextToken
	}
	return out, nil
}

// Running is the group's deployment in progress, if any.
func (s *Stack) Running(ctx context.Context, g *Group) (string, error) {
	lo, err := s.c.CodeDeploy.ListDeployments(ctx, &codedeploy.ListDeploymentsInput{ApplicationName: &g.Application, DeploymentGroupName: &g.Name,
		IncludeOnlyStatuses: []cdtypes.DeploymentStatus{cdtypes.DeploymentStatusCreated, cdtypes.DeploymentStatusQueued,
			cdtypes.DeploymentStatusInProgress, cdtypes.DeploymentStatusReady, cdtypes.DeploymentStatusBaking}})
	if err != nil {
		return "", fmt.Errorf("list the deployments of group %s: %w", g.Name, err)
	}
	if len(lo.Deployments) == 0 {
		return "", nil
	}
	return lo.Deployments[0], nil
}

// Stop stops a deployment; with rollback, CodeDeploy moves its traffic back.
func (s *Stack) Stop(ctx context.Context, id string, rollback bool) error {
	_, err := s.c.CodeDeploy.StopDeployment(ctx, &codedeploy.StopDeploymentInput{DeploymentId: &id, AutoRollbackEnabled: &rollback})
	if err != nil {
		return fmt.Errorf("stop deployment %s: %w", id, err)
	}
	return nil
}

// ErrNothingToRollBack says a function has no earlier version to go back to.
var ErrNothingToRollBack = errors.New("nothing to roll back")

// Redeploy moves a group's alias back to the version its last successful
// deployment replaced, at once: a CodeDeploy deployment of its own
// (CodeDeployDefault.LambdaAllAtOnce) with an AppSpec naming both
// versions. It returns the new deployment's id. CloudFormation's template
// still names the newer version: the next stack update deploys from there.
func (s *Stack) Redeploy(ctx context.Context, g *Group) (string, Deployment, error) {
	hist, err := s.History(ctx, g, 25)
	if err != nil {
		return "", Deployment{}, err
	}
	i := slices.IndexFunc(hist, func(d Deployment) bool {
		return d.Status == cdtypes.DeploymentStatusSucceeded && d.CurrentVersion != "" && d.CurrentVersion != d.TargetVersion
	})
	if i < 0 {
		return "", Deployment{}, fmt.Errorf("%w: group %s has no successful deployment that replaced an earlier version", ErrNothingToRollBack, g.Name)
	}
	last := hist[i]
	spec, _ := json.Marshal(map[string]any{
		"version": 0.0,
		"Resources": []map[string]any{{last.Function: map[string]any{
			"Type":       "AWS::Lambda::Function",
			"Properties": map[string]string{"Name": last.Function, "Alias": last.Alias, "CurrentVersion": last.TargetVersion, "TargetVersion": last.CurrentVersion},
		}}},
	})
	config := "CodeDeployDefault.LambdaAllAtOnce"
	desc := fmt.Sprintf("sluice rollback: %s back to version %s (undoes %s)", last.Function, last.CurrentVersion, last.ID)
	out, err := s.c.CodeDeploy.CreateDeployment(ctx, &codedeploy.CreateDeploymentInput{
		ApplicationName: &g.Application, DeploymentGroupName: &g.Name, DeploymentConfigName: &config, Description: &desc,
		Revision: &cdtypes.RevisionLocation{RevisionType: cdtypes.RevisionLocationTypeAppSpecContent,
			AppSpecContent: &cdtypes.AppSpecContent{Content: ptr(string(spec))}},
	})
	if err != nil {
		return "", last, fmt.Errorf("create the rollback deployment of %s: %w", g.Name, err)
	}
	return deref(out.DeploymentId), last, nil
}

func ptr[T any](v T) *T { return &v }
