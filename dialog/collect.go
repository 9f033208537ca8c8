package dialog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cityline/cityline/cases"
)

// Steps of a report, in the order they are asked.
const (
	stepLocation    = "location"
	stepAttrPrefix  = "attr:"
	stepDescription = "description"
	stepConfirm     = "confirm"
)

// Limits on answers.
const (
	maxString = 200
	maxTries  = 3
)

// startReport begins gathering a service request, taking whatever the
// first message already said (the place, list answers, a number with its
// unit, the description).
func (t *turn) startReport(ctx context.Context, code, text string) error {
	svc, ok := t.e.pack.Service(code, t.lang)
	if !ok {
		t.add(t.say("unknown_service"))
		return nil
	}
	t.s.Seq++
	d := &Draft{Service: code, Key: fmt.Sprintf("%s#%d", t.s.ID, t.s.Seq), Attrs: map[string][]string{}}
	t.s.Draft = d
	t.s.Offered = nil
	if err := t.s.fire(ctx, EvReported); err != nil {
		return err
	}
	// Updates go back the way the resident came, when that is a phone that
	// takes texts; the summary says so before they confirm.
	if (t.s.Channel == ChannelSMS || t.s.Channel == ChannelWhatsApp) && t.s.Contact != "" {
		d.Contact, d.Notify = t.s.Contact, true
	}
	t.add(t.say("report_start", "service", svc.Name))
	t.takeExtras(text, "")
	if isDescriptive(text) {
		d.Desc = truncate(strings.TrimSpace(text), maxText)
	}
	return t.ask(ctx)
}

// isDescriptive: a first message long enough to describe the problem
// serves as the description, so the resident is not asked to repeat it.
func isDescriptive(text string) bool {
	return len(strings.Fields(text)) >= 4
}

// takeExtras fills what it safely can from a message besides the current
// question: a shared location or photo, a place, list values named in
// full, a number with the unit its question mentions.
func (t *turn) takeExtras(text, except string) {
	d := t.s.Draft
	if t.in.Location != nil && d.Lat == nil {
		t.setPoint(*t.in.Location)
	}
	for _, m := range t.in.Media {
		if !slices.Contains(d.Media, m) && len(d.Media) < maxMedia {
			d.Media = append(d.Media, m)
		}
	}
	if text == "" {
		return
	}
	if d.Address == "" && d.Lat == nil && except != stepLocation {
		if p, ok := ParsePlace(t.l, text, false); ok {
			t.placeFrom(text, p)
		} else if t.e.geocoder != nil {
			t.placeFrom(text, Place{}) // a named place the gazetteer knows
		}
	}
	def, _ := t.e.pack.Definition(d.Service, t.lang)
	norm := Normalize(text)
	for _, a := range def.Attributes {
		if !a.Variable || stepAttrPrefix+a.Code == except || d.Attrs[a.Code] != nil {
			continue
		}
		switch {
		case a.IsList():
			keys := mentioned(t.l, norm, a.Values)
			if len(keys) == 1 || (len(keys) > 1 && a.Datatype == cases.MultiValueList) {
				d.set(a.Code, keys)
				d.Prefilled = append(d.Prefilled, a.Code)
			}
		case a.Datatype == cases.Number:
			if v, ok := t.numberWithUnit(text, a); ok {
				d.set(a.Code, []string{v})
				d.Prefilled = append(d.Prefilled, a.Code)
			}
		}
	}
}

var numberUnitRE = regexp.MustCompile(`(\d+(?:[.,]\d+)?)\s*([a-zA-Z]+)(?:\s+([a-zA-Z]+))?`)

// numberWithUnit finds "30 cm deep" for "How deep is it, in centimetres?":
// a number whose unit, or the word after it, the question speaks of.
func (t *turn) numberWithUnit(text string, a cases.Attribute) (string, bool) {
	q := strings.Fields(Normalize(a.Description + " " + a.DatatypeDescription))
	units := t.l.WordMap("measure_units")
	for _, m := range numberUnitRE.FindAllStringSubmatch(text, -1) {
		for _, w := range []string{strings.ToLower(m[2]), strings.ToLower(m[3])} {
			if w == "" {
				continue
			}
			names := []string{w}
			if full, ok := units[w]; ok {
				names = append(names, strings.Fields(full)...)
			}
			for _, n := range names {
				if len(n) >= 2 && slices.ContainsFunc(q, func(qw string) bool { return sameWord(n, qw) }) {
					return strings.ReplaceAll(m[1], ",", "."), true
				}
			}
		}
	}
	return "", false
}

