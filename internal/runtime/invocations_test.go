package runtime

import (
	"bufio"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

type invocationCase struct {
	line                                int
	name, runtime, code, handler, event string
	functionError, errorType, payload   string
	payloadRE                           *regexp.Regexp
}

func readInvocationCases(t *testing.T) []invocationCase {
	f, err := os.Open("testdata/invocations.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []invocationCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 8 {
			t.Fatalf("invocations.txt:%d: want 8 tab-separated columns, got %d", n, len(cols))
		}
		for i, c := range cols {
			if c == "-" {
				cols[i] = ""
			}
		}
		re, err := regexp.Compile(cols[7])
		if err != nil {
			t.Fatalf("invocations.txt:%d: payload regexp: %v", n, err)
		}
		cases = append(cases, invocationCase{n, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], re})
	}
	return cases
}

// TestInvocations runs testdata/invocations.txt: handler styles, errors and
// initialization failures of every runtime, each on a fresh environment.
func TestInvocations(t *testing.T) {
	for _, c := range readInvocationCases(t) {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, spec(t, c.runtime, c.code, c.handler), Options{})
			inv := Invocation{}
			if c.event != "<nil>" {
				inv.Payload = []byte(c.event)
			}
			res, err := p.Invoke(context.Background(), inv)
			if err != nil {
				t.Fatalf("invocations.txt:%d: Invoke: %v", c.line, err)
			}
			if res.FunctionError != c.functionError || res.ErrorType != c.errorType {
				t.Errorf("invocations.txt:%d: function error %q type %q, want %q type %q",
					c.line, res.FunctionError, res.ErrorType, c.functionError, c.errorType)
			}
			if !c.payloadRE.Match(res.Payload) {
				t.Errorf("invocations.txt:%d: payload\n  %s\ndoes not match\n  %s", c.line, res.Payload, c.payload)
			}
			if !res.ColdStart || res.ExecutedVersion != "1" || res.RequestID == "" || res.LogStream == "" {
				t.Errorf("invocations.txt:%d: result %+v: want a cold start of version 1 with a request id and log stream", c.line, res)
			}
		})
	}
}
