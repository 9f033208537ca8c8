package dialog

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog/locale"
	"github.com/cityline/cityline/knowledge"
)

// Kind is what the router decided a message is.
type Kind string

// The router's decisions.
const (
	KindAnswer    Kind = "answer"    // an article answers it
	KindService   Kind = "service"   // a request type to report
	KindStatus    Kind = "status"    // where a request stands
	KindHandoff   Kind = "handoff"   // wants a person
	KindHelp      Kind = "help"      // greeting, thanks, "what can you do"
	KindEmergency Kind = "emergency" // call 911 now
	KindClarify   Kind = "clarify"   // two or three close candidates
	KindFallback  Kind = "fallback"  // not something the city handles
)

// Decision is the router's reading of one message.
type Decision struct {
	Kind       Kind
	ID         string  // article id or service code; the best candidate when clarifying
	Confidence float64 // 0..1, calibrated: the share of such decisions that were right on the dev sets
	Lang       string
	Ref        string // a reference number the message named, for status
	Sub        string // for help: greeting, thanks or help
	Candidates []Candidate
	// Features are what confidence was computed from, when the decision
	// came from search (for calibration).
	Features *Features `json:"-"`
}

// Candidate is one ranked possibility.
type Candidate struct {
	Kind  Kind    `json:"kind"`
	ID    string  `json:"id"`
	Score float64 `json:"score"`
	x     [RankFeatureCount]float64
}

// RankFeatures are the features the ranker scored the candidate on.
func (c Candidate) RankFeatures() [RankFeatureCount]float64 { return c.x }

// Searcher ranks a pack's articles and services for a message;
// knowledge/index implements it.
type Searcher interface {
	Search(ctx context.Context, text, lang string, limit int) (knowledge.SearchResult, error)
}

// Router reads a resident's message and decides what it is.
type Router struct {
	pack   *knowledge.Pack
	search Searcher
	cat    *locale.Catalog
	refRE  *regexp.Regexp
	cal    Calibration
	rk     Ranker
}

// NewRouter returns a router over a pack and its search index.
func NewRouter(pack *knowledge.Pack, s Searcher, cat *locale.Catalog) *Router {
	prefix := `[a-z]{2,4}`
	if p := pack.City.ReferencePrefix; p != "" {
		prefix = regexp.QuoteMeta(strings.ToLower(p))
	}
	return &Router{pack: pack, search: s, cat: cat,
		refRE: regexp.MustCompile(`\b` + prefix + `[ -]?#?\d{3,8}\b`), cal: DefaultCalibration, rk: DefaultRanker}
}

// SetCalibration replaces the confidence model (used by calibration runs).
func (r *Router) SetCalibration(c Calibration) { r.cal = c }

// SetRanker replaces the ranking weights (used by calibration runs).
func (r *Router) SetRanker(rk Ranker) { r.rk = rk }

// Route decides what text is. lang is a hint (the conversation's language);
// empty means detect.
func (r *Router) Route(ctx context.Context, text, lang string) (Decision, error) {
	norm := Normalize(text)
	if lang == "" || !r.cat.Has(lang) {
		lang = r.DetectLang(norm)
	}
	l := r.cat.Lang(lang)
	d := Decision{Lang: lang, Confidence: 1}
	switch {
	case norm == "":
		d.Kind, d.Sub = KindHelp, "help"
		return d, nil
	case r.IsEmergency(norm, lang):
		d.Kind = KindEmergency
		return d, nil
	}
	if m := r.refRE.FindString(norm); m != "" {
		d.Kind, d.Ref = KindStatus, cases.NormalizeRef(m)
		return d, nil
	}
	switch {
	case l.Intent("handoff").Match(norm):
		d.Kind = KindHandoff
		return d, nil
	case l.Intent("status").Match(norm):
		d.Kind = KindStatus
		return d, nil
	}
	if sub := smallTalk(l, norm); sub != "" {
		d.Kind, d.Sub = KindHelp, sub
		return d, nil
	}
	if l.Intent("out_of_scope").Match(norm) {
		d.Kind = KindFallback
		return d, nil
	}
	return r.rank(ctx, text, norm, l, d)
}

// Rank decides by search alone, without the intent phrases: what the
// index makes of a message. Calibration uses it, so that out-of-scope
// messages the phrases would catch still teach the model what a poor
// match looks like.
func (r *Router) Rank(ctx context.Context, text, lang string) (Decision, error) {
	norm := Normalize(text)
	if lang == "" || !r.cat.Has(lang) {
		lang = r.DetectLang(norm)
	}
	return r.rank(ctx, text, norm, r.cat.Lang(lang), Decision{Lang: lang, Confidence: 1})
}

