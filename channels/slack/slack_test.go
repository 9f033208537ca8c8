package slack_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/cases/sqlite"
	"github.com/cityline/cityline/channels/slack"
	"github.com/cityline/cityline/channels/slack/slackfake"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/locale"
)

const (
	token  = "xoxb-test-token"
	secret = "8f742231b10e8888abcd99yyyzzz85a5"
)

// engine is a hand-written fake of the engine's staff actions.
type engine struct {
	mu                     sync.Mutex
	closed, filed, waiting []string
	closeReply, fileReply  dialog.Reply
	waitReply              dialog.Reply
	closeErr, fileErr      error
}

func (e *engine) StaffClosed(_ context.Context, id string) (dialog.Reply, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = append(e.closed, id)
	if len(e.closed) > 1 { // the second time, it is no longer with staff
		return dialog.Reply{State: dialog.StateIdle}, e.closeErr
	}
	return e.closeReply, e.closeErr
}

func (e *engine) FileDraft(_ context.Context, id string) (dialog.Reply, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.filed = append(e.filed, id)
	return e.fileReply, e.fileErr
}

func (e *engine) StaffWaiting(_ context.Context, id string) (dialog.Reply, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.waiting = append(e.waiting, id)
	return e.waitReply, nil
}

// told is one message delivered to a resident.
type told struct {
	conversation, contact, from, text string
}

// people is a fake Residents: it records, and can fail or hold.
type people struct {
	mu   sync.Mutex
	got  []told
	err  error
	hold chan struct{} // when set, Tell waits for it to close
}

func (p *people) Tell(_ context.Context, conversation, contact, from string, r dialog.Reply) error {
	if p.hold != nil {
		<-p.hold
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	p.got = append(p.got, told{conversation, contact, from, r.Text()})
	return nil
}

func (p *people) all() []told {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]told(nil), p.got...)
}

// rig is a desk and its handler on a test server, with Slack's stand-in,
// a case store for the threads, a fake engine and fake residents.
type rig struct {
	api    *slackfake.API
	desk   *slack.Desk
	h      *slack.Handler
	store  *sqlite.Store
	eng    *engine
	people *people
	clock  *casetest.FakeClock
	slack  *slackfake.Client
}

