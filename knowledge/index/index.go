// Package index is the knowledge search: a Bleve index, in memory and
// built at start-up, over a content pack's articles and service types,
// one index per language. It owns text analysis (stemming, stop words,
// accent folding, the pack's synonyms and the built-in lexicon, typo
// correction), so documents and resident messages are read the same way.
// It ranks; deciding what to do with the ranking is the router's job.
package index

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/cityline/cityline/knowledge"
)

// Kinds of documents.
const (
	KindArticle = knowledge.KindArticle
	KindService = knowledge.KindService
)

// Fields, their Bleve boosts, and the weight of a match in each when
// judging how much of a message a document explains: a match in what a
// thing is called counts more than one in its description.
var fields = []struct {
	name  string
	boost float64
	match float64
}{
	{"name", 3.0, 1.0},
	{"keywords", 2.5, 0.9},
	{"questions", 2.0, 0.8},
	{"text", 1.0, 0.6},
	{"group", 0.6, 0.35},
	{"more", 0.4, 0.3},
}

// Weights of query terms: a resident's own words, words of little meaning,
// and words the lexicon added.
const (
	weightWord    = 1.0
	weightFiller  = 0.3
	weightGeneric = 0.5
	weightRelated = 0.5
	weightBroader = 0.35
	// A word no document uses is most often a street or a name: it says
	// little about the topic, but a message made only of such words is
	// out of scope, so it still counts a little.
	weightUnknown = 0.25
)

// Index searches one content pack.
type Index struct {
	langs       map[string]*langIndex
	defaultLang string
}

type langIndex struct {
	*language
	bleve bleve.Index
	docs  map[string]*doc
	df    map[string]int
	n     int
}

type doc struct {
	kind, id string
	fields   [6]map[string]bool // analysed terms of each field, in the order of fields
	first    map[string]int     // each term's first field (the one best matched), for ranking
	name     []string           // the name's terms
	phrases  [][]string         // name, keywords and questions, each as terms
}

// best is the weight of the best field containing t, or 0.
func (d *doc) best(t string) float64 {
	if i, ok := d.first[t]; ok {
		return fields[i].match
	}
	return 0
}

// Build indexes every article and service of the pack, in each of its
// languages.
func Build(p *knowledge.Pack) (*Index, error) {
	im, err := newMapping(p.City.Languages)
	if err != nil {
		return nil, err
	}
	dm := mapping.NewDocumentMapping()
	for _, f := range fields {
		fm := mapping.NewTextFieldMapping()
		fm.Analyzer = termsAnalyzer
		fm.Store = false
		fm.IncludeTermVectors = false
		fm.IncludeInAll = false
		dm.AddFieldMappingsAt(f.name, fm)
	}
	im.DefaultMapping = dm
	im.DefaultAnalyzer = termsAnalyzer

	ix := &Index{langs: map[string]*langIndex{}, defaultLang: p.City.DefaultLang()}
	for _, lang := range p.City.Languages {
		li, err := buildLang(p, im, lang)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", lang, err)
		}
		ix.langs[lang] = li
	}
	return ix, nil
}

