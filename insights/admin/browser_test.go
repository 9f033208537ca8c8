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
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cityline/cityline/internal/browsertest"
)

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
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	browsertest.SaveScreenshot(t, name, png)
}

// TestBrowserDashboard: sign in, the dashboard's charts render, a case
// page opens; screenshots of each at 1280 px; no WCAG violation.
func TestBrowserDashboard(t *testing.T) {
	ctx := browsertest.New(t)
	s := theSite(t)
	a := browsertest.Axe(t)

	do(t, ctx, "open /admin", chromedp.Navigate(s.srv.URL+"/admin"))
	waitFor(t, ctx, "the sign-in form", `document.querySelector('#token')`)
	if eval[int](t, ctx, `document.querySelectorAll('svg').length`) != 0 {
		t.Error("charts before signing in")
	}
	browsertest.CheckA11y(t, ctx, a, "sign-in")
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
	browsertest.CheckA11y(t, ctx, a, "dashboard")
	screenshot(t, ctx, "admin-dashboard-1280.png")
	do(t, ctx, "open the first draft", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#gaps details').forEach(d => d.open = true); document.querySelectorAll('section > details').forEach(d => d.open = true)`))
	screenshot(t, ctx, "admin-dashboard-tables-1280.png")

	do(t, ctx, "open a case", chromedp.Click(chromedp.CSS(`table.cases a`)))
	waitFor(t, ctx, "the case page", `document.querySelector('form.update textarea')`)
	browsertest.CheckA11y(t, ctx, a, "case page")
	screenshot(t, ctx, "admin-case-1280.png")
}
