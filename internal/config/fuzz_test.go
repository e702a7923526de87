package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds LoadBytes arbitrary documents: it must never panic, and
// it must fail exactly when it reports an error diagnostic. Seeds are the
// golden test inputs. Run with `go test ./internal/config -fuzz FuzzLoad`.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/load/*.yml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"service": "s", "functions": {"a": {"handler": "h.a", "deploymentSettings": {"type": "AllAtOnce", "alias": "Live"}}}}`))
	f.Add([]byte("service: s\nfunctions:\n  a:\n    handler: h.a\n    events:\n      - http: GET /\n      - schedule: {rate: [rate(1 minute)], input: '{}'}\n"))
	f.Add([]byte("service: ${self:custom.a}\ncustom:\n  a: ${opt:stage}-${env:HOME, 'x'}\n  b: !GetAtt A.Arn\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte) {
		svc, diags, err := LoadBytes("serverless.yml", dir, src, Options{Getenv: testEnv})
		if (err != nil) != (len(diags.Errors()) > 0) {
			t.Fatalf("err = %v but %d error diagnostics", err, len(diags.Errors()))
		}
		if err == nil && svc == nil {
			t.Fatal("no service and no error")
		}
		for _, d := range diags {
			_ = d.Error()
		}
		if svc != nil {
			_ = svc.StackName()
			for _, fn := range svc.Functions {
				_ = fn.LogicalID()
			}
		}
	})
}

// FuzzDotenv feeds the .env parser and dotenv-expand arbitrary files: they
// must never panic or run away (a variable that expands into itself is an
// error). Run with `go test ./internal/config -fuzz FuzzDotenv`.
func FuzzDotenv(f *testing.F) {
	for _, file := range []string{"testdata/local/dotenv-stage/.env.dev", "testdata/local/dotenv-stage/.env"} {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("A=$A$A\nB=${B:-${B}}\nC='multi\nline'\nD=\"x\\n$C\"\n"))
	f.Add([]byte("A=${B}\nB=${A}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		keys, parsed := parseDotenv(string(src))
		if len(keys) != len(parsed) {
			t.Fatalf("%d keys but %d values", len(keys), len(parsed))
		}
		vals, err := dotenvExpand(keys, parsed, func(string) (string, bool) { return "", false })
		if err == nil && len(vals) != len(keys) {
			t.Fatalf("%d keys expanded into %d values", len(keys), len(vals))
		}
	})
}
