package metrics

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// NamespaceLambda is the namespace of the metrics Lambda publishes per invocation.
const NamespaceLambda = "AWS/Lambda"

// The AWS/Lambda metrics sluice records for every invocation.
const (
	MetricInvocations          = "Invocations"          // 1 per invocation (throttled attempts excluded)
	MetricErrors               = "Errors"               // 1 if the function failed, else 0
	MetricThrottles            = "Throttles"            // 1 for a throttled attempt, 0 for an invocation
	MetricDuration             = "Duration"             // milliseconds the function ran
	MetricConcurrentExecutions = "ConcurrentExecutions" // instances busy when the invocation ran
)

// The dimensions of AWS/Lambda metrics.
const (
	DimFunctionName    = "FunctionName"    // all versions and aliases of a function
	DimResource        = "Resource"        // one alias or version: "fn:live", "fn:3"
	DimExecutedVersion = "ExecutedVersion" // the version an alias invocation ran
)

// LambdaDimensionSets returns the dimension sets Lambda publishes one
// invocation under, as the Lambda developer guide lists them:
//   - none: across all functions;
//   - FunctionName: all versions and aliases of the function;
//   - FunctionName, Resource: the alias or version that was invoked (only
//     for qualified invocations);
//   - FunctionName, Resource, ExecutedVersion: the version an alias
//     invocation ran (only when the resource is an alias), which is how a
//     weighted alias's two versions are compared during a canary.
//
// resource is "fn:qualifier" or "" for an unqualified invocation.
func LambdaDimensionSets(function, resource, executedVersion string) ([][]Dimension, error) {
	if function == "" {
		return nil, errors.New("lambda metrics: function name is empty")
	}
	if strings.Contains(function, ":") {
		return nil, fmt.Errorf("lambda metrics: function name %q contains ':': pass the bare name and the qualified name as the resource", function)
	}
	fn := Dimension{DimFunctionName, function}
	sets := [][]Dimension{{}, {fn}}
	if resource == "" || resource == function {
		return sets, nil
	}
	qualifier, ok := strings.CutPrefix(resource, function+":")
	if !ok || qualifier == "" || strings.Contains(qualifier, ":") {
		return nil, fmt.Errorf("lambda metrics: resource %q is not %s:<alias or version>", resource, function)
	}
	res := Dimension{DimResource, resource}
	sets = append(sets, []Dimension{fn, res})
	if executedVersion != "" && executedVersion != qualifier {
		sets = append(sets, []Dimension{{DimExecutedVersion, executedVersion}, fn, res})
	}
	return sets, nil
}

// Invocation is what one invocation contributes to the AWS/Lambda metrics.
type Invocation struct {
	Duration    time.Duration // how long the function ran
	Error       bool          // the function returned or raised an error, or timed out
	Throttled   bool          // the attempt was throttled: only Throttles=1 is recorded
	Concurrency int           // execution environments busy with invocations, this one included
}

// lambdaSeries are the series of one dimension set; they share one lockGroup.
type lambdaSeries struct {
	invocations, errors, throttles, duration, concurrent *Series
}

// record adds one invocation under one lock.
func (ls *lambdaSeries) record(sec int64, inv *Invocation, errs, ms float64) {
	g := ls.throttles.group
	i := g.lock()
	retention := ls.throttles.store.retention.Load()
	if inv.Throttled {
		ls.throttles.shards[i].add(sec, 1, retention)
	} else {
		ls.invocations.shards[i].add(sec, 1, retention)
		ls.errors.shards[i].add(sec, errs, retention)
		ls.throttles.shards[i].add(sec, 0, retention)
		ls.duration.shards[i].add(sec, ms, retention)
		ls.concurrent.shards[i].add(sec, float64(inv.Concurrency), retention)
	}
	g.unlock(i)
}

// InvocationRecorder records invocations of one (function, resource,
// executed version) under every dimension set Lambda uses. Resolve it once
// per combination with Store.InvocationRecorder; Record is then cheap.
type InvocationRecorder struct {
	store *Store
	sets  []lambdaSeries
}

// InvocationRecorder returns the recorder for invocations of resource
// ("fn:alias", "fn:version" or "" for unqualified) that ran executedVersion.
// Recorders are cached: asking again returns the same one.
func (st *Store) InvocationRecorder(function, resource, executedVersion string) (*InvocationRecorder, error) {
	key := function + "\x00" + resource + "\x00" + executedVersion
	if r, ok := st.recorders.Load(key); ok {
		return r.(*InvocationRecorder), nil
	}
	sets, err := LambdaDimensionSets(function, resource, executedVersion)
	if err != nil {
		return nil, err
	}
	r := &InvocationRecorder{store: st, sets: make([]lambdaSeries, len(sets))}
	for i, dims := range sets {
		get := func(name string) *Series {
			s, err2 := st.Series(SeriesID{Namespace: NamespaceLambda, MetricName: name, Dimensions: dims})
			if err2 != nil {
				err = err2
			}
			return s
		}
		r.sets[i] = lambdaSeries{
			invocations: get(MetricInvocations),
			errors:      get(MetricErrors),
			throttles:   get(MetricThrottles),
			duration:    get(MetricDuration),
			concurrent:  get(MetricConcurrentExecutions),
		}
	}
	if err != nil {
		return nil, err
	}
	actual, _ := st.recorders.LoadOrStore(key, r)
	return actual.(*InvocationRecorder), nil
}

// Record records one invocation (or throttled attempt) with the current
// clock time, then wakes subscribers. It does not wait for them.
//
// The datapoints are stamped when Record is called, which the invoke layer
// does when the invocation ends; Lambda stamps them with the start time.
// Stamping at the end means a datapoint never lands in a period an alarm has
// already closed, which keeps alarm evaluation event-driven.
func (r *InvocationRecorder) Record(inv Invocation) {
	sec := r.store.clock.Now().Unix()
	errs := 0.0
	if inv.Error {
		errs = 1
	}
	ms := float64(inv.Duration) / float64(time.Millisecond)
	for i := range r.sets {
		r.sets[i].record(sec, &inv, errs, ms)
	}
	for i := range r.sets {
		ls := &r.sets[i]
		if !inv.Throttled {
			ls.invocations.notify()
			ls.errors.notify()
			ls.duration.notify()
			ls.concurrent.notify()
		}
		ls.throttles.notify()
	}
}