// IsEmergency reports whether a normalised message describes an emergency.
func (r *Router) IsEmergency(norm, lang string) bool {
	l := r.cat.Lang(lang)
	if l.Intent("emergency").Match(l.Intent("not_emergency").Remove(norm)) {
		return true
	}
	// A resident may write in another of the pack's languages.
	for _, code := range r.cat.Languages() {
		if code == lang {
			continue
		}
		o := r.cat.Lang(code)
		if o.Intent("emergency").Match(o.Intent("not_emergency").Remove(norm)) {
			return true
		}
	}
	return false
}

// ChosenLang returns the language a message explicitly asks for
// ("français", "English please"), or "".
func (r *Router) ChosenLang(norm string) string {
	for _, code := range r.cat.Languages() {
		if r.cat.Lang(code).Intent("choose_" + code).Match(norm) {
			return code
		}
	}
	return ""
}

// smallTalk recognises a message that is only a greeting, thanks or a
// request for help.
func smallTalk(l *locale.Lang, norm string) string {
	rest := strings.TrimSpace(l.Intent("greeting").Remove(norm))
	if rest == "" {
		return "greeting"
	}
	if strings.TrimSpace(l.Intent("thanks").Remove(rest)) == "" {
		if rest != norm {
			return "greeting"
		}
		return "thanks"
	}
	if strings.TrimSpace(l.Intent("help").Remove(rest)) == "" {
		return "help"
	}
	return ""
}

// rank asks the search index and turns its ranking into a decision.
func (r *Router) rank(ctx context.Context, text, norm string, l *locale.Lang, d Decision) (Decision, error) {
	// Where the problem is says nothing about what it is: "Western Ave"
	// must not pull in western-anything. But naming a place is a sign of
	// a report.
	topic := withoutPlace(l, text)
	res, err := r.search.Search(ctx, topic, d.Lang, 20)
	if err != nil {
		return d, fmt.Errorf("route: %w", err)
	}
	plain := l.Expand("textspeak", norm)
	f := Features{asks: l.Intent("question").Match(plain),
		reports: l.Intent("report").Match(plain) || topic != text}
	if l.Intent("request").Match(plain) {
		f.asks, f.reports = false, true
	}
	if res.Meaningful <= 1 {
		f.Short = 1
	}
	cands := r.pair(r.score(res.Hits, f), f)
	d.Candidates = cands
	if len(cands) == 0 {
		d.Kind, d.Confidence = KindFallback, 1
		return d, nil
	}
	top := cands[0]
	if h, ok := hitOf(res.Hits, top); ok {
		f.Coverage, f.Name, f.Phrase = h.Coverage, h.Name, h.Phrase
	}
	f.Margin = 1
	if len(cands) > 1 {
		f.Margin = 1 - cands[1].Score
	}
	conf := r.cal.Confidence(f)
	d.ID, d.Confidence, d.Features = top.ID, conf, &f
	switch {
	case conf < r.cal.Fallback:
		d.Kind = KindFallback
	case conf < r.cal.Clarify && len(cands) > 1 && cands[1].Score >= r.cal.CloseRatio:
		d.Kind = KindClarify
	default:
		d.Kind = top.Kind
	}
	return d, nil
}

// withoutPlace removes a street address or intersection from a message,
// keeping the rest as written (accents and apostrophes matter to the
// analysis of French).
func withoutPlace(l *locale.Lang, text string) string {
	// Only what is surely a place: a house number and street, or two
	// streets joined by "and"; "tennis court at elmwood" stays whole.
	p, ok := ParsePlace(l, text, false)
	if !ok || len(p.words) == 0 || p.Kind == "landmark" ||
		p.Kind == "intersection" && !slices.Contains(p.words, "and") && !slices.Contains(p.words, "&") {
		return withoutStreet(l, text)
	}
	// Find the run of the resident's own tokens whose words are the place's.
	toks := strings.Fields(text)
	words := make([][]string, len(toks))
	for i, t := range toks {
		words[i] = spokenNumbers(l, strings.Fields(Normalize(t)))
	}
	for i := range toks {
		var got []string
		for j := i; j < len(toks) && len(got) < len(p.words); j++ {
			got = append(got, words[j]...)
			if slices.Equal(got, p.words) {
				return strings.Join(append(slices.Clone(toks[:i]), toks[j+1:]...), " ")
			}
		}
	}
	return text
}

