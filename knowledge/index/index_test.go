package index_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/cityline/cityline/knowledge"
	"github.com/cityline/cityline/knowledge/examplecity"
	"github.com/cityline/cityline/knowledge/index"
)

var (
	once sync.Once
	ix   *index.Index
	err  error
)

func example(t testing.TB) *index.Index {
	t.Helper()
	once.Do(func() {
		var p *knowledge.Pack
		p, err = knowledge.Load(examplecity.FS())
		if err == nil {
			ix, err = index.Build(p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func top(t *testing.T, ix *index.Index, q string, n int) []string {
	t.Helper()
	r, err := ix.Search(context.Background(), q, "en", n)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, h := range r.Hits {
		out = append(out, h.ID)
	}
	return out
}

func contains(list []string, id string) bool {
	for _, s := range list {
		if s == id {
			return true
		}
	}
	return false
}

func TestSearchFindsTheRightDocument(t *testing.T) {
	ix := example(t)
	tests := []struct {
		query string
		want  string // among the top three
	}{
		{"pothole", "RD-01"},
		{"missed garbage pickup", "GB-01"},
		{"garbige day", "garbage-schedule"},                      // a typo
		{"potholl on the road", "RD-01"},                         // a typo
		{"recyling schedule", "garbage-schedule"},                // a typo
		{"trash collection schedule", "garbage-schedule"},        // a synonym
		{"the street lamp is broken", "TL-01"},                   // a synonym phrase
		{"the lamp at the corner is dark every night", "TL-01"},  // the lexicon
		{"how do I pay my property tax", "property-tax-payment"}, // words of the title
	}
	for _, tt := range tests {
		if got := top(t, ix, tt.query, 3); !contains(got, tt.want) {
			t.Errorf("%q: top three %v, want %s among them", tt.query, got, tt.want)
		}
	}
}

func TestSynonymsMeanTheSame(t *testing.T) {
	ix := example(t)
	a := top(t, ix, "garbage day", 3)
	b := top(t, ix, "trash day", 3)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("garbage %v, trash %v", a, b)
	}
}

func TestCoverageIsHigherForABetterMatch(t *testing.T) {
	ix := example(t)
	good, _ := ix.Search(context.Background(), "pothole", "en", 1)
	bad, _ := ix.Search(context.Background(), "who won the hockey game tonight", "en", 1)
	if len(good.Hits) == 0 || good.Hits[0].Coverage < 0.8 {
		t.Fatalf("pothole: %+v", good.Hits)
	}
	if len(bad.Hits) > 0 && bad.Hits[0].Coverage >= good.Hits[0].Coverage/2 {
		t.Errorf("an out-of-scope message covers %.2f, a clear one %.2f", bad.Hits[0].Coverage, good.Hits[0].Coverage)
	}
}

func TestUnknownLanguageFallsBackToDefault(t *testing.T) {
	ix := example(t)
	r, err := ix.Search(context.Background(), "pothole", "xx", 1)
	if err != nil || len(r.Hits) == 0 || r.Lang != "en" {
		t.Errorf("got %+v, %v", r, err)
	}
}

// generated builds a pack of the size a big city has: 2,000 articles and
// 600 service types, from a vocabulary of a few thousand words.
func generated(tb testing.TB) *knowledge.Pack {
	tb.Helper()
	p, err := knowledge.Load(generatedFS(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func generatedFS(tb testing.TB) fstest.MapFS {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := make([]string, 4000)
	syll := []string{"ka", "lo", "mi", "ne", "pu", "ra", "so", "ti", "va", "ze", "bor", "dan", "fel", "gur", "hin", "jas"}
	for i := range vocab {
		var b strings.Builder
		for j := 0; j < 2+rng.IntN(3); j++ {
			b.WriteString(syll[rng.IntN(len(syll))])
		}
		vocab[i] = b.String()
	}
	words := func(n int) string {
		ws := make([]string, n)
		for i := range ws {
			ws[i] = vocab[rng.IntN(len(vocab))]
		}
		return strings.Join(ws, " ")
	}
	var buf strings.Builder
	buf.WriteString("name: Big City\nlanguages: [en]\ntime_zone: America/Toronto\nreference_prefix: BC\n")
	files := map[string]string{"city.yaml": buf.String()}
	var services []string
	for i := 0; i < 600; i++ {
		services = append(services, fmt.Sprintf(`{"service_code":"S%03d","service_name":%q,"description":%q,"metadata":false,"type":"realtime","keywords":%q,"group":%q}`,
			i, words(3), words(20), strings.ReplaceAll(words(5), " ", ", "), fmt.Sprintf("Group %d", i%12)))
	}
	files["services.json"] = "[" + strings.Join(services, ",\n") + "]"
	for i := 0; i < 2000; i++ {
		files[fmt.Sprintf("articles/a%04d.md", i)] = fmt.Sprintf("---\nid: a%04d\ntitle: %s\nkeywords: [%s]\nquestions: [%s, %s]\n---\n%s\n\n%s\n",
			i, words(4), strings.ReplaceAll(words(5), " ", ", "), words(6), words(6), words(40), words(150))
	}
	return mapFS(files)
}

// BenchmarkLoadAndBuildLargePack is what start-up costs a city with 2,000
// articles and 600 service types: reading the pack and indexing it.
func BenchmarkLoadAndBuildLargePack(b *testing.B) {
	fsys := generatedFS(b)
	b.ResetTimer()
	for b.Loop() {
		p, err := knowledge.Load(fsys)
		if err != nil {
			b.Fatal(err)
		}
		ix, err := index.Build(p)
		if err != nil {
			b.Fatal(err)
		}
		ix.Close()
	}
}

func BenchmarkSearchLargePack(b *testing.B) {
	p := generated(b)
	ix, err := index.Build(p)
	if err != nil {
		b.Fatal(err)
	}
	// Messages made of the pack's own words, with a typo in some.
	var queries []string
	for i, s := range p.Services {
		q := s.Name + " " + strings.Fields(s.Description)[0]
		if i%3 == 0 {
			q = q[:len(q)-1] + "x"
		}
		queries = append(queries, q)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := ix.Search(ctx, queries[i%len(queries)], "en", 10); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkSearchExampleCity(b *testing.B) {
	ix := example(b)
	queries := []string{"my garbage wasn't picked up", "the lamp at the corner is dark every night",
		"potholl on king st", "how do I pay my property tax", "theres a dead raccoon on the road"}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := ix.Search(ctx, queries[i%len(queries)], "en", 10); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
