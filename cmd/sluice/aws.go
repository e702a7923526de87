package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/follow"
	"github.com/sluice-dev/sluice/internal/progress"
)

// awsOptions are the flags with which status, history, stop and rollback
// act on the service's deployed stack on AWS instead of the local engine,
// with the AWS SDK's standard credential chain (as `sluice follow`).
type awsOptions struct {
	enabled                     bool
	profile, stack, endpointURL string
	poll                        time.Duration
}

func (a *awsOptions) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&a.enabled, "aws", false, "act on the deployed stack on AWS (with --profile, --stack, --endpoint-url) instead of the local engine")
	f.StringVar(&a.profile, "profile", "", "with --aws: the AWS shared-config profile")
	f.StringVar(&a.stack, "stack", "", "with --aws: the CloudFormation stack (default: provider.stackName, else <service>-<stage>)")
	f.StringVar(&a.endpointURL, "endpoint-url", "", "with --aws: send every AWS call to this endpoint (default: AWS, or AWS_ENDPOINT_URL)")
	f.DurationVar(&a.poll, "poll-interval", follow.DefaultPoll, "with --aws: how often to ask AWS while waiting")
	f.MarkHidden("poll-interval")
}

// awsTarget is the stack --aws acts on, and the service it deploys.
type awsTarget struct {
	stack   *follow.Stack
	clients follow.Clients
	svc     *config.Service // nil with --stack and no readable serverless.yml
	region  string
	local   bool // an endpoint override: no console links
}

func (a *awsOptions) open(ctx context.Context, g *globalOptions, errOut io.Writer) (*awsTarget, error) {
	t := &awsTarget{}
	region := g.region
	svc, _, err := g.loadService(errOut, false)
	if err == nil {
		t.svc = svc
		if region == "" {
			region = svc.Region
		}
	}
	name := a.stack
	if name == "" {
		if t.svc == nil {
			return nil, fmt.Errorf("%w\n(or name the stack with --stack)", err)
		}
		name = t.svc.StackName()
	}
	if t.clients, t.region, t.local, err = follow.NewClients(ctx, region, a.profile, a.endpointURL); err != nil {
		return nil, err
	}
	if t.stack, err = follow.OpenStack(ctx, t.clients, name); err != nil {
		return nil, err
	}
	return t, nil
}

// group is the deployment group of the function named by its key or its
// deployed name.
func (t *awsTarget) group(name string) (*follow.Group, error) {
	if t.svc == nil {
		// Without serverless.yml, a name is the function's logical id prefix.
		return t.stack.GroupOf(config.NormalizeName(name))
	}
	for _, f := range t.svc.Functions {
		if f.Key == name || f.Name == name {
			return t.stack.GroupOf(f.LogicalID())
		}
	}
	keys := make([]string, len(t.svc.Functions))
	for i, f := range t.svc.Functions {
		keys[i] = f.Key
	}
	return nil, fmt.Errorf("%s has no function %q: use one of %s", t.svc.File, name, strings.Join(keys, ", "))
}

// awsRow is one group's latest deployment, for status --aws.
type awsRow struct {
	Group      string              `json:"deploymentGroupName"`
	Function   string              `json:"functionName,omitempty"`
	Alias      string              `json:"functionAlias,omitempty"`
	Deployment *follow.Deployment  `json:"latestDeployment,omitempty"`
	Alarms     []follow.AlarmState `json:"alarms"`
}

func runStatusAWS(ctx context.Context, g *globalOptions, a *awsOptions, output outputFormat, out, errOut io.Writer) error {
	t, err := a.open(ctx, g, errOut)
	if err != nil {
		return err
	}
	var rows []awsRow
	for i := range t.stack.Groups {
		grp := &t.stack.Groups[i]
		row := awsRow{Group: grp.Name, Alarms: []follow.AlarmState{}}
		h, err := t.stack.History(ctx, grp, 1)
		if err != nil {
			return err
		}
		if len(h) > 0 {
			row.Deployment, row.Function, row.Alias, row.Alarms = &h[0], h[0].Function, h[0].Alias, h[0].Alarms
		}
		rows = append(rows, row)
	}
	return output.print(out, map[string]any{"stack": t.stack.Name, "groups": rows}, func(w io.Writer) error {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "stack %s\n", t.stack.Name)
		fmt.Fprintln(tw, "FUNCTION\tALIAS\tTARGET\tLATEST DEPLOYMENT\tSTATUS\tALARMS")
		for _, r := range rows {
			target, id, status := "", "—", "no deployments"
			if d := r.Deployment; d != nil {
				target = fmt.Sprintf("v%s → v%s at %.0f%%", d.CurrentVersion, d.TargetVersion, d.TargetWeight*100)
				id, status = d.ID, string(d.Status)
				if d.ErrorCode != "" {
					status += " (" + d.ErrorCode + ")"
				}
			}
			var alarms []string
			for _, al := range r.Alarms {
				alarms = append(alarms, al.Name+" "+al.State)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", orDash(r.Function, r.Group), orDash(r.Alias, ""), target, id, status, strings.Join(alarms, ", "))
		}
		return tw.Flush()
	})
}

func orDash(s, fallback string) string {
	switch {
	case s != "":
		return s
	case fallback != "":
		return fallback
	}
	return "—"
}

