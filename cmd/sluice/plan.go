package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/schedule"
)

// functionPlan is what `sluice plan` shows for one function.
type functionPlan struct {
	Function        string     `json:"function"`
	Type            string     `json:"type"`
	Alias           string     `json:"alias,omitempty"`
	PreTrafficHook  string     `json:"preTrafficHook,omitempty"`
	PostTrafficHook string     `json:"postTrafficHook,omitempty"`
	Alarms          []string   `json:"alarms,omitempty"`
	Gradual         bool       `json:"gradual"` // false: the stage is not in custom.deploymentSettings.stages
	Steps           []planStep `json:"steps"`
}

// planStep is a traffic shift: at offset from the start, weight of the
// traffic on the new version.
type planStep struct {
	Offset        string  `json:"offset"` // a Go duration: 5m0s
	OffsetSeconds float64 `json:"offsetSeconds"`
	Weight        float64 `json:"weight"`
}

func planSteps(steps []schedule.Step) []planStep {
	out := make([]planStep, len(steps))
	for i, s := range steps {
		out[i] = planStep{Offset: s.Offset.String(), OffsetSeconds: s.Offset.Seconds(), Weight: s.Weight}
	}
	return out
}

type planOptions struct {
	*globalOptions
	output outputFormat
}

func newPlanCmd(g *globalOptions) *cobra.Command {
	o := &planOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show, per function, the traffic shifts its deployment type makes (time offset → weight)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	addOutputFlag(cmd, &o.output)
	return cmd
}

func (o *planOptions) run(out, errOut io.Writer) error {
	svc, err := o.checkedService(errOut, false)
	if err != nil {
		return err
	}
	plans := planService(svc)
	if plans == nil {
		plans = []functionPlan{}
	}
	return o.output.print(out, plans, func(w io.Writer) error {
		printPlans(w, svc, plans)
		return nil
	})
}

func planService(svc *config.Service) []functionPlan {
	stageOn := svc.DeploymentSettings == nil || len(svc.DeploymentSettings.Stages) == 0 || slices.Contains(svc.DeploymentSettings.Stages, svc.Stage)
	var plans []functionPlan
	for _, f := range svc.Functions {
		ds := f.DeploymentSettings
		if ds == nil {
			continue
		}
		typ, _ := schedule.Parse(ds.Type) // validated by checkedService
		p := functionPlan{Function: f.Key, Type: typ.Name, Alias: ds.Alias, PreTrafficHook: ds.PreTrafficHook,
			PostTrafficHook: ds.PostTrafficHook, Gradual: stageOn, Steps: planSteps(typ.Steps())}
		for _, a := range ds.Alarms {
			if a.LogicalID != "" {
				p.Alarms = append(p.Alarms, a.LogicalID)
			} else {
				b, _ := json.Marshal(a.Name)
				p.Alarms = append(p.Alarms, string(b))
			}
		}
		if !stageOn {
			p.Steps = planSteps([]schedule.Step{{Offset: 0, Weight: 1}})
		}
		plans = append(plans, p)
	}
	return plans
}

func printPlans(w io.Writer, svc *config.Service, plans []functionPlan) {
	if len(plans) == 0 {
		fmt.Fprintf(w, "no function of %s has deploymentSettings: every function switches to a new version at once\n", svc.Name)
		return
	}
	for i, p := range plans {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s → alias %s, %s\n", p.Function, p.Alias, p.Type)
		if !p.Gradual {
			fmt.Fprintf(w, "  stage %s is not in custom.deploymentSettings.stages: deployed all at once\n", svc.Stage)
		}
		if p.PreTrafficHook != "" {
			fmt.Fprintf(w, "  before traffic: hook %s\n", p.PreTrafficHook)
		}
		for _, s := range p.Steps {
			bar := strings.Repeat("█", int(s.Weight*20+0.5))
			fmt.Fprintf(w, "  %8s  %-20s %3.0f%% new, %3.0f%% old\n", "+"+formatOffset(time.Duration(s.OffsetSeconds*float64(time.Second))), bar, s.Weight*100, (1-s.Weight)*100)
		}
		if p.PostTrafficHook != "" {
			fmt.Fprintf(w, "  after traffic: hook %s\n", p.PostTrafficHook)
		}
		if len(p.Alarms) > 0 {
			fmt.Fprintf(w, "  rolls back when in ALARM: %s\n", strings.Join(p.Alarms, ", "))
		}
	}
}

func formatOffset(d time.Duration) string {
	if d == 0 {
		return "0m"
	}
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}
