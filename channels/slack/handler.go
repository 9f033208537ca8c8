package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// Paths of Slack's requests: the Events API's Request URL and the
// Interactivity Request URL.
const (
	EventsPath       = "/slack/events"
	InteractionsPath = "/slack/interactions"
)

// Engine is what staff actions ask of the conversation engine;
// *dialog.Engine implements it.
type Engine interface {
	// StaffClosed gives the conversation back to the assistant; the reply
	// is the goodbye, empty when it was not with staff.
	StaffClosed(ctx context.Context, id string) (dialog.Reply, error)
	// FileDraft files the report in progress; the reply tells its reference.
	FileDraft(ctx context.Context, id string) (dialog.Reply, error)
	// StaffWaiting is what a resident still waiting for staff is told.
	StaffWaiting(ctx context.Context, id string) (dialog.Reply, error)
}

// Residents delivers a message to a resident on their channel outside a
// turn: the web chat's event stream, a text message. It returns
// ErrOptedOut (wrapped) when the resident asked for no more texts, and
// ErrUnreachable when there is no way to reach them now.
type Residents interface {
	Tell(ctx context.Context, conversation, contact, from string, r dialog.Reply) error
}

// Who a message delivered through Residents is from.
const (
	FromStaff     = "staff"
	FromAssistant = "assistant"
)

// Errors a Residents implementation returns, wrapped.
var (
	// ErrOptedOut: the resident opted out of text messages; nothing was sent.
	ErrOptedOut = errors.New("resident opted out")
	// ErrUnreachable: there is no way to reach the resident now (their
	// web chat ended, outbound texts are off).
	ErrUnreachable = errors.New("resident unreachable")
)

// HandlerConfig configures the Handler. Engine, Residents and
// SigningSecret are required.
type HandlerConfig struct {
	Engine    Engine
	Residents Residents
	// SigningSecret is the app's signing secret: every request must carry
	// its signature, made in the last five minutes.
	SigningSecret string
	// Seen de-duplicates events Slack delivers again (in memory, 24 hours,
	// when nil).
	Seen SeenKeys
	// Workers handle acknowledged requests (4 when zero), from a queue of
	// Queue (256 when zero); a full queue answers 503 and Slack retries.
	Workers, Queue int
	// SweepEvery is how often residents waiting too long are looked for
	// (a quarter of the wait, at most 15 seconds, when zero).
	SweepEvery time.Duration
}

// Handler serves Slack's requests. Run does the work they ask for.
type Handler struct {
	d       *Desk
	eng     Engine
	people  Residents
	secret  string
	seen    SeenKeys
	jobs    chan job
	workers int
	sweep   time.Duration
	log     *slog.Logger
}

type job struct {
	name string
	do   func(ctx context.Context)
}

// Handler returns the handler of Slack's requests for the desk.
func (d *Desk) Handler(cfg HandlerConfig) (*Handler, error) {
	if cfg.Engine == nil || cfg.Residents == nil || cfg.SigningSecret == "" {
		return nil, errors.New("slack: Engine, Residents and SigningSecret are required")
	}
	h := &Handler{d: d, eng: cfg.Engine, people: cfg.Residents, secret: cfg.SigningSecret, seen: cfg.Seen,
		workers: cfg.Workers, sweep: cfg.SweepEvery, log: d.log}
	if h.seen == nil {
		h.seen = NewMemorySeen(SeenFor, d.now)
	}
	if h.workers <= 0 {
		h.workers = 4
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	h.jobs = make(chan job, cfg.Queue)
	if h.sweep <= 0 {
		h.sweep = min(d.wait/4, 15*time.Second)
	}
	h.sweep = max(h.sweep, 10*time.Millisecond)
	return h, nil
}

// Register adds the two endpoints to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+EventsPath, h.events)
	mux.HandleFunc("POST "+InteractionsPath, h.interactions)
}

// jobTimeout bounds one piece of work, which may outlive the server's
// context by that much so a staff reply in flight at shutdown is delivered.
const jobTimeout = 30 * time.Second

// Run does the work acknowledged requests asked for, and tells residents
// who wait too long for staff, until ctx ends.
func (h *Handler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range h.workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-h.jobs:
					jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jobTimeout)
					h.do(jctx, j)
					cancel()
				}
			}
		})
	}
	tick := time.NewTicker(h.sweep)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
			h.Sweep(ctx)
		}
	}
}

func (h *Handler) do(ctx context.Context, j job) {
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("slack: panic", "job", j.name, "panic", fmt.Sprint(v))
		}
	}()
	j.do(ctx)
}

