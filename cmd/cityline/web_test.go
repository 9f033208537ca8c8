package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// startWebServer runs the real `cityline serve` (newServer, then serve on
// 127.0.0.1:0) with args; cancel stops it and returns what serve returned.
func startWebServer(t *testing.T, args ...string) (base string, stop func() error) {
	t.Helper()
	r := startServe(t, append([]string{"--data", t.TempDir(), "--shutdown-timeout", "5s"}, args...)...)
	return r.base, r.stop
}

// quietEnv clears the settings a developer's shell may have, so the
// server under test has the embedded defaults.
func quietEnv(t *testing.T) {
	for _, k := range []string{"CITYLINE_DEV", "CITYLINE_ADMIN_TOKEN", "CITYLINE_ALLOWED_ORIGINS", "CITYLINE_PUBLIC_URL",
		"CITYLINE_CONTENT", "CITYLINE_POSTGRES_URL", "CITYLINE_REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"} {
		t.Setenv(k, "")
	}
}

func postJSON(t *testing.T, url, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// TestServeWebChat: `cityline serve` with the embedded defaults serves the
// front page, the widget and the chat API, and an open event stream does
// not hold up shutdown.
func TestServeWebChat(t *testing.T) {
	quietEnv(t)
	base, stop := startWebServer(t)
	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), `<script src="/widget.js" async></script>`) || !strings.Contains(string(page), "Example City") {
		t.Fatalf("front page: %d", res.StatusCode)
	}
	if res, _ := http.Get(base + "/simulator"); res.StatusCode != http.StatusNotFound {
		t.Errorf("the simulator is on without --dev or an admin token: %d", res.StatusCode)
	}

	var conv struct{ ID, Token string }
	if code := postJSON(t, base+"/api/v1/conversations", "", "", &conv); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	var turn struct {
		Expect string `json:"expect"`
		State  string `json:"state"`
	}
	if code := postJSON(t, base+"/api/v1/conversations/"+conv.ID+"/messages", conv.Token, `{"text":"There's a pothole on my street"}`, &turn); code != 200 {
		t.Fatalf("message: %d", code)
	}
	if turn.Expect != "location" || turn.State != "collecting" {
		t.Errorf("a pothole report should ask where: %+v", turn)
	}

	// An open event stream ends when the server shuts down.
	req, _ := http.NewRequest("GET", base+"/api/v1/conversations/"+conv.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+conv.Token)
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if line, _ := bufio.NewReader(stream.Body).ReadString('\n'); !strings.HasPrefix(line, "retry:") {
		t.Fatalf("event stream began with %q", line)
	}
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown waited %v for the event stream", d)
	}
}

// TestServeSimulator: with --dev the simulator drives the real SMS and
// voice channels; with an admin token it wants the token.
func TestServeSimulator(t *testing.T) {
	quietEnv(t)
	base, _ := startWebServer(t, "--dev")
	var sms struct{ Replies []string }
	if code := postJSON(t, base+"/simulator/sms", "", `{"from":"+15550142","body":"there is a pothole on my street"}`, &sms); code != 200 {
		t.Fatalf("sms: %d", code)
	}
	if len(sms.Replies) != 1 || !strings.Contains(strings.ToLower(sms.Replies[0]), "where") {
		t.Errorf("sms replies %q", sms.Replies)
	}
	type verb struct {
		Verb, Text, Action string
		Prompts            []string
	}
	var call struct {
		Call  string
		Verbs []verb
	}
	if code := postJSON(t, base+"/simulator/voice", "", `{}`, &call); code != 200 || len(call.Verbs) == 0 || call.Verbs[0].Verb != "gather" {
		t.Fatalf("call: %d %+v", code, call)
	}
	if p := strings.Join(call.Verbs[0].Prompts, " "); !strings.Contains(p, "Example City 311") {
		t.Errorf("greeting %q", p)
	}
	body, _ := json.Marshal(map[string]string{"url": call.Verbs[0].Action, "call": call.Call, "speech": "I want to report a pothole"})
	if code := postJSON(t, base+"/simulator/voice", "", string(body), &call); code != 200 || len(call.Verbs) == 0 {
		t.Fatalf("speech: %d %+v", code, call)
	}
	if p := strings.ToLower(strings.Join(call.Verbs[0].Prompts, " ")); !strings.Contains(p, "where") {
		t.Errorf("after speech: %q", p)
	}

	t.Setenv("CITYLINE_ADMIN_TOKEN", "test-admin-token")
	admin, _ := startWebServer(t, "--dev=false")
	if res, _ := http.Get(admin + "/simulator"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", res.StatusCode)
	}
	if res, _ := http.Get(admin + "/simulator?token=test-admin-token"); res.StatusCode != 200 {
		t.Errorf("with the token: %d", res.StatusCode)
	}
}

// TestBrowserSimulator: the simulator page in Chromium, a text and a call.
func TestBrowserSimulator(t *testing.T) {
	quietEnv(t)
	path := ""
	for _, name := range []string{os.Getenv("CITYLINE_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); name != "" && err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("Chromium not found: install it (apt-get install chromium, or .ci/browser-deps.sh) or set CITYLINE_CHROMIUM; skipping the browser test")
	}
	base, _ := startWebServer(t, "--dev")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.Headless,
		chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	defer tcancel()
	wait := func(what, cond string) {
		t.Helper()
		if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`!!(`+cond+`)`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			thread, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
			t.Fatalf("waiting for %s: %v\n%s", what, err, thread)
		}
	}
	if err := chromedp.Do(tctx, chromedp.Navigate(base+"/simulator"),
		chromedp.SendKeys(chromedp.ID("sms-text"), "my garbage was not picked up"+kb.Enter)); err != nil {
		t.Fatal(err)
	}
	wait("an SMS reply", `document.querySelectorAll('#sms-thread .b.in').length >= 1`)

	if err := chromedp.Do(tctx, chromedp.Click(chromedp.ID("call"))); err != nil {
		t.Fatal(err)
	}
	wait("the greeting", `document.querySelector('#voice-thread').textContent.includes('Example City 311') && !document.querySelector('#speak').disabled`)
	if err := chromedp.Do(tctx, chromedp.SendKeys(chromedp.ID("speech"), "I want to report a pothole"+kb.Enter)); err != nil {
		t.Fatal(err)
	}
	wait("the location question", `[...document.querySelectorAll('#voice-thread .b.in')].pop().textContent.toLowerCase().includes('where') && !document.querySelector('#speak').disabled`)
	// Silence twice, then the offer of a person.
	for range 2 {
		if err := chromedp.Do(tctx, chromedp.Click(chromedp.ID("silent"))); err != nil {
			t.Fatal(err)
		}
		wait("the next prompt", `!document.querySelector('#silent').disabled`)
	}
	if err := chromedp.Do(tctx, chromedp.Click(chromedp.ID("hangup"))); err != nil {
		t.Fatal(err)
	}
	wait("the call ended", `!document.querySelector('#call').disabled`)
}
