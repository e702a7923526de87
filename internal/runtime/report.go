package runtime

import (
	"strconv"
	"time"
)

// Error types sluice itself reports (the runtime reports the others, e.g.
// "Error", "Runtime.ImportModuleError", "Runtime.HandlerNotFound").
const (
	// ErrorTypeTimeout: the invocation ran past the function's timeout.
	ErrorTypeTimeout = "Sandbox.Timedout"
	// ErrorTypeExit: the runtime process exited (or crashed) mid-invocation or during init.
	ErrorTypeExit = "Runtime.ExitError"
	// ErrorTypeOutOfMemory: the runtime process died of its memory limit
	// (Node's heap limit, or a kill once it held about its memorySize).
	ErrorTypeOutOfMemory = "Runtime.OutOfMemory"
	// ErrorTypeInvalidEntrypoint: the runtime program could not be started.
	ErrorTypeInvalidEntrypoint = "Runtime.InvalidEntrypoint"
	// ErrorTypeResponseTooLarge: the response exceeded MaxResponseBytes.
	ErrorTypeResponseTooLarge = "Function.ResponseSizeTooLarge"
)

// FunctionErrorUnhandled is the X-Amz-Function-Error value of every failed
// invocation (Lambda no longer distinguishes "Handled").
const FunctionErrorUnhandled = "Unhandled"

// The platform lines below are the ones Lambda writes around every
// invocation, e.g.
//
//	START RequestId: 8f50… Version: $LATEST
//	END RequestId: 8f50…
//	REPORT RequestId: 8f50…	Duration: 1.42 ms	Billed Duration: 2 ms	Memory Size: 128 MB	Max Memory Used: 39 MB	Init Duration: 130.49 ms

func appendStart(b []byte, id, version string) []byte {
	b = append(b, "START RequestId: "...)
	b = append(b, id...)
	b = append(b, " Version: "...)
	return append(b, version...)
}

func appendEnd(b []byte, id string) []byte {
	b = append(b, "END RequestId: "...)
	return append(b, id...)
}

// appendReport writes the REPORT line. status is "" for invocations the
// runtime answered (successfully or with a function error), else "timeout"
// or "error" with the platform error type, as Lambda's REPORT lines carry.
func appendReport(b []byte, r *Result, status, errorType string) []byte {
	b = append(b, "REPORT RequestId: "...)
	b = append(b, r.RequestID...)
	b = append(b, "\tDuration: "...)
	b = appendMillis(b, r.Duration)
	b = append(b, " ms\tBilled Duration: "...)
	b = strconv.AppendInt(b, r.BilledDuration.Milliseconds(), 10)
	b = append(b, " ms\tMemory Size: "...)
	b = strconv.AppendInt(b, int64(r.MemorySizeMB), 10)
	b = append(b, " MB\tMax Memory Used: "...)
	b = strconv.AppendInt(b, int64(r.MaxMemoryUsedMB), 10)
	b = append(b, " MB\t"...)
	if r.ColdStart {
		b = append(b, "Init Duration: "...)
		b = appendMillis(b, r.InitDuration)
		b = append(b, " ms\t"...)
	}
	if status != "" {
		b = append(b, "Status: "...)
		b = append(b, status...)
		b = append(b, '\t')
		if errorType != "" {
			b = append(b, "Error Type: "...)
			b = append(b, errorType...)
			b = append(b, '\t')
		}
	}
	return b
}

// appendInitReport writes the INIT_REPORT line of a failed initialization.
func appendInitReport(b []byte, d time.Duration, status, errorType string) []byte {
	b = append(b, "INIT_REPORT Init Duration: "...)
	b = appendMillis(b, d)
	b = append(b, " ms\tPhase: init\tStatus: "...)
	b = append(b, status...)
	if errorType != "" {
		b = append(b, "\tError Type: "...)
		b = append(b, errorType...)
	}
	return b
}

func appendMillis(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

// billed rounds up to the millisecond, as Lambda bills (at least 1 ms).
func billed(d time.Duration) time.Duration {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms < 1 {
		ms = 1
	}
	return ms * time.Millisecond
}

// timeoutMessage is Lambda's: "2026-03-01T12:00:03.000Z <id> Task timed out after 3.00 seconds".
func timeoutMessage(now time.Time, id string, timeout time.Duration) string {
	return now.UTC().Format("2006-01-02T15:04:05.000Z") + " " + id +
		" Task timed out after " + strconv.FormatFloat(timeout.Seconds(), 'f', 2, 64) + " seconds"
}
