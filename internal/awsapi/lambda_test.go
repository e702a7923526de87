package awsapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/invoke"
	"github.com/sluice-dev/sluice/internal/logs"
	"github.com/sluice-dev/sluice/internal/registry"
	"github.com/sluice-dev/sluice/internal/registry/registrytest"
	"github.com/sluice-dev/sluice/internal/testutil"
)

// lambdaFixture serves the Lambda API over functions "app" (versions 1 and
// 2, alias live → 1 with 2 at weight 0) and "busy" (reservedConcurrency 0).
func lambdaFixture(t *testing.T) *lambda.Client {
	t.Helper()
	reg, _, state := registrytest.Open(t, clock.Real())
	ls, err := logs.Open(filepath.Join(state, "logs"), logs.Options{FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	src, _ := filepath.Abs("testdata/fn")
	for _, c := range []struct{ fn, desc string }{{"app", "one"}, {"app", "two"}, {"busy", ""}} {
		if _, _, err := reg.Publish(c.fn, registry.Config{Runtime: "nodejs20.x", Handler: "handler.handler", Timeout: 5 * time.Second,
			MemorySize: 128, Environment: map[string]string{"DESC": c.desc}}, src, c.desc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.SetAlias("app", "live", 1, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	iv := invoke.New(invoke.Options{Registry: reg, Logs: ls, RuntimeDir: filepath.Join(state, "runtime"), StopGrace: 500 * time.Millisecond})
	zero := 0
	iv.Configure("busy", invoke.Settings{ReservedConcurrency: &zero})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		iv.Close(ctx)
	})
	srv := httptest.NewServer(&Lambda{Invoker: iv, Registry: reg, Logs: ls})
	t.Cleanup(srv.Close)
	return lambda.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", "")})
}

func TestLambdaInvokeThroughTheSDK(t *testing.T) {
	c := lambdaFixture(t)
	ctx := context.Background()

	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("app"), Payload: []byte(`{"n":1}`), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	if out.StatusCode != 200 || aws.ToString(out.ExecutedVersion) != "2" || out.FunctionError != nil {
		t.Fatalf("unqualified invoke: status %d, version %s, error %v", out.StatusCode, aws.ToString(out.ExecutedVersion), out.FunctionError)
	}
	if !bytes.Contains(out.Payload, []byte(`"got":{"n":1}`)) {
		t.Fatalf("payload %s", out.Payload)
	}
	tail, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	for _, want := range []string{"START RequestId:", `handling {"n":1}`, "END RequestId:", "REPORT RequestId:"} {
		if !strings.Contains(string(tail), want) {
			t.Errorf("log tail lacks %q:\n%s", want, tail)
		}
	}

	// Every way of naming the function and qualifier.
	for _, c2 := range []struct{ name, qualifier, version string }{
		{"app", "live", "1"},
		{"app:live", "", "1"},
		{"app", "1", "1"},
		{"app", "$LATEST", "2"},
		{"000000000000:function:app:live", "", "1"},
		{"arn:aws:lambda:us-east-1:000000000000:function:app", "live", "1"},
		{"arn:aws:lambda:us-east-1:000000000000:function:app:2", "", "2"},
	} {
		in := &lambda.InvokeInput{FunctionName: aws.String(c2.name)}
		if c2.qualifier != "" {
			in.Qualifier = aws.String(c2.qualifier)
		}
		out, err := c.Invoke(ctx, in)
		if err != nil {
			t.Errorf("Invoke(%s, %s): %v", c2.name, c2.qualifier, err)
			continue
		}
		if got := aws.ToString(out.ExecutedVersion); got != c2.version {
			t.Errorf("Invoke(%s, %s) ran version %s, want %s", c2.name, c2.qualifier, got, c2.version)
		}
	}

	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("app"), Payload: []byte(`{"fail":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || !bytes.Contains(out.Payload, []byte("asked to fail")) || !bytes.Contains(out.Payload, []byte("TypeError")) {
		t.Fatalf("failing invoke: error %v, payload %s", out.FunctionError, out.Payload)
	}

	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("app"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %v, status %v", err, out)
	}

	marker := filepath.Join(t.TempDir(), "ran")
	payload, _ := json.Marshal(map[string]string{"touch": marker})
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("app"), InvocationType: types.InvocationTypeEvent, Payload: payload})
	if err != nil || out.StatusCode != 202 {
		t.Fatalf("Event: %v, status %v", err, out)
	}
	testutil.Eventually(t, "the Event invocation to run", func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
}

func TestLambdaErrorsAreAWSErrors(t *testing.T) {
	c := lambdaFixture(t)
	ctx := context.Background()
	var notFound *types.ResourceNotFoundException
	for _, in := range []*lambda.InvokeInput{
		{FunctionName: aws.String("nope")},
		{FunctionName: aws.String("app"), Qualifier: aws.String("Prod")},
		{FunctionName: aws.String("app"), Qualifier: aws.String("9")},
		{FunctionName: aws.String("nope"), InvocationType: types.InvocationTypeDryRun},
		{FunctionName: aws.String("nope"), InvocationType: types.InvocationTypeEvent},
	} {
		if _, err := c.Invoke(ctx, in); !errors.As(err, &notFound) {
			t.Errorf("Invoke(%s:%s %s) = %v, want ResourceNotFoundException", aws.ToString(in.FunctionName), aws.ToString(in.Qualifier), in.InvocationType, err)
		}
	}
	var throttled *types.TooManyRequestsException
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("busy")}); !errors.As(err, &throttled) {
		t.Errorf("reservedConcurrency 0: %v, want TooManyRequestsException", err)
	} else if throttled.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Errorf("throttle reason %q", throttled.Reason)
	}
	var tooLarge *types.RequestTooLargeException
	big := append(append([]byte(`"`), bytes.Repeat([]byte("x"), invoke.MaxSyncPayload)...), '"')
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("app"), Payload: big}); !errors.As(err, &tooLarge) {
		t.Errorf("6 MB payload: %v, want RequestTooLargeException", err)
	}
	var badContent *types.InvalidRequestContentException
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("app"), Payload: []byte(`{not json`)}); !errors.As(err, &badContent) {
		t.Errorf("invalid JSON: %v, want InvalidRequestContentException", err)
	}
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":"` + strings.Repeat("x", 2700) + `"}`))
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("app"), ClientContext: aws.String(cc)}); !errors.As(err, &badContent) {
		t.Errorf("a %d-byte client context: %v, want InvalidRequestContentException", len(cc), err)
	}
	var apiErr smithy.APIError
	for _, name := range []string{strings.Repeat("f", 65), strings.Repeat("f", 171), "bad/name"} {
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name)}); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
			t.Errorf("function name %.20s… (%d): %v, want ValidationException", name, len(name), err)
		}
	}
	// Lambda's errors carry Message, which the SDKs read.
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")}); !errors.As(err, &notFound) || !strings.Contains(aws.ToString(notFound.Message), "nope") {
		t.Errorf("the not-found message: %v", err)
	}
}