func (t *turn) setPlace(p Place) {
	d := t.s.Draft
	d.Options, d.Unknown, d.Outside, d.OutsideContact = nil, "", "", ""
	d.Address = p.Address
	if p.Point != nil {
		t.setPoint(*p.Point)
		if p.Kind == "point" {
			d.Address = ""
		}
	}
}

func (t *turn) setPoint(p cases.Point) {
	lat, long := p.Lat, p.Long
	t.s.Draft.Lat, t.s.Draft.Long = &lat, &long
}

// steps lists a draft's questions in order.
func (t *turn) steps() []string {
	out := []string{stepLocation}
	def, _ := t.e.pack.Definition(t.s.Draft.Service, t.lang)
	attrs := slices.Clone(def.Attributes)
	slices.SortStableFunc(attrs, func(a, b cases.Attribute) int { return a.Order - b.Order })
	for _, a := range attrs {
		if a.Variable {
			out = append(out, stepAttrPrefix+a.Code)
		}
	}
	return append(out, stepDescription, stepConfirm)
}

// done reports whether a step has its answer (or was skipped).
func (t *turn) done(step string) bool {
	d := t.s.Draft
	switch {
	case step == stepLocation:
		return d.Address != "" || d.Lat != nil
	case strings.HasPrefix(step, stepAttrPrefix):
		code := strings.TrimPrefix(step, stepAttrPrefix)
		return d.Attrs[code] != nil || slices.Contains(d.Skipped, step)
	case step == stepDescription:
		return d.Desc != "" || slices.Contains(d.Skipped, step)
	}
	return false
}

// ask puts the next unanswered question, or the summary to confirm.
func (t *turn) ask(ctx context.Context) error {
	d := t.s.Draft
	next := stepConfirm
	if d.Editing {
		d.Editing = false
	} else {
		for _, st := range t.steps() {
			if !t.done(st) {
				next = st
				break
			}
		}
	}
	d.Step = next
	d.Tries = 0
	// With the place known, an open case close by may be the same problem:
	// asked before the details, so no one answers them for nothing.
	if asked, err := t.checkDuplicate(ctx); asked || err != nil {
		return err
	}
	if next == stepConfirm {
		if err := t.s.fire(ctx, EvCompleted); err != nil {
			return err
		}
		t.summary()
		return nil
	}
	if t.s.State != StateCollecting {
		if err := t.s.fire(ctx, EvCorrected); err != nil {
			return err
		}
	}
	t.question(next, false)
	return nil
}

// question writes the question of a step (with a hint after a failure).
func (t *turn) question(step string, hint bool) {
	d := t.s.Draft
	name := t.serviceName(d.Service)
	t.reply.Choices = nil
	t.s.Offered = nil
	switch {
	case step == stepLocation:
		if len(d.Options) > 0 {
			if hint {
				t.add(t.say("hint_choice", "max", strconv.Itoa(len(d.Options))))
			}
			t.placeQuestion(nil)
			return
		}
		if hint {
			t.add(t.say("hint_location"))
		}
		t.add(t.say("ask_location", "service", name))
		t.reply.Expect = ExpectLocation
	case strings.HasPrefix(step, stepAttrPrefix):
		a, ok := t.attribute(strings.TrimPrefix(step, stepAttrPrefix))
		if !ok {
			return
		}
		t.notes(a.Order)
		q := a.Description
		if !a.Required {
			q += " " + t.say("optional_skip")
			t.reply.Optional = true
		}
		if hint {
			t.add(t.hint(a))
		}
		t.add(q)
		t.reply.Expect = expectFor(a.Datatype)
		for i, v := range a.Values {
			t.reply.Choices = append(t.reply.Choices, Choice{ID: "value:" + v.Key, Label: v.Name})
			_ = i
		}
	case step == stepDescription:
		t.notes(math.MaxInt)
		if hint {
			t.add(t.say("hint_description"))
		}
		t.add(t.say("ask_description", "service", name))
		t.reply.Expect = ExpectText
		t.reply.Optional = true
	}
}

func (t *turn) yesNoChoices() {
	t.reply.Choices = []Choice{{ID: "yes", Label: t.say("yes")}, {ID: "no", Label: t.say("no")}}
}

func isPhoneChannel(ch string) bool {
	return ch == ChannelSMS || ch == ChannelVoice || ch == ChannelWhatsApp
}