// withoutStreet removes a street named without a house number ("on Cove
// Rd", "down quarry rd"): a place preposition, one or two words of name,
// and a type that only ends street names. Street names are often words
// with meanings of their own (Cove, Elm, Water, Main) that would pull the
// message towards water mains and trees.
func withoutStreet(l *locale.Lang, text string) string {
	toks := strings.Fields(text)
	norm := make([]string, len(toks))
	for i, t := range toks {
		norm[i] = Normalize(t)
	}
	for i := 0; i+2 < len(toks); i++ {
		if !l.IsOneOf("place_prepositions", norm[i]) {
			continue
		}
		for n := 1; n <= 2 && i+n+1 < len(toks); n++ {
			end := i + n + 1
			if !l.IsOneOf("street_ends", norm[end]) || !plainName(l, norm[i+1:end]) {
				continue
			}
			return strings.Join(append(slices.Clone(toks[:i+1]), toks[end+1:]...), " ")
		}
	}
	return text
}

// plainName reports whether words can be a street's name: no small words
// ("the bike", "my") and no place prepositions.
func plainName(l *locale.Lang, words []string) bool {
	for _, w := range words {
		if w == "" || strings.Contains(w, " ") || l.IsOneOf("small_words", w) || l.IsOneOf("place_prepositions", w) {
			return false
		}
	}
	return true
}

// pair settles the commonest doubt: an article about a problem and the
// service to report it, close together. Most messages to 311 report
// something, so the service wins unless the message asks a question.
func (r *Router) pair(cands []Candidate, f Features) []Candidate {
	if len(cands) < 2 {
		return cands
	}
	top := cands[0]
	for i := 1; i < len(cands) && i < 4; i++ {
		c := cands[i]
		if c.Score < 0.7*top.Score || c.Kind == top.Kind || !r.linked(top, c) {
			continue
		}
		wantService := f.reports || !f.asks
		if (c.Kind == KindService) == wantService {
			out := append([]Candidate{c}, slices.Delete(slices.Clone(cands), i, i+1)...)
			out[0].Score, out[1].Score = out[1].Score, out[0].Score
			return out
		}
		break
	}
	return cands
}

// linked reports whether an article names a service among its related
// requests.
func (r *Router) linked(a, b Candidate) bool {
	if a.Kind == KindService {
		a, b = b, a
	}
	art, ok := r.pack.Article(a.ID, r.pack.City.DefaultLang())
	return ok && slices.Contains(art.Services, b.ID)
}

// Features describe a ranking for the confidence model.
type Features struct {
	Coverage float64 // share of the message the best candidate explains
	Margin   float64 // 1 - second score / best score
	Short    float64 // 1 when the message has one meaningful word
	Name     float64 // share of the best candidate's name the message used
	Phrase   float64 // best share of one of its phrases the message holds
	asks     bool
	reports  bool
}

// score ranks the candidates with the ranker's weights over what search
// found about each and the message's intent: a question leans to
// articles, a report to services.
func (r *Router) score(hits []knowledge.Hit, f Features) []Candidate {
	if len(hits) == 0 {
		return nil
	}
	bm := 0.0
	for _, h := range hits {
		bm = max(bm, h.Score)
	}
	out := make([]Candidate, 0, len(hits))
	for _, h := range hits {
		kind := KindAnswer
		if h.Kind == knowledge.KindService {
			kind = KindService
		}
		x := rankFeatures(h, bm, kind, f)
		out = append(out, Candidate{Kind: kind, ID: h.ID, Score: r.rk.Score(x), x: x})
	}
	slices.SortStableFunc(out, func(a, b Candidate) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return 0
	})
	// Scores compare within one message only: the best is 1, the others
	// e^(their score - the best's).
	top := out[0].Score
	for i := range out {
		out[i].Score = math.Round(math.Exp(out[i].Score-top)*1000) / 1000
	}
	return out
}

// RankFeatureCount is the number of ranking features.
const RankFeatureCount = 15

// rankFeatures describes one candidate for the ranker.
func rankFeatures(h knowledge.Hit, bestBM25 float64, kind Kind, f Features) [RankFeatureCount]float64 {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	rel := 0.0
	if bestBM25 > 0 {
		rel = h.Score / bestBM25
	}
	svc := kind == KindService
	return [RankFeatureCount]float64{
		h.Coverage, h.Name, h.Phrase, rel,
		b(svc && f.reports && !f.asks), b(!svc && f.asks && !f.reports), b(svc && f.asks && !f.reports), b(svc),
		h.Where[0], h.Where[1], h.Where[2], h.Where[3], h.Where[4], h.Where[5], h.Where[6],
	}
}