func TestLambdaReadOnlyCalls(t *testing.T) {
	c := lambdaFixture(t)
	ctx := context.Background()
	alias, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("app"), Name: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(alias.FunctionVersion) != "1" || aws.ToString(alias.AliasArn) != "arn:aws:lambda:us-east-1:000000000000:function:app:live" {
		t.Fatalf("GetAlias: %+v", alias)
	}
	aliases, err := c.ListAliases(ctx, &lambda.ListAliasesInput{FunctionName: aws.String("app")})
	if err != nil || len(aliases.Aliases) != 1 {
		t.Fatalf("ListAliases: %v %+v", err, aliases)
	}
	versions, err := c.ListVersionsByFunction(ctx, &lambda.ListVersionsByFunctionInput{FunctionName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range versions.Versions {
		got = append(got, aws.ToString(v.Version)+"="+aws.ToString(v.Description))
	}
	if strings.Join(got, " ") != "$LATEST=two 1=one 2=two" {
		t.Fatalf("ListVersionsByFunction: %v", got)
	}
	fn, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("app"), Qualifier: aws.String("live")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := fn.Configuration; aws.ToString(cfg.Version) != "1" || aws.ToString(cfg.Handler) != "handler.handler" || aws.ToInt32(cfg.Timeout) != 5 ||
		cfg.Environment.Variables["DESC"] != "one" {
		t.Fatalf("GetFunction(app:live): %+v", cfg)
	}
	var notFound *types.ResourceNotFoundException
	if _, err := c.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("app"), Name: aws.String("nope")}); !errors.As(err, &notFound) {
		t.Fatalf("GetAlias(nope) = %v", err)
	}
}