// notes shows informational attributes (variable false) that come before
// the question of order o, once.
func (t *turn) notes(o int) {
	def, _ := t.e.pack.Definition(t.s.Draft.Service, t.lang)
	for _, a := range def.Attributes {
		if !a.Variable && a.Order < o && !slices.Contains(t.s.Draft.Shown, a.Code) {
			t.add(a.Description)
			t.s.Draft.Shown = append(t.s.Draft.Shown, a.Code)
		}
	}
}

func expectFor(datatype string) Expect {
	switch datatype {
	case cases.Number:
		return ExpectNumber
	case cases.Datetime:
		return ExpectDate
	case cases.SingleValueList:
		return ExpectChoice
	case cases.MultiValueList:
		return ExpectMulti
	}
	return ExpectText
}

// hint is a concrete example of what the question wants.
func (t *turn) hint(a cases.Attribute) string {
	switch a.Datatype {
	case cases.Number:
		return t.say("hint_number")
	case cases.Datetime:
		return t.say("hint_datetime")
	case cases.SingleValueList:
		return t.say("hint_choice", "max", strconv.Itoa(len(a.Values)))
	case cases.MultiValueList:
		return t.say("hint_multi")
	}
	if a.DatatypeDescription != "" {
		return a.DatatypeDescription
	}
	return t.say("hint_text", "max", strconv.Itoa(maxString))
}

func (t *turn) attribute(code string) (cases.Attribute, bool) {
	def, _ := t.e.pack.Definition(t.s.Draft.Service, t.lang)
	for _, a := range def.Attributes {
		if a.Code == code {
			return a, true
		}
	}
	return cases.Attribute{}, false
}

// collect handles a message while a report's details are being gathered.
func (t *turn) collect(ctx context.Context) error {
	d := t.s.Draft
	if d == nil {
		t.s.State = StateIdle
		return t.route(ctx, t.in.Text)
	}
	if t.s.Updated.Before(t.now.Add(-t.e.resume)) && !t.answers(ctx, d.Step) {
		t.s.Asked = "resume"
		t.add(t.say("resume_offer", "service", (t.serviceName(d.Service)), "where", t.where()))
		t.yesNoChoices()
		t.reply.Expect = ExpectYesNo
		return nil
	}
	if handled, err := t.command(ctx); handled || err != nil {
		return err
	}
	err := t.fill(ctx, d.Step)
	switch {
	case err == nil:
		t.takeExtras(t.in.Text, d.Step)
		t.s.Misunderstood = 0
		if err := t.s.fire(ctx, EvAnswered); err != nil {
			return err
		}
		return t.ask(ctx)
	case errors.Is(err, errRequired):
		t.add(t.say("required"))
		t.question(d.Step, false)
		return nil
	case errors.Is(err, errPlaceWhich), errors.Is(err, errPlaceOutside), errors.Is(err, errPlaceUnknown):
		d.Tries++
		t.placeQuestion(err)
		return nil
	case errors.Is(err, errNotUnderstood):
		if t.lateAnswer(ctx) {
			// The answer to a question skipped because the first message
			// seemed to answer it: taken, and the current one asked again.
			t.question(d.Step, false)
			return nil
		}
		if done, err := t.digress(ctx); done || err != nil {
			return err
		}
		return t.reask(ctx, d.Step)
	}
	return err
}

// lateAnswer reads a message that does not answer the current question as
// the answer to one the resident was not asked because their first
// message seemed to answer it. People (and scripts) often answer every
// question of a form in order anyway; the answer they give is the better
// one, and nothing is thrown out of step.
func (t *turn) lateAnswer(ctx context.Context) bool {
	d := t.s.Draft
	for _, code := range d.Prefilled {
		a, ok := t.attribute(code)
		if !ok {
			continue
		}
		text := strings.TrimSpace(t.in.Text)
		vals, err := t.parseAttr(a, text)
		if err != nil {
			continue // what its own words do not answer is not taken by meaning either
		}
		if a.IsList() {
			// "tires and some reno junk, drywall": every part counts.
			vals, _ = t.choiceByMeaning(ctx, a, text, vals, nil)
		}
		d.set(code, vals)
		d.Prefilled = slices.DeleteFunc(d.Prefilled, func(c string) bool { return c == code })
		return true
	}
	return false
}

