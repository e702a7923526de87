package jsvalue

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// testdata/truthy.txt lists JSON values and what JavaScript's !!value says
// of them; each is checked decoded both as float64 and as json.Number.
func TestTruthyAsJavaScript(t *testing.T) {
	f, err := os.Open("testdata/truthy.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		value, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%q: want JSON, a tab, and true or false", line)
		}
		var plain any
		if err := json.Unmarshal([]byte(value), &plain); err != nil {
			t.Fatalf("%s: %v", value, err)
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(value)))
		dec.UseNumber()
		var number any
		if err := dec.Decode(&number); err != nil {
			t.Fatal(err)
		}
		for _, v := range []any{plain, number} {
			if got := Truthy(v); (got && want != "true") || (!got && want != "false") {
				t.Errorf("Truthy(%s as %T) = %v, JavaScript says %s", value, v, got, want)
			}
		}
		n++
	}
	if n == 0 {
		t.Fatal("no test data")
	}
	if Truthy(0) || !Truthy(3) {
		t.Error("Truthy of Go ints differs from JavaScript's numbers")
	}
}
