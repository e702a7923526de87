package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/deploy"
	"github.com/sluice-dev/sluice/internal/engine"
)

// The dashboard in real headless Chromium (Debian's chromium, which
// .ci/run installs), against a real engine during real deployments.
// Screenshots are kept in $SLUICE_ARTIFACTS (default: a directory under
// the system's temp dir, named in the test log).

func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if found, err := exec.LookPath(p); err == nil {
				path = found
				break
			}
		}
	}
	if path == "" {
		t.Fatal("no chromium: install Debian's (apt-get install chromium), as .ci/run does, or name a Chrome in $CHROMIUM")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func artifacts(t *testing.T) string {
	dir := os.Getenv("SLUICE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "sluice-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifacts(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	if dst := os.Getenv("SLUICE_DOCS_SCREENSHOT"); dst != "" && name == "dashboard-rollback" {
		os.WriteFile(dst, png, 0o644) // refreshes docs/dashboard.png on request
	}
}

// waitText waits until the element's text contains want.
func waitText(t *testing.T, ctx context.Context, sel, want string) string {
	t.Helper()
	js := fmt.Sprintf(`((document.querySelector(%q) || {}).innerText || "")`, sel)
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s.includes(%q)`, js, want), chromedp.WithPollingTimeout(30*time.Second)))
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("%s never showed %q; it shows %q (%v)", sel, want, text, err)
	}
	return text
}

func TestDashboardShowsTheSplitLiveAndStops(t *testing.T) {
	// Given a slow linear deployment (90 minutes of schedule, 9 s here) and the dashboard open
	s := givenService(t, serviceYML(`
type: Linear10PercentEvery10Minutes
alias: Live
alarms: [ApiFunctionErrorsAlarm]`, nil), engine.Options{})
	ctx := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(s.engine.DashboardURL()),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-function="e2e-dev-api"]`))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, `tr[data-function="e2e-dev-api"] .split-cell`, "v1 100%")
	waitText(t, ctx, "#live", "live")
	// A mark that a reload would erase.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}
	// When a version deploys
	id := s.whenDeployStarts(api("v2", false))
	// Then the row shows the deployment and the split moving, without a reload
	waitText(t, ctx, `tr[data-function="e2e-dev-api"]`, id)
	waitText(t, ctx, `tr[data-function="e2e-dev-api"] .split-cell`, "v2 10%")
	if notReloaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)); err != nil || !notReloaded {
		t.Fatalf("the page reloaded (%v)", err)
	}
	screenshot(t, ctx, "dashboard-overview")
	// When "Stop and roll back" is clicked and confirmed
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`tr[data-function="e2e-dev-api"] button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm[open]`)),
	); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "dashboard-confirm")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#confirm-ok`))); err != nil {
		t.Fatal(err)
	}
	// Then the engine stopped it and rolled back, and the page says so
	waitText(t, ctx, `tr[data-function="e2e-dev-api"]`, "Stopped")
	d, err := s.client.Deployment(context.Background(), id)
	if err != nil || d.Status != deploy.StatusStopped || d.ErrorInformation.Code != deploy.ErrManualStop || !d.RolledBack() {
		t.Fatalf("deployment %+v, %v", d, err)
	}
	waitText(t, ctx, `tr[data-function="e2e-dev-api"] .split-cell`, "v1 100%")
}

func TestDashboardExplainsARollback(t *testing.T) {
	// Given a linear deployment watched by the function's error alarm
	s := givenService(t, serviceYML(`
type: Linear10PercentEvery1Minute
alias: Live
alarms: [ApiFunctionErrorsAlarm]`, nil), engine.Options{})
	ctx := browser(t)
	// When a failing version deploys under traffic and its alarm rolls it back
	stop := s.underTraffic()
	id := s.whenDeployStarts(api("v2", true))
	if err := chromedp.Do(ctx, chromedp.Navigate(s.engine.DashboardURL()+"#/d/"+id), chromedp.WaitVisible(chromedp.CSS("#why"))); err != nil {
		t.Fatal(err)
	}
	// Then the deployment view says why, naming the alarm, live
	why := waitText(t, ctx, "#why", "rolled back to version 1")
	stop()
	for _, want := range []string{"was stopped because alarm ApiFunctionErrorsAlarm went into ALARM", "Threshold Crossed"} {
		if !strings.Contains(why, want) {
			t.Errorf("the explanation lacks %q: %s", want, why)
		}
	}
	// and the charts show both versions, the alarm's threshold and its breaches
	charts := waitText(t, ctx, ".charts", "breaching datapoint")
	for _, want := range []string{"v1 (old)", "v2 (new)", "ApiFunctionErrorsAlarm threshold"} {
		if !strings.Contains(charts, want) {
			t.Errorf("the charts lack %q", want)
		}
	}
	waitText(t, ctx, "ol.timeline", "AllowTraffic")
	screenshot(t, ctx, "dashboard-rollback")
	// and the history lists it and its rollback
	if err := chromedp.Do(ctx, chromedp.Navigate(s.engine.DashboardURL()+"#/history")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "main table", "codeDeployRollback")
	// and at a phone's width the page still reads
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), chromedp.Navigate(s.engine.DashboardURL()+"#/d/"+id)); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#why", "rolled back")
	if overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); err != nil || overflow {
		t.Errorf("the page is wider than a phone (%v)", err)
	}
	screenshot(t, ctx, "dashboard-phone")
}
