package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases/postgres/pgtest"
	"github.com/cityline/cityline/channels/slack"
	"github.com/cityline/cityline/channels/slack/slackfake"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/knowledge/examplecity"
)

const (
	e2eSlackToken  = "xoxb-0000-cityline-e2e"
	e2eSlackSecret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	e2eAgent       = "+15550009999"
	e2eResident    = "+15551230000"
)

// slackRig is the real `cityline serve` with Slack, Twilio's Messages API
// and Slack's Web API played by local stand-ins.
type slackRig struct {
	base   string
	srv    *server
	logs   *syncBuffer
	api    *slackfake.API
	texts  *twiliotest.MessagesAPI
	slack  *slackfake.Client
	twilio *twiliotest.Client
	name   string // tells its message ids from another replica's
	sid    int
}

// Office hours for the content pack under test.
const (
	hoursAlwaysOpen = "office_hours: []\n"
	hoursAllDay     = "office_hours:\n  - days: [mon, tue, wed, thu, fri, sat, sun]\n    open: \"00:00\"\n    close: \"23:59\"\n"
)

// hoursClosedToday is office hours on another day than today (in the
// city's time zone): the office is closed all day.
func hoursClosedToday(t *testing.T) string {
	loc, err := time.LoadLocation("America/Toronto")
	if err != nil {
		t.Fatal(err)
	}
	day := strings.ToLower(time.Now().In(loc).Add(48 * time.Hour).Weekday().String()[:3])
	return "office_hours:\n  - days: [" + day + "]\n    open: \"09:00\"\n    close: \"17:00\"\n"
}

var officeHoursRE = regexp.MustCompile(`(?s)office_hours:\n.*?\n(popular:)`)

// startSlack runs the server on the Example City pack with hours as its
// office hours and wait as CITYLINE_HANDOFF_WAIT.
func startSlack(t *testing.T, hours string, wait time.Duration) *slackRig {
	t.Helper()
	return startSlackReplica(t, hours, wait, nil, nil)
}

// startSlackReplica is startSlack with more arguments; with like, another
// replica sharing like's stand-ins.
func startSlackReplica(t *testing.T, hours string, wait time.Duration, args []string, like *slackRig) *slackRig {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, examplecity.FS()); err != nil {
		t.Fatal(err)
	}
	cityFile := filepath.Join(dir, "city.yaml")
	city, err := os.ReadFile(cityFile)
	if err != nil {
		t.Fatal(err)
	}
	edited := officeHoursRE.ReplaceAllString(string(city), strings.ReplaceAll(hours, "$", "$$")+"$1")
	if edited == string(city) {
		t.Fatal("city.yaml: office_hours not found")
	}
	if err := os.WriteFile(cityFile, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &slackRig{name: "a"}
	if like != nil {
		r.api, r.texts, r.name = like.api, like.texts, like.name+"b"
	} else {
		r.api, r.texts = slackfake.NewAPI(t, e2eSlackToken), twiliotest.NewMessagesAPI(t, e2eSID, e2eToken)
	}
	r.base, r.srv, r.logs = startTwilioServer(t, append([]string{"--content", dir}, args...), map[string]string{
		"TWILIO_ACCOUNT_SID":      e2eSID,
		"TWILIO_AUTH_TOKEN":       e2eToken,
		"TWILIO_FROM_NUMBER":      "+15550001111",
		"CITYLINE_PUBLIC_URL":     e2ePublic,
		"CITYLINE_TWILIO_API_URL": r.texts.URL,
		"CITYLINE_AGENT_NUMBER":   e2eAgent,
		"SLACK_BOT_TOKEN":         e2eSlackToken,
		"SLACK_SIGNING_SECRET":    e2eSlackSecret,
		"CITYLINE_SLACK_CHANNEL":  "#311-staff",
		"CITYLINE_SLACK_API_URL":  r.api.URL,
		"CITYLINE_HANDOFF_WAIT":   wait.String(),
	})
	if r.srv.desk == nil {
		t.Fatalf("the Slack desk is off; log:\n%s", r.logs.String())
	}
	r.slack = &slackfake.Client{Base: r.base, Secret: e2eSlackSecret}
	r.twilio = &twiliotest.Client{Base: r.base, PublicURL: e2ePublic, AuthToken: e2eToken}
	t.Cleanup(func() {
		if p := r.api.Problems(); len(p) > 0 {
			t.Errorf("the Slack stand-in saw bad requests: %v", p)
		}
		if p := r.texts.Problems(); len(p) > 0 {
			t.Errorf("the Twilio stand-in saw bad requests: %v", p)
		}
		for _, leak := range []string{e2eResident, "1230000"} {
			if strings.Contains(r.logs.String(), leak) {
				t.Errorf("the log shows the resident's number in full (%s)", leak)
			}
		}
	})
	return r
}

