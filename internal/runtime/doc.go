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
//
// # An environment's life
//
// Each environment is in one of five states (envState, state.go), and every
// change goes through one function that refuses and logs an illegal one
// (testdata/envstates.txt lists every pair):
//
//	starting  the process runs its init code, until its first GET /next
//	idle      initialized, in the pool, waiting for an invocation
//	busy      running one invocation
//	stopping  its process group killed (SIGTERM first when the pool closes),
//	          its endpoint and log stream closing
//	dead      stopped; process, endpoint and EnvironmentCap slot released
//
//	starting → busy      initialized: it runs the invocation it was started for
//	starting → stopping  init failed, timed out, or its caller gave up
//	idle → busy          a warm invocation takes it
//	idle → stopping      reaped (IdleTimeout), evicted for another version,
//	                     found exited, or the pool closes
//	busy → idle          the invocation ended and it can be reused
//	busy → stopping      the invocation timed out or crashed it, or it had
//	                     exited before taking the event
//	stopping → dead
//
// The process may exit in any state: that is noticed when the pool next
// uses the environment, not a state of its own. testdata/lifecycles.txt
// drives real processes through these lives (cold start, warm reuse, reap,
// crash, timeout, init failures) and pins the states each went through.
package runtime