// enqueue hands work to Run; false when the queue is full.
func (h *Handler) enqueue(j job) bool {
	select {
	case h.jobs <- j:
		return true
	default:
		h.log.Warn("slack: work queue full; asking Slack to retry", "job", j.name)
		return false
	}
}

const maxBody = 1 << 20

// verified reads the body and checks Slack's signature on it
// (slack-go's SecretsVerifier: v0 HMAC-SHA256, timestamp within five
// minutes). A request that fails gets 403.
func (h *Handler) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "unreadable body\n", http.StatusBadRequest)
		return nil, false
	}
	sv, err := slackapi.NewSecretsVerifier(r.Header, h.secret)
	if err == nil {
		if _, err = sv.Write(body); err == nil {
			err = sv.Ensure()
		}
	}
	if err != nil {
		h.log.Warn("slack: refused a request not signed by Slack", "path", r.URL.Path, "err", err)
		http.Error(w, "forbidden\n", http.StatusForbidden)
		return nil, false
	}
	return body, true
}

// events serves the Events API: the URL check, and messages in threads.
// It answers at once; the work is done by Run.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	body, ok := h.verified(w, r)
	if !ok {
		return
	}
	var outer struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		http.Error(w, "malformed event\n", http.StatusBadRequest)
		return
	}
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	switch outer.Type {
	case slackevents.URLVerification:
		v, ok := ev.Data.(*slackevents.EventsAPIURLVerificationEvent)
		if err != nil || !ok || v.Challenge == "" {
			http.Error(w, "malformed url_verification\n", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, v.Challenge)
		return
	case slackevents.CallbackEvent:
	default:
		w.WriteHeader(http.StatusOK)
		return
	}
	if err != nil {
		// An event this app does not read: acknowledged, so it is not retried.
		h.log.Debug("slack: event not read", "err", err)
		w.WriteHeader(http.StatusOK)
		return
	}
	cb, _ := ev.Data.(*slackevents.EventsAPICallbackEvent)
	msg, isMsg := ev.InnerEvent.Data.(*slackevents.MessageEvent)
	if cb == nil || !isMsg || !staffReply(msg) {
		w.WriteHeader(http.StatusOK)
		return
	}
	thread, user, text := threadID(msg.Channel, msg.ThreadTimeStamp), msg.User, msg.Text
	j := job{name: "reply", do: func(ctx context.Context) { h.relay(ctx, thread, user, text) }}
	switch h.claim(r.Context(), cb.EventID, j) {
	case claimFull:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy\n", http.StatusServiceUnavailable)
		return
	case claimSeen:
		h.log.Info("slack: event delivered again; acted on once", "event", cb.EventID,
			"retry", r.Header.Get("X-Slack-Retry-Num"), "reason", r.Header.Get("X-Slack-Retry-Reason"))
	}
	w.WriteHeader(http.StatusOK)
}

type claimed int

const (
	claimQueued claimed = iota
	claimSeen
	claimFull
)

// claim queues j unless event id was acted on before. When the store of
// seen ids cannot be reached the event is acted on: a message twice is
// better than one lost.
func (h *Handler) claim(ctx context.Context, id string, j job) claimed {
	if id != "" {
		first, err := h.seen.First(ctx, id)
		if err != nil {
			h.log.Warn("slack: seen events unreadable; acting on the event", "err", err)
			first = true
		}
		if !first {
			return claimSeen
		}
	}
	if !h.enqueue(j) {
		if id != "" {
			// Slack's retry must be acted on.
			if err := h.seen.Forget(ctx, id); err != nil {
				h.log.Warn("slack: forget event", "err", err)
			}
		}
		return claimFull
	}
	return claimQueued
}

// staffReply reports whether a message event is a person's new reply in
// a thread: not a top-level message, not a bot's (this app's own posts
// included), not an edit, a deletion or a join.
func staffReply(m *slackevents.MessageEvent) bool {
	switch m.SubType {
	case "", "thread_broadcast", "file_share":
	default:
		return false
	}
	return m.BotID == "" && m.User != "" && !m.IsEdited() && m.Channel != "" &&
		m.ThreadTimeStamp != "" && m.ThreadTimeStamp != m.TimeStamp &&
		(m.Message == nil || m.Message.BotID == "")
}

