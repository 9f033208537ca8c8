package webchat

// Browser tests: the demo page and the widget in a real headless Chromium,
// driven with chromedp, against a real dialog engine over the Example City
// pack and a SQLite case store. They skip with a message when Chromium is
// not installed; the accessibility check skips when axe-core (from npm) is
// not at hand. .ci/browser-deps.sh installs both.
//
// Screenshots at 1280 and 375 pixels wide are written to a temporary
// folder, kept after the test (set CITYLINE_SCREENSHOTS=DIR to choose it),
// and the folder is printed with t.Log:
//
//	go test ./channels/webchat -run Browser -v

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/cityline/cityline/cases/sqlite"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/internal/browsertest"
	"github.com/cityline/cityline/knowledge/index"
)

var exampleIndex = sync.OnceValues(func() (*index.Index, error) {
	p, err := examplePack()
	if err != nil {
		return nil, err
	}
	return index.Build(p)
})

// realServer serves the web chat over a real engine and case store.
func realServer(t *testing.T, edit func(*Config)) (*httptest.Server, *Handler) {
	t.Helper()
	p, cat := testPack(t)
	ix, err := exampleIndex()
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "cases.db"), p.City.ReferencePrefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	eng, err := dialog.New(dialog.Config{Pack: p, Router: dialog.NewRouter(p, ix, cat), Catalog: cat, Cases: store})
	if err != nil {
		t.Fatal(err)
	}
	hs := newHarness(t, eng, func(c *Config) {
		c.CreateBurst = 100
		if edit != nil {
			edit(c)
		}
	})
	return hs.srv, hs.h
}

// tab is one page in its own browser context (its own storage).
type tab struct {
	t   *testing.T
	ctx context.Context
	url string
}

func newTab(t *testing.T, browserCtx context.Context, url string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	return &tab{t: t, ctx: ctx, url: url}
}

// The widget lives in a shadow root; R is it, in the page's JavaScript.
const R = `document.querySelector('#cityline-widget').shadowRoot`

func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

func evalJS[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.t.Fatalf("evaluate %.80s: %v", js, err)
	}
	return v
}