func runHistoryAWS(ctx context.Context, g *globalOptions, a *awsOptions, output outputFormat, out, errOut io.Writer, args []string) error {
	t, err := a.open(ctx, g, errOut)
	if err != nil {
		return err
	}
	groups := t.stack.Groups
	if len(args) == 1 {
		grp, err := t.group(args[0])
		if err != nil {
			return err
		}
		groups = []follow.Group{*grp}
	}
	var all []follow.Deployment
	for i := range groups {
		h, err := t.stack.History(ctx, &groups[i], 50)
		if err != nil {
			return err
		}
		all = append(all, h...)
	}
	sum := follow.Summarize(follow.Report{Deployments: all})
	return output.print(out, sum.Deployments, func(w io.Writer) error {
		if len(all) == 0 {
			_, err := fmt.Fprintf(w, "no deployments in stack %s\n", t.stack.Name)
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "DEPLOYMENT\tFUNCTION\tVERSIONS\tSTATUS\tCREATED BY\tCREATED\tTOOK")
		for _, d := range sum.Deployments {
			took := ""
			if d.DurationSeconds > 0 {
				took = (time.Duration(d.DurationSeconds * float64(time.Second))).Round(time.Second).String()
			}
			status := d.Status
			if d.ErrorCode != "" {
				status += " (" + d.ErrorCode + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s → %s\t%s\t%s\t%s\t%s\n", d.DeploymentID, d.Function, d.CurrentVersion, d.TargetVersion, status,
				d.Creator, d.CreateTime.Local().Format("2006-01-02 15:04:05"), took)
		}
		return tw.Flush()
	})
}

func runStopAWS(ctx context.Context, g *globalOptions, a *awsOptions, noRollback bool, out, errOut io.Writer, target string) error {
	t, err := a.open(ctx, g, errOut)
	if err != nil {
		return err
	}
	id := target
	if !strings.HasPrefix(target, "d-") {
		grp, err := t.group(target)
		if err != nil {
			return fmt.Errorf("%w, or a deployment id (d-…)", err)
		}
		if id, err = t.stack.Running(ctx, grp); err != nil {
			return err
		}
		if id == "" {
			return fmt.Errorf("%s has no deployment in progress on AWS: nothing to stop (`sluice rollback --aws %s` moves traffic back)", target, target)
		}
	}
	if err := t.stack.Stop(ctx, id, !noRollback); err != nil {
		return err
	}
	fmt.Fprintf(errOut, "asked CodeDeploy to stop %s%s; following it\n", id, map[bool]string{true: " without rollback", false: " with rollback"}[noRollback])
	d, err := followOne(ctx, t, a, out, id)
	if err != nil {
		return err
	}
	// The stop did what was asked when the deployment ended stopped, and,
	// with a rollback, its traffic is back.
	if d.Status == "Succeeded" || (!noRollback && follow.ResultOf(d) != follow.ExitRolledBack) {
		return &exitError{code: exitFailure, err: fmt.Errorf("%s ended %s, not stopped as asked", id, d.Status)}
	}
	return nil
}

func runRollbackAWS(ctx context.Context, g *globalOptions, a *awsOptions, out, errOut io.Writer, function string) error {
	t, err := a.open(ctx, g, errOut)
	if err != nil {
		return err
	}
	grp, err := t.group(function)
	if err != nil {
		return err
	}
	running, err := t.stack.Running(ctx, grp)
	if err != nil {
		return err
	}
	if running != "" {
		if err := t.stack.Stop(ctx, running, true); err != nil {
			return err
		}
		fmt.Fprintf(errOut, "stopped %s with rollback; following it\n", running)
		d, err := followOne(ctx, t, a, out, running)
		if err != nil {
			return err
		}
		if follow.ResultOf(d) != follow.ExitRolledBack {
			return &exitError{code: exitFailure, err: fmt.Errorf("%s ended %s without moving its traffic back", running, d.Status)}
		}
		return nil
	}
	id, undone, err := t.stack.Redeploy(ctx, grp)
	if err != nil {
		return err
	}
	fmt.Fprintf(errOut, "deployment %s moves %s back to version %s at once (undoing %s).\n"+
		"CloudFormation still names version %s: the next `serverless deploy` of this stack starts from there.\n",
		id, undone.Function, undone.CurrentVersion, undone.ID, undone.TargetVersion)
	fmt.Fprintln(out, id)
	d, err := followOne(ctx, t, a, out, id)
	if err != nil {
		return err
	}
	if d.Status != "Succeeded" {
		return &exitError{code: exitFailure, err: fmt.Errorf("the rollback %s ended %s", id, d.Status)}
	}
	return nil
}

// followOne follows one deployment (and a rollback it starts) to its end
// with deploy --wait's progress, explaining it when it did not succeed.
func followOne(ctx context.Context, t *awsTarget, a *awsOptions, out io.Writer, id string) (follow.Deployment, error) {
	opts := follow.Options{DeploymentID: id, Poll: a.poll}
	if !t.local {
		opts.Region = t.region
	}
	tracker := progress.NewTracker(out, progress.Plain)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := follow.New(t.clients, opts, follow.Progress{Tracker: tracker}).Run(ctx)
	if errors.Is(err, context.Canceled) {
		return follow.Deployment{}, &exitError{code: exitSignaled, err: fmt.Errorf("stopped waiting; %s goes on", id)}
	}
	if err != nil {
		return follow.Deployment{}, err
	}
	if len(rep.Deployments) == 0 {
		return follow.Deployment{}, fmt.Errorf("deployment %s was not found", id)
	}
	d := rep.Deployments[0]
	if d.Status != "Succeeded" {
		fmt.Fprintln(out, follow.Explain(d))
	}
	return d, nil
}
