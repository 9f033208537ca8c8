package dialog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog/locale"
)

// turn is one message being handled: the session, the inbound message
// and the reply under construction.
type turn struct {
	e     *Engine
	s     *Session
	in    Inbound
	now   time.Time
	isNew bool
	l     *locale.Lang
	lang  string
	norm  string
	reply Reply
}

func (t *turn) run(ctx context.Context) (Reply, error) {
	t.norm = Normalize(t.in.Text)
	t.setLang()
	t.remember()
	if t.isNew {
		t.record(ctx, Event{Type: EventStarted})
	}
	if t.in.Choice != "" {
		if err := t.choice(ctx); !errors.Is(err, errNotAChoice) {
			return t.reply, err
		}
	}
	if t.norm != "" && t.e.router.IsEmergency(t.norm, t.lang) {
		return t.emergency(ctx)
	}
	if t.s.State == StateHandoff {
		return t.relay(ctx)
	}
	if t.norm == "" && t.in.Location == nil && len(t.in.Media) == 0 {
		if t.s.State == StateIdle {
			t.help("help")
			return t.reply, nil
		}
		return t.reply, t.reask(ctx, "")
	}
	if t.s.Asked != "" {
		if done, err := t.pending(ctx); done || err != nil {
			return t.reply, err
		}
	}
	switch t.s.State {
	case StateCollecting:
		return t.reply, t.collect(ctx)
	case StateConfirming:
		return t.reply, t.confirming(ctx)
	case StateClarifying:
		return t.reply, t.clarifying(ctx)
	}
	// A number (or a label) answers the choices just offered, on channels
	// without buttons: "2" after the popular topics, a key pressed on a call.
	if id, ok := t.pickOffered(); ok {
		return t.reply, t.chosen(ctx, id)
	}
	return t.reply, t.route(ctx, t.in.Text)
}

// setLang settles the conversation's language: an explicit choice always
// wins and is kept; detection on the first message is only a hint.
func (t *turn) setLang() {
	r := t.e.router
	switch {
	case t.in.Lang != "" && t.e.cat.Has(t.in.Lang):
		t.s.Lang, t.s.LangChosen = t.in.Lang, true
	case t.norm != "":
		if code := r.ChosenLang(t.norm); code != "" {
			t.s.Lang, t.s.LangChosen = code, true
		} else if !t.s.LangChosen && (t.s.Lang == "" || t.s.Turns == 0) {
			t.s.Lang = r.DetectLang(t.norm)
		}
	}
	if t.s.Lang == "" {
		t.s.Lang = t.e.cat.Default()
	}
	t.lang = t.s.Lang
	t.l = t.e.cat.Lang(t.lang)
	t.reply.Lang = t.lang
}

// remember keeps the resident's last few messages, short, for staff.
func (t *turn) remember() {
	if t.in.Text == "" {
		return
	}
	t.s.Recent = append(t.s.Recent, truncate(t.in.Text, maxRecentChars))
	if len(t.s.Recent) > maxRecent {
		t.s.Recent = t.s.Recent[len(t.s.Recent)-maxRecent:]
	}
}

func (t *turn) say(key string, vars ...string) string {
	return t.e.Say(t.lang, key, vars...)
}

func (t *turn) add(text string) {
	if text != "" {
		t.reply.Messages = append(t.reply.Messages, Message{Text: text})
	}
}

func (t *turn) record(ctx context.Context, ev Event) {
	ev.Time = t.now
	ev.Conversation = t.s.ID
	ev.Channel = t.s.Channel
	ev.Lang = t.lang
	t.e.events.Record(ctx, ev)
}

// route reads a message afresh and acts on the router's decision.
func (t *turn) route(ctx context.Context, text string) error {
	d, err := t.e.router.Route(ctx, text, t.lang)
	if err != nil {
		return err
	}
	t.reply.Decision = &d
	t.record(ctx, Event{Type: EventDecision, Kind: d.Kind, Target: d.ID, Confidence: d.Confidence})
	return t.act(ctx, d, text)
}

