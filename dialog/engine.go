// Package dialog is the conversation engine: it reads what a resident
// says (the router), keeps one finite-state machine per conversation
// (looplab/fsm), gathers the details an Open311 service definition asks
// for, files the case, reports where cases stand, and hands over to staff.
// It is channel-neutral: it takes an Inbound and returns a structured
// Reply that each channel renders its own way. It defines the small
// interfaces it needs (Searcher, CaseDesk, SessionStore, Locker,
// HandoffDesk, EventSink) and imports no channel.
package dialog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog/locale"
	"github.com/cityline/cityline/knowledge"
)

// Channels.
const (
	ChannelWeb      = "web"
	ChannelSMS      = "sms"
	ChannelWhatsApp = "whatsapp"
	ChannelVoice    = "voice"
)

// Inbound is one message from a resident.
type Inbound struct {
	Channel        string
	ConversationID string
	Contact        string // phone number or e-mail: private
	Text           string
	Choice         string       // the id of a choice the resident picked, when the channel has buttons
	Location       *cases.Point // a shared location
	Media          []string     // photo URLs
	Lang           string       // a language the resident explicitly chose ("" when not)
	// MessageID is the platform's id of this message (Twilio's
	// MessageSid, CallSid plus turn): a message seen before gets the same
	// reply again and is not processed twice. Empty: no de-duplication.
	MessageID string
}

// Expect is the kind of input the reply asks for.
type Expect string

// Kinds of expected input.
const (
	ExpectText     Expect = "text"
	ExpectYesNo    Expect = "yesno"
	ExpectChoice   Expect = "choice"
	ExpectMulti    Expect = "multichoice"
	ExpectNumber   Expect = "number"
	ExpectDate     Expect = "date"
	ExpectLocation Expect = "location"
	ExpectPhoto    Expect = "photo"
	ExpectNone     Expect = "none"
)

// Reply is what the engine says back, for any channel.
type Reply struct {
	State    string
	Lang     string
	Messages []Message
	Choices  []Choice
	Expect   Expect
	// Optional is true when the question may be skipped.
	Optional bool
	Case     *CaseInfo // set on the turn a case was filed, or looked up
	Decision *Decision // the router's reading, when the message was routed
	// Silent is true while staff own the conversation: the channel says
	// nothing (the message went to staff).
	Silent bool
	// Transfer asks a voice channel to connect the caller to a person.
	Transfer bool
}

// Message is one paragraph of a reply.
type Message struct {
	Text string
	// Article is set when the message is a knowledge-base answer: the web
	// shows its full body, SMS and voice the short text.
	Article   *ArticleInfo `json:",omitempty"`
	Emergency bool         `json:",omitempty"`
}

// ArticleInfo is an answer from the knowledge base.
type ArticleInfo struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	URL   string `json:"url,omitempty"`
	HTML  string `json:"html,omitempty"`
}

// Choice is one option offered.
type Choice struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// CaseInfo is what a resident may see of a case.
type CaseInfo struct {
	Ref         string    `json:"id"`
	ServiceCode string    `json:"service_code"`
	ServiceName string    `json:"service_name"`
	Status      string    `json:"status"`
	Address     string    `json:"address,omitempty"`
	Requested   time.Time `json:"requested"`
}

// Text joins the reply's messages into one text, for channels that send
// plain text.
func (r Reply) Text() string {
	var parts []string
	for _, m := range r.Messages {
		parts = append(parts, m.Text)
	}
	return strings.Join(parts, "\n\n")
}

// CaseDesk files and finds cases; cases.Store implements it.
type CaseDesk interface {
	Create(ctx context.Context, c *cases.Case) error
	Get(ctx context.Context, ref string) (*cases.Case, error)
	List(ctx context.Context, f cases.Filter) ([]*cases.Case, error)
}

// HandoffDesk brings a person into a conversation.
type HandoffDesk interface {
	// Open asks staff to take the conversation. live is false when no
	// staff channel is connected: the resident is then told how to reach
	// 311 instead, and the conversation returns to the assistant.
	Open(ctx context.Context, h Handoff) (thread string, live bool, err error)
	// Relay passes a resident's message to staff while they own it.
	Relay(ctx context.Context, thread string, s *Session, text string) error
}

// Handoff is what staff are given when they are asked to take over.
type Handoff struct {
	Session *Session
	Reason  string // asked, misunderstood, fallback
	Summary string
	Recent  []string // the resident's last messages
	Draft   *DraftView
}

// DraftView is a case in progress, readable by staff.
type DraftView struct {
	ServiceCode, ServiceName, Address, Description string
	Details                                        []string // "Size: Large"
}

// Popular gives the topics residents use most, for quick starts; the
// pack's own list serves until there is data.
type Popular interface {
	Topics(ctx context.Context, lang string, n int) []knowledge.Topic
}

