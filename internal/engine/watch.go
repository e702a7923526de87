package engine

import (
	"fmt"

	"github.com/sluice-dev/sluice/internal/alarm"
	"github.com/sluice-dev/sluice/internal/deploy"
)

// alarmWatcher lets deployments watch the evaluator's alarms (deploy.Alarms).
type alarmWatcher struct{ ev *alarm.Evaluator }

func (w alarmWatcher) Watch(name string, fn func(deploy.AlarmState)) (cancel func(), err error) {
	a, ok := w.ev.Alarm(name)
	if !ok {
		return nil, fmt.Errorf("alarm %s is not evaluated by this engine", name)
	}
	// Subscribe before reading the current state, so no change falls between.
	cancel = a.Subscribe(func(c alarm.Change) {
		fn(deploy.AlarmState{Name: name, State: c.New.String(), Reason: c.Reason})
	})
	st := a.State()
	fn(deploy.AlarmState{Name: name, State: st.Value.String(), Reason: st.Reason})
	return cancel, nil
}