func (t *turn) act(ctx context.Context, d Decision, text string) error {
	if d.Kind != KindFallback && d.Kind != KindClarify {
		t.s.Misunderstood = 0
	}
	switch d.Kind {
	case KindEmergency:
		_, err := t.emergency(ctx)
		return err
	case KindAnswer:
		t.answer(d.ID)
		return t.s.fire(ctx, EvAsked)
	case KindService:
		return t.startReport(ctx, d.ID, text)
	case KindStatus:
		return t.status(ctx, d.Ref)
	case KindHandoff:
		return t.handoff(ctx, "asked")
	case KindHelp:
		t.help(d.Sub)
		return nil
	case KindClarify:
		return t.clarify(ctx, d, text)
	}
	return t.fallback(ctx, text)
}

// emergency overrides everything: call 911 now. A report in progress is
// kept, never filed for the emergency itself.
func (t *turn) emergency(ctx context.Context) (Reply, error) {
	notice := t.e.pack.City.EmergencyNotice.In(t.lang)
	if notice == "" {
		notice = t.say("emergency")
	}
	t.reply.Messages = append(t.reply.Messages, Message{Text: notice, Emergency: true})
	t.reply.Decision = &Decision{Kind: KindEmergency, Lang: t.lang, Confidence: 1}
	t.record(ctx, Event{Type: EventDecision, Kind: KindEmergency, Confidence: 1})
	if t.s.Draft != nil && t.s.State != StateHandoff {
		t.add(t.say("emergency_draft_kept", "service", t.serviceName(t.s.Draft.Service)))
	}
	t.reply.Expect = ExpectText
	return t.reply, nil
}

// answer gives an article: the short answer and its link (the web shows
// the whole body), and offers to report a related problem.
func (t *turn) answer(id string) {
	a, ok := t.e.pack.Article(id, t.lang)
	if !ok {
		t.add(t.say("fallback"))
		return
	}
	text := a.Short
	if a.URL != "" {
		text += "\n" + t.say("more_at", "url", a.URL)
	}
	t.reply.Messages = append(t.reply.Messages, Message{Text: text,
		Article: &ArticleInfo{ID: a.ID, Title: a.Title, URL: a.URL, HTML: a.HTML}})
	for _, code := range a.Services {
		if len(t.reply.Choices) >= 2 {
			break
		}
		t.reply.Choices = append(t.reply.Choices, Choice{ID: "service:" + code,
			Label: t.say("choice_report", "service", t.serviceName(code))})
	}
	// On the web, buttons ask whether the answer helped, at no cost to
	// the resident: what did not help shows up on the dashboard.
	if t.s.Channel == ChannelWeb && t.s.Draft == nil {
		t.reply.Choices = append(t.reply.Choices,
			Choice{ID: "feedback:yes:" + a.ID, Label: t.say("feedback_yes")},
			Choice{ID: "feedback:no:" + a.ID, Label: t.say("feedback_no")})
	}
	t.reply.Expect = ExpectText
	if len(t.reply.Choices) > 0 {
		t.s.Offered = choiceIDs(t.reply.Choices)
	}
}

func choiceIDs(cs []Choice) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// help answers greetings, thanks and "what can you do", with the popular
// topics as quick starts.
func (t *turn) help(sub string) {
	switch sub {
	case "thanks":
		t.add(t.say("thanks_reply"))
		t.reply.Expect = ExpectText
		return
	case "greeting":
		g := t.e.pack.City.Greeting.In(t.lang)
		if g == "" || !t.isNew && t.s.Turns > 0 {
			g = t.say("greeting_again")
		}
		t.add(g)
	default:
		t.add(t.say("help"))
	}
	t.popularChoices()
}

func (t *turn) popularChoices() {
	t.reply.Choices = nil
	for _, tp := range t.e.popular.Topics(context.Background(), t.lang, 4) {
		t.reply.Choices = append(t.reply.Choices, Choice{ID: tp.Kind + ":" + tp.ID, Label: tp.Title})
	}
	t.s.Offered = choiceIDs(t.reply.Choices)
	t.reply.Expect = ExpectText
}

