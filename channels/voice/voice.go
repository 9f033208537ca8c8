// Package voice is the phone channel: Twilio's Voice webhooks in, dialog
// turns through the engine, TwiML out. A call is answered with the
// city's greeting inside <Gather input="speech dtmf">; each answer, spoken
// or keyed, comes back to /twilio/voice/gather and continues the same
// conversation (the CallSid). Replies are rewritten for the ear: choices
// become "press 1 for ...", reference numbers are read digit by digit,
// links are left out. Asking for a person (or pressing 0) dials the agent
// line, or outside office hours says the hours and hangs up.
package voice

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/dialog"
)

// Paths of the webhooks: Path is the number's "A call comes in" URL;
// GatherPath receives what the caller said or pressed.
const (
	Path       = "/twilio/voice"
	GatherPath = "/twilio/voice/gather"
)

// Limiter is a rate limit per caller: whether one more call from key (the
// caller's number) may be answered now. dialog/redis's Limiter is one,
// shared by every replica.
type Limiter interface {
	// Allow takes one call for key; ok is false over the limit. An error
	// says the limit could not be checked: the call goes ahead.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// Config configures the channel. Engine is required.
type Config struct {
	Engine *dialog.Engine
	// Limiter, when set, limits the calls from one number: over it the
	// caller hears message voice_rate_limited and the call ends. Withheld
	// numbers are not limited.
	Limiter Limiter
	// AgentNumber is where callers who ask for a person are connected
	// (E.164). Empty: no transfers; the caller hears how to reach staff.
	AgentNumber string
	// Languages maps a conversation language to the one Twilio speaks and
	// listens in (en → en-CA); by default Language of the pack's time zone.
	Languages map[string]string
	// Voice is Twilio's voice for <Say> (e.g. Polly.Joanna); empty for the
	// account's default.
	Voice  string
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves the Voice webhooks.
type Handler struct {
	eng   *dialog.Engine
	limit Limiter
	agent string
	langs map[string]string
	voice string
	now   func() time.Time
	log   *slog.Logger
	ref   *regexp.Regexp
}

// New returns the channel's handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Engine == nil {
		return nil, fmt.Errorf("voice: Engine is required")
	}
	h := &Handler{eng: cfg.Engine, limit: cfg.Limiter, agent: strings.TrimSpace(cfg.AgentNumber), langs: map[string]string{},
		voice: cfg.Voice, now: cfg.Now, log: cfg.Logger}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	city := cfg.Engine.Pack().City
	for _, l := range cfg.Engine.Catalog().Languages() {
		h.langs[l] = Language(l, city.TimeZone)
	}
	for l, tag := range cfg.Languages {
		h.langs[l] = tag
	}
	if p := city.ReferencePrefix; p != "" {
		h.ref = regexp.MustCompile(`(?i)\b(` + regexp.QuoteMeta(p) + `)[- ]?(\d{3,})\b`)
	}
	return h, nil
}

// Mount adds the webhooks to mux behind verify (the Twilio signature check).
func (h *Handler) Mount(mux *http.ServeMux, verify func(http.Handler) http.Handler) {
	mux.Handle("POST "+Path, verify(http.HandlerFunc(h.answer)))
	mux.Handle("POST "+GatherPath, verify(http.HandlerFunc(h.gather)))
}

// call is what a webhook says about the call.
type call struct {
	sid     string
	contact string // the caller's number, when it is one
}

var phoneRE = regexp.MustCompile(`^\+\d{7,15}$`)

func readCall(w http.ResponseWriter, r *http.Request) (call, bool) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form body\n", http.StatusBadRequest)
		return call{}, false
	}
	c := call{sid: strings.TrimSpace(r.PostForm.Get("CallSid"))}
	if c.sid == "" || len(c.sid) > 64 {
		http.Error(w, "missing CallSid: not a Twilio Voice webhook\n", http.StatusBadRequest)
		return call{}, false
	}
	// Withheld numbers arrive as "Anonymous", "Restricted" or odd digits.
	if from := strings.TrimSpace(r.PostForm.Get("From")); phoneRE.MatchString(from) {
		c.contact = from
	}
	return c, true
}

// answer greets an incoming call.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request) {
	c, ok := readCall(w, r)
	if !ok {
		return
	}
	if h.limit != nil && c.contact != "" {
		if ok, _, err := h.limit.Allow(r.Context(), c.contact); err != nil {
			h.log.Warn("voice: rate limit unavailable: call answered", "call", dialog.RedactID(c.sid), "err", err)
		} else if !ok {
			h.log.Info("voice: over the rate limit: call not taken", "call", dialog.RedactID(c.sid))
			lang := h.eng.Catalog().Default()
			h.write(w, []twilio.Verb{h.say(lang, h.eng.Say(lang, "voice_rate_limited")), twilio.Hangup{}})
			return
		}
	}
	ctx, cancel := twilio.TurnContext(r)
	defer cancel()
	h.respond(w, h.greet(ctx, c, c.sid+"#0", ""), 1)
}

