// Package progress shows deployments as they happen — progress bars cut to
// the terminal's width, plain lines in logs, JSON or YAML records for
// tools — and turns their ends into an exit code. The CLI and the demo
// both use it.
package progress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/sluice-dev/sluice/internal/deploy"
)

// Exit codes of commands that wait for deployments.
const (
	ExitSucceeded  = 0 // every deployment succeeded
	ExitRolledBack = 2 // one failed or was stopped; its traffic is on the previous version
	ExitStranded   = 3 // one failed or was stopped and traffic was not moved back
)

// Config tunes a Tracker.
type Config struct {
	Display  Display
	Timeline Timeline         // the engine's clock to wall time (nil: as recorded)
	Now      func() time.Time // stamps records (nil: time.Now)
}

// Tracker follows deployments to their end and shows their progress.
type Tracker struct {
	out io.Writer
	cfg Config

	mu        sync.Mutex
	published []string // deployments started by the changes shown
	order     []string
	latest    map[string]deploy.Deployment
	shown     map[string]string // what was last shown per deployment, to skip repeats
	drawn     int               // lines drawn last time (TTY)
	early     map[string]deploy.Deployment
	changed   chan struct{} // signalled on every change, for waiters
}

// NewTracker is New with only a mode.
func NewTracker(out io.Writer, mode Mode) *Tracker {
	return New(out, Config{Display: Display{Mode: mode}})
}

// New returns a tracker that shows progress on out.
func New(out io.Writer, cfg Config) *Tracker {
	if cfg.Timeline == nil {
		cfg.Timeline = identity{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Tracker{out: out, cfg: cfg, latest: map[string]deploy.Deployment{}, shown: map[string]string{},
		early: map[string]deploy.Deployment{}, changed: make(chan struct{}, 1)}
}

// Change is one function's new version, as `sluice deploy` published it.
type Change struct {
	Function     string `json:"function"`
	FromVersion  int    `json:"fromVersion"`
	ToVersion    int    `json:"toVersion"`
	DeploymentID string `json:"deploymentId,omitempty"`
	AtOnce       bool   `json:"switchedAtOnce,omitempty"` // no deploymentSettings: serves all traffic now
	Error        string `json:"error,omitempty"`          // published but not deployed
}

// Timeline is the tracker's clock-to-wall mapping.
func (t *Tracker) Timeline() Timeline { return t.cfg.Timeline }

// Published shows a published version: its deployment, or that it
// switched at once, or why it was not deployed.
func (t *Tracker) Published(c Change) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.DeploymentID != "" {
		t.published = append(t.published, c.DeploymentID)
	}
	if t.structured() {
		t.emit("published", c)
		return
	}
	switch {
	case c.Error != "":
		fmt.Fprintf(t.out, "%s: version %d published, but not deployed: %s\n", c.Function, c.ToVersion, c.Error)
	case c.AtOnce:
		fmt.Fprintf(t.out, "%s: version %d → %d, switched at once\n", c.Function, c.FromVersion, c.ToVersion)
	default:
		fmt.Fprintf(t.out, "%s: version %d → %d, deployment %s\n", c.Function, c.FromVersion, c.ToVersion, c.DeploymentID)
	}
}

// Track starts following a deployment (updates seen before are replayed).
func (t *Tracker) Track(d deploy.Deployment) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.latest[d.ID]; ok {
		return
	}
	t.order = append(t.order, d.ID)
	t.latest[d.ID] = d
	if e, ok := t.early[d.ID]; ok && !e.CreateTime.IsZero() {
		t.latest[d.ID] = e
	}
	t.renderLocked(d.ID)
}

// Update records a change; changes of deployments not (yet) tracked are
// kept in case track follows.
func (t *Tracker) Update(d deploy.Deployment) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.latest[d.ID]; !ok {
		t.early[d.ID] = d
		return
	}
	t.latest[d.ID] = d
	t.renderLocked(d.ID)
}

// Done reports whether every tracked deployment has ended.
func (t *Tracker) Done() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pendingLocked()) == 0
}

// Deployments are the tracked deployments as last seen.
func (t *Tracker) Deployments() []deploy.Deployment {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]deploy.Deployment, len(t.order))
	for i, id := range t.order {
		out[i] = t.latest[id]
	}
	return out
}

// Pending lists the tracked deployments that have not ended.
func (t *Tracker) Pending() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pendingLocked()
}

func (t *Tracker) pendingLocked() []string {
	var ids []string
	for _, id := range t.order {
		if !t.latest[id].Status.Done() {
			ids = append(ids, id)
		}
	}
	return ids
}

// ExitCode is the result of the tracked deployments.
func (t *Tracker) ExitCode() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	code := ExitSucceeded
	for _, id := range t.order {
		code = max(code, ResultCode(t.latest[id]))
	}
	return code
}

func ResultCode(d deploy.Deployment) int {
	switch {
	case d.Status == deploy.StatusSucceeded:
		return ExitSucceeded
	case d.RolledBack() || d.StepReached == 0:
		return ExitRolledBack
	}
	return ExitStranded
}

func (t *Tracker) structured() bool { return t.cfg.Display.Mode == JSON || t.cfg.Display.Mode == YAML }

