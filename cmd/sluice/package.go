package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/awscfn"
	"github.com/sluice-dev/sluice/internal/cfnjson"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/slsstate"
	"github.com/sluice-dev/sluice/internal/validate"
)

// The framework's packaging output, relative to the service directory.
const (
	packageDir       = ".serverless"
	compiledTemplate = "cloudformation-template-update-stack.json"
	serviceState     = "serverless-state.json"
)

type packageOptions struct {
	*globalOptions
	template, out string
}

func newPackageCmd(g *globalOptions) *cobra.Command {
	o := &packageOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "package",
		Short: "Add gradual deployment and alarms to the framework's compiled CloudFormation template",
		Long: `package rewrites the template that ` + "`serverless package`" + ` compiled, as
serverless-plugin-canary-deployments and serverless-plugin-aws-alerts would,
with their known gaps closed. The serverless-sluice plugin runs it for you
(put it in plugins: in place of the two); by hand, without the plugins:

  serverless package && sluice package && serverless deploy --package .serverless

Without --template it rewrites .serverless/` + compiledTemplate + ` next to
the --config file in place. With --template it reads that file and writes
the result to --out, or to standard output. Whenever it writes a file
named ` + compiledTemplate + ` with a ` + serviceState + ` beside
it, it replaces the template in the state as well: that is the one
` + "`serverless deploy --package`" + ` deploys. The template keeps its key
order, so the rewrite is a small diff.

The stage and region are the ones the template was compiled for (read from
the state file beside it, else from the function names); a --stage or
--region that differs is an error.

The service is validated first; errors stop it (exit status 1) and name the
line of serverless.yml to fix. Warnings, and one line saying what was added,
go to standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.template, "template", "t", "", "the compiled template to read (default: .serverless/"+compiledTemplate+", rewritten in place)")
	f.StringVar(&o.out, "out", "", "the file to write the template to (default: standard output with --template, else in place)")
	return cmd
}

func (o *packageOptions) run(stdout, stderr io.Writer) error {
	// A short-lived process whose heap is a few times its input, nearly
	// all of it live until the end: collecting would find little, so the
	// collector runs only if the heap nears a limit no template reaches.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(1 << 30)
	template, out := o.template, o.out
	if template == "" {
		template = filepath.Join(filepath.Dir(o.config), packageDir, compiledTemplate)
		if out == "" {
			out = template
		}
	}
	in, err := o.read(template, stderr)
	if err != nil {
		return err
	}
	result, tdiags, err := awscfn.Transform(in.tpl, in.svc)
	printWarnings(stderr, in.validation, tdiags)
	if err != nil {
		return fmt.Errorf("cannot package %s:\n%w", o.config, err)
	}
	writes, err := in.encode(result, out)
	if err != nil {
		return err
	}
	summary := summarize(in.tpl, result)
	if out == "" {
		if _, err := stdout.Write(append(writes[0].body, '\n')); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "sluice package: %s\n", summary)
		return nil
	}
	if err := writeAll(writes); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "sluice package: %s, in %s\n", summary, out)
	return nil
}

// packageInput is what `sluice package` reads: the template, the
// framework's state beside it (if any), and the service at the template's
// stage, validated.
type packageInput struct {
	template   string
	tpl        awscfn.Template
	order      *cfnjson.Order // the template's key order
	size       int            // the template's length in bytes
	statePath  string         // serverless-state.json beside the template
	state      *slsstate.State
	svc        *config.Service
	validation config.Diagnostics
}

// read reads the template and loads the service. The two do not depend on
// each other: on a machine with two cores they overlap. Warnings of the
// loader go to stderr; a service that is not valid is an error.
func (o *packageOptions) read(template string, stderr io.Writer) (*packageInput, error) {
	in := &packageInput{template: template, statePath: filepath.Join(filepath.Dir(template), serviceState)}
	var tplErr error
	read := make(chan struct{})
	go func() {
		defer close(read)
		in.tpl, in.order, in.size, tplErr = readTemplate(template)
	}()
	opts, diags, err := o.load(in)
	<-read
	if tplErr != nil {
		return nil, tplErr
	}
	if in.svc != nil && in.state == nil {
		// No state file: the function names tell the stage.
		if stage, ok := compiledStage(in.tpl, in.svc); ok && stage != in.svc.Stage {
			if o.stage != "" {
				return nil, fmt.Errorf("--stage %s, but %s was compiled for stage %s (its function names say so): pass --stage %s, or run `serverless package --stage %s` first",
					o.stage, template, stage, stage, o.stage)
			}
			opts.Stage = stage
			if in.svc, diags, err = config.Load(o.config, opts); err == nil {
				in.validation = validate.Service(in.svc)
			}
		}
	}
	if in.svc == nil && diags == nil && err != nil {
		return nil, err // the state file, or a flag that contradicts it
	}
	for _, d := range diags.Warnings() {
		fmt.Fprintln(stderr, d.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not valid:\n%w", o.config, err)
	}
	if err := in.validation.Err(); err != nil {
		printWarnings(stderr, in.validation, nil)
		return nil, fmt.Errorf("%s is not valid:\n%w", o.config, err)
	}
	return in, nil
}

// load reads the framework's state beside the template, when there is
// one, then loads and validates the service at the stage and region it
// names. It returns nil diagnostics when the state or the flags are wrong,
// before loading anything.
func (o *packageOptions) load(in *packageInput) (config.Options, config.Diagnostics, error) {
	opts, err := o.loadOptions(false) // --stage, --region, --param, --var
	if err != nil {
		return opts, nil, err
	}
	if filepath.Base(in.template) == compiledTemplate {
		if in.state, err = readState(in.statePath); err != nil {
			return opts, nil, err
		}
	}
	if in.state != nil {
		if err := samePlace("--stage", o.stage, in.state.Stage(), in.statePath); err != nil {
			return opts, nil, err
		}
		if err := samePlace("--region", o.region, in.state.Region(), in.statePath); err != nil {
			return opts, nil, err
		}
		opts.Stage, opts.Region = cmp.Or(opts.Stage, in.state.Stage()), cmp.Or(opts.Region, in.state.Region())
	}
	svc, diags, err := config.Load(o.config, opts)
	if err == nil {
		in.svc, in.validation = svc, validate.Service(svc)
	}
	return opts, diags, err
}

// encode encodes the result in the template's key order: the file to
// write to out, first, and the state file beside out, when there is one,
// with the same template (encoded alongside).
func (in *packageInput) encode(result awscfn.Template, out string) ([]pendingWrite, error) {
	var (
		outState  = filepath.Join(filepath.Dir(out), serviceState)
		stateBody []byte
		stateErr  error
		encoded   = make(chan struct{})
	)
	go func() {
		defer close(encoded)
		if out == "" || filepath.Base(out) != compiledTemplate {
			return
		}
		// Writing into a package directory (.serverless, or one given to
		// `serverless package --package`): `serverless deploy --package`
		// deploys the template in its state file, not the one above, so
		// keep them the same.
		st := in.state
		if outState != in.statePath || filepath.Base(in.template) != compiledTemplate {
			if st, stateErr = readState(outState); stateErr != nil {
				return
			}
		}
		if st != nil {
			if stateBody, stateErr = st.WithTemplate(result, in.order); stateErr != nil {
				stateErr = fmt.Errorf("%s: %w (run `serverless package` again to recreate it)", outState, stateErr)
			}
		}
	}()
	body, err := cfnjson.AppendEncode(make([]byte, 0, 2*in.size), result, in.order)
	<-encoded
	if err != nil {
		return nil, fmt.Errorf("encode the template: %w", err)
	}
	if stateErr != nil {
		return nil, stateErr
	}
	writes := []pendingWrite{{path: out, body: body}}
	if stateBody != nil {
		writes = append(writes, pendingWrite{path: outState, body: stateBody})
	}
	return writes, nil
}

// samePlace checks a --stage or --region flag against the value the
// template was compiled for.
func samePlace(flag, given, compiled, statePath string) error {
	if given == "" || compiled == "" || given == compiled {
		return nil
	}
	return fmt.Errorf("%s %s, but the template was compiled for %s %s (says %s): pass %s %s, or run `serverless package %s %s` first",
		flag, given, flag[2:], compiled, statePath, flag, compiled, flag, given)
}

// readState reads the framework's state file, or returns nil if there is
// none.
func readState(path string) (*slsstate.State, error) {
	src, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the framework's state: %w", err)
	}
	st, err := slsstate.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (run `serverless package` again to recreate it)", path, err)
	}
	return st, nil
}

// compiledStage reads the stage a template was compiled for from the name
// the framework gave a function: <service>-<stage>-<function key>, unless
// the function names itself.
func compiledStage(tpl awscfn.Template, svc *config.Service) (string, bool) {
	resources, _ := tpl["Resources"].(map[string]any)
	for _, f := range svc.Functions {
		if _, named := f.Raw["name"]; named {
			continue
		}
		r, _ := resources[f.LogicalID()+"LambdaFunction"].(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		name, _ := props["FunctionName"].(string)
		prefix, suffix := svc.Name+"-", "-"+f.Key
		if len(name) > len(prefix)+len(suffix) && strings.HasPrefix(name, prefix) && strings.HasSuffix(name, suffix) {
			return name[len(prefix) : len(name)-len(suffix)], true
		}
	}
	return "", false
}

// summarize says in one line what the transform added and changed.
func summarize(before, after awscfn.Template) string {
	in, _ := before["Resources"].(map[string]any)
	out, _ := after["Resources"].(map[string]any)
	added := map[string]int{}
	total, changed := 0, 0
	for id, r := range out {
		old, ok := in[id]
		switch {
		case !ok:
			typ, _ := r.(map[string]any)["Type"].(string)
			added[typ]++
			total++
		case !sameMap(old, r):
			changed++
		}
	}
	if total == 0 && changed == 0 {
		return "nothing to add: no function deploys gradually or has alarms at this stage"
	}
	types := make([]string, 0, len(added))
	for typ := range added {
		types = append(types, typ)
	}
	sort.Slice(types, func(i, j int) bool {
		if added[types[i]] != added[types[j]] {
			return added[types[i]] > added[types[j]]
		}
		return types[i] < types[j]
	})
	parts := make([]string, len(types))
	for i, typ := range types {
		parts[i] = fmt.Sprintf("%d %s", added[typ], strings.TrimPrefix(typ, "AWS::"))
	}
	return fmt.Sprintf("added %d resources (%s), changed %d", total, strings.Join(parts, ", "), changed)
}

// sameMap reports whether a and b are one map: the transform copies the
// resources it changes, so an unchanged one is the input's own map.
func sameMap(a, b any) bool {
	ma, okA := a.(map[string]any)
	mb, okB := b.(map[string]any)
	return okA && okB && reflect.ValueOf(ma).UnsafePointer() == reflect.ValueOf(mb).UnsafePointer()
}

// printWarnings prints the warnings of validation and of the transform,
// each once: both compile custom.alerts, so both report its findings.
// Validation judges an alarm of deploymentSettings by serverless.yml alone;
// the transform sees the template, where other plugins' resources are too,
// so its verdict on alarms is the one kept.
func printWarnings(w io.Writer, validation, transform config.Diagnostics) {
	var all config.Diagnostics
	for _, d := range validation.Warnings() {
		if transform != nil && strings.Contains(d.Path, "deploymentSettings.alarms.") {
			continue
		}
		all = append(all, d)
	}
	all = append(all, transform.Warnings()...)
	all.Sort()
	seen := make(map[string]bool, len(all))
	var b strings.Builder // one write, however many warnings
	for _, d := range all {
		if line := d.Error(); !seen[line] {
			seen[line] = true
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	io.WriteString(w, b.String())
}

// readTemplate reads and decodes the template at path; size is its length
// in bytes.
func readTemplate(path string) (tpl awscfn.Template, order *cfnjson.Order, size int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, 0, fmt.Errorf("no compiled template at %s: run `serverless package` first, or pass --template", path)
		}
		return nil, nil, 0, err
	}
	v, order, err := cfnjson.Decode(b) // numbers pass through exactly as written
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s is not a JSON CloudFormation template: %w", path, err)
	}
	tpl, ok := v.(map[string]any)
	if !ok {
		return nil, nil, 0, fmt.Errorf("%s is not a CloudFormation template: it holds no JSON object", path)
	}
	return tpl, order, len(b), nil
}

type pendingWrite struct {
	path string
	body []byte
}

// writeAll writes every file to a temporary file beside it and only then
// renames them into place, so an error leaves no file half-written.
func writeAll(writes []pendingWrite) error {
	temps := make([]string, 0, len(writes))
	defer func() {
		for _, t := range temps {
			os.Remove(t) // gone already after a successful rename
		}
	}()
	for _, w := range writes {
		f, err := os.CreateTemp(filepath.Dir(w.path), "."+filepath.Base(w.path)+".*")
		if err != nil {
			return fmt.Errorf("write %s: %w", w.path, err)
		}
		temps = append(temps, f.Name())
		mode := os.FileMode(0o644)
		if fi, err := os.Stat(w.path); err == nil {
			mode = fi.Mode().Perm()
		}
		_, err = f.Write(w.body)
		if err == nil {
			err = f.Chmod(mode)
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", w.path, err)
		}
	}
	for i, w := range writes {
		if err := os.Rename(temps[i], w.path); err != nil {
			return fmt.Errorf("write %s: %w", w.path, err)
		}
	}
	return nil
}