func buildLang(p *knowledge.Pack, im *mapping.IndexMappingImpl, lang string) (*langIndex, error) {
	l, err := newLanguage(im, lang, p)
	if err != nil {
		return nil, err
	}
	li := &langIndex{language: l, docs: map[string]*doc{}, df: map[string]int{}}

	type raw struct {
		kind, id string
		text     [6][]string
		phrases  [][]string // stemmed, not yet canonical
	}
	var raws []raw
	for _, a := range p.Articles {
		if a.Lang != lang {
			continue
		}
		rest := strings.TrimPrefix(a.Body, a.Short)
		r := raw{kind: KindArticle, id: a.ID, text: [6][]string{
			l.stems(a.Title), l.stems(strings.Join(a.Keywords, " . ")),
			l.stems(strings.Join(a.Questions, " . ")), l.stems(a.Short), nil, l.stems(rest),
		}}
		r.phrases = append(r.phrases, r.text[0])
		for _, k := range append(slices.Clone(a.Keywords), a.Questions...) {
			r.phrases = append(r.phrases, l.stems(k))
		}
		raws = append(raws, r)
	}
	// What the articles say about a service describes it too, in words
	// residents use: they lend it their titles, keywords and questions.
	lent := map[string][]string{}
	for _, a := range p.Articles {
		if a.Lang != lang {
			continue
		}
		for _, code := range a.Services {
			lent[code] = append(append(append(lent[code], a.Title), a.Keywords...), a.Questions...)
		}
	}
	for _, s0 := range p.Services {
		s, _ := p.Service(s0.Code, lang)
		more := slices.Clone(lent[s.Code])
		if def, ok := p.Definition(s.Code, lang); ok {
			for _, at := range def.Attributes {
				more = append(more, at.Description)
				for _, v := range at.Values {
					more = append(more, v.Name)
				}
			}
		}
		r := raw{kind: KindService, id: s.Code, text: [6][]string{
			l.stems(s.Name), l.stems(strings.ReplaceAll(s.Keywords, ",", " . ")), nil,
			l.stems(s.Description), l.stems(s.Group), l.stems(strings.Join(more, " . ")),
		}}
		r.phrases = append(r.phrases, r.text[0])
		for _, k := range s.KeywordList() {
			r.phrases = append(r.phrases, l.stems(k))
		}
		raws = append(raws, r)
	}
	for _, r := range raws {
		seen := map[string]bool{}
		for _, f := range r.text {
			for _, t := range f {
				if !seen[t] {
					seen[t] = true
					l.surface[t]++
				}
			}
		}
	}
	l.buildDictionary()

	// Scorch with no path keeps its segments in memory; it indexes a big
	// pack several times faster than the default in-memory store.
	bi, err := bleve.NewUsing("", im, scorch.Name, scorch.Name, nil)
	if err != nil {
		return nil, err
	}
	batch := bi.NewBatch()
	for _, r := range raws {
		d := &doc{kind: r.kind, id: r.id, first: map[string]int{}}
		body := map[string]any{}
		all := map[string]bool{}
		for i, f := range r.text {
			terms := l.canonical(f)
			d.fields[i] = map[string]bool{}
			for _, t := range terms {
				d.fields[i][t] = true
				all[t] = true
				if _, ok := d.first[t]; !ok {
					d.first[t] = i
				}
			}
			if i == 0 {
				d.name = terms
			}
			body[fields[i].name] = strings.Join(terms, " ")
		}
		for t := range all {
			li.df[t]++
		}
		for _, ph := range r.phrases {
			if c := li.canonical(ph); len(c) > 0 {
				d.phrases = append(d.phrases, c)
			}
		}
		key := r.kind + ":" + r.id
		li.docs[key] = d
		if err := batch.Index(key, body); err != nil {
			return nil, err
		}
	}
	li.n = len(raws)
	if err := bi.Batch(batch); err != nil {
		return nil, err
	}
	li.bleve = bi
	return li, nil
}

// Result is what a search found and how it read the message.
type Result = knowledge.SearchResult

// Hit is one ranked document.
type Hit = knowledge.Hit

// Languages are the languages the index holds, default first.
func (ix *Index) Languages() []string {
	out := []string{ix.defaultLang}
	for l := range ix.langs {
		if l != ix.defaultLang {
			out = append(out, l)
		}
	}
	slices.Sort(out[1:])
	return out
}

type weighted struct {
	term   string
	weight float64
	from   int // index of the message term that brought a related term; -1 for the message's own
}

