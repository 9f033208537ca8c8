// Package browsertest drives a real headless Chromium for the tests of
// Cityline's web pages: the chat widget and front page (channels/webchat)
// and the staff dashboard (insights/admin). It finds the browser (or skips
// the test with a message saying how to install it), starts it with a
// fresh profile, checks a page with axe-core against WCAG 2.1 A and AA,
// and keeps screenshots in one folder for people to look at.
//
// It lives under internal because it is neither a part of the product nor
// of any one part: only this module's tests use it. .ci/browser-deps.sh
// installs Chromium and axe-core.
package browsertest

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

// Chromium returns the browser to run: CITYLINE_CHROMIUM, or the first
// Chromium or Chrome on the PATH. Without one it skips t.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CITYLINE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("Chromium not found: install it (apt-get install chromium, or .ci/browser-deps.sh) or set CITYLINE_CHROMIUM; skipping the browser tests")
	return ""
}

// New starts a headless Chromium with a fresh profile and a 1280 × 900
// window, stopped when t ends. The context drives its first tab.
func New(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to sandbox as root (CI containers run as root).
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// screenshots is the folder of this test run's screenshots.
var screenshots = sync.OnceValues(func() (string, error) {
	if d := os.Getenv("CITYLINE_SCREENSHOTS"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	return os.MkdirTemp("", "cityline-screenshots-")
})

// SaveScreenshot writes png as name in the screenshot folder
// (CITYLINE_SCREENSHOTS, or a temporary folder that outlives the test)
// and logs where.
func SaveScreenshot(t testing.TB, name string, png []byte) {
	t.Helper()
	dir, err := screenshots()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// Axe returns axe-core's axe.min.js: CITYLINE_AXE, or the copy in the
// user cache folder, installed there from npm when npm is at hand. It
// returns "" and logs why when axe-core cannot be had; the accessibility
// checks are then skipped.
func Axe(t testing.TB) string {
	t.Helper()
	path := os.Getenv("CITYLINE_AXE")
	if path == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "cityline-test")
		path = filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(path); err != nil {
			if npm, err := exec.LookPath("npm"); err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				out, err := exec.CommandContext(ctx, npm, "install", "--prefix", dir, "--no-save", "--no-audit", "--no-fund", "axe-core@4").CombinedOutput()
				if err != nil {
					t.Logf("npm install axe-core: %v\n%s", err, out)
				}
			}
		}
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Logf("SKIP accessibility check: axe-core not found at %s (run .ci/browser-deps.sh, or set CITYLINE_AXE to axe.min.js)", path)
		return ""
	}
	return string(src)
}

// CheckA11y runs axe (Axe's script; nothing when "") on the page ctx
// shows: each WCAG 2.1 A or AA violation is a test error naming where.
func CheckA11y(t testing.TB, ctx context.Context, axe, where string) {
	t.Helper()
	if axe == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== 'undefined'`))
	if err == nil && !loaded {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axe))
	}
	if err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {
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
