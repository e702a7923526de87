package cfnjson

import (
	"os"
	"testing"
)

// BenchmarkDecodeEncode reads and writes the 200-function template of
// bench/package (go run ./bench/package/gen -o /tmp/out; CFNJSON_BENCH=/tmp/out/template.json).
func BenchmarkDecodeEncode(b *testing.B) {
	path := os.Getenv("CFNJSON_BENCH")
	if path == "" {
		path = "../../cmd/sluice/testdata/package/template.json"
	}
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		v, o, err := Decode(src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := AppendEncode(make([]byte, 0, len(src)+len(src)/4), v, o); err != nil {
			b.Fatal(err)
		}
	}
}
