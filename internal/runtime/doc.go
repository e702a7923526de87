// Package runtime runs function versions the way AWS Lambda runs them: as
// real processes (execution environments) behind the Lambda Runtime API.
//
// A Spec describes one function version; NewPool checks it and returns the
// Pool that runs its invocations:
//
//	lim := runtime.NewLimiter(reservedConcurrency) // one per function, shared by its versions
//	pool, err := runtime.NewPool(spec, runtime.Options{Clock: clk, Logs: store, Limiter: lim})
//	res, err := pool.Invoke(ctx, runtime.Invocation{Payload: event})
//	// err: ErrThrottled, ErrPoolClosed or setup trouble; function errors are in res
//	…
//	pool.Close(ctx) // drains in-flight invocations, then stops the processes
//
// Each environment is one process plus its own Runtime API endpoint
// (AWS_LAMBDA_RUNTIME_API: a private Unix socket for sluice's bootstraps,
// 127.0.0.1:port for custom runtimes) that answers only the environment's
// own process group, serving one invocation at a time and reused while warm. Node.js (nodejs*) and Python (python3.*) functions run
// under bootstraps written by sluice (embedded, see bootstraps/); custom
// runtimes (provided, provided.al2, provided.al2023) run the code
// directory's ./bootstrap, e.g. a Go program built with aws-lambda-go.
//
// What Lambda does, sluice does: the standard environment variables and
// nothing of sluice's own environment; the working directory is the code
// directory; an invocation past its timeout is killed and reported as
// "Task timed out after N.NN seconds"; a crash is Runtime.ExitError; init
// failures are reported with the runtime's error type; stdout and stderr go
// line by line to the environment's log stream (package logs) between
// START, END and REPORT lines. Durations are real time; log timestamps and
// stream dates come from the injected clock.
package runtime
