package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// resident is one of the run's concurrent residents: one conversation
// after another, each sent as fast as the server answers.
type resident struct {
	run *run
	rng *rand.Rand

	lat           []time.Duration // turns that ended in the measured window
	byKind        map[string][]time.Duration
	last          time.Duration // the last turn's, when it counts
	errors        int
	kinds         map[string]int
	samples       []string
	conversations int
	questions     int
	reports       int
	statuses      int
	webChats      int
}

// live runs conversations until the run's end.
func (res *resident) live(ctx context.Context) {
	for ctx.Err() == nil && time.Now().Before(res.run.until) {
		res.conversation(ctx)
	}
}

// conversation is one resident's visit: on the web chat or by text, to
// ask, to report or to check.
func (res *resident) conversation(ctx context.Context) {
	cfg := res.run.cfg
	lang := "en"
	if res.rng.IntN(10) == 0 {
		lang = "fr"
	}
	var c conv
	if cfg.WebShare > 0 && res.rng.Float64() < cfg.WebShare {
		w := &webConv{run: res.run}
		defer w.close()
		c = w
		res.webChats++
	} else {
		c = &smsConv{run: res.run, from: res.run.phone()}
	}
	if err := c.open(ctx); err != nil {
		if ctx.Err() == nil {
			res.fail(kindOf(err), fmt.Sprintf("%s: %v", c.channel(), err))
		}
		return
	}
	res.conversations++
	m := cfg.Mix
	switch n := res.rng.IntN(m.Questions + m.Reports + m.Status); {
	case n < m.Questions:
		res.question(ctx, c, lang)
	case n < m.Questions+m.Reports:
		res.report(ctx, c, lang)
	default:
		if !res.status(ctx, c, lang) {
			res.question(ctx, c, lang)
		}
	}
}

// say is one turn: what the resident sends and what came back; ok is
// false when the turn failed (it is counted) or the run is over.
func (res *resident) say(ctx context.Context, c conv, m msg) (reply, bool) {
	if !time.Now().Before(res.run.until) {
		return reply{}, false
	}
	start := time.Now()
	rep, err := c.send(ctx, m)
	end := time.Now()
	if err != nil {
		if ctx.Err() != nil {
			return reply{}, false
		}
		res.fail(kindOf(err), fmt.Sprintf("%s %q: %v", c.channel(), m.text+m.choice, err))
		return reply{}, false
	}
	res.last = -1
	if !end.Before(res.run.from) && end.Before(res.run.until) {
		res.last = end.Sub(start)
		res.lat = append(res.lat, res.last)
	}
	if res.run.isTrouble(rep.text) {
		res.fail("trouble_reply", fmt.Sprintf("%s %q: %q", c.channel(), m.text+m.choice, rep.text))
		return rep, false
	}
	return rep, true
}

// tag files the last turn's latency under a kind of turn.
func (res *resident) tag(kind string) {
	if res.last < 0 {
		return
	}
	if res.byKind == nil {
		res.byKind = map[string][]time.Duration{}
	}
	res.byKind[kind] = append(res.byKind[kind], res.last)
	res.last = -1
}

func (res *resident) fail(kind, sample string) {
	res.errors++
	if res.kinds == nil {
		res.kinds = map[string]int{}
	}
	res.kinds[kind]++
	if len(res.samples) < 3 {
		res.samples = append(res.samples, sample)
	}
}

func kindOf(err error) string {
	var se statusError
	switch {
	case errors.As(err, &se):
		return "http_" + strconv.Itoa(int(se))
	case errors.Is(err, errEmpty):
		return "empty_reply"
	case errors.Is(err, errBadReply):
		return "bad_reply"
	}
	return "transport"
}

// question asks one thing, and sometimes says thanks.
func (res *resident) question(ctx context.Context, c conv, lang string) {
	if _, ok := res.say(ctx, c, msg{text: pick(res.rng, questions[lang])}); !ok {
		return
	}
	res.tag("question")
	res.questions++
	if res.rng.IntN(3) == 0 {
		if _, ok := res.say(ctx, c, msg{text: pick(res.rng, thanks[lang])}); ok {
			res.tag("thanks")
		}
	}
}

// status asks where a request filed earlier in the run stands; false
// when none has been filed yet.
func (res *resident) status(ctx context.Context, c conv, lang string) bool {
	ref, ok := res.run.someRef(res.rng)
	if !ok {
		return false
	}
	rep, ok := res.say(ctx, c, msg{text: fmt.Sprintf(pick(res.rng, statusAsks[lang]), ref)})
	if !ok {
		return true
	}
	res.tag("status")
	if !strings.Contains(rep.text, ref) {
		res.fail("status_without_ref", fmt.Sprintf("%s status of %s: %q", c.channel(), ref, rep.text))
		return true
	}
	res.statuses++
	return true
}

// maxReportTurns bounds a report: past it the report counts as an error.
const maxReportTurns = 16

// report tells of a problem at a place and answers every question until
// a reference number comes back.
func (res *resident) report(ctx context.Context, c conv, lang string) {
	place := address(res.rng, lang)
	first := fmt.Sprintf(pick(res.rng, reportTexts[lang]), place)
	rep, ok := res.say(ctx, c, msg{text: first})
	a := answerer{lang: lang, place: place, rng: res.rng, reader: res.run.reader()}
	for turn := 0; ok; turn++ {
		if ref := a.reader.finished(rep); ref != "" {
			res.tag("report_filed")
			res.run.addRef(ref)
			res.reports++
			return
		}
		if turn == 0 {
			res.tag("report_start")
		} else {
			res.tag("report_answer")
		}
		if turn == maxReportTurns {
			res.fail("report_unfinished", fmt.Sprintf("%s %q: still asking after %d turns: %q", c.channel(), first, turn, rep.text))
			return
		}
		rep, ok = res.say(ctx, c, a.answer(rep))
	}
}

