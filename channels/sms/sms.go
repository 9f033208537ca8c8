// Package sms is the text-message channel: Twilio's Messaging webhook
// (POST /twilio/sms) in, dialog turns through the engine, TwiML replies
// out, written for a phone screen. WhatsApp through Twilio arrives on the
// same webhook with whatsapp: addresses and is its own channel. The
// carrier keywords (STOP, START, HELP and their kin) are answered here,
// before the engine, and opt-outs are kept through OptOuts.
package sms

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/dialog"
)

// Path is where Twilio posts incoming messages.
const Path = "/twilio/sms"

// OptOuts keeps who asked for no more messages. cases.SQLStore implements
// it, so opt-outs live in the case database (SQLite or PostgreSQL).
type OptOuts interface {
	// SetOptOut records address (+15551230000 or whatsapp:+15551230000)
	// as opted out (out true) or back in (out false).
	SetOptOut(ctx context.Context, address string, out bool) error
	// OptedOut reports whether address has opted out.
	OptedOut(ctx context.Context, address string) (bool, error)
}

// Limiter is a rate limit per resident: whether one more message from
// key (the resident's number) may be processed now. dialog/redis's
// Limiter is one, shared by every replica.
type Limiter interface {
	// Allow takes one message for key; ok is false over the limit. An
	// error says the limit could not be checked: the message goes ahead.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// Config configures the channel. Engine and OptOuts are required.
type Config struct {
	Engine  *dialog.Engine
	OptOuts OptOuts
	// Limiter, when set, limits each resident's messages: over it they
	// are asked to slow down (message rate_limited) and the message is
	// not processed. The carrier keywords are always answered.
	Limiter Limiter
	Logger  *slog.Logger
}

// Handler serves the Messaging webhook.
type Handler struct {
	eng   *dialog.Engine
	opts  OptOuts
	limit Limiter
	log   *slog.Logger
}

// New returns the channel's handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Engine == nil || cfg.OptOuts == nil {
		return nil, fmt.Errorf("sms: Engine and OptOuts are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{eng: cfg.Engine, opts: cfg.OptOuts, limit: cfg.Limiter, log: log}, nil
}

// Mount adds the webhook to mux behind verify (the Twilio signature check).
func (h *Handler) Mount(mux *http.ServeMux, verify func(http.Handler) http.Handler) {
	mux.Handle("POST "+Path, verify(h))
}

// Limits on what is read from a webhook.
const (
	maxMedia = 10 // Twilio sends at most ten attachments
)

// inbound is what the webhook carried.
type inbound struct {
	from, body, sid string
	channel         string // dialog.ChannelSMS or dialog.ChannelWhatsApp
	number          string // the resident's number without whatsapp:
	media           []string
}

// ServeHTTP handles one incoming message. The form has been read and its
// signature checked by the middleware.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form body\n", http.StatusBadRequest)
		return
	}
	in, problem := parse(r.PostForm)
	if problem != "" {
		h.log.Warn("sms webhook refused", "problem", problem)
		http.Error(w, problem+"\n", http.StatusBadRequest)
		return
	}
	ctx, cancel := twilio.TurnContext(r)
	defer cancel()
	bodies := h.handle(ctx, in)
	doc, err := twilio.MessagingResponse(bodies...)
	if err != nil {
		h.log.Error("sms: build TwiML", "err", err)
		http.Error(w, "could not build the reply\n", http.StatusInternalServerError)
		return
	}
	twilio.WriteTwiML(w, doc)
}

// parse reads Twilio's Messaging webhook form.
func parse(f url.Values) (inbound, string) {
	in := inbound{from: strings.TrimSpace(f.Get("From")), body: f.Get("Body"), sid: f.Get("MessageSid")}
	if in.from == "" {
		return in, "missing From: not a Twilio Messaging webhook" // for developers
	}
	if in.sid == "" {
		in.sid = f.Get("SmsSid")
	}
	in.channel, in.number = dialog.ChannelSMS, in.from
	if n, ok := strings.CutPrefix(in.from, "whatsapp:"); ok {
		in.channel, in.number = dialog.ChannelWhatsApp, n
	}
	if in.number == "" {
		return in, "missing From number"
	}
	n, _ := strconv.Atoi(f.Get("NumMedia"))
	for i := 0; i < min(n, maxMedia); i++ {
		u := f.Get("MediaUrl" + strconv.Itoa(i))
		ct := strings.ToLower(f.Get("MediaContentType" + strconv.Itoa(i)))
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			continue
		}
		if strings.HasPrefix(ct, "image/") {
			in.media = append(in.media, u)
		}
	}
	return in, ""
}

