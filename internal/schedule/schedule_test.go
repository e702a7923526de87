package schedule

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

// TestTypes pins every type's steps (or its error) to testdata/types.txt.
func TestTypes(t *testing.T) {
	f, err := os.Open("testdata/types.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	rows := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rows++
		name, want, _ := strings.Cut(line, " ")
		want = strings.TrimSpace(want)
		t.Run(name, func(t *testing.T) {
			typ, err := Parse(name)
			if wantErr, ok := strings.CutPrefix(want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("Parse(%q) error = %v, want one containing %q", name, err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", name, err)
			}
			var got []string
			for _, s := range typ.Steps() {
				got = append(got, fmt.Sprintf("%dm=%g", int(s.Offset.Minutes()), math.Round(s.Weight*10000)/100))
			}
			if head, tail, ok := strings.Cut(want, " ... "); ok {
				// Long schedules: compare the first steps and the last one.
				n := len(strings.Fields(head))
				got = append(got[:n], got[len(got)-1])
				want = head + " " + tail
			}
			if g := strings.Join(got, " "); g != want {
				t.Fatalf("steps of %s:\n got %s\nwant %s", name, g, want)
			}
			if last := typ.Steps()[len(typ.Steps())-1]; last.Offset != typ.Duration() {
				t.Fatalf("Duration() = %v, last step at %v", typ.Duration(), last.Offset)
			}
		})
	}
	if rows < 10 {
		t.Fatalf("only %d rows read from testdata/types.txt", rows)
	}
}

func TestPredefinedAreRecognised(t *testing.T) {
	for _, name := range Predefined {
		typ, err := Parse(name)
		if err != nil || !typ.Predefined {
			t.Errorf("Parse(%q) = %+v, %v; want a predefined type", name, typ, err)
		}
	}
	if typ, _ := Parse("Canary25Percent45Minutes"); typ.Predefined {
		t.Error("a custom type is reported as predefined")
	}
	if typ, _ := Parse("Canary10Percent5Minute"); !typ.Predefined || typ.Name != "Canary10Percent5Minutes" {
		t.Errorf("a custom spelling of a predefined type parsed as %+v, want Canary10Percent5Minutes", typ)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range append(Predefined, "Canary25Percent45Minutes", "Linear1PercentEvery2880Minutes", "Linear99999999999999PercentEvery1Minute") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		typ, err := Parse(name)
		if err != nil {
			return
		}
		steps := typ.Steps()
		if len(steps) == 0 || steps[len(steps)-1].Weight != 1 {
			t.Fatalf("%q: steps %v do not end at full traffic", name, steps)
		}
		for i := 1; i < len(steps); i++ {
			if steps[i].Offset < steps[i-1].Offset || steps[i].Weight <= steps[i-1].Weight {
				t.Fatalf("%q: steps %v are not increasing", name, steps)
			}
		}
		if typ.Duration() > MaxInterval {
			t.Fatalf("%q: accepted a %v schedule", name, typ.Duration())
		}
	})
}