// Engine handles conversation turns. It is safe for concurrent use.
type Engine struct {
	pack      *knowledge.Pack
	router    *Router
	cat       *locale.Catalog
	sessions  SessionStore
	locker    Locker
	desk      CaseDesk
	handoff   HandoffDesk
	events    EventSink
	popular   Popular
	replays   Replays
	geocoder  Geocoder
	dupRadius float64
	dupAge    time.Duration
	now       func() time.Time
	log       *slog.Logger
	resume    time.Duration
}

// Config are an Engine's dependencies. Pack, Router, Catalog and Cases
// are required; the rest have embedded defaults.
type Config struct {
	Pack     *knowledge.Pack
	Router   *Router
	Catalog  *locale.Catalog
	Cases    CaseDesk
	Sessions SessionStore // default: in memory, 30 minutes
	Locker   Locker       // default: one process
	Handoff  HandoffDesk  // default: tell the resident how to reach 311
	Events   EventSink    // default: none
	Popular  Popular      // default: the pack's list
	Replays  Replays      // default: in memory, 24 hours
	Geocoder Geocoder     // default: the pack's gazetteer, when it has one
	// DuplicateRadius and DuplicateAge say which open cases of the same
	// service count as already reported (50 m and 30 days when zero; a
	// negative radius turns the check off).
	DuplicateRadius float64
	DuplicateAge    time.Duration
	Now             func() time.Time
	Logger          *slog.Logger
	// ResumeAfter is the pause after which a returning resident with a
	// report in progress is asked whether to continue (10 minutes when zero).
	ResumeAfter time.Duration
}

// New returns an engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Pack == nil || cfg.Router == nil || cfg.Catalog == nil || cfg.Cases == nil {
		return nil, errors.New("dialog: Pack, Router, Catalog and Cases are required")
	}
	e := &Engine{pack: cfg.Pack, router: cfg.Router, cat: cfg.Catalog, desk: cfg.Cases,
		sessions: cfg.Sessions, locker: cfg.Locker, handoff: cfg.Handoff, events: cfg.Events,
		popular: cfg.Popular, replays: cfg.Replays, geocoder: cfg.Geocoder, dupRadius: cfg.DuplicateRadius, dupAge: cfg.DuplicateAge, now: cfg.Now, log: cfg.Logger, resume: cfg.ResumeAfter}
	if e.now == nil {
		e.now = time.Now
	}
	if e.sessions == nil {
		e.sessions = NewMemoryStore(0, e.now)
	}
	if e.locker == nil {
		e.locker = NewLocalLocker()
	}
	if e.handoff == nil {
		e.handoff = OfficeDesk{}
	}
	if e.events == nil {
		e.events = NopEvents{}
	}
	if e.popular == nil {
		e.popular = packPopular{e.pack}
	}
	if e.dupRadius == 0 {
		e.dupRadius = defaultDuplicateRadius
	}
	if e.dupAge <= 0 {
		e.dupAge = defaultDuplicateAge
	}
	if e.geocoder == nil {
		if g := NewGazetteer(e.pack, e.cat); g != nil {
			e.geocoder = g
		}
	}
	if e.replays == nil {
		e.replays = NewMemoryReplays(0, 0, e.now)
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.resume <= 0 {
		e.resume = 10 * time.Minute
	}
	return e, nil
}

// Pack is the content the engine serves.
func (e *Engine) Pack() *knowledge.Pack { return e.pack }

// Catalog is the engine's wording.
func (e *Engine) Catalog() *locale.Catalog { return e.cat }

// Router is the engine's router.
func (e *Engine) Router() *Router { return e.router }

// Limits on what a resident can send in one message.
const (
	maxText        = 4000 // Open311's description limit
	maxMedia       = 5
	maxRecent      = 4
	maxRecentChars = 160
)

// ErrBadInbound: the inbound message lacks what every turn needs.
var ErrBadInbound = errors.New("bad inbound message")