// answersText reports whether step takes free text (a string or text
// attribute), which any message answers: "HV-4471" is a pole tag there.
func (t *turn) answersText(step string) bool {
	a, ok := t.attribute(strings.TrimPrefix(step, stepAttrPrefix))
	return ok && (a.Datatype == cases.String || a.Datatype == cases.Text || !cases.KnownDatatype(a.Datatype))
}

// answers reports whether the message reads as an answer to step, without
// changing anything.
func (t *turn) answers(ctx context.Context, step string) bool {
	saved := *t.s.Draft
	saved.Attrs = map[string][]string{}
	for k, v := range t.s.Draft.Attrs {
		saved.Attrs[k] = v
	}
	err := t.fill(ctx, step)
	*t.s.Draft = saved
	return err == nil
}

var errRequired = errors.New("required")

// fill reads the message as the answer to step.
func (t *turn) fill(ctx context.Context, step string) error {
	d := t.s.Draft
	text := strings.TrimSpace(t.in.Text)
	skip := t.l.IsOneOf("skip", t.norm)
	switch {
	case step == stepLocation:
		return t.fillPlace(text)
	case strings.HasPrefix(step, stepAttrPrefix):
		a, ok := t.attribute(strings.TrimPrefix(step, stepAttrPrefix))
		if !ok {
			return nil
		}
		if skip && !a.IsList() || skip && a.IsList() && !t.isValueName(a, t.norm) {
			if a.Required {
				return errRequired
			}
			d.Skipped = append(d.Skipped, step)
			delete(d.Attrs, a.Code)
			return nil
		}
		vals, err := t.parseAttr(a, text)
		if a.IsList() {
			vals, err = t.choiceByMeaning(ctx, a, text, vals, err)
		}
		if err != nil {
			return err
		}
		d.set(a.Code, vals)
		d.Skipped = slices.DeleteFunc(d.Skipped, func(s string) bool { return s == step })
		return nil
	case step == stepDescription:
		if skip || text == "" {
			d.Skipped = append(d.Skipped, step)
			return nil
		}
		d.Desc = truncate(text, maxText)
		return nil
	}
	return fmt.Errorf("step %q: %w", step, errNotUnderstood)
}

func (t *turn) isValueName(a cases.Attribute, norm string) bool {
	for _, v := range a.Values {
		if Normalize(v.Name) == norm || Normalize(v.Key) == norm {
			return true
		}
	}
	return false
}

// parseAttr validates an answer by the attribute's datatype and returns
// what is stored (keys for lists, ISO 8601 with offset for datetimes).
func (t *turn) parseAttr(a cases.Attribute, text string) ([]string, error) {
	if id := strings.TrimPrefix(t.in.Choice, "value:"); id != t.in.Choice {
		text = id
	}
	switch a.Datatype {
	case cases.Number:
		v, err := ParseNumber(t.l, text)
		if err != nil {
			return nil, err
		}
		return []string{strconv.FormatFloat(v, 'f', -1, 64)}, nil
	case cases.Datetime:
		ts, err := ParseDatetime(t.l, text, t.now.In(t.e.pack.City.Location()))
		if err != nil {
			return nil, err
		}
		if ts.After(t.now.Add(24 * 60 * 60 * 1e9 * 366)) {
			return nil, fmt.Errorf("date too far ahead: %w", errNotUnderstood)
		}
		return []string{ts.Format("2006-01-02T15:04:05-07:00")}, nil
	case cases.SingleValueList, cases.MultiValueList:
		keys, err := ParseChoice(t.l, text, a.Values, a.Datatype == cases.MultiValueList)
		if err != nil {
			// "yep it was out by 6:30" answers a Yes / No list.
			if yes, ok := ParseYesNo(t.l, text); ok {
				for _, v := range a.Values {
					if yes && t.l.IsOneOf("yes", Normalize(v.Name)) || !yes && t.l.IsOneOf("no", Normalize(v.Name)) {
						return []string{v.Key}, nil
					}
				}
			}
		}
		return keys, err
	case cases.String:
		if len(text) > maxString {
			return nil, fmt.Errorf("too long: %w", errNotUnderstood)
		}
	}
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("empty: %w", errNotUnderstood)
	}
	return []string{truncate(text, maxText)}, nil
}

var phoneRE = regexp.MustCompile(`^\+?[\d\s().-]{7,20}$`)