// Ranker weighs ranking features; fitted on the dev set with the
// confidence model (cityline test --calibrate).
type Ranker [RankFeatureCount]float64

// Score is the ranker's score for a candidate's features.
func (rk Ranker) Score(x [RankFeatureCount]float64) float64 {
	s := 0.0
	for i := range x {
		s += rk[i] * x[i]
	}
	return s
}

// DefaultRanker is fitted on the Example City dev set; see
// DefaultCalibration.
var DefaultRanker = Ranker{
	// coverage, name, phrase, BM25, service+report, article+question, service+question, service,
	// matched in: name, keywords, questions, text, group, more, through the lexicon
	3.981, -0.269, -0.38, 3.299, 1.499, 1.631, -1.631, 1.781, 0.56, 0.405, 1.311, 1.453, 0.058, 1.27, 0.728,
}

func hitOf(hits []knowledge.Hit, c Candidate) (knowledge.Hit, bool) {
	for _, h := range hits {
		if h.ID == c.ID && (h.Kind == knowledge.KindService) == (c.Kind == KindService) {
			return h, true
		}
	}
	return knowledge.Hit{}, false
}

// Calibration turns ranking features into a confidence and sets the
// thresholds of the decision. The values are fitted on the labelled dev
// sets by `cityline test --calibrate`, never set by hand.
type Calibration struct {
	// Logistic model over the features.
	Bias, Coverage, Margin, Short, Name, Phrase float64
	Fallback                                    float64 // below: out of scope
	Clarify                                     float64 // below, with a close second: offer choices
	CloseRatio                                  float64 // how close the second must be to clarify
}

// DefaultCalibration is the confidence model fitted on the Example City
// dev set by `cityline test --calibrate testdata/routing/examplecity.jsonl`;
// refit it after changing how search scores.
var DefaultCalibration = Calibration{
	Bias: -0.59, Coverage: 1.278, Margin: 1.343, Short: -1.396, Name: 0.538, Phrase: 0.279,
	Fallback: 0.41, Clarify: 0.64, CloseRatio: 0.9,
}

// Confidence is the model's probability that the best candidate is right.
func (c Calibration) Confidence(f Features) float64 {
	z := c.Bias + c.Coverage*f.Coverage + c.Margin*f.Margin + c.Short*f.Short + c.Name*f.Name + c.Phrase*f.Phrase
	return math.Round(1/(1+math.Exp(-z))*1000) / 1000
}

// DetectLang guesses the language of a message among the catalogue's,
// from which language's common words it uses most. It is a hint: an
// explicit choice by the resident always wins.
func (r *Router) DetectLang(norm string) string {
	langs := r.cat.Languages()
	if len(langs) == 1 {
		return langs[0]
	}
	best, bestN := langs[0], 0
	words := strings.Fields(norm)
	for _, code := range langs {
		common := r.cat.Lang(code).Words["common"]
		n := 0
		for _, w := range words {
			if slices.Contains(common, w) {
				n++
			}
		}
		if n > bestN {
			best, bestN = code, n
		}
	}
	return best
}

// Normalize lower-cases text, removes accents and apostrophes, and turns
// other punctuation into single spaces: the form intent phrases match.
func Normalize(text string) string {
	var b strings.Builder
	b.Grow(len(text))
	space := true
	for _, r := range strings.ToLower(text) {
		switch {
		case r == '\'' || r == '’' || r == '`':
			continue
		case r == '#' || r == '&':
			// kept: "ref #123", "main & 2nd"
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
		case r > 127:
			if f, ok := accentFold[r]; ok {
				r = f
			} else if !isLetter(r) {
				r = ' '
			}
		default:
			r = ' '
		}
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

var accentFold = map[rune]rune{
	'à': 'a', 'â': 'a', 'ä': 'a', 'á': 'a', 'ç': 'c', 'é': 'e', 'è': 'e', 'ê': 'e', 'ë': 'e',
	'î': 'i', 'ï': 'i', 'í': 'i', 'ô': 'o', 'ö': 'o', 'ó': 'o', 'ù': 'u', 'û': 'u', 'ü': 'u',
	'ú': 'u', 'ÿ': 'y', 'ñ': 'n',
}

func isLetter(r rune) bool {
	return r > 127 && (r < 0x2000 || r > 0x206F) && !(r >= 0x1F000)
}
