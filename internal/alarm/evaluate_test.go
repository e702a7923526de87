package alarm

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMissingDataTable pins decide to testdata/missing_data.txt, which holds
// AWS's published tables verbatim plus our own rows.
func TestMissingDataTable(t *testing.T) {
	f, err := os.Open("testdata/missing_data.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	treatments := []TreatMissingData{TreatMissing, TreatIgnore, TreatBreaching, TreatNotBreaching}
	rows := 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		rows++
		in, out, ok := strings.Cut(text, "=>")
		fields, want := strings.Fields(in), strings.Fields(out)
		if !ok || len(fields) < 3 || len(want) != 4 {
			t.Fatalf("missing_data.txt:%d: malformed row", line)
		}
		m, err1 := strconv.Atoi(fields[0])
		n, err2 := strconv.Atoi(fields[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("missing_data.txt:%d: bad M or N", line)
		}
		var points []point
		for i, s := range fields[2:] {
			p := point{start: time.Unix(int64(i)*60, 0)}
			switch s {
			case "X":
				p.present, p.value = true, 2
			case "0":
				p.present, p.value = true, 0
			case "-":
			default:
				t.Fatalf("missing_data.txt:%d: datapoint %q is not 0, X or -", line, s)
			}
			points = append(points, p)
		}
		if len(points) != evaluationRange(n) {
			t.Fatalf("missing_data.txt:%d: %d datapoints, but the evaluation range of N=%d is %d", line, len(points), n, evaluationRange(n))
		}
		breaches := func(v float64) bool { return v >= 1 }
		for i, treat := range treatments {
			d := decide(points, n, m, breaches, treat)
			got := d.state.String()
			if d.retain {
				got = "retain"
			}
			if got != want[i] {
				t.Errorf("missing_data.txt:%d: %d of %d, %s, TreatMissingData %s: got %s, want %s",
					line, m, n, strings.Join(fields[2:], " "), treat, got, want[i])
			}
		}
	}
	if rows < 10 {
		t.Fatalf("only %d rows read", rows)
	}
}

func TestJavaDouble(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0.0", 1: "1.0", 3: "3.0", 0.05: "0.05", -2.5: "-2.5", 1.0166666666666666: "1.0166666666666666",
		1e7: "1.0E7", 12345678.9: "1.23456789E7", 0.0001: "1.0E-4", 500: "500.0",
	} {
		if got := javaDouble(v); got != want {
			t.Errorf("javaDouble(%v) = %s, want %s", v, got, want)
		}
	}
}
