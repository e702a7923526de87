package progress

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/sluice-dev/sluice/internal/deploy"
)

func env(vars ...string) Env {
	m := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDetectOutputAndColor(t *testing.T) {
	var pipe strings.Builder // not a terminal
	for _, c := range []struct {
		output, color string
		env           Env
		mode          Mode
		colour        bool
		err           string
	}{
		{"", "", env(), Plain, false, ""},
		{"text", "auto", env(), Plain, false, ""},
		{"json", "", env(), JSON, false, ""},
		{"yaml", "", env(), YAML, false, ""},
		{"text", "always", env("NO_COLOR", "1"), Plain, true, ""}, // the flag wins over the variable
		{"json", "always", env(), JSON, false, ""},                // records are never coloured
		{"text", "never", env(), Plain, false, ""},
		{"xml", "", env(), 0, false, `--output "xml": use text, json or yaml`},
		{"text", "sometimes", env(), 0, false, `--color "sometimes": use auto, always or never`},
	} {
		d, err := Detect(c.output, c.color, &pipe, c.env)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("Detect(%q, %q) = %v, want error %q", c.output, c.color, err, c.err)
			}
			continue
		}
		if err != nil || d.Mode != c.mode || d.Color != c.colour {
			t.Errorf("Detect(%q, %q) = %+v, %v; want mode %d colour %v", c.output, c.color, d, err, c.mode, c.colour)
		}
	}
	// A file that is not a terminal is plain, too.
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if d, _ := Detect("", "auto", f, env()); d.Mode != Plain || d.Color {
		t.Errorf("a file: %+v", d)
	}
}

func TestTTYLinesAreCutToTheTerminalWidth(t *testing.T) {
	var out strings.Builder
	width := 60
	tr := New(&out, Config{Display: Display{Mode: TTY, Width: func() int { return width }}})
	d := deployment(deploy.StatusInProgress, 1, 0.1)
	tr.Track(d)
	width = 40 // the terminal was resized
	d.StepReached = 2
	tr.Update(d)
	stopped := deployment(deploy.StatusStopped, 1, 0)
	stopped.RollbackInfo = &deploy.RollbackInfo{RollbackDeploymentID: "d-ROLLBACK1"}
	stopped.ErrorInformation = &deploy.ErrorInfo{Code: deploy.ErrAlarmActive, Message: strings.Repeat("an alarm reason far wider than any terminal ", 5)}
	tr.Update(stopped)
	tr.Finish(tr.ExitCode(), nil)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for i, l := range lines[:len(lines)-1] {
		l = l[strings.LastIndex(l, "\x1b[2K")+len("\x1b[2K"):]
		limit := 59
		if i > 0 {
			limit = 39
		}
		if n := len([]rune(l)); n > limit {
			t.Errorf("line %d is %d columns wide, more than %d: %q", i, n, limit, l)
		}
	}
	if !strings.HasSuffix(lines[0], "…") {
		t.Errorf("a cut line does not end in …: %q", lines[0])
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, stopped.ErrorInformation.Message) {
		t.Errorf("the full reason is not printed at the end: %q", last)
	}
	if strings.Count(out.String(), "\x1b[1A") != 2 {
		t.Errorf("want the block of one line redrawn twice:\n%q", out.String())
	}
}

func TestColour(t *testing.T) {
	var out strings.Builder
	tr := New(&out, Config{Display: Display{Mode: Plain, Color: true}})
	tr.Track(deployment(deploy.StatusInProgress, 1, 0.1))
	tr.Update(deployment(deploy.StatusSucceeded, 2, 1))
	failed := deployment(deploy.StatusFailed, 0, 0)
	failed.ID = "d-TEST00002"
	failed.ErrorInformation = &deploy.ErrorInfo{Code: deploy.ErrHookFailure, Message: "The hook failed."}
	tr.Track(failed)
	tr.Finish(tr.ExitCode(), nil)
	s := out.String()
	for _, want := range []string{yellow, green + "✔" + reset, red + "✘" + reset} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%q", want, s)
		}
	}
	out.Reset()
	plain := New(&out, Config{Display: Display{Mode: Plain}})
	plain.Track(failed)
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("colour without asking: %q", out.String())
	}
}

func TestStructuredRecordsAreStampedDedupedAndEndWithOneResult(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, mode := range []Mode{JSON, YAML} {
		var out strings.Builder
		tr := New(&out, Config{Display: Display{Mode: mode}, Now: func() time.Time { return now }})
		tr.Published(Change{Function: "svc-dev-api", FromVersion: 1, ToVersion: 2, DeploymentID: "d-TEST00001"})
		tr.Published(Change{Function: "svc-dev-cron", FromVersion: 3, ToVersion: 4, AtOnce: true})
		d := deployment(deploy.StatusInProgress, 1, 0.1)
		tr.Track(d)
		tr.Update(d) // a repeat: no record
		tr.Update(deployment(deploy.StatusSucceeded, 2, 1))
		tr.Finish(tr.ExitCode(), nil)

		var recs []map[string]any
		if mode == JSON {
			sc := bufio.NewScanner(strings.NewReader(out.String()))
			for sc.Scan() {
				var r map[string]any
				if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
					t.Fatalf("not one JSON object per line: %v\n%s", err, out.String())
				}
				recs = append(recs, r)
			}
		} else {
			for _, doc := range strings.Split(out.String(), "---\n")[1:] {
				var r map[string]any
				if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
					t.Fatalf("not YAML documents: %v\n%s", err, out.String())
				}
				recs = append(recs, r)
			}
		}
		var kinds []string
		for _, r := range recs {
			kinds = append(kinds, r["record"].(string))
			if r["time"] != "2026-01-02T03:04:05Z" {
				t.Errorf("record without its time: %v", r)
			}
		}
		if got := strings.Join(kinds, ","); got != "published,published,deployment,deployment,result" {
			t.Errorf("mode %d: records %s\n%s", mode, got, out.String())
		}
		if recs[1]["switchedAtOnce"] != true || recs[4]["result"] != "succeeded" {
			t.Errorf("mode %d: %v / %v", mode, recs[1], recs[4])
		}
	}
}

