package runtime

import (
	"errors"
	"fmt"
)

// envState is where an execution environment is in its life. Every change
// goes through env.setState, which checks it with legalTransition: an
// illegal one is refused and logged there, in one place.
//
//	starting ──→ busy ⇄ idle
//	    │          │      │
//	    └────→ stopping ←─┘
//	               │
//	              dead
//
// The process may exit in any state; the pool notices when it next uses
// the environment (or when an invocation fails) and stops it, so an exit is
// not a state of its own.
type envState int32

const (
	// stateStarting: the process runs its init code; it leaves this state
	// with its first GET /next (then busy, with the invocation that started it)
	// or when init fails, times out or its caller gives up (then stopping).
	stateStarting envState = iota
	// stateIdle: initialized and waiting in the pool for an invocation.
	stateIdle
	// stateBusy: running one invocation, taken out of the pool.
	stateBusy
	// stateStopping: being stopped: its process group killed (SIGTERM first
	// when the pool closes), its endpoint and log stream closed.
	stateStopping
	// stateDead: stopped; its process, endpoint and slot are released.
	stateDead
	numEnvStates
)

var envStateNames = [numEnvStates]string{"starting", "idle", "busy", "stopping", "dead"}

func (s envState) String() string {
	if s < 0 || s >= numEnvStates {
		return fmt.Sprintf("envState(%d)", int32(s))
	}
	return envStateNames[s]
}

// parseEnvState is String's inverse.
func parseEnvState(name string) (envState, bool) {
	for s, n := range envStateNames {
		if n == name {
			return envState(s), true
		}
	}
	return 0, false
}

// legalTransition reports whether an environment may go from one state to
// another; testdata/envstates.txt lists every pair.
func legalTransition(from, to envState) bool {
	switch from {
	case stateStarting:
		return to == stateBusy || to == stateStopping
	case stateIdle:
		return to == stateBusy || to == stateStopping
	case stateBusy:
		return to == stateIdle || to == stateStopping
	case stateStopping:
		return to == stateDead
	}
	return false // dead is final
}

// errIllegalTransition is what setState returns for a change
// legalTransition refuses.
var errIllegalTransition = errors.New("illegal execution environment state change")

// setState moves e to state to if legalTransition allows it from its
// current state; otherwise it leaves the state as it is, logs the attempt
// and returns an error wrapping errIllegalTransition. It costs one atomic
// compare-and-swap: it is on every warm invocation's path.
func (e *env) setState(to envState) error {
	for {
		from := envState(e.state.Load())
		if !legalTransition(from, to) {
			err := fmt.Errorf("environment %s: %w: %s → %s", e.stream, errIllegalTransition, from, to)
			e.pool.log.Error("refused an execution environment state change; this is a bug in sluice, please report it",
				"stream", e.stream, "from", from.String(), "to", to.String())
			return err
		}
		if e.state.CompareAndSwap(int32(from), int32(to)) {
			if f := e.pool.observeState; f != nil {
				f(e, from, to)
			}
			return nil
		}
	}
}

// getState is e's current state.
func (e *env) getState() envState { return envState(e.state.Load()) }