func TestLambdaUnknownOperations(t *testing.T) {
	srv := httptest.NewServer(&Lambda{})
	t.Cleanup(srv.Close)
	for _, c := range []struct{ method, path string }{
		{"DELETE", "/2015-03-31/functions/app"},
		{"POST", "/2015-03-31/functions"},
		{"GET", "/2015-03-31/functions/app/policy"},
		{"GET", "/2018-10-31/layers"},
		{"GET", "/2015-03-31/functions/app/aliases/"}, // GetAlias of no alias, not ListAliases
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || res.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
			t.Errorf("%s %s = %d %s, want 404 UnknownOperationException", c.method, c.path, res.StatusCode, res.Header.Get("X-Amzn-ErrorType"))
		}
	}
}

// TestLambdaValidation covers what Lambda refuses before looking a
// function up, as the SDK surfaces it.
func TestLambdaValidation(t *testing.T) {
	c := lambdaFixture(t)
	ctx := context.Background()
	long := strings.Repeat("f", 65)
	arn := "arn:aws:lambda:us-east-1:000000000000:function:"
	for _, tc := range []struct {
		name, code, message string
	}{
		{long, "ValidationException", "1 to 64"},
		{arn + long, "ValidationException", "1 to 64"},
		{arn + strings.Repeat("f", 64) + ":" + strings.Repeat("q", 130), "ValidationException", "Member must have length less than or equal to 170"},
		{"app$", "ValidationException", "Member must satisfy regular expression pattern"},
	} {
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(tc.name)})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tc.code || !strings.Contains(ae.ErrorMessage(), tc.message) {
			t.Errorf("Invoke(%.40s…) = %v, want %s saying %q", tc.name, err, tc.code, tc.message)
		}
	}
	// A 64-character name is valid (and not found).
	var notFound *types.ResourceNotFoundException
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(arn + strings.Repeat("f", 64))}); !errors.As(err, &notFound) {
		t.Errorf("a 64-character name: %v, want ResourceNotFoundException", err)
	}

	// The client context: at most 3,583 bytes once base64-encoded, and JSON.
	var badContent *types.InvalidRequestContentException
	fits := `{"custom":{"k":"` + strings.Repeat("x", 2650) + `"}}`
	if n := base64.StdEncoding.EncodedLen(len(fits)); n > 3583 {
		t.Fatalf("the fitting context is %d bytes encoded", n)
	}
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("app"), ClientContext: aws.String(base64.StdEncoding.EncodeToString([]byte(fits)))}); err != nil {
		t.Errorf("a 3,5xx-byte client context: %v", err)
	}
	over := `{"custom":{"k":"` + strings.Repeat("x", 2700) + `"}}`
	_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("app"), ClientContext: aws.String(base64.StdEncoding.EncodeToString([]byte(over)))})
	if !errors.As(err, &badContent) || !strings.Contains(badContent.ErrorMessage(), "3583") {
		t.Errorf("a client context over 3,583 bytes: %v, want InvalidRequestContentException naming the limit", err)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("app"), ClientContext: aws.String("not base64!")})
	if !errors.As(err, &badContent) || badContent.ErrorMessage() != "Client context must be a valid Base64-encoded JSON object." {
		t.Errorf("a client context that is not base64: %v", err)
	}
}

// TestLambdaErrorBody checks the error body itself: Lambda writes Type and
// Message (capitalised) and the type in X-Amzn-ErrorType.
func TestLambdaErrorBody(t *testing.T) {
	srv := httptest.NewServer(&Lambda{})
	t.Cleanup(srv.Close)
	for _, path := range []string{
		"/2015-03-31/functions/app/aliases/", // not ListAliases
		"/2015-03-31/functions/app/versions/",
		"/2015-03-31/functions/app/policy",
	} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusNotFound || res.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
			t.Errorf("GET %s = %d %s (%v), want 404 UnknownOperationException", path, res.StatusCode, res.Header.Get("X-Amzn-ErrorType"), err)
			continue
		}
		if _, ok := body["Message"].(string); !ok || body["Type"] != "User" || body["message"] != nil || len(body) != 2 {
			t.Errorf("GET %s: body %v, want exactly Type and Message", path, body)
		}
	}
}
