package index

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/lang/fr"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/stop"
	unicodetok "github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/whitespace"
	tokenmap "github.com/blevesearch/bleve/v2/analysis/tokenmap"
	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/cityline/cityline/knowledge"
)

// termsAnalyzer indexes text that analyzeText already turned into terms.
const termsAnalyzer = "cityline_terms"

// language is the analysis of one language: Bleve's tokenizer, stop words
// and stemmer, then accent folding, then the pack's and the lexicon's
// synonyms, typo correction and related-word expansion, all done here so
// that documents and queries go through exactly the same steps.
type language struct {
	code     string
	analyzer analysis.Analyzer    // tokens, lower case, no stop words
	stemmer  analysis.TokenFilter // the language's stemmer
	keep     map[string]bool      // words the stemmer must leave alone
	synonyms *phrases             // phrase -> canonical terms
	related  *phrases             // phrase -> related terms (query side only)
	broader  *phrases             // phrase -> broader terms (query side only)
	filler   map[string]bool
	generic  map[string]bool
	// surface holds every stemmed word seen in documents, synonyms and the
	// lexicon, with how many documents use it: the dictionary typos are
	// corrected against.
	surface map[string]int
	byFirst map[byte][]string
}

// stop lists. Bleve's snowball lists drop "out", "off", "down" and "over",
// which in a 311 message are the whole point ("light out", "water off").
var stopWords = map[string][]string{
	"en": strings.Fields(`a an and are as at be been being but by can could did do does doing
		for from had has have having he her here hers him his how i if in into is it its itself
		just me my myself of on once or our ours she should so some such than that the their theirs
		them then there these they this those to too very was we were what when where which while
		who whom why will with would you your yours yourself im ive id youre theres thats whats
		am also get got please hi hello hey thanks thank
		not no dont doesnt didnt isnt wasnt werent arent wont cant couldnt shouldnt wouldnt hasnt
		havent hadnt aint nor`),
	"fr": strings.Fields(`au aux avec ce ces dans de des du elle en et eux il ils je la le les leur lui
		ma mais me même mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son
		sur ta te tes toi ton tu un une vos votre vous c d j l à m n s t y été étée étées étés
		étant suis es est sommes êtes sont serai sera serons seront serais serait étais était
		étions étiez étaient fus fut ai as avons avez ont aurai aura aurons auront avais avait
		avions aviez avaient eu ceci cela ça cet cette ici ils leurs quel quels quelle quelles
		sans soi bonjour salut merci svp sil plait`),
}

func newMapping(langs []string) (*mapping.IndexMappingImpl, error) {
	im := mapping.NewIndexMapping()
	im.ScoringModel = "bm25"
	if err := im.AddCustomAnalyzer(termsAnalyzer, map[string]any{
		"type":          custom.Name,
		"tokenizer":     whitespace.Name,
		"token_filters": []any{},
	}); err != nil {
		return nil, fmt.Errorf("terms analyzer: %w", err)
	}
	for _, lang := range langs {
		// Stemming is done afterwards, word by word, so that a few words can
		// be kept whole (see language.stem).
		filters := []any{lowercase.Name, "stop_" + lang + "_cityline"}
		switch lang {
		case "fr":
			filters = []any{"elision_fr", lowercase.Name, "stop_" + lang + "_cityline"}
		case "en":
			filters = []any{"possessive_en", lowercase.Name, "stop_" + lang + "_cityline"}
		}
		words := make([]any, 0, len(stopWords[lang]))
		for _, w := range stopWords[lang] {
			words = append(words, w)
		}
		if err := im.AddCustomTokenMap("stop_"+lang+"_cityline", map[string]any{
			"type": tokenmap.Name, "tokens": words,
		}); err != nil {
			return nil, fmt.Errorf("stop words %s: %w", lang, err)
		}
		if err := im.AddCustomTokenFilter("stop_"+lang+"_cityline", map[string]any{
			"type": stop.Name, "stop_token_map": "stop_" + lang + "_cityline",
		}); err != nil {
			return nil, fmt.Errorf("stop filter %s: %w", lang, err)
		}
		if err := im.AddCustomAnalyzer("stem_"+lang, map[string]any{
			"type":          custom.Name,
			"tokenizer":     unicodetok.Name,
			"token_filters": filters,
		}); err != nil {
			return nil, fmt.Errorf("analyzer %s: %w", lang, err)
		}
	}
	return im, nil
}