// greet starts the call's conversation: the city's greeting and the
// popular topics as keypad choices.
func (h *Handler) greet(ctx context.Context, c call, msgID, prefix string) dialog.Reply {
	reply, err := h.eng.Handle(ctx, dialog.Inbound{Channel: dialog.ChannelVoice, ConversationID: c.sid,
		Contact: c.contact, MessageID: msgID})
	if err != nil {
		h.log.Error("voice: greeting turn", "call", dialog.RedactID(c.sid), "err", err)
		return reply
	}
	lang := reply.Lang
	if lang == "" {
		lang = h.eng.Catalog().Default()
	}
	if g := h.eng.Pack().City.Greeting.In(lang); g != "" {
		reply.Messages = []dialog.Message{{Text: g}}
	}
	if prefix != "" {
		reply.Messages = append([]dialog.Message{{Text: prefix}}, reply.Messages...)
	}
	return reply
}

// greetIn greets in the language the caller chose, keeping it for the call.
func (h *Handler) greetIn(ctx context.Context, c call, msgID, lang string) dialog.Reply {
	reply, err := h.eng.Handle(ctx, dialog.Inbound{Channel: dialog.ChannelVoice, ConversationID: c.sid,
		Contact: c.contact, MessageID: msgID, Lang: lang})
	if err != nil {
		h.log.Error("voice: language turn", "call", dialog.RedactID(c.sid), "err", err)
		return reply
	}
	if g := h.eng.Pack().City.Greeting.In(lang); g != "" {
		reply.Messages = []dialog.Message{{Text: g}}
	}
	return reply
}

// Silence: the first time nothing is heard the prompt is repeated; the
// second time a person is offered, then the call ends.
const quietOffer = 2

// gather continues the conversation with what the caller said or pressed.
func (h *Handler) gather(w http.ResponseWriter, r *http.Request) {
	c, ok := readCall(w, r)
	if !ok {
		return
	}
	ctx, cancel := twilio.TurnContext(r)
	defer cancel()
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("n"))
	n = max(0, min(n, 100000))
	lang := q.Get("lang")
	if !h.eng.Catalog().Has(lang) {
		lang = h.eng.Catalog().Default()
	}
	if quiet, _ := strconv.Atoi(q.Get("quiet")); quiet >= quietOffer {
		h.write(w, h.offerTransfer(lang, n))
		return
	}
	msgID := ""
	if n > 0 {
		msgID = c.sid + "#" + strconv.Itoa(n)
	}
	active, err := h.eng.Active(ctx, c.sid)
	if err != nil {
		h.log.Error("voice: look up call", "call", dialog.RedactID(c.sid), "err", err)
		h.respond(w, h.eng.Trouble(lang), n+1)
		return
	}
	if !active {
		// A call this server does not know (restarted, or the session
		// expired): start afresh rather than guess at the answer.
		if msgID != "" {
			msgID += "/new"
		}
		h.respond(w, h.greet(ctx, c, msgID, h.eng.Say(lang, "voice_start_over")), n+1)
		return
	}
	text := strings.TrimSpace(r.PostForm.Get("SpeechResult"))
	if d := keys(r.PostForm.Get("Digits")); d != "" {
		// A key press is deliberate; it wins over a word half heard.
		text = d
	}
	if other := h.otherLanguage(lang); n == 1 && text == languageKey && other != "" {
		// The language key at the greeting: greet again in the other language.
		h.respond(w, h.greetIn(ctx, c, msgID, other), n+1)
		return
	}
	reply, err := h.eng.Handle(ctx, dialog.Inbound{Channel: dialog.ChannelVoice, ConversationID: c.sid,
		Contact: c.contact, Text: text, MessageID: msgID})
	if err != nil {
		h.log.Error("voice: turn", "call", dialog.RedactID(c.sid), "err", err)
	}
	h.respond(w, reply, n+1)
}

// keys keeps the digits of a key press ("0" asks for a person, "1" picks
// the first choice or says yes: the engine reads both).
func keys(d string) string {
	d = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, d)
	if len(d) > 32 {
		d = d[:32]
	}
	return d
}

// respond renders a reply: a transfer, or the reply spoken inside a
// Gather whose answer comes back as turn next.
func (h *Handler) respond(w http.ResponseWriter, r dialog.Reply, next int) {
	lang := r.Lang
	if !h.eng.Catalog().Has(lang) {
		lang = h.eng.Catalog().Default()
	}
	if r.Transfer || r.Silent {
		// When the assistant gave up on its own (not understood twice),
		// a closed office is no reason to end the call: the caller hears
		// the reply, with the hours, and may go on.
		gaveUp := r.Decision != nil && r.Decision.Kind == dialog.KindFallback
		if verbs, ok := h.transfer(lang, gaveUp); ok {
			h.write(w, verbs)
			return
		}
	}
	h.write(w, h.ask(r, lang, next))
}