// Handle runs one turn of a conversation. The reply is always usable: on
// an internal error it says plainly that the city is having trouble (and
// the error is returned for the channel to log), never the error itself.
func (e *Engine) Handle(ctx context.Context, in Inbound) (Reply, error) {
	if in.ConversationID == "" {
		return Reply{}, fmt.Errorf("handle: %w: no conversation id", ErrBadInbound)
	}
	if len(in.Text) > maxText {
		in.Text = truncate(in.Text, maxText)
	}
	in.Text = strings.ToValidUTF8(in.Text, "")
	if len(in.Media) > maxMedia {
		in.Media = in.Media[:maxMedia]
	}
	unlock, err := e.locker.Lock(ctx, in.ConversationID)
	if err != nil {
		return e.trouble(in.Lang), fmt.Errorf("handle: lock: %w", err)
	}
	defer unlock()

	if in.MessageID != "" {
		if r, ok, err := e.replays.Seen(ctx, in.MessageID); err != nil {
			return e.trouble(in.Lang), fmt.Errorf("handle: replays: %w", err)
		} else if ok {
			return r, nil
		}
	}
	s, err := e.sessions.Load(ctx, in.ConversationID)
	isNew := false
	switch {
	case errors.Is(err, ErrNoSession):
		now := e.now()
		s = &Session{ID: in.ConversationID, Channel: in.Channel, Contact: in.Contact, State: StateIdle,
			Started: now, Updated: now}
		isNew = true
	case err != nil:
		return e.trouble(in.Lang), fmt.Errorf("handle: load session: %w", err)
	}
	if in.Contact != "" {
		s.Contact = in.Contact
	}
	if in.Channel != "" {
		s.Channel = in.Channel
	}
	t := &turn{e: e, s: s, in: in, now: e.now(), isNew: isNew}
	reply, err := t.run(ctx)
	if err != nil {
		e.log.Error("turn failed", "conversation", RedactID(s.ID), "channel", s.Channel, "err", err)
		reply = e.trouble(s.Lang)
	}
	// Choices not offered again are no longer on the table: a bare "2"
	// next time must not pick from a list the resident no longer sees.
	if len(reply.Choices) == 0 {
		s.Offered = nil
	}
	s.Updated = t.now
	s.Turns++
	if serr := e.sessions.Save(ctx, s); serr != nil {
		// The case, if one was filed, is already durable; only the
		// conversation's place is lost.
		e.log.Error("save session", "conversation", RedactID(s.ID), "err", serr)
		if err == nil {
			err = fmt.Errorf("handle: save session: %w", serr)
		}
	}
	reply.State = s.State
	if reply.Lang == "" {
		reply.Lang = s.Lang
	}
	if in.MessageID != "" && err == nil {
		if rerr := e.replays.Remember(ctx, in.MessageID, reply); rerr != nil {
			// The turn is done and saved; a retry of it would be processed
			// again, which the case key still keeps from filing twice.
			e.log.Warn("remember reply", "err", rerr)
		}
	}
	return reply, err
}

// trouble is the reply when something inside failed.
func (e *Engine) trouble(lang string) Reply {
	return Reply{Lang: lang, Expect: ExpectText, Messages: []Message{{Text: e.cat.T(lang, "trouble",
		"phone", e.pack.City.Phone, "phone_outside", e.pack.City.PhoneOutside)}}}
}

// Trouble is the reply a channel sends when it cannot reach the engine at
// all (the session store is down, the request could not be read).
func (e *Engine) Trouble(lang string) Reply { return e.trouble(lang) }

// Say returns a message from the catalogue with the city's details filled
// in, for channels that need a fixed sentence (opt-out confirmations,
// voice prompts).
func (e *Engine) Say(lang, key string, vars ...string) string {
	c := e.pack.City
	base := []string{"city", c.Name, "phone", c.Phone, "phone_outside", c.PhoneOutside, "website", c.Website}
	return e.cat.T(lang, key, append(base, vars...)...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8ValidEnd(s) {
		s = s[:len(s)-1]
	}
	return s
}

func utf8ValidEnd(s string) bool {
	return strings.ToValidUTF8(s, "\x00") == s
}

// RedactID shortens an identifier that may contain a phone number for
// logs: the last four characters only.
func RedactID(id string) string {
	if len(id) <= 4 {
		return "****"
	}
	return "…" + id[len(id)-4:]
}

// MaskPhone masks a phone number for logs and staff summaries: +1******0123.
func MaskPhone(p string) string {
	if p == "" {
		return ""
	}
	r := []rune(p)
	keep := 4
	if len(r) <= keep {
		return strings.Repeat("*", len(r))
	}
	prefix := ""
	if r[0] == '+' && len(r) > 6 {
		prefix = string(r[:2])
		r = r[2:]
	}
	return prefix + strings.Repeat("*", len(r)-keep) + string(r[len(r)-keep:])
}

type packPopular struct{ p *knowledge.Pack }

func (p packPopular) Topics(_ context.Context, lang string, n int) []knowledge.Topic {
	t := p.p.PopularTopics(lang)
	if len(t) > n {
		t = t[:n]
	}
	return t
}

// OfficeDesk is the handoff desk when no staff channel is connected: it
// tells the resident when and how to reach 311.
type OfficeDesk struct{}

// Open implements HandoffDesk: never live.
func (OfficeDesk) Open(context.Context, Handoff) (string, bool, error) { return "", false, nil }

// Relay implements HandoffDesk; nothing is ever relayed.
func (OfficeDesk) Relay(context.Context, string, *Session, string) error { return nil }