// parseContact reads an e-mail address or a phone number.
func parseContact(text string) (string, bool) {
	text = strings.TrimSpace(text)
	for _, f := range strings.Fields(text) {
		f = strings.Trim(f, ".,;()<>")
		if strings.Contains(f, "@") {
			if a, err := mail.ParseAddress(f); err == nil {
				return a.Address, true
			}
		}
	}
	if phoneRE.MatchString(text) {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r == '+' {
				return r
			}
			return -1
		}, text)
		if len(strings.TrimPrefix(digits, "+")) >= 7 {
			return digits, true
		}
	}
	return "", false
}

// reask puts the question again with a concrete hint; after three
// failures a person is offered.
func (t *turn) reask(ctx context.Context, step string) error {
	d := t.s.Draft
	if d == nil {
		t.add(t.say("say_it_again"))
		return nil
	}
	if step == "" {
		step = d.Step
	}
	d.Tries++
	t.s.Misunderstood++
	if d.Step == stepConfirm {
		t.add(t.say("hint_confirm"))
		t.yesNoChoices()
		t.reply.Expect = ExpectYesNo
		return nil
	}
	if d.Tries >= maxTries {
		t.add(t.say("offer_person"))
		t.s.Asked = "handoff"
		t.question(step, false)
		t.reply.Choices = append(t.reply.Choices, Choice{ID: "handoff:", Label: t.say("choice_person")})
		return nil
	}
	t.question(step, true)
	return nil
}

// command handles what a resident can say at any point of a report:
// cancel, back, change a detail, help, a person.
func (t *turn) command(ctx context.Context) (bool, error) {
	l, norm := t.l, t.norm
	switch {
	case l.IsOneOf("cancel", norm) || l.HasPhrase("cancel", norm) && len(strings.Fields(norm)) <= 5:
		return true, t.cancel(ctx)
	case l.IsOneOf("back", norm):
		return true, t.back(ctx)
	case l.IsOneOf("help_here", norm):
		t.add(t.say("help_in_report", "service", (t.serviceName(t.s.Draft.Service))))
		t.question(t.s.Draft.Step, true)
		return true, nil
	case l.Intent("handoff").Match(norm):
		return true, t.handoff(ctx, "asked")
	}
	// "no, it's just at street level" answers the question; "no, it's at
	// 14 King St" changes the place.
	if step, ok := t.changeRequest(); ok && !t.answers(ctx, t.s.Draft.Step) {
		return true, t.edit(ctx, step)
	}
	// A reference on its own or with a status word is a status check; one
	// inside an answer ("the pole tag says HV-4471") is the answer.
	if m := t.e.router.refRE.FindString(norm); m != "" && (strings.TrimSpace(norm) == m || t.l.Intent("status").Match(norm)) &&
		!t.answersText(t.s.Draft.Step) {
		if err := t.status(ctx, m); err != nil {
			return true, err
		}
		t.backTo()
		return true, nil
	}
	return false, nil
}

// changeRequest reads "change the address", "wrong size": which step to edit.
func (t *turn) changeRequest() (string, bool) {
	norm := t.norm
	if !t.l.HasPhrase("change", norm) || len(strings.Fields(norm)) > 8 {
		return "", false
	}
	for _, w := range strings.Fields(t.say("words_location")) {
		if strings.Contains(" "+norm+" ", " "+w+" ") {
			return stepLocation, true
		}
	}
	for _, st := range t.steps() {
		a, ok := t.attribute(strings.TrimPrefix(st, stepAttrPrefix))
		if !ok {
			continue
		}
		for _, w := range strings.Fields(Normalize(a.Description)) {
			if len(w) >= 4 && strings.Contains(" "+norm+" ", " "+w+" ") && !t.l.HasPhrase("change", w) {
				return st, true
			}
		}
	}
	for _, w := range strings.Fields(t.say("words_description")) {
		if strings.Contains(" "+norm+" ", " "+w+" ") {
			return stepDescription, true
		}
	}
	return "", false
}

// edit goes back to one step, then returns to the summary.
func (t *turn) edit(ctx context.Context, step string) error {
	d := t.s.Draft
	if step == "no-updates" {
		d.Notify = false
		if d.Contact == t.s.Contact {
			d.Contact = ""
		}
		t.summary()
		return nil
	}
	if t.s.State == StateConfirming {
		d.Editing = true
	}
	d.Step = step
	d.Tries = 0
	if t.s.State != StateCollecting {
		if err := t.s.fire(ctx, EvCorrected); err != nil {
			return err
		}
	}
	t.question(step, false)
	return nil
}

