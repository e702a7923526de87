package rehearse

import (
	"context"
	"testing"
	"time"
)

// BenchmarkRehearseOneFunction measures one function's rehearsal (the
// tutorial's Linear10PercentEvery1Minute with hooks, alarm on Sum of
// Errors): the goal is well under a minute of wall time.
func BenchmarkRehearseOneFunction(b *testing.B) {
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		rep, err := Run(ctx, Options{Config: "testdata/tutorial/sum.yml", Function: "hello"})
		cancel()
		if err != nil || !rep.OK() {
			b.Fatalf("rehearsal: %v, report %+v", err, rep)
		}
	}
}
