package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"
)

// outputFormat is --output: text for people, json or yaml for tools. It
// is a pflag.Value, so an unknown value fails when the flags are parsed.
type outputFormat string

const (
	outputText outputFormat = "text"
	outputJSON outputFormat = "json"
	outputYAML outputFormat = "yaml"
)

func (f *outputFormat) String() string { return string(*f) }
func (f *outputFormat) Type() string   { return "text|json|yaml" }
func (f *outputFormat) Set(s string) error {
	switch outputFormat(s) {
	case outputText, outputJSON, outputYAML:
		*f = outputFormat(s)
		return nil
	}
	return fmt.Errorf("use text, json or yaml")
}

// addOutputFlag gives cmd the --output every command that prints data has.
func addOutputFlag(cmd *cobra.Command, f *outputFormat) {
	*f = outputText
	cmd.Flags().VarP(f, "output", "o", "how to print: text, json or yaml (json and yaml use camelCase keys, RFC 3339 times, durations in seconds)")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
}

// print writes v as json or yaml, or calls text.
func (f outputFormat) print(w io.Writer, v any, text func(io.Writer) error) error {
	switch f {
	case outputJSON:
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // messages quote <placeholders>
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case outputYAML:
		b, err := json.Marshal(v) // the json names, in the same order
		if err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(b)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	}
	return text(w)
}