// back returns to the previous question, clearing its answer.
func (t *turn) back(ctx context.Context) error {
	d := t.s.Draft
	steps := t.steps()
	i := slices.Index(steps, d.Step)
	for j := i - 1; j >= 0; j-- {
		st := steps[j]
		if st == stepDescription && d.Desc == "" && !slices.Contains(d.Skipped, st) {
			continue
		}
		t.clear(st)
		return t.edit(ctx, st)
	}
	t.add(t.say("nothing_before"))
	t.question(d.Step, false)
	return nil
}

func (t *turn) clear(step string) {
	d := t.s.Draft
	switch {
	case step == stepLocation:
		d.Address, d.Lat, d.Long = "", nil, nil
	case strings.HasPrefix(step, stepAttrPrefix):
		delete(d.Attrs, strings.TrimPrefix(step, stepAttrPrefix))
	case step == stepDescription:
		d.Desc = ""
	}
	d.Skipped = slices.DeleteFunc(d.Skipped, func(s string) bool { return s == step })
}

// cancel abandons the report.
func (t *turn) cancel(ctx context.Context) error {
	if t.s.Draft == nil {
		t.add(t.say("ok_what_else"))
		return nil
	}
	name := t.serviceName(t.s.Draft.Service)
	t.s.Draft = nil
	t.s.Asked, t.s.Pending = "", ""
	if err := t.s.fire(ctx, EvCancelled); err != nil {
		return err
	}
	t.add(t.say("cancelled", "service", name))
	t.reply.Expect = ExpectText
	return nil
}

// digress answers an unrelated question mid-report and offers to resume,
// with nothing given so far lost. It declines (false) when the message
// does not read as a confident new topic.
func (t *turn) digress(ctx context.Context) (bool, error) {
	d, err := t.e.router.Route(ctx, t.in.Text, t.lang)
	if err != nil {
		return false, err
	}
	switch d.Kind {
	case KindStatus:
		if err := t.status(ctx, d.Ref); err != nil {
			return true, err
		}
		t.backTo()
		return true, nil
	case KindHelp:
		if d.Sub != "help" {
			return false, nil
		}
		t.add(t.say("help_in_report", "service", (t.serviceName(t.s.Draft.Service))))
		t.question(t.s.Draft.Step, true)
		return true, nil
	case KindAnswer, KindService:
		// A reply of a word or two is a confusing answer, not a new topic.
		// A longer one is a new topic when it asks a question, or reports
		// something else with confidence; a reply that starts like an answer
		// ("yes it was out by 6:30", "no wires") is an answer.
		if t.s.Draft.Step == stepDescription || len(strings.Fields(t.norm)) < 3 {
			return false, nil
		}
		first := strings.Fields(t.norm)[0]
		if t.l.IsOneOf("yes", first) || t.l.IsOneOf("no", first) {
			return false, nil
		}
		asks := strings.Contains(t.in.Text, "?") || t.l.Intent("question").Match(t.l.Expand("textspeak", t.norm))
		if !asks && (d.Kind == KindAnswer || d.Confidence < 0.7) {
			return false, nil
		}
	default:
		return false, nil
	}
	t.reply.Decision = &d
	t.record(ctx, Event{Type: EventDecision, Kind: d.Kind, Target: d.ID, Confidence: d.Confidence})
	if d.Kind == KindService {
		if d.ID == t.s.Draft.Service {
			return false, nil
		}
		t.s.Pending = d.ID
		return true, t.offerSwitch()
	}
	t.answer(d.ID)
	t.backTo()
	return true, nil
}

// offerSwitch asks whether to drop the report in progress for another.
func (t *turn) offerSwitch() error {
	t.s.Asked = "switch"
	t.add(t.say("switch_offer", "current", (t.serviceName(t.s.Draft.Service)),
		"other", (t.serviceName(t.s.Pending))))
	t.yesNoChoices()
	t.reply.Expect = ExpectYesNo
	return nil
}

// backTo returns to the report in progress after a digression.
func (t *turn) backTo() {
	d := t.s.Draft
	if d == nil {
		return
	}
	t.add(t.say("back_to_report", "service", (t.serviceName(d.Service))))
	choices := t.reply.Choices
	if d.Step == stepConfirm {
		t.summary()
	} else {
		t.question(d.Step, false)
	}
	if len(t.reply.Choices) == 0 {
		t.reply.Choices = choices
	}
}

