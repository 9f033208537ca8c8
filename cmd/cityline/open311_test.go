package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/open311"
	"github.com/cityline/cityline/cases/open311/open311test"
	"github.com/cityline/cityline/cases/postgres/pgtest"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
)

// open311Env clears what a developer's shell may set and sets env, for a
// server under test.
func open311Env(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range []string{"CITYLINE_DEV", "CITYLINE_ADMIN_TOKEN", "CITYLINE_ALLOWED_ORIGINS", "CITYLINE_PUBLIC_URL",
		"CITYLINE_CONTENT", "CITYLINE_POSTGRES_URL", "CITYLINE_REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
		"TWILIO_FROM_NUMBER", "CITYLINE_TWILIO_API_URL", "CITYLINE_AGENT_NUMBER", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET",
		"CITYLINE_OPEN311_API_KEY", "CITYLINE_OPEN311_JURISDICTION", "CITYLINE_OPEN311_UPSTREAM",
		"CITYLINE_OPEN311_UPSTREAM_KEY", "CITYLINE_OPEN311_UPSTREAM_JURISDICTION", "CITYLINE_OPEN311_UPSTREAM_FORMAT",
		"CITYLINE_OPEN311_UPSTREAM_INTERVAL", "CITYLINE_OPEN311_UPSTREAM_POLL", "CITYLINE_NOTIFY_INTERVAL"} {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// running is one `cityline serve` started by a test.
type running struct {
	base string
	srv  *server
	logs *syncBuffer
	stop func() error
}

// startServe runs `cityline serve` with args (newServer, then serve on
// 127.0.0.1:0) until stop or the end of the test. stop returns what
// serve returned; at the end of the test an error is reported.
func startServe(t *testing.T, args ...string) *running {
	t.Helper()
	cfg, err := serveFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := newServer(ctx, cfg, newLogger(logs, "text", "debug"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.serve(ctx, ln, io.Discard) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		defer srv.close()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			return errors.New("the server did not stop within 15 s")
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &running{base: "http://" + ln.Addr().String(), srv: srv, logs: logs, stop: stop}
}

// eventually waits for cond, failing with what after 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeOpen311: `cityline serve` publishes the content pack's
// catalogue at /open311/v2/, takes requests with one of its api keys, and
// the requests it takes are cases like those residents file.
func TestServeOpen311(t *testing.T) {
	open311Env(t, map[string]string{"CITYLINE_OPEN311_API_KEY": "first-key, second-key"})
	data := t.TempDir()
	r := startServe(t, "--data", data)
	p, err := loadPack("")
	if err != nil {
		t.Fatal(err)
	}
	var services []struct {
		Code string `json:"service_code"`
	}
	getJSON(t, r.base+"/open311/v2/services.json", 200, &services)
	if len(services) != len(p.Services) || services[0].Code != p.Services[0].Code {
		t.Errorf("services.json: %d services, want the pack's %d", len(services), len(p.Services))
	}
	var def struct {
		Code       string `json:"service_code"`
		Attributes []any  `json:"attributes"`
	}
	getJSON(t, r.base+"/open311/v2/services/RD-01.json", 200, &def)
	if def.Code != "RD-01" || len(def.Attributes) != len(p.Definitions["RD-01"].Attributes) {
		t.Errorf("services/RD-01.json: %+v", def)
	}
	form := url.Values{"api_key": {"second-key"}, "jurisdiction_id": {p.City.JurisdictionID}, "service_code": {"RD-01"},
		"address_string": {"12 King St W"}, "attribute[SIZE]": {"M"}, "attribute[POSITION]": {"BIKE"},
		"email": {"someone@example.org"}, "description": {"Filed through Open311"}}
	resp, err := http.PostForm(r.base+"/open311/v2/requests.json", form)
	if err != nil {
		t.Fatal(err)
	}
	var rc []struct {
		ID string `json:"service_request_id"`
	}
	json.NewDecoder(resp.Body).Decode(&rc)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(rc) != 1 || !strings.HasPrefix(rc[0].ID, "EX-") {
		t.Fatalf("POST requests.json: %d %+v", resp.StatusCode, rc)
	}
	form.Set("api_key", "not-a-key")
	if resp, _ := http.PostForm(r.base+"/open311/v2/requests.json", form); resp.StatusCode != 403 {
		t.Errorf("a wrong key: %d, want 403", resp.StatusCode)
	}
	form.Set("api_key", "first-key")
	form.Set("jurisdiction_id", "elsewhere.gov")
	if resp, _ := http.PostForm(r.base+"/open311/v2/requests.json", form); resp.StatusCode != 404 {
		t.Errorf("another jurisdiction: %d, want 404", resp.StatusCode)
	}

	// A case filed in a conversation is a request like the others; the
	// one filed through the API is a case staff see.
	out, stderr, code := runCmd(t, "there's a pothole on my street\n12 King St W\n3\nin a bike lane\nabout 20\nyes\n",
		"chat", "--json", "--data", data)
	if code != 0 {
		t.Fatalf("chat: %d %s", code, stderr)
	}
	lines := chatLines(t, out)
	last := lines[len(lines)-1]
	if last.Case == nil {
		t.Fatalf("the conversation filed no case: %+v", last)
	}
	var reqs []struct {
		ID string `json:"service_request_id"`
	}
	getJSON(t, r.base+"/open311/v2/requests.json?service_code=RD-01", 200, &reqs)
	ids := map[string]bool{}
	for _, q := range reqs {
		ids[q.ID] = true
	}
	if !ids[last.Case.ID] || !ids[rc[0].ID] {
		t.Errorf("requests.json lists %v, want the conversation's %s and the API's %s", ids, last.Case.ID, rc[0].ID)
	}
	out, _, code = runCmd(t, "", "case", "show", rc[0].ID, "--data", data)
	if code != 0 || !strings.Contains(out, "Filed through Open311") || strings.Contains(out, "Upstream") {
		t.Errorf("case show of the API's request: %d\n%s", code, out)
	}
}

func getJSON(t *testing.T, u string, status int, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d, want %d: %s", u, resp.StatusCode, status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// webConversation opens a web chat conversation and its event stream;
// entries receives the data of each entry event.
func webConversation(t *testing.T, base string) (id string, entries <-chan string) {
	t.Helper()
	var conv struct{ ID, Token string }
	if code := postJSON(t, base+"/api/v1/conversations", "", "", &conv); code != http.StatusCreated {
		t.Fatalf("create a web conversation: %d", code)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/conversations/"+conv.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+conv.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				ch <- data
			}
		}
	}()
	return "web:" + conv.ID, ch
}

// TestStatusNotifications: a status change made by `cityline case update`
// — another process than serve — reaches the residents who asked: by text
// (through a stand-in for Twilio's Messages API) and in an open web chat;
// a number that texted STOP gets nothing; a restart sends nothing twice,
// and a change made while serve was down is told once it is back.
func TestStatusNotifications(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			api := twiliotest.NewMessagesAPI(t, e2eSID, e2eToken)
			open311Env(t, map[string]string{"TWILIO_ACCOUNT_SID": e2eSID, "TWILIO_AUTH_TOKEN": e2eToken,
				"TWILIO_FROM_NUMBER": "+15550001111", "CITYLINE_PUBLIC_URL": e2ePublic, "CITYLINE_TWILIO_API_URL": api.URL,
				"CITYLINE_NOTIFY_INTERVAL": "30ms"})
			store := []string{"--data", t.TempDir()}
			if kind == "postgres" {
				store = append(store, "--postgres", pgtest.FreshDatabase(t))
			}
			r := startServe(t, store...)
			tw := &twiliotest.Client{Base: r.base, PublicURL: e2ePublic, AuthToken: e2eToken}

			// An SMS resident reports a pothole in a conversation (updates
			// by text are the default there).
			ana := "+15551230001"
			var ref string
			for i, body := range []string{"There is a big pothole at 12 King St W", "2", "1", "8", "yes", "yes", "yes"} {
				status, doc := tw.Post(t, "/twilio/sms", url.Values{"From": {ana}, "To": {"+15550001111"}, "Body": {body},
					"MessageSid": {"SMana" + string(rune('a'+i))}, "NumMedia": {"0"}})
				if status != 200 {
					t.Fatalf("SMS %q: %d", body, status)
				}
				if ref = e2eRef.FindString(doc); ref != "" {
					break
				}
			}
			if ref == "" {
				t.Fatal("the SMS conversation filed no case")
			}
			// Another texter, whose case is filed the same way, then STOP.
			bo := "+15551230002"
			boCase := &cases.Case{ServiceCode: "RD-01", ServiceName: "Pothole", Address: "1 Front St", Channel: "sms",
				Conversation: "sms:" + bo, Lang: "en", Contact: cases.Contact{Phone: bo, Notify: true}}
			if err := r.srv.store.Create(t.Context(), boCase); err != nil {
				t.Fatal(err)
			}
			if status, _ := tw.Post(t, "/twilio/sms", url.Values{"From": {bo}, "Body": {"STOP"}, "MessageSid": {"SMbo1"}}); status != 200 {
				t.Fatalf("STOP: %d", status)
			}
			// A web chat resident with the chat still open.
			webConv, events := webConversation(t, r.base)
			webCase := &cases.Case{ServiceCode: "GB-01", ServiceName: "Missed collection", Address: "300 Bloor St W",
				Channel: "web", Conversation: webConv, Lang: "en", Contact: cases.Contact{Email: "cy@example.org", Notify: true}}
			if err := r.srv.store.Create(t.Context(), webCase); err != nil {
				t.Fatal(err)
			}
			before := len(api.Sent())

			// Staff close all three from the command line.
			for _, c := range []string{ref, boCase.Ref, webCase.Ref} {
				if out, stderr, code := runCmd(t, "", append([]string{"case", "update", c, "--status", "closed",
					"--note", "Crew fixed it this morning."}, store...)...); code != 0 {
					t.Fatalf("case update %s: %d %s %s", c, code, out, stderr)
				}
			}
			eventually(t, "the text to the SMS resident", func() bool { return len(api.Sent()) > before })
			select {
			case data := <-events:
				if !strings.Contains(data, webCase.Ref) || !strings.Contains(data, "Crew fixed it this morning.") ||
					!strings.Contains(data, `"update"`) {
					t.Errorf("web chat update: %s", data)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no update in the web chat's event stream; log:\n%s", r.logs.String())
			}
			time.Sleep(300 * time.Millisecond) // ten rounds of the notifier: anything more would show
			sent := api.Sent()[before:]
			if len(sent) != 1 || sent[0].To != ana || !strings.Contains(sent[0].Body, ref) ||
				!strings.Contains(sent[0].Body, "closed") || !strings.Contains(sent[0].Body, "Crew fixed it this morning.") {
				t.Fatalf("texts after the update: %+v, want one to %s about %s", sent, ana, ref)
			}
			if !strings.HasPrefix(sent[0].Body, "Update from Example City:") {
				t.Errorf("update text: %q", sent[0].Body)
			}
			if p := api.Problems(); len(p) > 0 {
				t.Errorf("the Twilio stand-in saw bad requests: %v", p)
			}
			for _, leak := range []string{ana, bo, "cy@example.org"} {
				if strings.Contains(r.logs.String(), leak) {
					t.Errorf("the log shows a contact detail (%s)", leak)
				}
			}

			// A restart sends nothing again.
			r.stop()
			r = startServe(t, store...)
			time.Sleep(300 * time.Millisecond)
			if n := len(api.Sent()); n != before+1 {
				t.Errorf("after a restart %d texts, want still %d", n, before+1)
			}
			// A change made while serve is down is told once it is back.
			r.stop()
			if _, stderr, code := runCmd(t, "", append([]string{"case", "update", ref, "--status", "open",
				"--note", "Reopened: the patch sank."}, store...)...); code != 0 {
				t.Fatalf("case update: %s", stderr)
			}
			r = startServe(t, store...)
			eventually(t, "the text after the restart", func() bool { return len(api.Sent()) > before+1 })
			time.Sleep(300 * time.Millisecond)
			sent = api.Sent()[before+1:]
			if len(sent) != 1 || sent[0].To != ana || !strings.Contains(sent[0].Body, "Reopened: the patch sank.") {
				t.Errorf("texts after a change made while serve was down: %+v, want one", sent)
			}
		})
	}
}

// TestServeUpstream: in upstream mode a request taken at /open311/v2/ is
// forwarded to the city's own Open311 server, `cityline case show` says
// under what id, and what the city changes there comes back.
func TestServeUpstream(t *testing.T) {
	p, err := loadPack("")
	if err != nil {
		t.Fatal(err)
	}
	up := open311test.New(t, "crm-key", p.Services, p.Definitions)
	open311Env(t, map[string]string{"CITYLINE_OPEN311_API_KEY": "k", "CITYLINE_OPEN311_UPSTREAM": up.Endpoint(),
		"CITYLINE_OPEN311_UPSTREAM_KEY": "crm-key", "CITYLINE_OPEN311_UPSTREAM_FORMAT": "xml",
		"CITYLINE_OPEN311_UPSTREAM_INTERVAL": "30ms", "CITYLINE_OPEN311_UPSTREAM_POLL": "50ms"})
	data := t.TempDir()
	r := startServe(t, "--data", data)
	resp, err := http.PostForm(r.base+"/open311/v2/requests.json", url.Values{"api_key": {"k"}, "service_code": {"RD-01"},
		"lat": {"43.6487"}, "long": {"-79.3817"}, "attribute[SIZE]": {"L"}, "attribute[POSITION]": {"LANE"},
		"phone": {"+15550107777"}})
	if err != nil {
		t.Fatal(err)
	}
	var rc []struct {
		ID string `json:"service_request_id"`
	}
	json.NewDecoder(resp.Body).Decode(&rc)
	resp.Body.Close()
	if len(rc) != 1 || rc[0].ID == "" {
		t.Fatalf("POST: %d %+v", resp.StatusCode, rc)
	}
	ref := rc[0].ID
	eventually(t, "the request upstream", func() bool { return up.Count(open311.Marker(ref)) == 1 })
	fwd := up.Requests()[0]
	if fwd.Form.Get("attribute[SIZE]") != "L" || fwd.Form.Get("phone") != "+15550107777" {
		t.Errorf("forwarded as %v", fwd.Form)
	}
	eventually(t, "case show to say it was delivered", func() bool {
		out, _, _ := runCmd(t, "", "case", "show", ref, "--data", data)
		return strings.Contains(out, "delivered as "+fwd.ID)
	})
	up.Update(fwd.ID, "closed", "Patched by the roads crew.", time.Time{})
	eventually(t, "the city's change to come back", func() bool {
		c, err := r.srv.store.Get(t.Context(), ref)
		return err == nil && c.Status == cases.StatusClosed && c.StatusNotes == "Patched by the roads crew."
	})
	if n := up.Count(open311.Marker(ref)); n != 1 || up.Posts() != 1 {
		t.Errorf("the upstream got %d POSTs, %d copies; want one", up.Posts(), n)
	}
	if p := up.Problems(); len(p) > 0 {
		t.Errorf("the stand-in saw bad requests: %v", p)
	}
}