func TestViewShowsWallTimes(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	d := deployment(deploy.StatusSucceeded, 2, 1)
	d.CreateTime = start
	s, e := start, start.Add(10*time.Minute) // ten minutes of a clock 60 times faster
	d.StartTime, d.CompleteTime = &s, &e
	tl := scaledTimeline{origin: start, wall: start.Add(-time.Hour), scale: 60}
	v := View(d, tl)
	if !v.CreateTime.Equal(start.Add(-time.Hour)) || v.Seconds == nil || *v.Seconds != 10 || v.TimeScale != 60 {
		t.Fatalf("view %+v", v)
	}
	if got, ok := Duration(d, tl); !ok || got != 10*time.Second {
		t.Fatalf("Duration = %v, %v", got, ok)
	}
}

type scaledTimeline struct {
	origin, wall time.Time
	scale        float64
}

func (s scaledTimeline) Wall(t time.Time) time.Time {
	return s.wall.Add(time.Duration(float64(t.Sub(s.origin)) / s.scale))
}
func (s scaledTimeline) Scale(time.Time) float64 { return s.scale }

func TestCut(t *testing.T) {
	for _, c := range []struct {
		in    string
		width int
		want  string
	}{{"short", 10, "short"}, {"exactly10!", 10, "exactly10!"}, {"✔ longer than five", 5, "✔ lo…"}, {"abc", 0, "…"}} {
		if got := Cut(c.in, c.width); got != c.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", c.in, c.width, got, c.want)
		}
	}
}

func TestEndRecordsAndTheStateOfAWait(t *testing.T) {
	var out strings.Builder
	tr := New(&out, Config{Display: Display{Mode: JSON}})
	tr.Published(Change{Function: "svc-dev-api", FromVersion: 1, ToVersion: 2, DeploymentID: "d-TEST00001"})
	tr.End(0, "started")
	recs := strings.Split(strings.TrimSpace(out.String()), "\n")
	var last Result
	if err := json.Unmarshal([]byte(recs[len(recs)-1]), &last); err != nil || last.Result != "started" || len(last.Deployments) != 1 {
		t.Fatalf("End: %v %+v\n%s", err, last, out.String())
	}
	var text strings.Builder
	plain := New(&text, Config{Display: Display{Mode: Plain}})
	plain.End(0, "unchanged") // nothing in text
	if text.Len() != 0 {
		t.Errorf("End printed text: %q", text.String())
	}
	d := deployment(deploy.StatusInProgress, 1, 0.1)
	plain.Track(d)
	if p := plain.Pending(); len(p) != 1 || p[0] != d.ID || len(plain.Deployments()) != 1 {
		t.Errorf("Pending %v, Deployments %v", p, plain.Deployments())
	}
	// A watch that ends while the deployment runs ends the wait with its error.
	watch := make(chan error, 1)
	watch <- nil
	if _, err := plain.Wait(context.Background(), watch); err == nil || errors.Is(err, ErrStoppedWaiting) {
		t.Errorf("Wait after the watch ended: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	rolledBack := deployment(deploy.StatusStopped, 3, 0)
	rolledBack.RollbackInfo = &deploy.RollbackInfo{RollbackDeploymentID: "d-ROLLBACK1"}
	rolledBack.RollbackReaction = 1500 * time.Microsecond
	rolledBack.ErrorInformation = &deploy.ErrorInfo{Code: deploy.ErrAlarmActive, Message: "The alarm went off."}
	hook := deployment(deploy.StatusInProgress, 0, 0)
	hook.LifecycleEvents[1] = deploy.LifecycleEvent{Name: deploy.EventBeforeAllowTraffic, Status: deploy.EventInProgress, Hook: "svc-dev-pre",
		Diagnostics: "the hook returned without reporting a status"}
	for _, c := range []struct {
		d    deploy.Deployment
		want []string
	}{
		{rolledBack, []string{"✘ Stopped (d-TEST00001): The alarm went off; traffic rolled back to v1 1.5ms after the alarm"}},
		{hook, []string{"BeforeAllowTraffic (hook svc-dev-pre): the hook returned without reporting a status"}},
		{deployment(deploy.StatusSucceeded, 2, 1), []string{"✔ v2 serves all traffic (d-TEST00001, CodeDeployDefault.LambdaCanary10Percent5Minutes)"}},
	} {
		line := Describe(c.d, false)
		for _, w := range c.want {
			if !strings.Contains(line, w) {
				t.Errorf("Describe = %q, lacks %q", line, w)
			}
		}
	}
	for d, want := range map[time.Duration]string{500 * time.Nanosecond: "1µs", 1234567 * time.Nanosecond: "1.23ms", 1234567890: "1.235s"} {
		if got := roundDuration(d); got != want {
			t.Errorf("roundDuration(%v) = %s, want %s", d, got, want)
		}
	}
}