// wait polls a JavaScript condition until it holds.
func (tb *tab) wait(what, cond string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!(`+cond+`)`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		tb.t.Fatalf("waiting for %s: %v\nconversation so far:\n%s", what, err, tb.transcript())
	}
}

func (tb *tab) transcript() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](
		`(() => { try { return [...`+R+`.querySelectorAll('.log > *')].map(e => e.className + ': ' + e.textContent).join('\n') } catch (e) { return String(e) } })()`))
	return s
}

func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// button finds a visible widget button by its text.
func button(label string) chromedp.JSPath {
	return chromedp.JSPath(`[...` + R + `.querySelectorAll('button')].find(b => b.offsetParent !== null && b.textContent.trim() === ` + js(label) + `)`)
}

// open loads the page and waits for the widget to be ready.
func (tb *tab) open() {
	tb.t.Helper()
	tb.do("load the demo page", chromedp.Navigate(tb.url))
	tb.wait("the widget", `document.querySelector('#cityline-widget') && `+R+`.querySelector('.launcher') && `+R+`.styleSheets.length > 0`)
}

// turn does something that sends a message, then waits for the answer.
func (tb *tab) turn(what string, act func()) {
	tb.t.Helper()
	n := evalJS[int](tb, R+`.querySelectorAll('.msg').length`)
	act()
	tb.wait(what, fmt.Sprintf(`%s.querySelectorAll('.msg').length >= %d && !%s.querySelector('.log').hasAttribute('aria-busy')`, R, n+2, R))
}

// visible reports whether the widget button labelled label shows.
func (tb *tab) visible(label string) bool {
	return evalJS[bool](tb, `!!(`+string(button(label))+`)`)
}

func (tb *tab) choices() []string {
	return evalJS[[]string](tb, `[...`+R+`.querySelectorAll('.choices .choice')].map(b => b.textContent.trim())`)
}

func (tb *tab) logText() string {
	return evalJS[string](tb, R+`.querySelector('.log').textContent`)
}

// finishReport answers the report's remaining questions the way the
// act func is told to (skip optional ones, say yes at the end), until a
// case is filed; it returns the reference.
func (tb *tab) finishReport(act func(label string)) string {
	tb.t.Helper()
	for range 8 {
		if evalJS[bool](tb, `!!`+R+`.querySelector('.case .ref')`) {
			break
		}
		switch ch := tb.choices(); {
		case contains(ch, "Yes"):
			tb.turn("an answer to yes", func() { act("Yes") })
		case tb.visible("Skip this question"):
			tb.turn("the next question", func() { act("Skip this question") })
		case len(ch) > 0:
			tb.turn("the next question", func() { act(ch[0]) })
		default:
			tb.t.Fatalf("stuck in the report:\n%s", tb.transcript())
		}
	}
	ref := evalJS[string](tb, `(`+R+`.querySelector('.case .ref') || {}).textContent || ''`)
	if !regexp.MustCompile(`^EX-\d{6}$`).MatchString(ref) {
		tb.t.Fatalf("no reference after the report (got %q):\n%s", ref, tb.transcript())
	}
	return ref
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	// The newest message in view, as a resident would have it.
	tb.do("scroll", chromedp.Evaluate[chromedp.Void](`(() => { const l = `+R+`.querySelector('.log'); l.style.scrollBehavior = 'auto'; l.scrollTop = l.scrollHeight })()`))
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot: %v", err)
	}
	browsertest.SaveScreenshot(tb.t, name, png)
}

// TestBrowserReport: a resident reports a pothole with buttons and
// typing, gets a reference, asks a question, reloads and finds the
// conversation, tracks the request; at 1280 and 375 pixels wide, checked
// by axe-core.
func TestBrowserReport(t *testing.T) {
	bctx := browsertest.New(t)
	srv, h := realServer(t, nil)
	tb := newTab(t, bctx, srv.URL)
	// The reader asks for less motion: no sliding panel, no smooth scroll
	// (which would also move buttons under the test's mouse).
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}}); err != nil {
		t.Fatal(err)
	}
	tb.open()
	tb.screenshot("page-1280.png")

	tb.do("open the chat", chromedp.Click(chromedp.JSPath(R+`.querySelector('.launcher')`)))
	tb.wait("the panel, focus in the message box", `!`+R+`.querySelector('.panel').hidden && `+R+`.activeElement && `+R+`.activeElement.id === 'cl-input'`)
	if anim := evalJS[string](tb, `getComputedStyle(`+R+`.querySelector('.panel')).animationName`); anim != "none" {
		t.Errorf("with prefers-reduced-motion the panel still animates (%s)", anim)
	}
	if !strings.Contains(tb.logText(), "Hi, this is Example City 311") {
		t.Errorf("no greeting: %q", tb.logText())
	}
	if ch := tb.choices(); !contains(ch, "Pothole") {
		t.Errorf("quick starts %q lack Pothole", ch)
	}

	input := chromedp.JSPath(R + `.querySelector('#cl-input')`)
	tb.turn("the location question", func() {
		tb.do("type the problem", chromedp.SendKeys(input, "There's a pothole on my street"+kb.Enter))
	})
	if !tb.visible("Share my location") || !strings.Contains(tb.logText(), "There's a pothole on my street") {
		t.Fatalf("no location question with its button:\n%s", tb.transcript())
	}
	// A photo, attached to the next message.
	photo := filepath.Join(t.TempDir(), "pothole.png")
	if err := os.WriteFile(photo, pngBytes(t, 64, 48), 0o644); err != nil {
		t.Fatal(err)
	}
	tb.do("choose a photo", chromedp.SetUploadFiles(chromedp.JSPath(R+`.querySelector('input[type=file]')`), []string{photo}))
	tb.wait("the photo attached", `!`+R+`.querySelector('.preview').hidden`)
	tb.turn("the size question", func() { tb.do("type the place", chromedp.SendKeys(input, "12 Main St"+kb.Enter)) })
	if !evalJS[bool](tb, `(() => { const i = `+R+`.querySelector('.msg.resident img.photo'); return !!i && i.complete && i.naturalWidth === 64 })()`) {
		t.Errorf("the photo is not shown in the conversation:\n%s", tb.transcript())
	}
	tb.turn("the next question", func() { tb.do("pick a size", chromedp.Click(button("Larger than a car tire"))) })
	if !strings.Contains(tb.logText(), "Larger than a car tire") {
		t.Errorf("the chosen label is not shown as what the resident said")
	}
	ref := tb.finishReport(func(label string) {
		if label == "Yes" && !strings.Contains(tb.logText(), "Photos: 1") {
			t.Errorf("the summary does not count the photo:\n%s", tb.transcript())
		}
		tb.do("press "+label, chromedp.Click(button(label)))
	})
	t.Logf("filed %s", ref)
	if !tb.visible("Track this request") {
		t.Error("no track action beside the reference")
	}
	if live := evalJS[string](tb, R+`.querySelector('[aria-live]').textContent`); !strings.Contains(live, ref) {
		t.Errorf("the live region did not announce the reference: %q", live)
	}

	// A staff member's reply arrives by the event stream.
	id := evalJS[string](tb, `JSON.parse(localStorage.getItem('cityline:' + location.origin)).id`)
	if err := h.Deliver(context.Background(), "web:"+id, FromStaff, dialog.Reply{
		Messages: []dialog.Message{{Text: "Hi, this is Sam at 311. A crew will look at it this week."}}}); err != nil {
		t.Fatal(err)
	}
	tb.wait("the staff message", R+`.querySelector('.msg.staff') && `+R+`.querySelector('[aria-live]').textContent.includes('Sam at 311')`)

	// An article answer shows the whole body with its link.
	tb.turn("an article", func() { tb.do("ask", chromedp.SendKeys(input, "How do I pay a parking ticket?"+kb.Enter)) })
	link := evalJS[string](tb, `(`+R+`.querySelector('.article a[target=_blank]') || {}).href || ''`)
	items := evalJS[int](tb, R+`.querySelectorAll('.article .body li').length`)
	if !strings.HasPrefix(link, "https://www.example.city/") || items == 0 {
		t.Errorf("article: link %q, %d list items:\n%s", link, items, tb.transcript())
	}
	tb.screenshot("widget-1280.png")

	// A reload keeps the conversation.
	before := evalJS[int](tb, R+`.querySelectorAll('.msg').length`)
	tb.do("reload", chromedp.Reload())
	tb.wait("the widget after a reload", `document.querySelector('#cityline-widget') && `+R+`.querySelectorAll('.msg').length >= `+fmt.Sprint(before))
	if after := evalJS[int](tb, R+`.querySelectorAll('.msg').length`); after != before {
		t.Errorf("%d messages before the reload, %d after", before, after)
	}
	if text := tb.logText(); !strings.Contains(text, ref) || !strings.Contains(text, "12 Main St") ||
		!strings.Contains(text, "parking ticket") || !strings.Contains(text, "Sam at 311") {
		t.Errorf("history lost in the reload:\n%s", tb.transcript())
	}
	if evalJS[bool](tb, R+`.querySelector('.panel').hidden`) {
		t.Error("the panel, open before the reload, is closed after it")
	}

	// Track the request from its card.
	tb.turn("the request's status", func() { tb.do("track", chromedp.Click(button("Track this request"))) })
	last := evalJS[string](tb, `[...`+R+`.querySelectorAll('.msg.assistant')].pop().textContent`)
	if !strings.Contains(last, ref) {
		t.Errorf("tracking %s answered %q", ref, last)
	}

	axe := browsertest.Axe(t)
	if axe != "" {
		tb.checkA11y(axe, "panel open at 1280 px")
	}

	tb.do("phone width", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile))
	tb.wait("the full-screen panel", R+`.querySelector('.panel').getBoundingClientRect().width <= 375`)
	tb.screenshot("widget-375.png")
	if axe != "" {
		tb.checkA11y(axe, "panel open at 375 px")
	}
	tb.do("320 px", chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile))
	if w := evalJS[float64](tb, R+`.querySelector('.panel').getBoundingClientRect().width`); w > 320 {
		t.Errorf("at 320 px the panel is %v px wide", w)
	}
	if over := evalJS[bool](tb, `(() => { const l = `+R+`.querySelector('.log'); return l.scrollWidth > l.clientWidth + 1 })()`); over {
		t.Error("at 320 px the conversation scrolls sideways")
	}
	tb.screenshot("widget-320.png")

	// The front page itself, with the panel closed.
	tb.do("desktop", chromedp.EmulateViewport(1280, 900))
	tb.do("close", chromedp.Click(chromedp.JSPath(R+`.querySelector('.x')`)))
	if axe != "" {
		tb.checkA11y(axe, "front page, panel closed")
	}
}

// TestBrowserKeyboard: the same report by keyboard alone, sharing the
// location through the browser.
func TestBrowserKeyboard(t *testing.T) {
	bctx := browsertest.New(t)
	srv, _ := realServer(t, nil)
	tb := newTab(t, bctx, srv.URL)
	lat, long, acc := 44.0502, -79.4530, 10.0 // on King Street West, in Example City
	if _, err := chromedp.CallBrowser(tb.ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "geolocation"}, Setting: "granted", Origin: srv.URL,
		BrowserContextID: chromedp.FromContext(tb.ctx).BrowserContextID}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tb.ctx, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{
		Latitude: &lat, Longitude: &long, Accuracy: &acc}); err != nil {
		t.Fatal(err)
	}
	tb.open()

	// Tab to the page's "Start a chat" and press Enter.
	tb.tabTo("the page's Start a chat button", false, `a.matches('[data-cityline-open]')`)
	tb.focusVisible()
	tb.do("Enter", chromedp.KeyEvent(kb.Enter))
	tb.wait("focus in the message box", R+`.activeElement && `+R+`.activeElement.id === 'cl-input'`)
	tb.focusVisible()

	tb.turn("the location question", func() { tb.do("type", chromedp.KeyEvent("Report a pothole on my road"+kb.Enter)) })
	tb.tabTo("Share my location", true, `a.textContent.trim() === "Share my location"`)
	tb.focusVisible()
	tb.turn("the size question", func() { tb.do("Enter", chromedp.KeyEvent(kb.Enter)) })
	if !strings.Contains(tb.logText(), "My location") {
		t.Errorf("the shared location is not shown:\n%s", tb.transcript())
	}
	ref := tb.finishReport(func(label string) {
		tb.tabTo(label, true, `a.textContent.trim() === `+js(label))
		tb.focusVisible()
		tb.do("Space", chromedp.KeyEvent(" "))
	})
	t.Logf("filed %s by keyboard", ref)
	if evalJS[string](tb, `(`+R+`.activeElement || {}).id`) != "cl-input" {
		t.Errorf("after a choice, focus is on %q, want the message box", evalJS[string](tb, `String(`+R+`.activeElement && `+R+`.activeElement.outerHTML)`))
	}

	// Escape closes the panel and returns focus to the launcher; Enter
	// opens it again.
	tb.do("Escape", chromedp.KeyEvent(kb.Escape))
	tb.wait("the launcher focused, panel closed", R+`.querySelector('.panel').hidden && `+R+`.activeElement && `+R+`.activeElement.classList.contains('launcher')`)
	tb.focusVisible()
	tb.do("Enter", chromedp.KeyEvent(kb.Enter))
	tb.wait("the panel open again", `!`+R+`.querySelector('.panel').hidden && `+R+`.activeElement.id === 'cl-input'`)
}

// activeJS sets a to the element that has focus, inside the widget's
// shadow root when it is there.
const activeJS = `const h = document.activeElement; const a = (h && h.shadowRoot && h.shadowRoot.activeElement) || h;`

// tabTo presses Tab (Shift+Tab when back) until cond holds of the focused
// element a.
func (tb *tab) tabTo(what string, back bool, cond string) {
	tb.t.Helper()
	var opts []chromedp.KeyOption
	if back {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	for range 40 {
		if evalJS[bool](tb, `(() => { `+activeJS+` return !!a && !!(`+cond+`) })()`) {
			return
		}
		tb.do("Tab", chromedp.KeyEvent(kb.Tab, opts...))
	}
	tb.t.Fatalf("could not reach %s with the keyboard; focus is on %s", what,
		evalJS[string](tb, `(() => { `+activeJS+` return a ? a.outerHTML.slice(0, 120) : 'nothing' })()`))
}

// focusVisible checks the focused element shows a focus outline.
func (tb *tab) focusVisible() {
	tb.t.Helper()
	style := evalJS[string](tb, `(() => { `+activeJS+` const s = getComputedStyle(a); return s.outlineStyle + ' ' + s.outlineWidth })()`)
	kind, px, _ := strings.Cut(style, " ")
	width, _ := strconv.ParseFloat(strings.TrimSuffix(px, "px"), 64)
	if kind == "none" || width < 2 {
		tb.t.Errorf("focus is not visible: outline %q on %s", style,
			evalJS[string](tb, `(() => { `+activeJS+` return a.outerHTML.slice(0, 100) })()`))
	}
}

// checkA11y checks the tab's page with axe-core (browsertest.CheckA11y).
func (tb *tab) checkA11y(axe, where string) {
	tb.t.Helper()
	browsertest.CheckA11y(tb.t, tb.ctx, axe, where)
}

// TestBrowserSessionExpiry: a quiet conversation is warned before it
// ends, "Continue" keeps it going, and when it does end the resident is
// told and can start again.
func TestBrowserSessionExpiry(t *testing.T) {
	bctx := browsertest.New(t)
	srv, _ := realServer(t, func(c *Config) { c.SessionTTL = 6 * time.Second }) // warned 3 s before
	tb := newTab(t, bctx, srv.URL)
	tb.open()
	tb.do("open the chat", chromedp.Click(chromedp.JSPath(R+`.querySelector('.launcher')`)))
	input := chromedp.JSPath(R + `.querySelector('#cl-input')`)
	tb.turn("an answer", func() { tb.do("type", chromedp.SendKeys(input, "When is garbage day?"+kb.Enter)) })

	tb.wait("the warning", `!`+R+`.querySelector('.notice').hidden && `+R+`.querySelector('[role=alert]').textContent.includes('will end in about')`)
	if axe := browsertest.Axe(t); axe != "" {
		tb.checkA11y(axe, "expiry warning")
	}
	tb.tabTo("Continue", true, `a.textContent.trim() === "Continue"`)
	tb.do("Enter", chromedp.KeyEvent(kb.Enter))
	tb.wait("the warning gone", R+`.querySelector('.notice').hidden && `+R+`.querySelector('[aria-live=polite]').textContent.includes('will stay open')`)

	// Kept alive, the conversation still answers.
	tb.turn("an answer after continuing", func() { tb.do("type", chromedp.SendKeys(input, "thanks"+kb.Enter)) })
	if strings.Contains(tb.logText(), "has ended") {
		t.Errorf("the conversation ended although the resident continued:\n%s", tb.transcript())
	}

	// Left alone, it ends and says so; the next message starts afresh.
	tb.wait("the end", `[...`+R+`.querySelectorAll('.msg.note')].some(m => m.textContent.includes('has ended'))`)
	if evalJS[bool](tb, `!!localStorage.getItem('cityline:' + location.origin)`) {
		t.Error("the ended conversation is still remembered")
	}
	tb.turn("a new conversation", func() { tb.do("type", chromedp.SendKeys(input, "How do I pay a parking ticket?"+kb.Enter)) })
	if !evalJS[bool](tb, `!!`+R+`.querySelector('.article') && !!localStorage.getItem('cityline:' + location.origin)`) {
		t.Errorf("no fresh conversation after the end:\n%s", tb.transcript())
	}
}