func (h *Handler) write(w http.ResponseWriter, verbs []twilio.Verb) {
	doc, err := twilio.VoiceResponse(verbs...)
	if err != nil {
		h.log.Error("voice: build TwiML", "err", err)
		http.Error(w, "could not build the reply\n", http.StatusInternalServerError)
		return
	}
	twilio.WriteTwiML(w, doc)
}

func (h *Handler) say(lang, text string) twilio.Say {
	return twilio.Say{Text: text, Language: h.langs[lang], Voice: h.voice}
}

func gatherURL(n int, lang string, quiet int) string {
	v := url.Values{"n": {strconv.Itoa(n)}, "lang": {lang}}
	if quiet > 0 {
		v.Set("quiet", strconv.Itoa(quiet))
	}
	return GatherPath + "?" + v.Encode()
}

// ask speaks the reply and listens for the answer; when nothing is heard
// it asks again, then offers a person.
func (h *Handler) ask(r dialog.Reply, lang string, next int) []twilio.Verb {
	paras, menu := h.spoken(r, lang)
	all := strings.TrimSpace(strings.Join(append(paras, menu), " "))
	again := menu
	if len(paras) > 0 {
		again = strings.TrimSpace(paras[len(paras)-1] + " " + menu)
	}
	again = strings.TrimSpace(h.eng.Say(lang, "voice_no_input") + " " + again)
	g := twilio.Gather{Action: gatherURL(next, lang, 0), Input: "speech dtmf", Language: h.langs[lang],
		SpeechTimeout: "auto", Timeout: 6, FinishOnKey: "#", Hints: h.hints(r, lang)}
	if n := len(r.Choices); n > 0 && n <= 9 && r.Expect != dialog.ExpectNumber && r.Expect != dialog.ExpectDate {
		g.NumDigits = 1
	}
	first, second := g, g
	first.Prompts = []twilio.Say{h.say(lang, all)}
	second.Prompts = []twilio.Say{h.say(lang, again)}
	if next == 1 {
		// The greeting offers the city's other languages, each in its own
		// voice: "Pour le service en français, faites le 9."
		for _, other := range h.eng.Catalog().Languages() {
			if other != lang {
				offer := h.say(other, h.eng.Say(other, "voice_language_offer", "key", languageKey))
				first.Prompts = append(first.Prompts, offer)
				second.Prompts = append(second.Prompts, offer)
				break
			}
		}
	}
	return []twilio.Verb{first, second, twilio.Redirect{URL: gatherURL(next, lang, quietOffer)}}
}

// languageKey is the key that switches to the other language at the greeting.
const languageKey = "9"

// otherLanguage is the first of the city's languages that is not lang.
func (h *Handler) otherLanguage(lang string) string {
	for _, l := range h.eng.Catalog().Languages() {
		if l != lang {
			return l
		}
	}
	return ""
}

// offerTransfer follows two silences: a person is offered, then goodbye.
func (h *Handler) offerTransfer(lang string, next int) []twilio.Verb {
	g := twilio.Gather{Action: gatherURL(next, lang, 0), Input: "speech dtmf", Language: h.langs[lang],
		SpeechTimeout: "auto", Timeout: 6, NumDigits: 1,
		Prompts: []twilio.Say{h.say(lang, h.eng.Say(lang, "voice_offer_transfer"))}}
	return []twilio.Verb{g, h.say(lang, h.eng.Say(lang, "voice_goodbye")), twilio.Hangup{}}
}

// transfer connects the caller to a person; outside office hours it says
// the hours and ends the call. ok is false when the call goes on with the
// assistant instead: there is no agent line, or the office is closed and
// the caller did not ask for a person (gaveUp).
func (h *Handler) transfer(lang string, gaveUp bool) ([]twilio.Verb, bool) {
	now := h.now()
	if !h.eng.Pack().City.IsOpen(now) {
		if gaveUp {
			return nil, false
		}
		hours := strings.TrimRight(h.forEar(lang, h.eng.Hours(lang, now)), ".")
		msg := h.eng.Say(lang, "voice_closed", "hours", hours)
		return []twilio.Verb{h.say(lang, msg), twilio.Hangup{}}, true
	}
	if h.agent == "" {
		return nil, false
	}
	return []twilio.Verb{
		h.say(lang, h.eng.Say(lang, "voice_transferring")),
		twilio.Dial{Number: h.agent, Timeout: 30},
		h.say(lang, h.eng.Say(lang, "voice_goodbye")),
		twilio.Hangup{},
	}, true
}

// hints help speech recognition: the choices offered and the popular
// services.
func (h *Handler) hints(r dialog.Reply, lang string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s != "" && len(s) <= 100 && !seen[strings.ToLower(s)] && len(out) < 50 {
			seen[strings.ToLower(s)] = true
			out = append(out, s)
		}
	}
	for _, c := range r.Choices {
		add(c.Label)
	}
	for _, t := range h.eng.Pack().PopularTopics(lang) {
		if t.Kind == "service" {
			add(t.Title)
		}
	}
	return out
}