// text sends an SMS from the resident and returns the replies.
func (r *slackRig) text(t *testing.T, body string) []string {
	t.Helper()
	r.sid++
	return textSid(t, r.twilio, e2eResident, body, "SMslack"+r.name+strings.Repeat("x", r.sid))
}

// root waits for the staff message of a new handoff.
func (r *slackRig) root(t *testing.T) slackfake.Post {
	t.Helper()
	r.api.WaitFor(t, "a new staff thread", 5*time.Second, func([]slackfake.Post) bool {
		return len(r.api.Roots()) > 0
	})
	return r.api.Roots()[len(r.api.Roots())-1]
}

// note waits for a post in the thread containing want.
func (r *slackRig) note(t *testing.T, root slackfake.Post, want string) slackfake.Post {
	t.Helper()
	var found slackfake.Post
	r.api.WaitFor(t, "a post in the thread with "+want, 5*time.Second, func([]slackfake.Post) bool {
		for _, p := range r.api.Thread(root.TS) {
			if strings.Contains(p.Text, want) {
				found = p
				return true
			}
		}
		return false
	})
	return found
}

// sms waits for a text to the resident containing want.
func (r *slackRig) sms(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, s := range r.texts.Sent() {
			if s.To == e2eResident && strings.Contains(s.Body, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no text to the resident with %q; sent: %+v", want, r.texts.Sent())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *slackRig) countSMS(want string) int {
	n := 0
	for _, s := range r.texts.Sent() {
		if strings.Contains(s.Body, want) {
			n++
		}
	}
	return n
}

func (r *slackRig) press(t *testing.T, root slackfake.Post, user, action string) {
	t.Helper()
	if status, body := r.slack.Press(t, slack.InteractionsPath, r.api.Channel, root.TS, user, action); status != 200 {
		t.Fatalf("press %s: %d %s", action, status, body)
	}
}

func (r *slackRig) reply(t *testing.T, root slackfake.Post, eventID, text string, retry int) {
	t.Helper()
	ts := "1760009999." + eventID
	if status, body := r.slack.Event(t, slack.EventsPath,
		slackfake.ThreadReply(eventID, r.api.Channel, root.TS, ts, "U0SAM", text), retry); status != 200 {
		t.Fatalf("event %s: %d %s", eventID, status, body)
	}
}

// TestSlackRequestsMustBeSigned: Slack's endpoints on the real server
// refuse what Slack did not sign, just now, and answer the URL check.
func TestSlackRequestsMustBeSigned(t *testing.T) {
	r := startSlack(t, hoursAlwaysOpen, time.Hour)
	body := slackfake.ThreadReply("EvX", "C0STAFF", "1.1", "1.2", "U1", "hello")
	for _, path := range []string{slack.EventsPath, slack.InteractionsPath} {
		unsigned := &slackfake.Client{Base: r.base}
		if status, _ := unsigned.Post(t, path, "application/json", body, nil); status != http.StatusForbidden {
			t.Errorf("%s unsigned: %d, want 403", path, status)
		}
		ts, sig := slackfake.Sign(e2eSlackSecret, time.Now(), body)
		h := http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {sig}}
		if status, _ := unsigned.Post(t, path, "application/json", []byte(strings.Replace(string(body), "hello", "hullo", 1)), h); status != http.StatusForbidden {
			t.Errorf("%s tampered: %d, want 403", path, status)
		}
		old := &slackfake.Client{Base: r.base, Secret: e2eSlackSecret, Now: func() time.Time { return time.Now().Add(-400 * time.Second) }}
		if status, _ := old.Post(t, path, "application/json", body, nil); status != http.StatusForbidden {
			t.Errorf("%s signed 400 s ago: %d, want 403", path, status)
		}
	}
	if status, got := r.slack.URLVerification(t, slack.EventsPath, "challenge-3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd"); status != 200 ||
		got != "challenge-3eZbrw1aBm2rZgRNFdxV2595E9CY3gmd" {
		t.Errorf("url_verification: %d %q", status, got)
	}
	if n := len(r.api.Posts()); n != 0 {
		t.Errorf("%d posts to Slack", n)
	}
}

// TestSlackHandoffSMS is the round trip on SMS: the resident asks for a
// person, staff get the thread, a staff reply arrives as a text, the
// resident's answer appears in the thread, staff file the case and close,
// and the assistant answers again.
func TestSlackHandoffSMS(t *testing.T) {
	r := startSlack(t, hoursAlwaysOpen, time.Hour)
	if got := strings.Join(r.text(t, "There is a big pothole at 12 King St W"), " "); got == "" {
		t.Fatal("no reply to the report")
	}
	got := strings.Join(r.text(t, "I want to talk to a person"), " ")
	if !strings.Contains(got, "member of our staff") {
		t.Fatalf("asking for a person: %q", got)
	}
	root := r.root(t)
	all := root.All()
	for _, want := range []string{"SMS", dialog.MaskPhone(e2eResident), "There is a big pothole at 12 King St W",
		"I want to talk to a person", "Pothole (RD-01)", "12 King St W", "Take", "Create case from details", "Close"} {
		if !strings.Contains(all, want) {
			t.Errorf("the staff thread lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, e2eResident) {
		t.Errorf("the staff thread shows the full number before anyone took it:\n%s", all)
	}

	// Take: the full number, in the thread only.
	r.press(t, root, "U0SAM", slack.ActionTake)
	if n := r.note(t, root, "took this conversation"); !strings.Contains(n.Text, e2eResident) || !strings.Contains(n.Text, "<@U0SAM>") {
		t.Errorf("take: %q", n.Text)
	}

	// A staff reply arrives as a text; Slack's retry of it does not.
	staff := "Hi, this is Sam from 311. Is it in the curb lane?"
	r.reply(t, root, "Ev1001", staff, 0)
	r.sms(t, "Is it in the curb lane?")
	r.reply(t, root, "Ev1001", staff, 1)
	r.reply(t, root, "Ev1001", staff, 2)
	time.Sleep(200 * time.Millisecond)
	if n := r.countSMS("Is it in the curb lane?"); n != 1 {
		t.Errorf("the staff reply was texted %d times, want once", n)
	}

	// The resident answers: silence on SMS, the words in the thread.
	if got := r.text(t, "Yes, right by the bus stop"); len(got) != 0 {
		t.Errorf("the assistant spoke while staff own the conversation: %q", got)
	}
	r.note(t, root, "Yes, right by the bus stop")

	// Create case from details: filed, the resident told the reference.
	r.press(t, root, "U0SAM", slack.ActionFile)
	filed := r.note(t, root, "from the details collected")
	ref := e2eRef.FindString(filed.Text)
	if ref == "" {
		t.Fatalf("no reference in %q", filed.Text)
	}
	r.sms(t, ref)
	if c, err := r.srv.store.Get(t.Context(), ref); err != nil || c.ServiceCode != "RD-01" || c.Contact.Phone != e2eResident {
		t.Errorf("case %s: %+v, %v", ref, c, err)
	}

	// Close: the goodbye; the assistant answers the next message.
	r.press(t, root, "U0SAM", slack.ActionClose)
	r.note(t, root, "closed this conversation")
	r.sms(t, "Our staff member has finished")
	if got := strings.Join(r.text(t, "when is my garbage day"), " "); got == "" {
		t.Error("the assistant did not answer after staff closed")
	}
}

// webChat is a web chat conversation with its event stream open.
type webChat struct {
	base, id, token string
	mu              sync.Mutex
	entries         []struct {
		From  string `json:"from"`
		Reply *struct {
			Reply string `json:"reply"`
		} `json:"reply"`
	}
}

func openWebChat(t *testing.T, base string) *webChat {
	t.Helper()
	w := &webChat{base: base}
	var conv struct{ ID, Token string }
	if code := postJSON(t, base+"/api/v1/conversations", "", "", &conv); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	w.id, w.token = conv.ID, conv.Token
	req, _ := http.NewRequest("GET", base+"/api/v1/conversations/"+w.id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+w.token)
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stream.Body.Close() })
	go func() {
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var e struct {
				From  string `json:"from"`
				Reply *struct {
					Reply string `json:"reply"`
				} `json:"reply"`
			}
			if json.Unmarshal([]byte(data), &e) == nil {
				w.mu.Lock()
				w.entries = append(w.entries, e)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// say sends a message and returns the reply's text and whether it was silent.
func (w *webChat) say(t *testing.T, text string) (string, bool) {
	t.Helper()
	var turn struct {
		Reply  string `json:"reply"`
		Silent bool   `json:"silent"`
	}
	body, _ := json.Marshal(map[string]string{"text": text})
	if code := postJSON(t, w.base+"/api/v1/conversations/"+w.id+"/messages", w.token, string(body), &turn); code != 200 {
		t.Fatalf("message %q: %d", text, code)
	}
	return turn.Reply, turn.Silent
}

// pushed waits for an entry from from, pushed on the event stream, with want.
func (w *webChat) pushed(t *testing.T, from, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		for _, e := range w.entries {
			if e.From == from && e.Reply != nil && strings.Contains(e.Reply.Reply, want) {
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s message with %q on the event stream; got %+v", from, want, w.entries)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSlackHandoffWebChat is the same round trip on the web chat: the
// staff reply and the goodbye arrive on the event stream.
func TestSlackHandoffWebChat(t *testing.T) {
	r := startSlack(t, hoursAlwaysOpen, time.Hour)
	w := openWebChat(t, r.base)
	if reply, _ := w.say(t, "I want to talk to a person"); !strings.Contains(reply, "member of our staff") {
		t.Fatalf("asking for a person: %q", reply)
	}
	root := r.root(t)
	if all := root.All(); !strings.Contains(all, "Web chat") || !strings.Contains(all, "none (web chat)") ||
		!strings.Contains(all, "I want to talk to a person") {
		t.Errorf("the staff thread:\n%s", all)
	}
	r.reply(t, root, "Ev2001", "Hello, Sam here. How can I help?", 0)
	w.pushed(t, "staff", "Sam here. How can I help?")
	if reply, silent := w.say(t, "My recycling bin was stolen"); !silent || reply != "" {
		t.Errorf("the assistant spoke while staff own the conversation: %q (silent %v)", reply, silent)
	}
	r.note(t, root, "My recycling bin was stolen")
	r.press(t, root, "U0SAM", slack.ActionClose)
	w.pushed(t, "assistant", "Our staff member has finished")
	if reply, silent := w.say(t, "when is my garbage day"); silent || reply == "" {
		t.Errorf("the assistant did not answer after staff closed: %q", reply)
	}
}

// TestSlackHandoffVoice: a caller who asks for a person is put through to
// the agent line with <Dial>; staff get the context in Slack.
func TestSlackHandoffVoice(t *testing.T) {
	r := startSlack(t, hoursAlwaysOpen, time.Hour)
	if status, doc := r.twilio.Post(t, "/twilio/voice", url.Values{"CallSid": {"CAslack1"}, "From": {e2eResident}}); status != 200 {
		t.Fatalf("call: %d %s", status, doc)
	}
	status, doc := r.twilio.Post(t, "/twilio/voice/gather?n=1&lang=en",
		url.Values{"CallSid": {"CAslack1"}, "From": {e2eResident}, "Digits": {"0"}})
	if status != 200 {
		t.Fatalf("pressing 0: %d %s", status, doc)
	}
	dial := twiliotest.Parse(t, doc, twiliotest.VoiceVerbs).All("Dial")
	if len(dial) != 1 || !strings.Contains(doc, e2eAgent) {
		t.Fatalf("a live handoff on a call did not dial the agent line:\n%s", doc)
	}
	root := r.root(t)
	if all := root.All(); !strings.Contains(all, "Phone call") || !strings.Contains(all, dialog.MaskPhone(e2eResident)) {
		t.Errorf("the staff thread for a call:\n%s", all)
	}
	// Replies in a call's thread reach no one, and staff are told.
	r.reply(t, root, "Ev3001", "Hello?", 0)
	r.note(t, root, "phone call")
	if n := len(r.texts.Sent()); n != 0 {
		t.Errorf("%d texts sent to a caller", n)
	}
}

// TestSlackHandoffWaiting: with no staff reply in time the resident is
// told when they will hear back, during office hours; after hours, the
// hours.
func TestSlackHandoffWaiting(t *testing.T) {
	t.Run("open", func(t *testing.T) {
		if loc, _ := time.LoadLocation("America/Toronto"); time.Now().In(loc).Format("15:04") == "23:59" {
			time.Sleep(61 * time.Second) // the all-day hours end at 23:59
		}
		r := startSlack(t, hoursAllDay, 300*time.Millisecond)
		w := openWebChat(t, r.base)
		w.say(t, "I want to talk to a person")
		root := r.root(t)
		w.pushed(t, "assistant", "someone will reply here by 23:59")
		r.note(t, root, "No staff reply after 300ms")
	})
	t.Run("closed", func(t *testing.T) {
		r := startSlack(t, hoursClosedToday(t), 300*time.Millisecond)
		if got := strings.Join(r.text(t, "I want to talk to a person"), " "); !strings.Contains(got, "closed") {
			t.Fatalf("asking for a person after hours: %q", got)
		}
		root := r.root(t)
		r.sms(t, "Thanks for waiting. Our office is closed now")
		r.sms(t, "09:00-17:00")
		r.note(t, root, "No staff reply after 300ms")
		time.Sleep(500 * time.Millisecond)
		if n := r.countSMS("Thanks for waiting"); n != 1 {
			t.Errorf("told of the wait %d times, want once", n)
		}
	})
}

// TestSlackReplyToOptedOutResident: a resident who texted STOP gets no
// staff reply, and staff are told why in the thread.
func TestSlackReplyToOptedOutResident(t *testing.T) {
	r := startSlack(t, hoursAlwaysOpen, time.Hour)
	r.text(t, "I want to talk to a person")
	root := r.root(t)
	if got := r.text(t, "STOP"); len(got) != 1 {
		t.Fatalf("STOP: %q", got)
	}
	r.reply(t, root, "Ev4001", "Are you still there?", 0)
	r.note(t, root, "opted out of text messages")
	if n := r.countSMS("Are you still there?"); n != 0 {
		t.Errorf("a staff reply was texted to a resident who opted out")
	}
}

// TestSlackOff: without Slack settings the embedded desk stays (residents
// are told how to reach 311), the endpoints are not there, and the log
// says why.
func TestSlackOff(t *testing.T) {
	for _, k := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CITYLINE_SLACK_CHANNEL", "CITYLINE_SLACK_API_URL"} {
		t.Setenv(k, "")
	}
	base, srv, logs := startTwilioServer(t, nil, map[string]string{"SLACK_BOT_TOKEN": "xoxb-only-a-token"})
	if srv.desk != nil {
		t.Error("the Slack desk is on without a signing secret and a channel")
	}
	if !strings.Contains(logs.String(), "staff handoff in Slack is off: SLACK_SIGNING_SECRET, CITYLINE_SLACK_CHANNEL not set") {
		t.Errorf("the log does not say why Slack is off:\n%s", logs.String())
	}
	resp, err := http.Post(base+slack.EventsPath, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("%s without Slack: %d, want 404", slack.EventsPath, resp.StatusCode)
	}
	w := openWebChat(t, base)
	if reply, _ := w.say(t, "I want to talk to a person"); !strings.Contains(reply, "call 311") {
		t.Errorf("without a staff desk: %q", reply)
	}
}

// TestSlackHandoffAcrossReplicas: two replicas share Redis and
// PostgreSQL behind a load balancer. A handoff opened on one is answered
// through the other; Slack's retry reaching the first is recognised; the
// resident's next message, on either, goes to the thread; Close on one
// hands back on both.
func TestSlackHandoffAcrossReplicas(t *testing.T) {
	args := []string{"--redis", testRedisURL(t), "--postgres", pgtest.FreshDatabase(t)}
	a := startSlackReplica(t, hoursAlwaysOpen, time.Hour, args, nil)
	b := startSlackReplica(t, hoursAlwaysOpen, time.Hour, args, a)
	for _, r := range []*slackRig{a, b} {
		if !strings.Contains(r.logs.String(), "event_ids=redis") {
			t.Errorf("a replica keeps Slack's event ids in its own memory:\n%s", r.logs.String())
		}
	}
	if got := strings.Join(a.text(t, "I want to talk to a person"), " "); !strings.Contains(got, "member of our staff") {
		t.Fatalf("asking for a person: %q", got)
	}
	root := a.root(t)
	b.reply(t, root, "Ev7001", "Hello from Sam at 311, which street?", 0)
	a.sms(t, "which street?")
	a.reply(t, root, "Ev7001", "Hello from Sam at 311, which street?", 1)
	time.Sleep(200 * time.Millisecond)
	if n := a.countSMS("which street?"); n != 1 {
		t.Errorf("the staff reply was texted %d times across replicas, want once", n)
	}
	if got := b.text(t, "Queen Street, near the library"); len(got) != 0 {
		t.Errorf("the other replica's assistant spoke during the handoff: %q", got)
	}
	a.note(t, root, "Queen Street, near the library")
	b.press(t, root, "U0SAM", slack.ActionClose)
	a.sms(t, "Our staff member has finished")
	if got := strings.Join(a.text(t, "when is my garbage day"), " "); got == "" {
		t.Error("the assistant did not answer after staff closed on the other replica")
	}
}