// fallback says plainly that this is not something the city handles,
// with the popular topics; a second one in a conversation brings a person.
func (t *turn) fallback(ctx context.Context, text string) error {
	t.s.Fallbacks++
	t.s.Misunderstood++
	t.record(ctx, Event{Type: EventFallback, Text: Scrub(text)})
	if t.s.Fallbacks >= 2 || t.s.Misunderstood >= 3 {
		t.add(t.say("fallback_again"))
		return t.handoff(ctx, "fallback")
	}
	t.add(t.say("fallback"))
	t.popularChoices()
	return nil
}

// clarify offers the two or three close candidates as choices.
func (t *turn) clarify(ctx context.Context, d Decision, text string) error {
	t.s.Misunderstood++
	t.record(ctx, Event{Type: EventClarify, Kind: d.Kind, Target: d.ID, Confidence: d.Confidence, Text: Scrub(text)})
	t.add(t.say("clarify"))
	t.reply.Choices = nil
	for _, c := range d.Candidates {
		if len(t.reply.Choices) == 3 || c.Score < t.e.router.cal.CloseRatio*d.Candidates[0].Score*0.8 {
			break
		}
		t.reply.Choices = append(t.reply.Choices, Choice{ID: string(c.Kind) + ":" + c.ID, Label: t.title(c.Kind, c.ID)})
	}
	t.reply.Choices = append(t.reply.Choices, Choice{ID: "none", Label: t.say("choice_none")})
	t.s.Offered = choiceIDs(t.reply.Choices)
	t.reply.Expect = ExpectChoice
	return t.s.fire(ctx, EvUnclear)
}

func (t *turn) title(kind Kind, id string) string {
	if kind == KindAnswer {
		if a, ok := t.e.pack.Article(id, t.lang); ok {
			return a.Title
		}
	}
	return t.serviceName(id)
}

func (t *turn) serviceName(code string) string {
	if s, ok := t.e.pack.Service(code, t.lang); ok {
		return s.Name
	}
	return code
}

// clarifying reads the answer to choices offered.
func (t *turn) clarifying(ctx context.Context) error {
	if id, ok := t.pickOffered(); ok {
		return t.chosen(ctx, id)
	}
	// Not one of the choices: read it as a new message.
	t.s.State = StateIdle
	return t.route(ctx, t.in.Text)
}

// pickOffered reads "2", a label, or a choice id against what was offered.
func (t *turn) pickOffered() (string, bool) {
	if len(t.s.Offered) == 0 {
		return "", false
	}
	if n, err := strconv.Atoi(t.norm); err == nil && n >= 1 && n <= len(t.s.Offered) {
		return t.s.Offered[n-1], true
	}
	if v, ok := t.l.WordMap("numbers")[t.norm]; ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= len(t.s.Offered) {
			return t.s.Offered[n-1], true
		}
	}
	for _, id := range t.s.Offered {
		kind, ref, _ := strings.Cut(id, ":")
		label := Normalize(t.title(Kind(kind), ref))
		if id == t.in.Text || (label != "" && t.norm == label) {
			return id, true
		}
	}
	return "", false
}

var errNotAChoice = errors.New("not a choice")

// choice handles a button pressed on a channel that has them.
func (t *turn) choice(ctx context.Context) error {
	id := t.in.Choice
	if !slices.Contains(t.s.Offered, id) && !strings.HasPrefix(id, "service:") && !strings.HasPrefix(id, "answer:") {
		t.in.Text = id
		t.norm = Normalize(id)
		return errNotAChoice
	}
	return t.chosen(ctx, id)
}