// refRE finds a reference number in a reply (EX-000123).
var refRE = regexp.MustCompile(`\b[A-Z]{2,5}-\d{4,8}\b`)

// answerer answers a report's questions as a cooperative resident does:
// the first option, yes, a number, a day, a sentence, or skip when a
// question may be skipped; a question asked again gets another kind of
// answer.
type answerer struct {
	lang   string
	place  string
	rng    *rand.Rand
	reader *reader
	last   string // the last reply, to notice a question asked again
	tries  int
}

func (a *answerer) answer(r reply) msg {
	if r.text == a.last {
		a.tries++
	} else {
		a.tries = 0
	}
	a.last = r.text
	words := answerWords[a.lang]
	kind := r.expect
	if kind == "" { // a text: read the question
		kind = a.reader.kind(r.text, len(r.choices))
	}
	if a.tries > 0 { // asked again: try something else
		kind = []string{"number", "date", "choice", "yesno", "skip", "text"}[(a.tries-1)%6]
	}
	switch kind {
	case "yesno":
		return msg{text: words["yes"]}
	case "choice", "multichoice":
		if len(r.choices) > 0 && r.web && kind == "choice" {
			return msg{choice: r.choices[0]}
		}
		return msg{text: "1"}
	case "number":
		return msg{text: strconv.Itoa(1 + a.rng.IntN(9))}
	case "date":
		return msg{text: words["date"]}
	case "location":
		return msg{text: a.place}
	case "photo", "skip":
		return msg{text: words["skip"]}
	case "description":
		return msg{text: pick(a.rng, descriptions[a.lang])}
	}
	if r.optional || a.reader.isOptional(r.text) {
		return msg{text: words["skip"]}
	}
	return msg{text: pick(a.rng, descriptions[a.lang])}
}

func pick(rng *rand.Rand, list []string) string { return list[rng.IntN(len(list))] }

// streets are Example City's (and most cities'): a resident names one
// with a house number.
var streets = []string{"King St W", "King St E", "Queen St E", "Front St", "College St", "Elm St", "Birch Ave",
	"Main St", "Oak Ave", "Pine St", "Maple Ave", "Cedar St", "Bay St", "Church St", "Lawrence Ave"}

var streetsFR = []string{"rue King Est", "rue Queen Est", "rue Front", "rue College", "rue Elm", "avenue Birch",
	"rue Main", "avenue Oak", "rue Pine", "avenue Maple", "rue Cedar", "rue Bay"}

func address(rng *rand.Rand, lang string) string {
	n := 1 + rng.IntN(390)
	if lang == "fr" {
		return strconv.Itoa(n) + " " + pick(rng, streetsFR)
	}
	return strconv.Itoa(n) + " " + pick(rng, streets)
}

var reportTexts = map[string][]string{
	"en": {
		"There's a big pothole at %s",
		"my garbage wasn't picked up at %s",
		"The streetlight in front of %s is out",
		"someone sprayed graffiti on the wall at %s",
		"a tree branch fell and is blocking the sidewalk at %s",
		"Someone dumped an old mattress and furniture at %s",
		"the sidewalk is cracked and lifted at %s, people trip on it",
		"There is a dead raccoon on the road at %s",
		"pothole on the road at %s",
		"the catch basin is blocked and the street is flooding at %s",
	},
	"fr": {
		"Il y a un gros nid-de-poule au %s",
		"Mes ordures n'ont pas été ramassées au %s",
		"Le lampadaire devant le %s est éteint",
		"Il y a des graffitis sur le mur au %s",
	},
}

var questions = map[string][]string{
	"en": {
		"when is my garbage day",
		"how do I pay my property tax",
		"how much is a dog licence",
		"can I have a fire pit in my backyard",
		"where is the hazardous waste depot",
		"how do I dispute a parking ticket",
		"when do the outdoor pools open",
		"what are city hall's hours",
		"can I park overnight on my street",
		"do I need a permit to build a deck",
		"what goes in the green bin",
		"how do I get rid of an old fridge",
		"what day is recycling picked up",
		"how do I register for swimming lessons",
	},
	"fr": {
		"quand est la collecte des ordures",
		"comment payer mon impôt foncier",
		"combien coûte un permis pour chien",
		"où est le dépôt de déchets dangereux",
	},
}

var thanks = map[string][]string{"en": {"thanks", "thank you!", "ok thanks"}, "fr": {"merci", "merci beaucoup"}}

var statusAsks = map[string][]string{
	"en": {"status %s", "any update on %s?", "what's happening with my report %s"},
	"fr": {"statut %s", "où en est ma demande %s"},
}

var descriptions = map[string][]string{
	"en": {"It has been like this for a week", "It's getting worse every day", "Please send someone soon"},
	"fr": {"C'est comme ça depuis une semaine", "Ça empire chaque jour"},
}

var answerWords = map[string]map[string]string{
	"en": {"yes": "yes", "skip": "skip", "date": "yesterday"},
	"fr": {"yes": "oui", "skip": "passer", "date": "hier"},
}
