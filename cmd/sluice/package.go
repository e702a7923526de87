package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/awscfn"
	"github.com/sluice-dev/sluice/internal/config"
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
	template, output string
}

func newPackageCmd(g *globalOptions) *cobra.Command {
	o := &packageOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "package",
		Short: "Add gradual deployment and alarms to the framework's compiled CloudFormation template",
		Long: `package rewrites the template that ` + "`serverless package`" + ` compiled, as
serverless-plugin-canary-deployments and serverless-plugin-aws-alerts would
(remove them from plugins:), with their known gaps closed:

  serverless package && sluice package && serverless deploy --package .serverless

Without --template it rewrites .serverless/` + compiledTemplate + ` next to
the --config file in place. With --template it reads that file and writes
the result to --output, or to standard output. Whenever it writes a file
named ` + compiledTemplate + ` with a ` + serviceState + ` beside
it, it replaces the template in the state as well: that is the one
` + "`serverless deploy --package`" + ` deploys.

The service is validated first; errors stop it (exit status 1) and name the
line of serverless.yml to fix. Warnings go to standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.template, "template", "t", "", "the compiled template to read (default: .serverless/"+compiledTemplate+", rewritten in place)")
	f.StringVarP(&o.output, "output", "o", "", "where to write the template (default: standard output with --template, else in place)")
	return cmd
}

func (o *packageOptions) run(stdout, stderr io.Writer) error {
	template, output := o.template, o.output
	svc, _, err := o.loadService(stderr, false)
	if err != nil {
		return err
	}
	diags := validate.Service(svc)
	if err := diags.Err(); err != nil {
		printWarnings(stderr, diags, nil)
		return fmt.Errorf("%s is not valid:\n%w", o.config, err)
	}

	if template == "" {
		template = filepath.Join(filepath.Dir(o.config), packageDir, compiledTemplate)
		if output == "" {
			output = template
		}
	}
	tpl, err := readTemplate(template)
	if err != nil {
		return err
	}
	out, tdiags, err := awscfn.Transform(tpl, svc)
	printWarnings(stderr, diags, tdiags)
	if err != nil {
		return fmt.Errorf("cannot package %s:\n%w", o.config, err)
	}

	body, err := encodeTemplate(out)
	if err != nil {
		return err
	}
	if output == "" {
		_, err := stdout.Write(append(body, '\n'))
		return err
	}
	writes := []pendingWrite{{path: output, body: body}}
	if filepath.Base(output) == compiledTemplate {
		// Writing into a package directory (.serverless, or one given to
		// `serverless package --package`): `serverless deploy --package`
		// deploys the template in its state file, not the one above, so
		// keep them the same.
		statePath := filepath.Join(filepath.Dir(output), serviceState)
		state, err := os.ReadFile(statePath)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return fmt.Errorf("read the framework's state: %w", err)
		default:
			updated, err := replaceStateTemplate(state, out)
			if err != nil {
				return fmt.Errorf("%s: %w (run `serverless package` again to recreate it)", statePath, err)
			}
			writes = append(writes, pendingWrite{path: statePath, body: updated})
		}
	}
	return writeAll(writes)
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
	for _, d := range all {
		if line := d.Error(); !seen[line] {
			seen[line] = true
			fmt.Fprintln(w, line)
		}
	}
}

func readTemplate(path string) (awscfn.Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no compiled template at %s: run `serverless package` first, or pass --template", path)
		}
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers pass through exactly as written
	var tpl awscfn.Template
	if err := dec.Decode(&tpl); err != nil {
		return nil, fmt.Errorf("%s is not a JSON CloudFormation template: %w", path, err)
	}
	return tpl, nil
}

// encodeTemplate formats JSON as the framework writes it
// (JSON.stringify(v, null, 2)): two-space indent, <>& unescaped, no final
// newline. Keys come out sorted; CloudFormation does not care.
func encodeTemplate(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode the template: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
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
