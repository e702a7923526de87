package alarm

import (
	"log/slog"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
)

// StateStore keeps alarm states across restarts; *store.DB is one.
type StateStore interface {
	AlarmStates() ([]store.AlarmStateRecord, error)
	PutAlarmState(store.AlarmStateRecord) error
	DeleteAlarmState(name string) error
}

// WithStateStore makes the evaluator remember alarm states in s: a state
// change is written there, and an alarm created under a name s knows starts
// in its saved state instead of INSUFFICIENT_DATA, so a restart in the
// middle of a deployment does not forget an ALARM.
//
// The metrics behind the saved state died with the previous engine, so the
// restored state stands until the new engine has data to judge: an
// evaluation that finds no datapoint at all keeps it for one evaluation
// range (the periods an evaluation looks at) after the alarm is created.
// After that the range lies wholly after the restart and the alarm is
// judged as usual (with no traffic, TreatMissingData decides).
//
// An unreadable store is logged and the alarms start afresh; a failed write
// is logged. Writes happen on a goroutine of their own, so an evaluation
// (and the deployment waiting on its verdict) never waits for a disk sync.
func WithStateStore(s StateStore) Option {
	return func(e *Evaluator) {
		e.saver = &saver{store: s, pending: map[string]*StateInfo{}, wake: make(chan struct{}, 1)}
	}
}

// saver writes alarm states to the store in the background, the latest
// state of each alarm only.
type saver struct {
	store StateStore
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]*StateInfo // nil: delete
	wake    chan struct{}
	done    chan struct{}
	stop    chan struct{}
}

// load reads the saved states.
func (s *saver) load() map[string]StateInfo {
	recs, err := s.store.AlarmStates()
	if err != nil {
		s.log.Error("read saved alarm states; alarms start in INSUFFICIENT_DATA", "err", err)
		return nil
	}
	out := make(map[string]StateInfo, len(recs))
	for _, r := range recs {
		st, err := ParseState(r.State)
		if err != nil {
			s.log.Warn("ignore unreadable saved alarm state", "alarm", r.Name, "state", r.State)
			continue
		}
		out[r.Name] = StateInfo{Value: st, Reason: r.Reason, ReasonData: r.ReasonData, Updated: r.Updated}
	}
	return out
}

func (s *saver) start() {
	s.done, s.stop = make(chan struct{}), make(chan struct{})
	go s.loop()
}

// put queues an alarm's state (nil: the alarm was deleted).
func (s *saver) put(name string, info *StateInfo) {
	s.mu.Lock()
	s.pending[name] = info
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *saver) loop() {
	defer close(s.done)
	for {
		select {
		case <-s.wake:
			s.flush()
		case <-s.stop:
			s.flush()
			return
		}
	}
}

func (s *saver) flush() {
	s.mu.Lock()
	batch := s.pending
	s.pending = map[string]*StateInfo{}
	s.mu.Unlock()
	for name, info := range batch {
		var err error
		if info == nil {
			err = s.store.DeleteAlarmState(name)
		} else {
			err = s.store.PutAlarmState(store.AlarmStateRecord{Name: name, State: info.Value.String(),
				Reason: info.Reason, ReasonData: info.ReasonData, Updated: info.Updated})
		}
		if err != nil {
			s.log.Error("save alarm state", "alarm", name, "err", err)
		}
	}
}

// close writes what is queued and stops the goroutine.
func (s *saver) close() {
	close(s.stop)
	<-s.done
}

// restoredFor is how long a restored state resists "no data at all":
// the alarm's evaluation range.
func restoredFor(c *compiled) time.Duration { return time.Duration(c.rng) * c.spec.Period }
