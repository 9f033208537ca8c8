package admin_test

// The dashboard in a real headless Chromium, driven with chromedp: sign in
// through the form, see the charts, open a case. Screenshots at 1280
// pixels wide (the whole page) are written to a temporary folder kept
// after the test (CITYLINE_SCREENSHOTS=DIR chooses it), and the paths are
// logged:
//
//	go test ./insights/admin -run Browser -v
//
// It skips with a message when Chromium is not installed; the
// accessibility check (axe-core, WCAG 2.1 A and AA) skips when axe-core is
// not at hand (.ci/browser-deps.sh installs both).

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CITYLINE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("Chromium not found: install it (apt-get install chromium, or .ci/browser-deps.sh) or set CITYLINE_CHROMIUM; skipping the dashboard screenshots")
	return ""
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	return ctx
}

var screenshotDir = sync.OnceValues(func() (string, error) {
	if d := os.Getenv("CITYLINE_SCREENSHOTS"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	return os.MkdirTemp("", "cityline-dashboard-")
})

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %.80s: %v", js, err)
	}
	return v
}

// waitFor polls a condition until it holds; a page navigating meanwhile
// (a form submitted) only means polling again in the new page.
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var err error
	for range 20 {
		if _, err = chromedp.Run(ctx, chromedp.Poll[bool](`!!(`+cond+`)`, chromedp.WithPollingTimeout(20*time.Second))); err == nil {
			return
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: %v", what, err)
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir, err := screenshotDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// axe is axe-core's script, or "" when it is not at hand.
func axe(t *testing.T) string {
	path := os.Getenv("CITYLINE_AXE")
	if path == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		path = filepath.Join(cache, "cityline-test", "node_modules", "axe-core", "axe.min.js")
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Logf("SKIP accessibility check: axe-core not found at %s (run .ci/browser-deps.sh, or set CITYLINE_AXE)", path)
		return ""
	}
	return string(src)
}

func checkA11y(t *testing.T, ctx context.Context, src, where string) {
	t.Helper()
	if src == "" {
		return
	}
	if !eval[bool](t, ctx, `typeof axe !== 'undefined'`) {
		do(t, ctx, "inject axe-core", chromedp.Evaluate[chromedp.Void](src))
	}
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := chromedp.Run(cctx, chromedp.Evaluate[string](`axe.run(document, {
		runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']
	}).then(r => JSON.stringify({n: r.passes.length, v: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.map(n => n.target.join(' > ') + ': ' + n.failureSummary)}))}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe: %v", err)
	}
	var res struct {
		N int `json:"n"`
		V []struct {
			ID, Impact, Help string
			Nodes            []string
		} `json:"v"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	for _, v := range res.V {
		t.Errorf("axe, %s: %s (%s): %s\n  %s", where, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
	t.Logf("axe, %s: %d rules passed, %d violations", where, res.N, len(res.V))
}

// TestBrowserDashboard: sign in, the dashboard's charts render, a case
// page opens; screenshots of each at 1280 px; no WCAG violation.
func TestBrowserDashboard(t *testing.T) {
	ctx := newBrowser(t)
	s := theSite(t)
	a := axe(t)

	do(t, ctx, "open /admin", chromedp.Navigate(s.srv.URL+"/admin"))
	waitFor(t, ctx, "the sign-in form", `document.querySelector('#token')`)
	if eval[int](t, ctx, `document.querySelectorAll('svg').length`) != 0 {
		t.Error("charts before signing in")
	}
	checkA11y(t, ctx, a, "sign-in")
	screenshot(t, ctx, "admin-login-1280.png")
	do(t, ctx, "type the token", chromedp.SendKeys(chromedp.CSS("#token"), token))
	do(t, ctx, "sign in", chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	waitFor(t, ctx, "the dashboard", `document.querySelectorAll('svg.chart').length === 7`)
	// Every chart drew its bars, and the gaps list opens.
	if n := eval[int](t, ctx, `document.querySelectorAll('svg.chart rect').length`); n < 40 {
		t.Errorf("only %d shapes in the charts", n)
	}
	if w := eval[float64](t, ctx, `document.querySelector('#volume svg').getBoundingClientRect().width`); w < 600 {
		t.Errorf("the volume chart is %v px wide", w)
	}
	checkA11y(t, ctx, a, "dashboard")
	screenshot(t, ctx, "admin-dashboard-1280.png")
	do(t, ctx, "open the first draft", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#gaps details').forEach(d => d.open = true); document.querySelectorAll('section > details').forEach(d => d.open = true)`))
	screenshot(t, ctx, "admin-dashboard-tables-1280.png")

	do(t, ctx, "open a case", chromedp.Click(chromedp.CSS(`table.cases a`)))
	waitFor(t, ctx, "the case page", `document.querySelector('form.update textarea')`)
	checkA11y(t, ctx, a, "case page")
	screenshot(t, ctx, "admin-case-1280.png")
}