// chosen acts on a picked choice id.
func (t *turn) chosen(ctx context.Context, id string) error {
	t.s.Offered = nil
	kind, ref, _ := strings.Cut(id, ":")
	if t.s.State == StateClarifying {
		t.s.Misunderstood = 0
		t.record(ctx, Event{Type: EventDecision, Kind: Kind(kind), Target: ref, Confidence: 1})
	}
	switch kind {
	case "answer":
		if t.s.State == StateClarifying {
			t.s.State = StateIdle
		}
		t.answer(ref)
		if t.s.Draft != nil {
			t.backTo()
		}
		return nil
	case "service":
		if t.s.Draft != nil && t.s.Draft.Service != ref {
			t.s.Pending = ref
			return t.offerSwitch()
		}
		if t.s.State == StateClarifying {
			t.s.State = StateIdle
		}
		return t.startReport(ctx, ref, "")
	case "status":
		return t.status(ctx, ref)
	case "handoff":
		return t.handoff(ctx, "asked")
	case "feedback":
		verdict, article, _ := strings.Cut(ref, ":")
		helpful := verdict == "yes"
		t.record(ctx, Event{Type: EventFeedback, Kind: KindAnswer, Target: article, Helpful: &helpful})
		if helpful {
			t.add(t.say("feedback_thanks"))
		} else {
			t.add(t.say("feedback_sorry"))
		}
		t.reply.Expect = ExpectText
		return nil
	case "edit":
		if t.s.Draft != nil {
			t.s.Asked = ""
			return t.edit(ctx, ref)
		}
	case "cancel":
		t.s.Asked = ""
		return t.cancel(ctx)
	case "none":
		t.s.State = StateIdle
		t.add(t.say("say_it_again"))
		t.reply.Expect = ExpectText
		return nil
	}
	t.in.Text = id
	t.norm = Normalize(id)
	return errNotAChoice
}