// Search ranks the pack's documents for text in lang (the default
// language when the index does not hold lang), best first, at most limit.
func (ix *Index) Search(ctx context.Context, text, lang string, limit int) (Result, error) {
	li, ok := ix.langs[lang]
	if !ok {
		lang = ix.defaultLang
		li = ix.langs[lang]
	}
	res := Result{Lang: lang}
	stems := li.stems(text)
	for i, s := range stems {
		if c, ok := li.correct(s); ok {
			if res.Corrected == nil {
				res.Corrected = map[string]string{}
			}
			res.Corrected[s] = c
			stems[i] = c
		}
	}
	terms := li.canonical(stems)
	var q []weighted
	at := map[string]int{} // own term -> its index in q
	for _, t := range terms {
		if _, dup := at[t]; dup {
			continue
		}
		at[t] = len(q)
		q = append(q, weighted{term: t, weight: weightWord, from: -1})
		res.Terms = append(res.Terms, t)
	}
	own := len(q)
	// The lexicon's additions, each credited to every word of the phrase
	// that brought it ("lamp" and "dark" both vouch for a street light).
	bridged := map[int]bool{}
	type key struct {
		term string
		from int
	}
	added := map[key]bool{}
	for _, ex := range []struct {
		p *phrases
		w float64
	}{{li.related, weightRelated}, {li.broader, weightBroader}} {
		for i := 0; i < len(terms); {
			to, n := ex.p.match(terms, i)
			if n == 0 {
				i++
				continue
			}
			for _, src := range terms[i : i+n] {
				from := at[src]
				for _, t := range to {
					if _, isOwn := at[t]; isOwn || added[key{t, from}] {
						continue
					}
					added[key{t, from}] = true
					q = append(q, weighted{term: t, weight: ex.w, from: from})
					if li.df[t] > 0 {
						bridged[from] = true
					}
					if !slices.Contains(res.Related, t) {
						res.Related = append(res.Related, t)
					}
				}
			}
			i += n
		}
	}
	// Weigh the message's own words: filler counts little; a word no
	// document uses counts little too, unless the lexicon bridges it to
	// words the pack does use.
	for i := range q[:own] {
		t := q[i].term
		switch {
		case li.filler[t]:
			q[i].weight = weightFiller
		case li.generic[t]:
			q[i].weight = weightGeneric
			res.Meaningful++
		case li.df[t] == 0 && !bridged[i]:
			q[i].weight = weightUnknown
		default:
			res.Meaningful++
		}
	}
	if len(q) == 0 {
		return res, nil
	}

	var clauses []query.Query
	strongest := map[string]float64{}
	for _, w := range q {
		strongest[w.term] = max(strongest[w.term], w.weight)
	}
	for _, w := range q {
		if li.df[w.term] == 0 || strongest[w.term] < 0 {
			continue
		}
		w.weight = strongest[w.term]
		strongest[w.term] = -1 // one clause a term
		per := make([]query.Query, 0, len(fields))
		for _, f := range fields {
			tq := query.NewTermQuery(w.term)
			tq.SetField(f.name)
			tq.SetBoost(f.boost * w.weight)
			per = append(per, tq)
		}
		clauses = append(clauses, query.NewDisjunctionQuery(per))
	}
	if len(clauses) == 0 {
		return res, nil
	}
	req := bleve.NewSearchRequestOptions(query.NewDisjunctionQuery(clauses), max(limit, candidates), 0, false)
	sr, err := li.bleve.SearchInContext(ctx, req)
	if err != nil {
		return res, fmt.Errorf("search: %w", err)
	}
	res.Hits = make([]Hit, 0, len(sr.Hits))
	for _, h := range sr.Hits {
		d := li.docs[h.ID]
		cov, where := li.coverage(d, q[:own], q[own:])
		res.Hits = append(res.Hits, Hit{Kind: d.kind, ID: d.id, Score: h.Score, Coverage: cov, Where: where,
			Name: share(d.name, q[:own]), Phrase: bestPhrase(d, q[:own])})
	}
	// Bleve finds the candidates; they are ordered by how much of the
	// message each explains, Bleve's relevance breaking ties.
	slices.SortStableFunc(res.Hits, func(a, b Hit) int {
		if c := cmpFloat(b.Coverage+nameWeight*b.Name, a.Coverage+nameWeight*a.Name); c != 0 {
			return c
		}
		return cmpFloat(b.Score, a.Score)
	})
	if len(res.Hits) > limit {
		res.Hits = res.Hits[:limit]
	}
	return res, nil
}

// candidates is how many documents Bleve returns for re-ranking.
const candidates = 40

// nameWeight is how much naming the thing itself adds: "missed pickup"
// names the service "Missed pickup" entirely.
const nameWeight = 0.15

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// share is the share of a phrase's terms the message used.
func share(phrase []string, q []weighted) float64 {
	if len(phrase) == 0 {
		return 0
	}
	n := 0
	for _, t := range phrase {
		for _, w := range q {
			if w.term == t {
				n++
				break
			}
		}
	}
	return float64(n) / float64(len(phrase))
}

// bestPhrase is the best share of one of d's phrases the message holds.
func bestPhrase(d *doc, q []weighted) float64 {
	best := 0.0
	for _, p := range d.phrases {
		best = max(best, share(p, q))
	}
	return best
}

// coverage is the idf-weighted share of the message's own terms that d
// contains; a term counts in part when only its related words match. It
// also says where the message matched: the share of its weight matched
// directly in each field, and through the lexicon.
func (li *langIndex) coverage(d *doc, own, related []weighted) (cov float64, where [7]float64) {
	var total, got float64
	for i, w := range own {
		idf := li.idf(w.term) * w.weight
		total += idf
		best, field := 0.0, -1
		if fi, ok := d.first[w.term]; ok {
			best, field = fields[fi].match, fi
		}
		via := false
		for _, r := range related {
			if r.from == i {
				if b := d.best(r.term) * r.weight; b > best {
					best, via = b, true
				}
			}
		}
		got += idf * best
		switch {
		case via:
			where[6] += idf
		case field >= 0:
			where[field] += idf
		}
	}
	if total == 0 {
		return 0, where
	}
	for i := range where {
		where[i] /= total
	}
	return got / total, where
}

// idf of a term; a word no document uses is as rare as can be.
func (li *langIndex) idf(t string) float64 {
	return math.Log(1 + float64(li.n+1)/float64(li.df[t]+1))
}

// Close releases the Bleve indexes.
func (ix *Index) Close() error {
	for _, li := range ix.langs {
		if err := li.bleve.Close(); err != nil {
			return err
		}
	}
	return nil
}