// handle answers one message and returns the bodies to reply with (none
// to say nothing).
func (h *Handler) handle(ctx context.Context, in inbound) []string {
	lang := h.eng.Catalog().Default()
	out, err := h.opts.OptedOut(ctx, in.from)
	if err != nil {
		// Replying to a message the resident just sent is safe to do even
		// if they once opted out (Twilio blocks it then); not answering a
		// resident is not.
		h.log.Error("sms: read opt-outs", "from", twilio.MaskAddress(in.from), "err", err)
		out = false
	}
	switch keyword(in.body) {
	case kwStop:
		if out {
			return nil // confirmed once already
		}
		if err := h.opts.SetOptOut(ctx, in.from, true); err != nil {
			h.log.Error("sms: record opt-out", "from", twilio.MaskAddress(in.from), "err", err)
			return h.render(in, h.eng.Trouble(lang))
		}
		h.log.Info("sms: opted out", "from", twilio.MaskAddress(in.from))
		return h.text(in, h.eng.Say(lang, "sms_opted_out"))
	case kwHelp:
		// Carriers require HELP to be answered, opted out or not.
		return h.text(in, h.eng.Say(lang, "sms_help"))
	case kwStart, kwYes:
		if out {
			if err := h.opts.SetOptOut(ctx, in.from, false); err != nil {
				h.log.Error("sms: record opt-in", "from", twilio.MaskAddress(in.from), "err", err)
				return nil
			}
			h.log.Info("sms: opted back in", "from", twilio.MaskAddress(in.from))
			return h.text(in, h.eng.Say(lang, "sms_opted_in"))
		}
	}
	if out {
		h.log.Info("sms: message from an opted-out number not answered", "from", twilio.MaskAddress(in.from))
		return nil
	}
	if h.limit != nil {
		if ok, _, err := h.limit.Allow(ctx, in.number); err != nil {
			h.log.Warn("sms: rate limit unavailable: message allowed", "from", twilio.MaskAddress(in.from), "err", err)
		} else if !ok {
			h.log.Info("sms: over the rate limit: message not processed", "from", twilio.MaskAddress(in.from))
			return h.text(in, h.eng.Say(lang, "rate_limited"))
		}
	}
	reply, err := h.eng.Handle(ctx, dialog.Inbound{
		Channel:        in.channel,
		ConversationID: in.channel + ":" + in.number,
		Contact:        in.number,
		Text:           strings.ToValidUTF8(in.body, ""),
		Media:          in.media,
		MessageID:      in.sid,
	})
	if err != nil {
		h.log.Error("sms: turn", "from", twilio.MaskAddress(in.from), "err", err)
	}
	return h.render(in, reply)
}

// text is a fixed message for in's channel.
func (h *Handler) text(in inbound, s string) []string {
	return Render(dialog.Reply{Messages: []dialog.Message{{Text: s}}}, in.channel, in.body)
}

func (h *Handler) render(in inbound, r dialog.Reply) []string {
	return Render(r, in.channel, in.body)
}

// Carrier keywords, matched as the whole message in any case.
type kw int

const (
	kwNone kw = iota
	kwStop
	kwStart
	kwYes
	kwHelp
)

var keywords = map[string]kw{
	"STOP": kwStop, "STOPALL": kwStop, "UNSUBSCRIBE": kwStop, "CANCEL": kwStop, "END": kwStop,
	"QUIT": kwStop, "REVOKE": kwStop, "OPTOUT": kwStop, "ARRET": kwStop, "ARRÊT": kwStop,
	"START": kwStart, "UNSTOP": kwStart,
	"YES":  kwYes,
	"HELP": kwHelp, "INFO": kwHelp,
}

// keyword reads a message made of a single carrier keyword ("stop",
// " Stop. "), or kwNone.
func keyword(body string) kw {
	w := strings.TrimSpace(body)
	w = strings.TrimRight(w, ".!")
	w = strings.Trim(w, `"'`)
	if w == "" || strings.ContainsAny(w, " \t\n") {
		return kwNone
	}
	return keywords[strings.ToUpper(w)]
}
