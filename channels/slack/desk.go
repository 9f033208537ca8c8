// Package slack is the staff side of a handoff: a dialog.HandoffDesk on
// Slack (slack-go). When a resident needs a person, the Desk posts a new
// message in the staff channel — the resident's channel, language and
// masked contact, a short summary, what they said so far, the report in
// progress with the details already collected, and three buttons (Take,
// Create case from details, Close) — and the conversation's later
// messages go into that message's thread. The Handler serves Slack's
// Events API and interactivity requests: a staff reply in the thread is
// relayed to the resident on their channel (through Residents), Take
// records who took it and shows the full contact in the thread, Create
// case files the draft, Close gives the conversation back to the
// assistant. A resident who waits too long for a first reply is told when
// they will hear back.
//
// Which conversation a thread is about is kept through Threads (the case
// database: cases.SQLStore), so a staff reply finds its resident after a
// restart and on any replica. It is a thin adapter: the engine decides
// what residents are told; this package says it to staff, in the
// catalogue's wording (the slack_ messages), and never logs a contact.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/locale"
)

// Threads keeps the staff threads: which conversation each is about, who
// took it, whether a reply is still owed, whether it is closed.
// cases.SQLStore implements it (see its methods for the errors).
type Threads interface {
	OpenThread(ctx context.Context, t cases.Thread) error
	Thread(ctx context.Context, id string) (cases.Thread, error)
	TakeThread(ctx context.Context, id, by string) (cases.Thread, error)
	AnswerThread(ctx context.Context, id string) error
	CloseThread(ctx context.Context, id string, at time.Time) (bool, error)
	DueThreads(ctx context.Context, now time.Time) ([]cases.Thread, error)
}

// DefaultWait is how long a resident waits for a first staff reply before
// being told when they will hear back.
const DefaultWait = 5 * time.Minute

// Config configures the Desk. Token, Channel, Threads and Catalog are
// required.
type Config struct {
	Token   string // the bot token (xoxb-...): chat:write
	Channel string // the staff channel: an id (C0123ABC) or a name
	// APIURL is Slack's Web API base URL (https://slack.com/api/); tests
	// point it at a stand-in.
	APIURL  string
	Threads Threads
	// Catalog has the wording staff read (slack_ messages), in its
	// default language.
	Catalog *locale.Catalog
	// Wait is how long a resident waits for a first staff reply before
	// they are told when they will hear back (DefaultWait when zero).
	Wait time.Duration
	// VoiceTransfer is true when callers are put through to an agent line:
	// a caller's handoff is then live (the staff thread is for context),
	// otherwise the assistant tells them how to reach 311.
	VoiceTransfer bool
	HTTPClient    *http.Client // default: a 10-second timeout
	Now           func() time.Time
	Logger        *slog.Logger
}

// Desk is the staff desk on Slack. It implements dialog.HandoffDesk.
type Desk struct {
	api     *slackapi.Client
	channel string
	threads Threads
	cat     *locale.Catalog
	wait    time.Duration
	voice   bool
	now     func() time.Time
	log     *slog.Logger
}

var _ dialog.HandoffDesk = (*Desk)(nil)

// New returns the desk.
func New(cfg Config) (*Desk, error) {
	if cfg.Token == "" || cfg.Channel == "" || cfg.Threads == nil || cfg.Catalog == nil {
		return nil, errors.New("slack: Token, Channel, Threads and Catalog are required")
	}
	d := &Desk{channel: cfg.Channel, threads: cfg.Threads, cat: cfg.Catalog, wait: cfg.Wait,
		voice: cfg.VoiceTransfer, now: cfg.Now, log: cfg.Logger}
	if d.wait <= 0 {
		d.wait = DefaultWait
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	opts := []slackapi.Option{slackapi.OptionHTTPClient(hc),
		slackapi.OptionLog(slog.NewLogLogger(d.log.Handler(), slog.LevelDebug))}
	if cfg.APIURL != "" {
		u := cfg.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slackapi.OptionAPIURL(u))
	}
	d.api = slackapi.New(cfg.Token, opts...)
	return d, nil
}