// interactions serves the buttons: Take, Create case from details, Close.
func (h *Handler) interactions(w http.ResponseWriter, r *http.Request) {
	body, ok := h.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	payload := form.Get("payload")
	if err != nil || payload == "" {
		http.Error(w, "malformed interaction\n", http.StatusBadRequest)
		return
	}
	var ic slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &ic); err != nil {
		http.Error(w, "malformed interaction\n", http.StatusBadRequest)
		return
	}
	if ic.Type != slackapi.InteractionTypeBlockActions {
		w.WriteHeader(http.StatusOK)
		return
	}
	channel, ts := ic.Container.ChannelID, ic.Container.MessageTs
	if channel == "" {
		channel = ic.Channel.ID
	}
	if ts == "" {
		ts = ic.Message.Timestamp
	}
	thread, user := threadID(channel, ts), ic.User.ID
	for _, a := range ic.ActionCallback.BlockActions {
		var j job
		switch a.ActionID {
		case ActionTake:
			j = job{name: "take", do: func(ctx context.Context) { h.take(ctx, thread, user) }}
		case ActionFile:
			j = job{name: "file", do: func(ctx context.Context) { h.file(ctx, thread, user) }}
		case ActionClose:
			j = job{name: "close", do: func(ctx context.Context) { h.close(ctx, thread, user) }}
		default:
			continue
		}
		if !h.enqueue(j) {
			http.Error(w, "busy\n", http.StatusServiceUnavailable)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// thread finds a handoff thread; ok is false (and staff were told, when
// it is ours but unreadable) when there is nothing to act on.
func (h *Handler) thread(ctx context.Context, id string) (cases.Thread, bool) {
	th, err := h.d.threads.Thread(ctx, id)
	switch {
	case errors.Is(err, cases.ErrNotFound):
		h.log.Debug("slack: not a handoff thread", "thread", id)
		return th, false
	case err != nil:
		h.log.Error("slack: look up thread", "thread", id, "err", err)
		h.d.note(ctx, id, h.d.say("slack_trouble"))
		return th, false
	}
	return th, true
}

// relay passes a staff reply to the resident.
func (h *Handler) relay(ctx context.Context, id, user, text string) {
	th, ok := h.thread(ctx, id)
	if !ok {
		return
	}
	switch {
	case !th.Closed.IsZero():
		h.d.note(ctx, id, h.d.say("slack_not_sent_closed"))
		return
	case th.Channel == dialog.ChannelVoice:
		h.d.note(ctx, id, h.d.say("slack_not_sent_voice"))
		return
	}
	text = plain(text)
	if text == "" {
		return
	}
	r := dialog.Reply{State: dialog.StateHandoff, Lang: th.Lang, Expect: dialog.ExpectText,
		Messages: []dialog.Message{{Text: text}}}
	if !h.tell(ctx, th, FromStaff, r) {
		return
	}
	if err := h.d.threads.AnswerThread(ctx, id); err != nil {
		h.log.Warn("slack: record reply", "thread", id, "err", err)
	}
	h.log.Info("staff reply relayed", "conversation", dialog.RedactID(th.Conversation), "channel", th.Channel,
		"staff", user)
}

// tell delivers r to the thread's resident; when it cannot, staff are
// told why in the thread.
func (h *Handler) tell(ctx context.Context, th cases.Thread, from string, r dialog.Reply) bool {
	err := h.people.Tell(ctx, th.Conversation, th.Contact, from, r)
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrOptedOut):
		h.log.Info("slack: not sent: the resident opted out", "conversation", dialog.RedactID(th.Conversation))
		h.d.note(ctx, th.ID, h.d.say("slack_not_sent_optout"))
	case errors.Is(err, ErrUnreachable):
		h.log.Info("slack: not sent: the resident cannot be reached", "conversation", dialog.RedactID(th.Conversation),
			"err", err)
		h.d.note(ctx, th.ID, h.d.say("slack_not_sent_unreachable"))
	default:
		h.log.Error("slack: deliver to resident", "conversation", dialog.RedactID(th.Conversation), "err", err)
		h.d.note(ctx, th.ID, h.d.say("slack_not_sent_failed"))
	}
	return false
}

