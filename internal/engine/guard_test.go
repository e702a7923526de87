package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/internal/control"
	"github.com/sluice-dev/sluice/internal/invoke"
)

// The audit's scenario: a web page posts to the control API without a
// preflight; the API answers only the CLI, and the AWS APIs only callers
// that use the functions' access key.
func TestAPIListenerRefusesWebPagesAndUnknownCallers(t *testing.T) {
	dir := shopDir(t)
	e := start(t, dir, nil)
	versions := len(e.Registry().Function("shop-dev-api").Versions())
	// Something to deploy, so that a deploy that got through would publish.
	f, err := os.OpenFile(dir+"/src/api.js", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n// changed\n")
	f.Close()

	var resp *http.Response
	for _, path := range []string{"deploy", "functions/shop-dev-api/rollback"} {
		req, _ := http.NewRequest(http.MethodPost, e.APIURL()+control.Prefix+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", "http://evil.example")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a web page's POST %s: %d %s", path, resp.StatusCode, body)
		}
	}
	// Without the token, from a local tool.
	resp, err = http.Post(e.APIURL()+control.Prefix+"deploy", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a POST without the token: %d", resp.StatusCode)
	}
	if n := len(e.Registry().Function("shop-dev-api").Versions()); n != versions {
		t.Fatalf("a refused request published: %d versions, had %d", n, versions)
	}

	// The CLI's client reads the token from engine.json.
	client, err := control.Dial(e.StateDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Deployment(context.Background(), "d-NOSUCH123"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("the CLI's call: err = %v, want the deployment's absence", err)
	}

	// The AWS APIs: unsigned, another key, the functions' key.
	resp, err = http.Post(e.APIURL()+"/2015-03-31/functions/shop-dev-api/invocations", "text/plain", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" ||
		!strings.Contains(string(body), `"Message":"Missing Authentication Token"`) {
		t.Fatalf("an unsigned invoke: %d %s %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
	sdk := func(key string) *lambda.Client {
		return lambda.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(e.APIURL()),
			Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
			Credentials: credentials.NewStaticCredentialsProvider(key, "whatever", "")})
	}
	_, err = sdk("AKIAOTHERKEY00000000").Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("shop-dev-api")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnrecognizedClientException" {
		t.Fatalf("another access key: err = %v", err)
	}
	out, err := sdk(DefaultAccessKeyID).Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("shop-dev-api"), Qualifier: aws.String("Live")})
	if err != nil || out.StatusCode != 200 {
		t.Fatalf("the functions' access key: %v", err)
	}
}

// What the API port answers besides the APIs: the dashboard to a local
// browser (no AWS credentials), AWS-shaped errors for the rest.
func TestAPIListenerAnswersBrowsersAndStrays(t *testing.T) {
	e := start(t, shopDir(t), nil)
	resp, err := http.Get(e.APIURL() + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /ui/ from this machine: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, e.APIURL()+"/", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+DefaultAccessKeyID+"/20260101/us-east-1/codedeploy/aws4_request, SignedHeaders=host, Signature=0")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"__type":"UnknownOperationException"`) {
		t.Fatalf("a JSON 1.1 call without X-Amz-Target: %d %s", resp.StatusCode, body)
	}
	req, _ = http.NewRequest(http.MethodGet, e.APIURL()+"/nothing/here", nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+DefaultAccessKeyID+"/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("an unknown path: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// --host 0.0.0.0: a loud warning; the CLI still reaches the control API
// over loopback, and the machine's other addresses do not.
func TestWildcardHostKeepsTheControlAPILocal(t *testing.T) {
	dir := shopDir(t)
	var out strings.Builder
	e, err := Start(Options{Config: dir + "/serverless.yml", Addr: "0.0.0.0:0", APIAddr: "0.0.0.0:0", Out: &out,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Invoke: invoke.Options{StopGrace: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, e) })
	if !strings.Contains(out.String(), "WARNING") || !strings.HasPrefix(e.APIURL(), "http://127.0.0.1:") {
		t.Fatalf("start-up printout %q, API at %s", out.String(), e.APIURL())
	}
	client, err := control.Dial(e.StateDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Deployment(context.Background(), "d-NOSUCH123"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("the CLI over loopback: %v", err)
	}
	ip := nonLoopbackIP()
	if ip == "" {
		t.Log("no non-loopback address on this machine: the network side is covered by testdata/guard.txt")
		return
	}
	port := e.APIURL()[strings.LastIndexByte(e.APIURL(), ':')+1:]
	req, _ := http.NewRequest(http.MethodPost, "http://"+ip+":"+port+control.Prefix+"deploy", strings.NewReader("{}"))
	req.Header.Set(control.TokenHeader, "Bearer "+client.Info.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the control API from %s, with the token: %d", ip, resp.StatusCode)
	}
}

func nonLoopbackIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