func newLanguage(im *mapping.IndexMappingImpl, lang string, pack *knowledge.Pack) (*language, error) {
	an := im.AnalyzerNamed("stem_" + lang)
	if an == nil {
		return nil, fmt.Errorf("no analyzer for %q", lang)
	}
	l := &language{code: lang, analyzer: an, synonyms: newPhrases(), related: &phrases{m: map[string][]string{}, merge: true},
		broader: &phrases{m: map[string][]string{}, merge: true},
		filler:  map[string]bool{}, generic: map[string]bool{}, surface: map[string]int{}, keep: map[string]bool{}}
	switch lang {
	case "en":
		l.stemmer = en.NewEnglishStemmerFilter()
	case "fr":
		l.stemmer = fr.NewFrenchLightStemmerFilter()
	}
	lex, _, err := knowledge.BuiltinLexicon(lang)
	if err != nil {
		return nil, err
	}
	for _, w := range lex.Unstemmed {
		l.keep[fold(strings.ToLower(w))] = true
	}
	// The pack's own synonyms win over the lexicon's: added first, and a
	// phrase keeps its first meaning.
	for gi, groups := range [][][]string{pack.Synonyms[lang], lex.Synonyms} {
		for _, g := range groups {
			canon := l.stems(g[0])
			if len(canon) == 0 {
				continue
			}
			if gi == 0 {
				// The pack's canonical word stays itself, whatever group the
				// lexicon puts it in: the pack's own synonyms win.
				l.synonyms.add(canon, canon)
			}
			for _, w := range g {
				st := l.stems(w)
				l.note(st, 0)
				if len(st) > 0 && !slices.Equal(st, canon) {
					l.synonyms.add(st, canon)
				}
			}
		}
	}
	for _, m := range []struct {
		src map[string][]string
		dst *phrases
	}{{lex.Related, l.related}, {lex.Broader, l.broader}} {
		// In sorted order, so that two keys analysed alike always resolve the
		// same way: the index must not depend on map order.
		keys := make([]string, 0, len(m.src))
		for k := range m.src {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, from := range keys {
			tos := m.src[from]
			key := l.canonical(l.stems(from))
			if len(key) == 0 {
				continue
			}
			l.note(l.stems(from), 0)
			var out []string
			for _, to := range tos {
				for _, t := range l.canonical(l.stems(to)) {
					if !slices.Contains(out, t) && !slices.Contains(key, t) {
						out = append(out, t)
					}
				}
			}
			m.dst.add(key, out)
		}
	}
	for _, w := range lex.Filler {
		for _, t := range l.stems(w) {
			l.filler[t] = true
		}
	}
	for _, w := range lex.Generic {
		for _, t := range l.canonical(l.stems(w)) {
			l.generic[t] = true
		}
	}
	return l, nil
}

// stems runs Bleve's analysis and folds accents; numbers are dropped, as
// house numbers and dates say nothing about the topic.
func (l *language) stems(text string) []string {
	// "wasn't" and "wasnt" are the same word to a resident; without the
	// apostrophe the stop list catches both.
	if l.code == "fr" {
		// French elides with an apostrophe (l'eau, d'égout): keep it, in
		// its plain form, for the elision filter to strip the article.
		text = frApostrophes.Replace(text)
	} else {
		text = apostrophes.Replace(text)
	}
	toks := l.analyzer.Analyze([]byte(text))
	out := make([]string, 0, len(toks))
	for _, t := range toks {
		if strings.IndexFunc(string(t.Term), unicode.IsDigit) >= 0 {
			continue
		}
		term := fold(l.stem(t))
		if term == "" {
			continue
		}
		out = append(out, term)
	}
	return out
}

// stem stems one token, unless it is one of the words kept whole.
func (l *language) stem(t *analysis.Token) string {
	if l.stemmer == nil || l.keep[fold(string(t.Term))] {
		return string(t.Term)
	}
	l.stemmer.Filter(analysis.TokenStream{t})
	return string(t.Term)
}

// note records stems in the surface dictionary.
func (l *language) note(stems []string, docs int) {
	for _, s := range stems {
		l.surface[s] += docs
	}
}

// canonical replaces synonym phrases by their canonical terms.
func (l *language) canonical(stems []string) []string {
	return l.synonyms.replace(stems)
}

// buildDictionary indexes the surface words by first letter for typo
// correction; called once every document has been noted.
func (l *language) buildDictionary() {
	l.byFirst = map[byte][]string{}
	for w := range l.surface {
		l.byFirst[w[0]] = append(l.byFirst[w[0]], w)
	}
	for _, ws := range l.byFirst {
		slices.Sort(ws)
	}
}

// correct returns the dictionary word closest to w when w is not in it
// and looks like a typo of one: same first letter (residents rarely miss
// the first one, and it keeps the search small), one edit for short
// words, two for long ones. The most used word wins a tie.
func (l *language) correct(w string) (string, bool) {
	// Short words are too often a name ("king" is not a typo of "kind").
	if _, ok := l.surface[w]; ok || len(w) < 5 || l.filler[w] {
		return w, false
	}
	maxDist := 1
	if len(w) >= 8 {
		maxDist = 2
	}
	best, bestDist, bestDF := "", maxDist+1, -1
	for _, c := range l.byFirst[w[0]] {
		if d := len(c) - len(w); d > maxDist || -d > maxDist || len(c) < 3 {
			continue
		}
		d := editDistance(w, c, maxDist)
		if d > maxDist {
			continue
		}
		if d < bestDist || (d == bestDist && l.surface[c] > bestDF) {
			best, bestDist, bestDF = c, d, l.surface[c]
		}
	}
	if best == "" {
		return w, false
	}
	return best, true
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance, giving up early beyond max.
func editDistance(a, b string, max int) int {
	if a == b {
		return 0
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > max {
			return max + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

var (
	apostrophes   = strings.NewReplacer("'", "", "’", "", "`", "")
	frApostrophes = strings.NewReplacer("’", "'", "`", "'")
)

var foldMap = map[rune]string{
	'à': "a", 'â': "a", 'ä': "a", 'á': "a", 'ç': "c", 'é': "e", 'è': "e", 'ê': "e", 'ë': "e",
	'î': "i", 'ï': "i", 'í': "i", 'ô': "o", 'ö': "o", 'ó': "o", 'ù': "u", 'û': "u", 'ü': "u",
	'ú': "u", 'ÿ': "y", 'ñ': "n", 'œ': "oe", 'æ': "ae", '’': "", '\'': "",
}

// fold removes accents so "déchets" and "dechets" meet.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == '\'' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if f, ok := foldMap[r]; ok {
			b.WriteString(f)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