// where says where the draft is, for the resume offer.
func (t *turn) where() string {
	d := t.s.Draft
	if d.Address != "" {
		return t.say("at_place", "place", d.Address)
	}
	return ""
}

// summary shows exactly what will be filed and asks to confirm.
func (t *turn) summary() {
	t.notes(math.MaxInt)
	v := t.draftView()
	var b strings.Builder
	b.WriteString(t.say("confirm_intro", "service", v.ServiceName))
	if v.Address != "" {
		b.WriteString("\n" + t.say("confirm_where", "place", v.Address))
	}
	for _, line := range v.Details {
		b.WriteString("\n" + line)
	}
	if v.Description != "" {
		b.WriteString("\n" + t.say("confirm_details", "text", truncate(v.Description, 300)))
	}
	if n := len(t.s.Draft.Media); n > 0 {
		b.WriteString("\n" + t.say("confirm_photos", "n", strconv.Itoa(n)))
	}
	d := t.s.Draft
	switch {
	case d.Notify && d.Contact == t.s.Contact && isPhoneChannel(t.s.Channel):
		b.WriteString("\n" + t.say("confirm_updates_text"))
	case d.Notify:
		b.WriteString("\n" + t.say("confirm_updates_to", "contact", d.Contact))
	}
	t.add(b.String())
	if !d.Notify && t.s.Channel != ChannelVoice {
		t.add(t.say("confirm_ask_contact"))
	} else {
		t.add(t.say("confirm_ask"))
	}
	t.yesNoChoices()
	t.reply.Expect = ExpectYesNo
}

// draftView is the draft in words, in the attributes' order.
func (t *turn) draftView() *DraftView {
	d := t.s.Draft
	v := &DraftView{ServiceCode: d.Service, ServiceName: t.serviceName(d.Service), Address: d.Address, Description: d.Desc}
	if v.Address == "" && d.Lat != nil {
		v.Address = fmt.Sprintf("%.5f, %.5f", *d.Lat, *d.Long)
	}
	def, _ := t.e.pack.Definition(d.Service, t.lang)
	attrs := slices.Clone(def.Attributes)
	slices.SortStableFunc(attrs, func(a, b cases.Attribute) int { return a.Order - b.Order })
	for _, a := range attrs {
		vals, ok := d.Attrs[a.Code]
		if !ok || !a.Variable {
			continue
		}
		var shown []string
		for _, val := range vals {
			switch {
			case a.IsList():
				shown = append(shown, a.ValueName(val))
			case a.Datatype == cases.Datetime:
				shown = append(shown, t.e.FormatTime(t.lang, val))
			default:
				shown = append(shown, val)
			}
		}
		v.Details = append(v.Details, t.say("confirm_line", "question", shortQuestion(a.Description), "answer", strings.Join(shown, ", ")))
	}
	return v
}

// shortQuestion trims a question for a summary line.
func shortQuestion(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.IndexAny(q, "?("); i > 0 {
		q = q[:i]
	}
	return strings.TrimSpace(q)
}

// confirming handles the answer to the summary.
func (t *turn) confirming(ctx context.Context) error {
	if handled, err := t.command(ctx); handled || err != nil {
		return err
	}
	if t.in.Choice == "yes" {
		return t.submit(ctx)
	}
	yes, ok := ParseYesNo(t.l, t.in.Text)
	if ok && yes {
		return t.submit(ctx)
	}
	// Where to send updates, given at the summary.
	if c, found := parseContact(t.in.Text); found && !ok {
		t.s.Draft.Contact, t.s.Draft.Notify = c, true
		t.summary()
		return nil
	}
	if t.l.HasPhrase("no_updates", t.norm) {
		t.s.Draft.Notify = false
		if t.s.Draft.Contact == t.s.Contact {
			t.s.Draft.Contact = ""
		}
		t.summary()
		return nil
	}
	// A correction given straight away: "no, it's at 14 King St".
	if p, found := ParsePlace(t.l, t.in.Text, false); found && !ok {
		t.setPlace(p)
		t.summary()
		return nil
	}
	// "no plates and it's leaking oil" is no "no": it answers the vehicle's
	// condition, taken from the first message and never asked.
	if ok && !yes && !t.l.IsOneOf("no", t.norm) && t.lateAnswer(ctx) {
		t.summary()
		return nil
	}
	if ok && !yes {
		return t.correctionMenu()
	}
	if id, picked := t.pickOffered(); picked && strings.HasPrefix(id, "edit:") {
		return t.edit(ctx, strings.TrimPrefix(id, "edit:"))
	}
	if !ok && t.lateAnswer(ctx) {
		t.summary()
		return nil
	}
	if done, err := t.digress(ctx); done || err != nil {
		return err
	}
	return t.reask(ctx, stepConfirm)
}

