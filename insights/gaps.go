package insights

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cityline/cityline/dialog"
)

// Knowledge gaps.
//
// The messages the assistant could not place (fallbacks) or was unsure
// of (clarifications) are grouped so staff see themes, not a pile of
// sentences. The rule is meant to be explained in one breath:
//
//  1. A message becomes its set of words: lower case, accents and
//     punctuation removed, common words ("the", "how", "can", "city",
//     "please"...) dropped, and a plural's final s taken off, so "Are the
//     farmers' markets open?" is {farmer, market}.
//  2. Two messages are alike when they share at least half the words of
//     the shorter one (and at least one word).
//  3. A theme is every message linked to another by a chain of alike
//     messages. Themes are listed by how many messages they hold, the
//     most frequent first.
//
// Each theme comes with its most frequent phrasings, the words most of
// its messages use, and the start of an article that would answer it
// (Gap.Draft), in the content pack's own format.

// Gap is one theme of unanswered or unsure messages.
type Gap struct {
	// Title is a suggested article title: the theme's most frequent
	// phrasing, tidied.
	Title string
	// Count is how many messages the theme holds; Unanswered of them were
	// fallbacks, Unsure clarifications.
	Count      int
	Unanswered int
	Unsure     int
	Lang       string
	// Keywords are the words most of its messages use, most used first.
	Keywords []string
	// Examples are its distinct phrasings, most frequent first.
	Examples []Example
}

// Example is one phrasing and how often it was sent.
type Example struct {
	Text string
	N    int
}

// Limits of the gap list.
const (
	gapMessages = 20000 // the most recent messages considered
	gapThemes   = 20    // themes listed
	gapExamples = 6     // phrasings shown per theme
	gapKeywords = 6
)

// Slug is the article id the draft suggests: its first keywords, in
// letters a to z, digits and dashes.
func (g Gap) Slug() string {
	var parts []string
	for _, k := range g.Keywords {
		k = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, k)
		if k != "" && len(parts) < 3 {
			parts = append(parts, k)
		}
	}
	if len(parts) == 0 {
		return "new-article"
	}
	return strings.Join(parts, "-")
}

// Draft is the start of an article answering the theme, in the content
// pack's format (articles/<id>.md): front matter with the suggested
// title, the keywords and the residents' own questions, then a body for
// staff to write.
func (g Gap) Draft() string {
	q := func(s string) string {
		b, _ := json.Marshal(s) // a JSON string is a YAML double-quoted scalar
		return string(b)
	}
	var b strings.Builder
	b.WriteString("---\n")
	b.WriteString("id: " + g.Slug() + "\n")
	b.WriteString("title: " + q(g.Title) + "\n")
	if g.Lang != "" {
		b.WriteString("lang: " + g.Lang + "\n")
	}
	b.WriteString("keywords: [")
	for i, k := range g.Keywords {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q(k))
	}
	b.WriteString("]\nquestions:\n")
	for _, e := range g.Examples {
		b.WriteString("  - " + q(e.Text) + "\n")
	}
	b.WriteString("url: \n---\n")
	b.WriteString("The short answer, in one or two sentences: SMS and voice read this paragraph.\n\n")
	b.WriteString("The details for the web: where, when, how much, and what to do next.\n")
	return b.String()
}

// gapMessage is one stored fallback or clarification.
type gapMessage struct {
	typ, lang, text string
}

func (st *Store) gaps(ctx context.Context, r *Report, from, to string) error {
	var msgs []gapMessage
	err := st.rows(ctx, func(rows *sql.Rows) error {
		var m gapMessage
		if err := rows.Scan(&m.typ, &m.lang, &m.text); err != nil {
			return err
		}
		msgs = append(msgs, m)
		return nil
	}, `SELECT type, lang, text FROM events WHERE type IN (?, ?) AND text <> '' AND at >= ? AND at < ?
		ORDER BY at DESC LIMIT ?`, dialog.EventFallback, dialog.EventClarify, from, to, gapMessages)
	if err != nil {
		return err
	}
	r.Gaps = GroupGaps(gapInputs(msgs), gapThemes)
	return nil
}

// GapInput is a message for GroupGaps.
type GapInput struct {
	Text string
	Lang string
	// Unsure is true for a clarification, false for a fallback.
	Unsure bool
}

func gapInputs(ms []gapMessage) []GapInput {
	out := make([]GapInput, len(ms))
	for i, m := range ms {
		out[i] = GapInput{Text: m.text, Lang: m.lang, Unsure: m.typ == dialog.EventClarify}
	}
	return out
}