func newRig(t *testing.T, voice bool) *rig {
	t.Helper()
	r := &rig{api: slackfake.NewAPI(t, token), eng: &engine{}, people: &people{},
		clock: casetest.NewFakeClock(time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC))}
	var err error
	r.store, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cases.db"), "EX", r.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close() })
	cat, err := locale.New([]string{"en", "fr"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.desk, err = slack.New(slack.Config{Token: token, Channel: "#311-staff", APIURL: r.api.URL, Threads: r.store,
		Catalog: cat, Wait: 5 * time.Minute, VoiceTransfer: voice, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.h, err = r.desk.Handler(slack.HandlerConfig{Engine: r.eng, Residents: r.people, SigningSecret: secret,
		SweepEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	r.h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	r.slack = &slackfake.Client{Base: srv.URL, Secret: secret}
	return r
}

// open hands an SMS conversation over and returns the thread's root post.
func (r *rig) open(t *testing.T, s *dialog.Session) slackfake.Post {
	t.Helper()
	thread, live, err := r.desk.Open(t.Context(), dialog.Handoff{Session: s, Reason: "asked",
		Summary: "Reporting: Pothole", Recent: []string{"pothole at 12 King St W", "<!channel> talk to a person"},
		Draft: &dialog.DraftView{ServiceCode: "RD-01", ServiceName: "Pothole", Address: "12 King St W",
			Details: []string{"Size: Large"}, Description: "deep & wide"}})
	if err != nil || !live {
		t.Fatalf("Open = %q, %v, %v", thread, live, err)
	}
	roots := r.api.Roots()
	root := roots[len(roots)-1]
	if want := r.api.Channel + "/" + root.TS; thread != want {
		t.Errorf("thread %q, want %q", thread, want)
	}
	return root
}

func smsSession() *dialog.Session {
	return &dialog.Session{ID: "sms:+15551230000", Channel: dialog.ChannelSMS, Contact: "+15551230000", Lang: "en",
		State: dialog.StateHandoff}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOpenPostsTheConversationForStaff(t *testing.T) {
	r := newRig(t, false)
	root := r.open(t, smsSession())
	all := root.All()
	for _, want := range []string{"SMS", "en", dialog.MaskPhone("+15551230000"), "Reporting: Pothole", "pothole at 12 King St W",
		"Pothole (RD-01)", "12 King St W", "Size: Large", "deep &amp; wide", "Take", "Create case from details", "Close",
		"They asked for a person"} {
		if !strings.Contains(all, want) {
			t.Errorf("the staff message lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "+15551230000") || strings.Contains(all, "1230000") {
		t.Errorf("the staff message shows the full contact before anyone took it:\n%s", all)
	}
	if strings.Contains(all, "<!channel>") || !strings.Contains(all, "&lt;!channel&gt;") {
		t.Errorf("a resident's <!channel> was not escaped:\n%s", all)
	}
	if root.Channel != "#311-staff" {
		t.Errorf("posted to %q", root.Channel)
	}
	th, err := r.store.Thread(t.Context(), r.api.Channel+"/"+root.TS)
	if err != nil {
		t.Fatal(err)
	}
	if th.Conversation != "sms:+15551230000" || th.Contact != "+15551230000" || !th.Due.Equal(r.clock.Now().Add(5*time.Minute)) {
		t.Errorf("thread recorded as %+v", th)
	}
	if err := r.desk.Relay(t.Context(), th.ID, smsSession(), "It's the <b>big</b> one"); err != nil {
		t.Fatal(err)
	}
	in := r.api.Thread(root.TS)
	if len(in) != 1 || !strings.Contains(in[0].Text, "It's the &lt;b&gt;big&lt;/b&gt; one") {
		t.Errorf("relayed into the thread: %+v", in)
	}
	if p := r.api.Problems(); len(p) > 0 {
		t.Errorf("the stand-in saw bad requests: %v", p)
	}
}

func TestOpenFailsWhenSlackDoes(t *testing.T) {
	r := newRig(t, false)
	r.api.Fail("channel_not_found")
	if _, live, err := r.desk.Open(t.Context(), dialog.Handoff{Session: smsSession()}); err == nil || live {
		t.Errorf("Open with Slack failing = %v, %v; want an error, not live", live, err)
	}
}

func TestVoice(t *testing.T) {
	call := &dialog.Session{ID: "CA123", Channel: dialog.ChannelVoice, Contact: "+15551230000", Lang: "en"}
	// Without an agent line a caller's handoff is not live, and staff are
	// not asked.
	r := newRig(t, false)
	if _, live, err := r.desk.Open(t.Context(), dialog.Handoff{Session: call}); live || err != nil {
		t.Errorf("voice without an agent line: live %v, %v", live, err)
	}
	if n := len(r.api.Posts()); n != 0 {
		t.Errorf("%d posts for a call that is not put through", n)
	}
	// With one, staff get the context; nothing is owed, nothing relayed.
	r = newRig(t, true)
	thread, live, err := r.desk.Open(t.Context(), dialog.Handoff{Session: call, Reason: "asked"})
	if !live || err != nil {
		t.Fatalf("voice with an agent line: live %v, %v", live, err)
	}
	root := r.api.Roots()[0]
	if !strings.Contains(root.All(), "Phone call") || !strings.Contains(root.All(), "agent line") {
		t.Errorf("voice thread:\n%s", root.All())
	}
	if th, _ := r.store.Thread(t.Context(), thread); !th.Due.IsZero() {
		t.Errorf("a caller put through is owed a staff reply: %+v", th)
	}
	r.slack.Event(t, slack.EventsPath, slackfake.ThreadReply("Ev1", r.api.Channel, root.TS, "1760000001.1", "U1", "hello"), 0)
	r.api.WaitFor(t, "a note that calls get no replies", 5*time.Second, func(p []slackfake.Post) bool {
		return len(p) == 2 && strings.Contains(p[1].Text, "phone call")
	})
	if got := r.people.all(); len(got) != 0 {
		t.Errorf("a reply to a caller was sent: %+v", got)
	}
}

func TestRequestsMustBeSignedBySlack(t *testing.T) {
	r := newRig(t, false)
	body := slackfake.ThreadReply("Ev1", "C0STAFF", "1.1", "1.2", "U1", "hi")
	for _, path := range []string{slack.EventsPath, slack.InteractionsPath} {
		unsigned := &slackfake.Client{Base: r.slack.Base}
		if status, _ := unsigned.Post(t, path, "application/json", body, nil); status != http.StatusForbidden {
			t.Errorf("%s unsigned: %d, want 403", path, status)
		}
		// Signed for one body, sent with another.
		ts, sig := slackfake.Sign(secret, time.Now(), body)
		tampered := http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {sig}}
		if status, _ := unsigned.Post(t, path, "application/json",
			[]byte(strings.Replace(string(body), "hi", "ho", 1)), tampered); status != http.StatusForbidden {
			t.Errorf("%s tampered: %d, want 403", path, status)
		}
		wrong := &slackfake.Client{Base: r.slack.Base, Secret: "not-the-secret"}
		if status, _ := wrong.Post(t, path, "application/json", body, nil); status != http.StatusForbidden {
			t.Errorf("%s signed with another secret: %d, want 403", path, status)
		}
		old := &slackfake.Client{Base: r.slack.Base, Secret: secret,
			Now: func() time.Time { return time.Now().Add(-400 * time.Second) }}
		if status, _ := old.Post(t, path, "application/json", body, nil); status != http.StatusForbidden {
			t.Errorf("%s signed 400 seconds ago: %d, want 403", path, status)
		}
	}
	status, got := r.slack.URLVerification(t, slack.EventsPath, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
	if status != 200 || got != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("url_verification: %d %q", status, got)
	}
	if status, _ := r.slack.Post(t, slack.EventsPath, "application/json", []byte("{not json"), nil); status != 400 {
		t.Errorf("malformed event: %d, want 400", status)
	}
	if status, _ := r.slack.Post(t, slack.InteractionsPath, "application/x-www-form-urlencoded", []byte("payload=%7Bnope"), nil); status != 400 {
		t.Errorf("malformed interaction: %d, want 400", status)
	}
	// Events this app does not read are acknowledged, not retried.
	reaction := []byte(`{"type":"event_callback","event_id":"Ev9","event":{"type":"reaction_added","user":"U1","reaction":"eyes","item":{"type":"message","channel":"C1","ts":"1.1"}}}`)
	if status, _ := r.slack.Event(t, slack.EventsPath, reaction, 0); status != 200 {
		t.Errorf("an unread event: %d, want 200", status)
	}
	if got := r.people.all(); len(got) != 0 {
		t.Errorf("refused requests reached residents: %+v", got)
	}
}

func TestStaffRepliesAreRelayedOnce(t *testing.T) {
	r := newRig(t, false)
	root := r.open(t, smsSession())
	reply := slackfake.ThreadReply("Ev100", r.api.Channel, root.TS, "1760000100.000001", "U123",
		"Hi, this is Sam &amp; co. See <https://example.city/potholes|our page> <@U999>")
	if status, _ := r.slack.Event(t, slack.EventsPath, reply, 0); status != 200 {
		t.Fatalf("event: %d", status)
	}
	waitFor(t, "the reply to reach the resident", func() bool { return len(r.people.all()) == 1 })
	// Slack retries the same event: acknowledged, not relayed again.
	for retry := 1; retry <= 2; retry++ {
		if status, _ := r.slack.Event(t, slack.EventsPath, reply, retry); status != 200 {
			t.Errorf("retry %d: %d", retry, status)
		}
	}
	// Not replies from a person in a thread: a bot's (this app's own
	// posts), an edit, a top-level message, a thread that is not ours.
	r.slack.Event(t, slack.EventsPath, slackfake.BotReply("Ev101", r.api.Channel, root.TS, "1760000100.000002", "B0001", "*Resident:* hi"), 0)
	r.slack.Event(t, slack.EventsPath, slackfake.Edited("Ev102", r.api.Channel, root.TS, "1760000100.000001", "U123", "edited"), 0)
	r.slack.Event(t, slack.EventsPath, slackfake.ThreadReply("Ev103", r.api.Channel, "", "1760000100.000003", "U123", "top level"), 0)
	r.slack.Event(t, slack.EventsPath, slackfake.ThreadReply("Ev104", r.api.Channel, "1111.2222", "1760000100.000004", "U123", "elsewhere"), 0)
	// A last one that is relayed shows the others were handled and dropped.
	r.slack.Event(t, slack.EventsPath, slackfake.ThreadReply("Ev105", r.api.Channel, root.TS, "1760000100.000005", "U123", "Done?"), 0)
	waitFor(t, "the last reply", func() bool { return len(r.people.all()) >= 2 })
	time.Sleep(50 * time.Millisecond)
	got := r.people.all()
	if len(got) != 2 {
		t.Fatalf("relayed %d messages, want 2: %+v", len(got), got)
	}
	want := told{"sms:+15551230000", "+15551230000", slack.FromStaff,
		"Hi, this is Sam & co. See our page (https://example.city/potholes)"}
	if got[0] != want {
		t.Errorf("relayed %+v, want %+v", got[0], want)
	}
	if th, _ := r.store.Thread(t.Context(), r.api.Channel+"/"+root.TS); !th.Due.IsZero() {
		t.Errorf("after a staff reply the resident is still owed one: %+v", th)
	}
}

func TestEventsAreAcknowledgedBeforeTheWork(t *testing.T) {
	r := newRig(t, false)
	root := r.open(t, smsSession())
	r.people.hold = make(chan struct{})
	start := time.Now()
	status, _ := r.slack.Event(t, slack.EventsPath,
		slackfake.ThreadReply("Ev200", r.api.Channel, root.TS, "1760000200.000001", "U123", "hello"), 0)
	if status != 200 || time.Since(start) > time.Second {
		t.Errorf("acknowledged with %d after %v while delivery was still going on", status, time.Since(start))
	}
	status, _ = r.slack.Press(t, slack.InteractionsPath, r.api.Channel, root.TS, "U123", slack.ActionTake)
	if status != 200 || time.Since(start) > 2*time.Second {
		t.Errorf("button acknowledged with %d after %v", status, time.Since(start))
	}
	close(r.people.hold)
	waitFor(t, "the delivery", func() bool { return len(r.people.all()) == 1 })
}

func TestAReplyToAnOptedOutResidentIsNotSent(t *testing.T) {
	r := newRig(t, false)
	root := r.open(t, smsSession())
	r.people.err = fmt.Errorf("send: %w", slack.ErrOptedOut)
	r.slack.Event(t, slack.EventsPath, slackfake.ThreadReply("Ev300", r.api.Channel, root.TS, "1760000300.000001", "U123", "Hello?"), 0)
	r.api.WaitFor(t, "a note that nothing was sent", 5*time.Second, func(p []slackfake.Post) bool {
		return len(p) == 2 && strings.Contains(p[1].Text, "opted out") && p[1].ThreadTS == root.TS
	})
	if th, _ := r.store.Thread(t.Context(), r.api.Channel+"/"+root.TS); th.Due.IsZero() {
		t.Error("a reply that was not sent counts as answered")
	}
	r.people.err = fmt.Errorf("deliver: %w", slack.ErrUnreachable)
	r.slack.Event(t, slack.EventsPath, slackfake.ThreadReply("Ev301", r.api.Channel, root.TS, "1760000300.000002", "U123", "Hello?"), 0)
	r.api.WaitFor(t, "a note that the resident cannot be reached", 5*time.Second, func(p []slackfake.Post) bool {
		return len(p) == 3 && strings.Contains(p[2].Text, "no way to reach")
	})
}

func TestButtons(t *testing.T) {
	r := newRig(t, false)
	root := r.open(t, smsSession())
	thread := r.api.Channel + "/" + root.TS
	press := func(user, action string) {
		t.Helper()
		if status, _ := r.slack.Press(t, slack.InteractionsPath, r.api.Channel, root.TS, user, action); status != 200 {
			t.Fatalf("press %s: %d", action, status)
		}
	}
	notes := func(n int) []slackfake.Post {
		return r.api.WaitFor(t, fmt.Sprintf("%d notes", n), 5*time.Second, func(p []slackfake.Post) bool {
			return len(r.api.Thread(root.TS)) >= n
		})
	}

	// Take: who took it is kept; the full contact appears in the thread only.
	press("U123", slack.ActionTake)
	notes(1)
	if n := r.api.Thread(root.TS)[0].Text; !strings.Contains(n, "<@U123>") || !strings.Contains(n, "+15551230000") {
		t.Errorf("take note: %q", n)
	}
	press("U456", slack.ActionTake)
	notes(2)
	if n := r.api.Thread(root.TS)[1].Text; !strings.Contains(n, "<@U123> has already taken") || strings.Contains(n, "+1555") {
		t.Errorf("second take: %q", n)
	}
	if th, _ := r.store.Thread(t.Context(), thread); th.TakenBy != "U123" {
		t.Errorf("taken by %q", th.TakenBy)
	}

	// Create case from details.
	r.eng.fileReply = dialog.Reply{State: dialog.StateHandoff, Case: &dialog.CaseInfo{Ref: "EX-000042", ServiceName: "Pothole"},
		Messages: []dialog.Message{{Text: "Your request EX-000042 (Pothole) is filed."}}}
	press("U123", slack.ActionFile)
	notes(3)
	if n := r.api.Thread(root.TS)[2].Text; !strings.Contains(n, "EX-000042") {
		t.Errorf("file note: %q", n)
	}
	waitFor(t, "the reference to reach the resident", func() bool { return len(r.people.all()) == 1 })
	if got := r.people.all()[0]; got.from != slack.FromAssistant || !strings.Contains(got.text, "EX-000042") {
		t.Errorf("told %+v", got)
	}
	r.eng.fileErr = fmt.Errorf("file draft: %w", dialog.ErrNoDraft)
	press("U123", slack.ActionFile)
	notes(4)
	if n := r.api.Thread(root.TS)[3].Text; !strings.Contains(n, "no report in progress") {
		t.Errorf("second file: %q", n)
	}

	// Close: the assistant's goodbye goes to the resident, once.
	r.eng.closeReply = dialog.Reply{State: dialog.StateIdle, Messages: []dialog.Message{{Text: "Our staff member has finished."}}}
	press("U123", slack.ActionClose)
	notes(5)
	if n := r.api.Thread(root.TS)[4].Text; !strings.Contains(n, "closed this conversation") {
		t.Errorf("close note: %q", n)
	}
	waitFor(t, "the goodbye", func() bool { return len(r.people.all()) == 2 })
	press("U456", slack.ActionClose)
	notes(6)
	if n := r.api.Thread(root.TS)[5].Text; !strings.Contains(n, "is closed") {
		t.Errorf("second close: %q", n)
	}
	// A reply after Close does not reach the resident.
	r.slack.Event(t, slack.EventsPath, slackfake.ThreadReply("Ev400", r.api.Channel, root.TS, "1760000400.000001", "U123", "one more thing"), 0)
	notes(7)
	if n := r.api.Thread(root.TS)[6].Text; !strings.Contains(n, "Not sent") {
		t.Errorf("reply after close: %q", n)
	}
	if got := r.people.all(); len(got) != 2 {
		t.Errorf("residents were told %+v", got)
	}
	if got := r.eng.closed; len(got) != 1 || got[0] != "sms:+15551230000" {
		t.Errorf("StaffClosed calls: %v", got)
	}
}

func TestAResidentWhoWaitsIsToldOnce(t *testing.T) {
	r := newRig(t, false)
	root := r.open(t, smsSession())
	r.eng.waitReply = dialog.Reply{State: dialog.StateHandoff, Messages: []dialog.Message{{Text: "Someone will reply by 20:00."}}}
	r.h.Sweep(t.Context())
	if got := r.people.all(); len(got) != 0 {
		t.Fatalf("told before the wait was over: %+v", got)
	}
	r.clock.Advance(5*time.Minute + time.Second)
	r.h.Sweep(t.Context())
	r.h.Sweep(t.Context())
	got := r.people.all()
	if len(got) != 1 || got[0].text != "Someone will reply by 20:00." || got[0].from != slack.FromAssistant {
		t.Fatalf("told %+v", got)
	}
	notes := r.api.Thread(root.TS)
	if len(notes) != 1 || !strings.Contains(notes[0].Text, "No staff reply after 5m") || !strings.Contains(notes[0].Text, "by 20:00") {
		t.Errorf("staff were told %+v", notes)
	}
	// A thread staff answered in time owes nothing.
	root2 := r.open(t, &dialog.Session{ID: "web:abc", Channel: dialog.ChannelWeb, Lang: "fr", State: dialog.StateHandoff})
	r.slack.Event(t, slack.EventsPath, slackfake.ThreadReply("Ev500", r.api.Channel, root2.TS, "1760000500.000001", "U1", "Bonjour"), 0)
	waitFor(t, "the reply", func() bool { return len(r.people.all()) == 2 })
	r.clock.Advance(time.Hour)
	r.h.Sweep(t.Context())
	if got := r.people.all(); len(got) != 2 {
		t.Errorf("a resident staff answered was told of the wait: %+v", got)
	}
}

func TestConfig(t *testing.T) {
	cat, _ := locale.New(nil, nil)
	if _, err := slack.New(slack.Config{Token: token, Catalog: cat}); err == nil {
		t.Error("a desk without a channel or threads")
	}
	var _ slack.Threads = (*cases.SQLStore)(nil)
	d, err := slack.New(slack.Config{Token: token, Channel: "C1", Threads: &cases.SQLStore{}, Catalog: cat})
	if err != nil {
		t.Fatal(err)
	}
	if d.Wait() != slack.DefaultWait {
		t.Errorf("default wait %v", d.Wait())
	}
	if _, err := d.Handler(slack.HandlerConfig{Engine: &engine{}, Residents: &people{}}); err == nil {
		t.Error("a handler without a signing secret")
	}
}

func TestMemorySeen(t *testing.T) {
	c := casetest.NewFakeClock(time.Now())
	s := slack.NewMemorySeen(time.Hour, c.Now)
	ctx := t.Context()
	if first, _ := s.First(ctx, "Ev1"); !first {
		t.Error("a new key is not first")
	}
	if first, _ := s.First(ctx, "Ev1"); first {
		t.Error("a key seen before is first again")
	}
	s.Forget(ctx, "Ev1")
	if first, _ := s.First(ctx, "Ev1"); !first {
		t.Error("a forgotten key is not first")
	}
	c.Advance(time.Hour)
	if first, _ := s.First(ctx, "Ev1"); !first {
		t.Error("an expired key is not first")
	}
	var _ slack.SeenKeys = s
}

// A full queue answers 503 and forgets the event, so Slack's retry of it
// is acted on.
func TestAFullQueueAsksSlackToRetry(t *testing.T) {
	r := newRig(t, false)
	root := r.open(t, smsSession())
	h, err := r.desk.Handler(slack.HandlerConfig{Engine: r.eng, Residents: r.people, SigningSecret: secret, Queue: 1})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := &slackfake.Client{Base: srv.URL, Secret: secret}
	event := func(id string, retry int) int {
		status, _ := c.Event(t, slack.EventsPath, slackfake.ThreadReply(id, r.api.Channel, root.TS, "1760000600."+id, "U1", "hi "+id), retry)
		return status
	}
	if s := event("Ev601", 0); s != 200 {
		t.Fatalf("first event: %d", s)
	}
	if s := event("Ev602", 0); s != http.StatusServiceUnavailable {
		t.Fatalf("event on a full queue: %d, want 503", s)
	}
	// Run empties the queue; Slack's retry of the refused event is acted on.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the first event", func() bool { return len(r.people.all()) == 1 })
	if s := event("Ev602", 1); s != 200 {
		t.Fatalf("retry: %d", s)
	}
	waitFor(t, "the retried event", func() bool { return len(r.people.all()) == 2 })
}