// Wait is how long a resident waits for a first staff reply.
func (d *Desk) Wait() time.Duration { return d.wait }

// threadID names a Slack thread: the channel's id and the root message's
// timestamp.
func threadID(channel, ts string) string { return channel + "/" + ts }

func splitThread(id string) (channel, ts string, ok bool) {
	channel, ts, ok = strings.Cut(id, "/")
	return channel, ts, ok && channel != "" && ts != ""
}

// Open implements dialog.HandoffDesk: it posts the conversation in the
// staff channel and records the thread. A caller's handoff is live only
// when calls are put through to an agent line.
func (d *Desk) Open(ctx context.Context, h dialog.Handoff) (string, bool, error) {
	s := h.Session
	if s == nil {
		return "", false, errors.New("slack: open thread: no session")
	}
	voice := s.Channel == dialog.ChannelVoice
	if voice && !d.voice {
		return "", false, nil
	}
	channel, ts, err := d.api.PostMessageContext(ctx, d.channel,
		slackapi.MsgOptionText(d.say("slack_new", "channel", d.channelName(s.Channel), "summary", escape(h.Summary)), false),
		slackapi.MsgOptionBlocks(d.blocks(h)...), slackapi.MsgOptionDisableLinkUnfurl())
	if err != nil {
		return "", false, fmt.Errorf("slack: open thread: %w", err)
	}
	id := threadID(channel, ts)
	now := d.now()
	t := cases.Thread{ID: id, Conversation: s.ID, Channel: s.Channel, Contact: s.Contact, Lang: s.Lang, Opened: now}
	if !voice {
		t.Due = now.Add(d.wait)
	}
	if err := d.threads.OpenThread(ctx, t); err != nil {
		// Staff would answer into a void: say so where they look.
		d.note(ctx, id, d.say("slack_not_recorded"))
		return "", false, fmt.Errorf("slack: open thread: %w", err)
	}
	d.log.Info("handoff thread opened", "conversation", dialog.RedactID(s.ID), "channel", s.Channel,
		"reason", h.Reason, "thread", id)
	return id, true, nil
}

// Relay implements dialog.HandoffDesk: the resident's message goes into
// the conversation's thread.
func (d *Desk) Relay(ctx context.Context, thread string, s *dialog.Session, text string) error {
	channel, ts, ok := splitThread(thread)
	if !ok {
		return fmt.Errorf("slack: relay: bad thread %q", thread)
	}
	if strings.TrimSpace(text) == "" {
		return nil
	}
	_, _, err := d.api.PostMessageContext(ctx, channel, slackapi.MsgOptionTS(ts),
		slackapi.MsgOptionText(d.say("slack_resident_says", "text", escape(text)), false),
		slackapi.MsgOptionDisableLinkUnfurl())
	if err != nil {
		return fmt.Errorf("slack: relay: %w", err)
	}
	return nil
}

// note posts a line for staff in a thread; a failure is only logged.
func (d *Desk) note(ctx context.Context, thread, text string) {
	channel, ts, ok := splitThread(thread)
	if !ok {
		return
	}
	if _, _, err := d.api.PostMessageContext(ctx, channel, slackapi.MsgOptionTS(ts),
		slackapi.MsgOptionText(text, false), slackapi.MsgOptionDisableLinkUnfurl()); err != nil {
		d.log.Error("slack: note in thread", "thread", thread, "err", err)
	}
}

// say is staff wording, in the catalogue's default language.
func (d *Desk) say(key string, vars ...string) string {
	return d.cat.T(d.cat.Default(), key, vars...)
}

func (d *Desk) channelName(ch string) string {
	if ch == "" {
		return d.say("slack_channel_unknown")
	}
	name := d.say("slack_channel_" + ch)
	if name == "slack_channel_"+ch {
		return escape(ch)
	}
	return name
}