// correctionMenu offers what can be changed.
func (t *turn) correctionMenu() error {
	t.add(t.say("what_to_change"))
	t.reply.Choices = []Choice{{ID: "edit:" + stepLocation, Label: t.say("change_location")}}
	for _, st := range t.steps() {
		if a, ok := t.attribute(strings.TrimPrefix(st, stepAttrPrefix)); ok {
			t.reply.Choices = append(t.reply.Choices, Choice{ID: "edit:" + st, Label: shortQuestion(a.Description)})
		}
	}
	t.reply.Choices = append(t.reply.Choices, Choice{ID: "edit:" + stepDescription, Label: t.say("change_description")})
	if t.s.Draft.Notify {
		t.reply.Choices = append(t.reply.Choices, Choice{ID: "edit:no-updates", Label: t.say("change_no_updates")})
	}
	t.reply.Choices = append(t.reply.Choices, Choice{ID: "cancel", Label: t.say("choice_cancel")})
	t.s.Offered = choiceIDs(t.reply.Choices)
	t.s.Asked = "edit"
	t.reply.Expect = ExpectChoice
	return nil
}

// submit files the case. The reference is told only once the store has
// made the case durable; a retried "yes" finds the same case by its key.
func (t *turn) submit(ctx context.Context) error {
	c, svcName, err := t.file(ctx)
	if err != nil {
		return err
	}
	if err := t.s.fire(ctx, EvConfirmed); err != nil {
		return err
	}
	t.filed(ctx, c, svcName)
	return nil
}

// file makes the draft a case, durably; a case already filed with the
// draft's key is handed back instead.
func (t *turn) file(ctx context.Context) (*cases.Case, string, error) {
	d := t.s.Draft
	svc, _ := t.e.pack.Service(d.Service, t.e.pack.City.DefaultLang())
	c := &cases.Case{
		Key: d.Key, ServiceCode: d.Service, ServiceName: svc.Name, Status: cases.StatusOpen,
		Description: d.Desc, Agency: t.e.pack.City.Agency, Address: d.Address,
		MediaURLs: d.Media, Attributes: d.Attrs, Channel: t.s.Channel, Lang: t.lang,
		Requested: t.now, Updated: t.now, Conversation: t.s.ID,
	}
	if d.Lat != nil {
		c.Location = &cases.Point{Lat: *d.Lat, Long: *d.Long}
	}
	// The phone a resident wrote from is kept (for staff, and for "any
	// update on my report?"), whether or not they want updates.
	if isPhoneChannel(t.s.Channel) {
		c.Contact.Phone = t.s.Contact
	}
	if strings.Contains(d.Contact, "@") {
		c.Contact.Email = d.Contact
	} else if d.Contact != "" {
		c.Contact.Phone = d.Contact
	}
	c.Contact.Notify = d.Notify
	err := t.e.desk.Create(ctx, c)
	if err != nil && !errors.Is(err, cases.ErrConflict) {
		return nil, "", fmt.Errorf("file case: %w", err)
	}
	return c, svc.Name, nil
}

// filed tells the resident the reference of a case just filed from the
// draft, which is done with.
func (t *turn) filed(ctx context.Context, c *cases.Case, svcName string) {
	t.s.Draft = nil
	t.s.Cases = append(t.s.Cases, c.Ref)
	if len(t.s.Cases) > 3 {
		t.s.Cases = t.s.Cases[1:]
	}
	t.record(ctx, Event{Type: EventCase, Kind: KindService, Target: c.ServiceCode, Ref: c.Ref, Elapsed: t.now.Sub(t.s.Started)})
	t.add(t.say("filed", "ref", c.Ref, "service", svcName))
	if c.Contact.Notify {
		t.add(t.say("filed_notify"))
	} else {
		t.add(t.say("filed_track", "ref", c.Ref))
	}
	t.reply.Case = caseInfo(c)
	t.reply.Expect = ExpectText
}

func caseInfo(c *cases.Case) *CaseInfo {
	return &CaseInfo{Ref: c.Ref, ServiceCode: c.ServiceCode, ServiceName: c.ServiceName,
		Status: string(c.Status), Address: c.Address, Requested: c.Requested}
}