// GroupGaps groups messages into themes by the rule above and returns at
// most limit of them, the most frequent first.
func GroupGaps(msgs []GapInput, limit int) []Gap {
	// Messages with the same words are one signature.
	type signature struct {
		words  []string
		n      int
		texts  map[string]int
		langs  map[string]int
		unsure int
	}
	var sigs []*signature
	byKey := map[string]*signature{}
	for _, m := range msgs {
		text := strings.TrimSpace(m.Text)
		words := Words(text)
		if len(words) == 0 {
			continue
		}
		key := strings.Join(words, " ")
		s := byKey[key]
		if s == nil {
			s = &signature{words: words, texts: map[string]int{}, langs: map[string]int{}}
			byKey[key] = s
			sigs = append(sigs, s)
		}
		s.n++
		s.texts[text]++
		s.langs[m.Lang]++
		if m.Unsure {
			s.unsure++
		}
	}
	// Link alike signatures (only pairs sharing a word are compared).
	parent := make([]int, len(sigs))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	byWord := map[string][]int{}
	for i, s := range sigs {
		for _, w := range s.words {
			byWord[w] = append(byWord[w], i)
		}
	}
	for i, s := range sigs {
		seen := map[int]bool{}
		for _, w := range s.words {
			for _, j := range byWord[w] {
				if j <= i || seen[j] {
					continue
				}
				seen[j] = true
				if alike(s.words, sigs[j].words) {
					if a, b := find(i), find(j); a != b {
						parent[max(a, b)] = min(a, b)
					}
				}
			}
		}
	}
	themes := map[int][]*signature{}
	var roots []int
	for i, s := range sigs {
		r := find(i)
		if _, ok := themes[r]; !ok {
			roots = append(roots, r)
		}
		themes[r] = append(themes[r], s)
	}
	var out []Gap
	for _, r := range roots {
		members := themes[r]
		g := Gap{}
		texts := map[string]int{}
		langs := map[string]int{}
		words := map[string]int{}
		for _, s := range members {
			g.Count += s.n
			g.Unsure += s.unsure
			for t, n := range s.texts {
				texts[t] += n
			}
			for l, n := range s.langs {
				langs[l] += n
			}
			for _, w := range s.words {
				words[w] += s.n
			}
		}
		g.Unanswered = g.Count - g.Unsure
		g.Lang = mostOf(langs)
		for t, n := range texts {
			g.Examples = append(g.Examples, Example{Text: t, N: n})
		}
		slices.SortFunc(g.Examples, func(a, b Example) int {
			return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(len(a.Text), len(b.Text)), cmp.Compare(a.Text, b.Text))
		})
		g.Examples = g.Examples[:min(len(g.Examples), gapExamples)]
		for w := range words {
			g.Keywords = append(g.Keywords, w)
		}
		slices.SortFunc(g.Keywords, func(a, b string) int {
			return cmp.Or(cmp.Compare(words[b], words[a]), cmp.Compare(a, b))
		})
		g.Keywords = g.Keywords[:min(len(g.Keywords), gapKeywords)]
		g.Title = titleOf(g.Examples[0].Text)
		out = append(out, g)
	}
	slices.SortStableFunc(out, func(a, b Gap) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(b.Unanswered, a.Unanswered), cmp.Compare(a.Title, b.Title))
	})
	return out[:min(len(out), limit)]
}

// alike: the two word sets share at least half the words of the shorter.
func alike(a, b []string) bool {
	shared := 0
	for _, w := range a {
		if _, ok := slices.BinarySearch(b, w); ok {
			shared++
		}
	}
	return shared > 0 && 2*shared >= min(len(a), len(b))
}

func mostOf(m map[string]int) string {
	best, bestN := "", -1
	for k, n := range m {
		if n > bestN || n == bestN && k < best {
			best, bestN = k, n
		}
	}
	return best
}

// titleOf tidies a phrasing into a title: a capital first letter, no
// trailing space.
func titleOf(s string) string {
	s = strings.TrimSpace(s)
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// Words is the sorted set of a message's meaningful words, the way gaps
// are grouped: normalised as the router does, common words dropped, a
// plural's final s removed.
func Words(text string) []string {
	var out []string
	for _, w := range strings.Fields(dialog.Normalize(text)) {
		w = strings.Trim(w, "#&")
		if len(w) < 2 || stopWords[w] || isNumber(w) {
			continue
		}
		w = singular(w)
		if stopWords[w] {
			continue
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

func isNumber(w string) bool {
	return strings.IndexFunc(w, func(r rune) bool { return r < '0' || r > '9' }) < 0
}

// singular takes a plural's final s off: "markets" → "market",
// "libraries" → "library". Short words and -ss, -us, -is endings stay.
func singular(w string) string {
	switch {
	case len(w) <= 3:
		return w
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "s"):
		return w[:len(w)-1]
	}
	return w
}

// stopWords are left out of a message's words: function words in the
// pack's languages, and the words every 311 message uses.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, list := range []string{
		// English
		`a about after again all also am an and any are as at be been before being but by can cant could did
		do does doesnt dont for from get gets getting got had has have having he her here hers him his how i
		id if im in into is isnt it its ive just let lets me mine more most my no nor not now of off on once
		only or other our ours out over own same she should so some such than that thats the their theirs
		them then there theres these they this those through to too under until up us very was wasnt we
		were what whats when where wheres which while who whos why will with wont would you your youre yours
		hi hello hey thanks thank ok okay yes yeah please pls plz need want wanted know tell find look
		looking like help anyone someone something anything way go going come make much many lot`,
		// 311
		`city town municipal 311 near nearest nearby today tomorrow tonight yesterday time times day days
		week weekend year open opens opening close closed hours info information question ask asking`,
		// French
		`le la les un une des du de d l au aux et ou est sont a ai as avez avons il elle ils elles je j
		tu vous nous on ce cet cette ces mon ma mes ton ta tes son sa ses notre votre leur leurs qui que
		quoi quand comment pourquoi ou dans sur pour par avec sans pas ne n plus y en se s c qu bonjour
		merci svp oui non peux peut pouvez puis faire fait veux voudrais besoin ville aujourd hui demain`,
	} {
		for _, w := range strings.Fields(list) {
			m[w] = true
		}
	}
	return m
}()
