package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/internal/engine"
)

// exitFunctionError is invoke's status when the function itself failed
// (the response carries X-Amz-Function-Error).
const exitFunctionError = 2

type invokeOptions struct {
	*globalOptions
	data      string
	path      string
	qualifier string
	log       bool
	accessKey string
	output    outputFormat
}

func newInvokeCmd(g *globalOptions) *cobra.Command {
	o := &invokeOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "invoke <function>",
		Short: "Invoke a function of the running engine and print its response",
		Long: `invoke runs one synchronous invocation (RequestResponse) of a function of
the service that sluice serve runs, through the engine's Lambda API (an AWS
SDK client), and prints the response. <function> is the key under functions
(api) or the deployed name (orders-dev-api). Without --qualifier it runs the
latest version; --qualifier names an alias (Live) or a version (3).

The event is --data (JSON), --path (a JSON file; - reads stdin), or {}.
--log prints the tail of the invocation's log (the last 4 KB, as Lambda's
LogType Tail gives it) to stderr.

Exit status: 0 when the function succeeded, 2 when it failed (its error
document is the response), 1 when it could not be invoked.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeFunctions,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.data, "data", "d", "", "the event, as JSON")
	f.StringVarP(&o.path, "path", "p", "", "a file holding the event as JSON (- reads stdin)")
	f.StringVarP(&o.qualifier, "qualifier", "q", "", "an alias or version number (default: the latest version)")
	f.BoolVarP(&o.log, "log", "l", false, "print the invocation's log tail to stderr")
	f.StringVar(&o.accessKey, "api-access-key", engine.DefaultAccessKeyID, "the access key id the engine's AWS APIs accept (sluice serve --api-access-key)")
	addOutputFlag(cmd, &o.output)
	cmd.MarkFlagsMutuallyExclusive("data", "path")
	return cmd
}

// invokeResult is what invoke prints with --output json|yaml.
type invokeResult struct {
	Function        string          `json:"function"`
	StatusCode      int32           `json:"statusCode"`
	ExecutedVersion string          `json:"executedVersion"`
	FunctionError   string          `json:"functionError,omitempty"`
	Payload         json.RawMessage `json:"payload"`
	Log             string          `json:"log,omitempty"`
}

func (o *invokeOptions) run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, function string) error {
	payload, err := o.event(stdin)
	if err != nil {
		return err
	}
	name, err := o.functionName(function)
	if err != nil {
		return err
	}
	c, err := o.dialEngine()
	if err != nil {
		return fmt.Errorf("%w\nStart the engine first: sluice serve (in another terminal)", err)
	}
	client := lambda.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(c.Info.APIURL),
		Credentials:  credentials.NewStaticCredentialsProvider(o.accessKey, "sluice-local-secret-access-key", ""),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	})
	in := &lambda.InvokeInput{FunctionName: aws.String(name), Payload: payload}
	if o.qualifier != "" {
		in.Qualifier = aws.String(o.qualifier)
	}
	if o.log {
		in.LogType = types.LogTypeTail
	}
	out, err := client.Invoke(ctx, in)
	if err != nil {
		return fmt.Errorf("invoke %s at %s: %w\nIs sluice serve running for %s? (sluice status shows it)", name, c.Info.APIURL, err, o.config)
	}
	res := invokeResult{Function: name, StatusCode: out.StatusCode, ExecutedVersion: aws.ToString(out.ExecutedVersion),
		FunctionError: aws.ToString(out.FunctionError), Payload: out.Payload}
	if !json.Valid(res.Payload) {
		res.Payload, _ = json.Marshal(string(out.Payload))
	}
	if out.LogResult != nil {
		b, err := base64.StdEncoding.DecodeString(*out.LogResult)
		if err != nil {
			return fmt.Errorf("the log tail is not base64: %w", err)
		}
		res.Log = string(b)
	}
	if err := o.output.print(stdout, res, func(w io.Writer) error {
		if res.Log != "" {
			fmt.Fprint(stderr, res.Log)
			if !strings.HasSuffix(res.Log, "\n") {
				fmt.Fprintln(stderr)
			}
		}
		_, err := fmt.Fprintf(w, "%s\n", out.Payload)
		return err
	}); err != nil {
		return err
	}
	if res.FunctionError != "" {
		return &exitError{code: exitFunctionError, err: fmt.Errorf("%s version %s failed (%s)", name, res.ExecutedVersion, res.FunctionError)}
	}
	return nil
}

// event is the invocation's payload: --data, --path, or {}.
func (o *invokeOptions) event(stdin io.Reader) ([]byte, error) {
	var b []byte
	var what string
	switch {
	case o.data != "":
		b, what = []byte(o.data), "--data"
	case o.path == "-":
		var err error
		if b, err = io.ReadAll(stdin); err != nil {
			return nil, err
		}
		what = "stdin"
	case o.path != "":
		var err error
		if b, err = os.ReadFile(o.path); err != nil {
			return nil, fmt.Errorf("--path: %w", err)
		}
		what = o.path
	default:
		return []byte("{}"), nil
	}
	if !json.Valid(b) {
		var syn *json.SyntaxError
		err := json.Unmarshal(b, new(any))
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("%s is not JSON: %v at byte %d; write an event such as '{\"id\": 42}'", what, err, syn.Offset)
		}
		return nil, fmt.Errorf("%s is not JSON: %v", what, err)
	}
	return b, nil
}