// pending handles the answer to a question that is not a report's slot.
func (t *turn) pending(ctx context.Context) (bool, error) {
	asked := t.s.Asked
	t.s.Asked = ""
	yes, isYN := ParseYesNo(t.l, t.in.Text)
	switch asked {
	case "resume":
		if isYN && !yes || t.l.IsOneOf("cancel", t.norm) {
			return true, t.cancel(ctx)
		}
		if isYN && yes || t.l.IsOneOf("continue", t.norm) {
			t.add(t.say("resuming"))
			return true, t.ask(ctx)
		}
	case "switch":
		code := t.s.Pending
		t.s.Pending = ""
		if isYN && yes {
			t.s.Draft = nil
			return true, t.startReport(ctx, code, "")
		}
		if isYN && !yes || t.l.IsOneOf("continue", t.norm) {
			return true, t.ask(ctx)
		}
	case "status_ref":
		if m := t.e.router.refRE.FindString(t.norm); m != "" {
			return true, t.status(ctx, m)
		}
		if n := strings.TrimSpace(t.norm); n != "" && isNumber(n) {
			return true, t.status(ctx, cases.FormatRef(t.e.pack.City.ReferencePrefix, atoi(n)))
		}
	case "duplicate":
		if isYN && yes {
			return true, t.follow(ctx)
		}
		if isYN && !yes {
			t.add(t.say("duplicate_new"))
			return true, t.ask(ctx)
		}
		// Anything else carries on with the report: the message is read
		// as the answer to the question that follows.
	case "edit":
		if id, ok := t.pickOffered(); ok {
			if id == "cancel" {
				return true, t.cancel(ctx)
			}
			return true, t.edit(ctx, strings.TrimPrefix(id, "edit:"))
		}
	case "handoff":
		// Digits answer the question shown with the offer, not the offer.
		if isNumber(t.norm) {
			break
		}
		if isYN && yes {
			return true, t.handoff(ctx, "asked")
		}
		if isYN && !yes {
			if t.s.Draft != nil {
				return true, t.ask(ctx)
			}
			t.add(t.say("ok_what_else"))
			return true, nil
		}
	}
	if id, ok := t.pickOffered(); ok && t.s.State != StateCollecting && t.s.State != StateConfirming {
		return true, t.chosen(ctx, id)
	}
	return false, nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// handoff brings a person: through the staff desk when one is live,
// otherwise by telling the resident how and when to reach 311.
func (t *turn) handoff(ctx context.Context, reason string) error {
	h := Handoff{Session: t.s, Reason: reason, Recent: slices.Clone(t.s.Recent), Summary: t.summaryLine()}
	if t.s.Draft != nil {
		h.Draft = t.draftView()
	}
	thread, live, err := t.e.handoff.Open(ctx, h)
	if err != nil {
		t.e.log.Error("handoff", "conversation", RedactID(t.s.ID), "err", err)
		live = false
	}
	t.record(ctx, Event{Type: EventHandoff, Text: reason})
	city := &t.e.pack.City
	open := city.IsOpen(t.now)
	if live {
		t.s.Handoff = thread
		if err := t.s.fire(ctx, EvWantPerson); err != nil {
			return err
		}
		if open {
			t.add(t.say("handoff_live"))
		} else {
			t.add(t.say("handoff_live_closed", "hours", t.hours()))
		}
		t.reply.Transfer = true
		t.reply.Expect = ExpectText
		return nil
	}
	if open {
		t.add(t.say("handoff_office_open"))
	} else {
		t.add(t.say("handoff_office_closed", "hours", t.hours()))
	}
	t.reply.Transfer = true
	t.s.Misunderstood, t.s.Fallbacks = 0, 0
	if t.s.Draft != nil {
		t.backTo()
	}
	t.reply.Expect = ExpectText
	return nil
}

// relay passes a message to staff while they own the conversation.
func (t *turn) relay(ctx context.Context) (Reply, error) {
	if err := t.e.handoff.Relay(ctx, t.s.Handoff, t.s, t.in.Text); err != nil {
		return t.reply, fmt.Errorf("relay to staff: %w", err)
	}
	t.reply.Silent = true
	t.reply.Expect = ExpectText
	return t.reply, nil
}

// StaffClosed gives a conversation back to the assistant, with a goodbye
// from staff; the channel delivers the reply.
func (e *Engine) StaffClosed(ctx context.Context, id string) (Reply, error) {
	unlock, err := e.locker.Lock(ctx, id)
	if err != nil {
		return Reply{}, err
	}
	defer unlock()
	s, err := e.sessions.Load(ctx, id)
	if err != nil {
		return Reply{}, fmt.Errorf("staff closed: %w", err)
	}
	if s.State != StateHandoff {
		return Reply{State: s.State, Lang: s.Lang}, nil
	}
	if err := s.fire(ctx, EvStaffDone); err != nil {
		return Reply{}, err
	}
	s.Handoff = ""
	s.Misunderstood, s.Fallbacks = 0, 0
	r := Reply{State: s.State, Lang: s.Lang, Expect: ExpectText,
		Messages: []Message{{Text: e.Say(s.Lang, "handoff_closed")}}}
	if err := e.sessions.Save(ctx, s); err != nil {
		return r, fmt.Errorf("staff closed: %w", err)
	}
	return r, nil
}

// hours describes the office hours in words.
func (t *turn) hours() string {
	return t.e.Hours(t.lang, t.now)
}

// Hours describes the office hours and when staff are next in.
func (e *Engine) Hours(lang string, now time.Time) string {
	c := &e.pack.City
	var parts []string
	for _, h := range c.OfficeHours {
		var days []string
		for _, d := range h.Days {
			days = append(days, e.cat.T(lang, "day_"+strings.ToLower(d)))
		}
		parts = append(parts, e.cat.T(lang, "hours_line", "days", strings.Join(days, ", "), "open", h.Open, "close", h.Close))
	}
	out := strings.Join(parts, "; ")
	if next, ok := c.NextOpen(now); ok && !next.Equal(now.In(c.Location())) {
		out += ". " + e.cat.T(lang, "next_open", "when", e.cat.T(lang, "day_"+strings.ToLower(next.Weekday().String()[:3]))+" "+next.Format("15:04"))
	}
	return out
}

func (t *turn) summaryLine() string {
	if t.s.Draft != nil {
		return t.say("summary_reporting", "service", t.serviceName(t.s.Draft.Service))
	}
	if len(t.s.Recent) > 0 {
		return t.s.Recent[len(t.s.Recent)-1]
	}
	return ""
}