func (t *Tracker) renderLocked(id string) {
	select {
	case t.changed <- struct{}{}:
	default:
	}
	d := t.latest[id]
	switch t.cfg.Display.Mode {
	case JSON, YAML:
		v := View(d, t.cfg.Timeline)
		key, _ := json.Marshal(v)
		if t.shown[id] != string(key) {
			t.shown[id] = string(key)
			t.emit("deployment", v)
		}
	case Plain:
		line := describe(d, false, false)
		if t.shown[id] != line {
			t.shown[id] = line
			fmt.Fprintln(t.out, paint(line, d, t.cfg.Display.Color))
		}
	case TTY:
		// Move up over the block drawn last time and draw it again, each
		// line cut to the width so none wraps and leaves leftovers.
		if t.drawn > 0 {
			fmt.Fprintf(t.out, "\x1b[%dA", t.drawn)
		}
		width := 80
		if t.cfg.Display.Width != nil {
			width = t.cfg.Display.Width()
		}
		for _, id := range t.order {
			d := t.latest[id]
			fmt.Fprintf(t.out, "\x1b[2K%s\n", paint(Cut(describe(d, true, false), width-1), d, t.cfg.Display.Color))
		}
		t.drawn = len(t.order)
	}
}

// Note shows a line that is not a deployment's progress — an alarm's
// change, a stack's status — above the progress (a "note" record in json
// and yaml).
func (t *Tracker) Note(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.cfg.Display.Mode {
	case JSON, YAML:
		t.emit("note", map[string]string{"note": line})
	case Plain:
		fmt.Fprintln(t.out, line)
	case TTY:
		if t.drawn > 0 {
			fmt.Fprintf(t.out, "\x1b[%dA", t.drawn)
		}
		width := 80
		if t.cfg.Display.Width != nil {
			width = t.cfg.Display.Width()
		}
		fmt.Fprintf(t.out, "\x1b[2K%s\n", Cut(line, width-1))
		t.drawn = 0
		for _, id := range t.order {
			d := t.latest[id]
			fmt.Fprintf(t.out, "\x1b[2K%s\n", paint(Cut(describe(d, true, false), width-1), d, t.cfg.Display.Color))
		}
		t.drawn = len(t.order)
	}
}

// emit writes one record: an object with its time and kind, then body's
// fields. JSON records are one per line; YAML ones are documents.
func (t *Tracker) emit(kind string, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		return
	}
	var fields map[string]json.RawMessage
	json.Unmarshal(b, &fields)
	head, _ := json.Marshal(struct {
		Time   string `json:"time"`
		Record string `json:"record"`
	}{t.cfg.Now().UTC().Format(time.RFC3339Nano), kind})
	rec := head
	if len(fields) > 0 {
		rec = append(head[:len(head)-1], ',')
		rec = append(rec, b[1:]...)
	}
	if t.cfg.Display.Mode == YAML {
		y, err := yaml.JSONToYAML(rec)
		if err != nil {
			return
		}
		fmt.Fprintf(t.out, "---\n%s", y)
		return
	}
	fmt.Fprintln(t.out, string(rec))
}

// Result is the last record of a wait.
type Result struct {
	ExitCode    int      `json:"exitCode"`
	Result      string   `json:"result"` // succeeded, rolledBack, stranded, failed, stoppedWaiting; without a wait: started, unchanged
	Deployments []string `json:"deployments"`
	Pending     []string `json:"pending,omitempty"` // deployments that go on after the wait stopped
	Message     string   `json:"message,omitempty"`
}

// End ends a display that did not wait: result is started (deployments
// go on) or unchanged (nothing to deploy). Only json and yaml show it.
func (t *Tracker) End(code int, result string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.structured() {
		t.emit("result", Result{ExitCode: code, Result: result, Deployments: append([]string{}, t.published...)})
	}
}

// Finish ends the display: the result record in json and yaml; in text,
// each failed deployment's full reason, once (progress lines are cut).
func (t *Tracker) Finish(code int, waitErr error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.structured() {
		ids := append([]string{}, t.published...)
		for _, id := range t.order {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		r := Result{ExitCode: code, Deployments: ids, Pending: t.pendingLocked()}
		switch {
		case errors.Is(waitErr, ErrStoppedWaiting):
			r.Result = "stoppedWaiting"
		case waitErr != nil || code == 1:
			r.Result = "failed"
		case code == ExitSucceeded:
			r.Result = "succeeded"
		case code == ExitRolledBack:
			r.Result = "rolledBack"
		default:
			r.Result = "stranded"
		}
		if waitErr != nil {
			r.Message = waitErr.Error()
		}
		t.emit("result", r)
		return
	}
	for _, id := range t.order {
		if d := t.latest[id]; d.ErrorInformation != nil && d.Status.Done() {
			fmt.Fprintf(t.out, "%s %s: %s\n", paintMark("✘", t.cfg.Display.Color), id, d.ErrorInformation.Message)
		}
	}
}

// ErrStoppedWaiting says the wait ended before the deployments did.
var ErrStoppedWaiting = errors.New("stopped waiting")

// Wait blocks until every tracked deployment has ended and returns their
// exit code. When ctx ends first it returns ErrStoppedWaiting (the
// deployments go on); when watchErr (the watch feeding Update) reports
// that the watch stopped, that error.
func (t *Tracker) Wait(ctx context.Context, watchErr <-chan error) (int, error) {
	for !t.Done() {
		select {
		case err := <-watchErr:
			if ctx.Err() != nil {
				return 0, ErrStoppedWaiting // the watch ended with the wait
			}
			if err == nil {
				err = errors.New("stopped watching before the deployments ended")
			}
			return 0, err
		case <-ctx.Done():
			return 0, ErrStoppedWaiting
		case <-t.changed:
		}
	}
	return t.ExitCode(), nil
}