// take records who took the conversation and shows them, in the thread
// only, the resident's full contact.
func (h *Handler) take(ctx context.Context, id, user string) {
	if _, ok := h.thread(ctx, id); !ok {
		return
	}
	th, err := h.d.threads.TakeThread(ctx, id, user)
	if err != nil {
		h.log.Error("slack: take thread", "thread", id, "err", err)
		h.d.note(ctx, id, h.d.say("slack_trouble"))
		return
	}
	if th.TakenBy != user {
		h.d.note(ctx, id, h.d.say("slack_taken_already", "user", mention(th.TakenBy)))
		return
	}
	contact := th.Contact
	if contact == "" {
		contact = h.d.say("slack_no_contact")
	}
	h.d.note(ctx, id, h.d.say("slack_taken", "user", mention(user), "contact", escape(contact)))
	h.log.Info("handoff taken", "conversation", dialog.RedactID(th.Conversation), "staff", user)
}

// file files the report in progress from the details collected.
func (h *Handler) file(ctx context.Context, id, user string) {
	th, ok := h.thread(ctx, id)
	if !ok {
		return
	}
	r, err := h.eng.FileDraft(ctx, th.Conversation)
	switch {
	case errors.Is(err, dialog.ErrNoDraft):
		h.d.note(ctx, id, h.d.say("slack_file_no_draft"))
		return
	case errors.Is(err, dialog.ErrNotWithStaff):
		h.d.note(ctx, id, h.d.say("slack_not_with_staff"))
		return
	case errors.Is(err, dialog.ErrNoSession):
		h.d.note(ctx, id, h.d.say("slack_gone"))
		return
	case err != nil || r.Case == nil:
		h.log.Error("slack: file draft", "conversation", dialog.RedactID(th.Conversation), "err", err)
		h.d.note(ctx, id, h.d.say("slack_trouble"))
		return
	}
	h.d.note(ctx, id, h.d.say("slack_filed", "user", mention(user), "ref", escape(r.Case.Ref),
		"service", escape(r.Case.ServiceName)))
	if th.Channel != dialog.ChannelVoice {
		h.tell(ctx, th, FromAssistant, r)
	}
}

// close gives the conversation back to the assistant, which says goodbye.
func (h *Handler) close(ctx context.Context, id, user string) {
	th, ok := h.thread(ctx, id)
	if !ok {
		return
	}
	if !th.Closed.IsZero() {
		h.d.note(ctx, id, h.d.say("slack_closed_already"))
		return
	}
	r, err := h.eng.StaffClosed(ctx, th.Conversation)
	gone := errors.Is(err, dialog.ErrNoSession)
	if err != nil && !gone {
		h.log.Error("slack: hand back", "conversation", dialog.RedactID(th.Conversation), "err", err)
		h.d.note(ctx, id, h.d.say("slack_trouble"))
		return
	}
	first, err := h.d.threads.CloseThread(ctx, id, h.d.now())
	if err != nil {
		h.log.Error("slack: close thread", "thread", id, "err", err)
	}
	switch {
	case gone:
		h.d.note(ctx, id, h.d.say("slack_gone"))
		return
	case !first && len(r.Messages) == 0:
		h.d.note(ctx, id, h.d.say("slack_closed_already"))
		return
	}
	h.d.note(ctx, id, h.d.say("slack_closed", "user", mention(user)))
	if len(r.Messages) > 0 && th.Channel != dialog.ChannelVoice {
		h.tell(ctx, th, FromAssistant, r)
	}
	h.log.Info("handoff closed", "conversation", dialog.RedactID(th.Conversation), "staff", user)
}

// Sweep tells the residents who have waited too long for a first staff
// reply when they will hear back (or, after hours, the hours), and staff
// that they were told. Run calls it; each wait is claimed by one replica.
func (h *Handler) Sweep(ctx context.Context) {
	due, err := h.d.threads.DueThreads(ctx, h.d.now())
	if err != nil {
		h.log.Error("slack: overdue handoffs", "err", err)
		return
	}
	for _, th := range due {
		r, err := h.eng.StaffWaiting(ctx, th.Conversation)
		if err != nil {
			if !errors.Is(err, dialog.ErrNoSession) {
				h.log.Error("slack: waiting message", "conversation", dialog.RedactID(th.Conversation), "err", err)
			}
			continue
		}
		if len(r.Messages) == 0 {
			continue
		}
		if h.tell(ctx, th, FromAssistant, r) {
			h.d.note(ctx, th.ID, h.d.say("slack_waited", "wait", wording(h.d.wait), "text", escape(r.Text())))
		}
	}
}

// mention is how Slack shows a user id as their name.
func mention(user string) string {
	if user == "" || strings.ContainsAny(user, "<>&|") {
		return escape(user)
	}
	return "<@" + user + ">"
}

// wording says a duration the way staff would: 5m, 90s, 1h30m.
func wording(d time.Duration) string {
	if d < time.Second {
		return d.String()
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