// Button action ids.
const (
	ActionTake  = "cityline_take"
	ActionFile  = "cityline_file"
	ActionClose = "cityline_close"
)

// Limits of Slack's blocks, kept well inside.
const (
	maxSection = 2900
	maxHeader  = 150
)

// blocks is the thread's first message: who, why, what was said, the
// report in progress, and the buttons.
func (d *Desk) blocks(h dialog.Handoff) []slackapi.Block {
	s := h.Session
	md := func(text string) *slackapi.TextBlockObject {
		return slackapi.NewTextBlockObject(slackapi.MarkdownType, clip(text, maxSection), false, false)
	}
	plainText := func(text string) *slackapi.TextBlockObject {
		return slackapi.NewTextBlockObject(slackapi.PlainTextType, clip(text, maxHeader), false, false)
	}
	contact := dialog.MaskPhone(s.Contact)
	if contact == "" {
		contact = d.say("slack_no_contact")
	}
	lang := s.Lang
	if lang == "" {
		lang = d.cat.Default()
	}
	reason := d.say("slack_reason_" + h.Reason)
	if reason == "slack_reason_"+h.Reason {
		reason = escape(h.Reason)
	}
	out := []slackapi.Block{
		slackapi.NewHeaderBlock(plainText(d.say("slack_title"))),
		slackapi.NewSectionBlock(nil, []*slackapi.TextBlockObject{
			md(d.say("slack_field_channel", "channel", d.channelName(s.Channel))),
			md(d.say("slack_field_lang", "lang", escape(lang))),
			md(d.say("slack_field_contact", "contact", escape(contact))),
			md(d.say("slack_field_reason", "reason", reason)),
		}, nil),
	}
	if h.Summary != "" {
		out = append(out, slackapi.NewSectionBlock(md(d.say("slack_summary", "summary", escape(h.Summary))), nil, nil))
	}
	if len(h.Recent) > 0 {
		var b strings.Builder
		b.WriteString(d.say("slack_transcript"))
		for _, line := range h.Recent {
			b.WriteString("\n> " + escape(strings.ReplaceAll(line, "\n", " ")))
		}
		out = append(out, slackapi.NewSectionBlock(md(b.String()), nil, nil))
	}
	out = append(out, slackapi.NewSectionBlock(md(d.draftText(h.Draft)), nil, nil))
	if s.Channel == dialog.ChannelVoice {
		out = append(out, slackapi.NewContextBlock("", md(d.say("slack_voice_note"))))
	} else {
		out = append(out, slackapi.NewContextBlock("", md(d.say("slack_reply_hint"))))
	}
	take := slackapi.NewButtonBlockElement(ActionTake, "take", plainText(d.say("slack_button_take"))).
		WithStyle(slackapi.StylePrimary)
	file := slackapi.NewButtonBlockElement(ActionFile, "file", plainText(d.say("slack_button_file")))
	closeB := slackapi.NewButtonBlockElement(ActionClose, "close", plainText(d.say("slack_button_close"))).
		WithStyle(slackapi.StyleDanger)
	out = append(out, slackapi.NewActionBlock("cityline_handoff", take, file, closeB))
	return out
}

// draftText is the report in progress in words.
func (d *Desk) draftText(v *dialog.DraftView) string {
	if v == nil {
		return d.say("slack_no_draft")
	}
	var b strings.Builder
	b.WriteString(d.say("slack_draft", "service", escape(v.ServiceName), "code", escape(v.ServiceCode)))
	if v.Address != "" {
		b.WriteString("\n" + d.say("slack_draft_where", "place", escape(v.Address)))
	}
	for _, line := range v.Details {
		b.WriteString("\n• " + escape(line))
	}
	if v.Description != "" {
		b.WriteString("\n" + d.say("slack_draft_description", "text", escape(clip(v.Description, 600))))
	}
	return b.String()
}
