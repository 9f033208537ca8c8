package knowledge_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/knowledge"
	"github.com/cityline/cityline/knowledge/examplecity"
)

func TestExampleCityPackIsComplete(t *testing.T) {
	p, err := knowledge.Load(examplecity.FS())
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]bool{}
	for _, s := range p.Services {
		groups[s.Group] = true
	}
	datatypes := map[string]int{}
	for _, d := range p.Definitions {
		for _, a := range d.Attributes {
			if a.Variable {
				datatypes[a.Datatype]++
			}
		}
	}
	switch {
	case len(p.Articles) < 60:
		t.Errorf("%d articles, want at least 60", len(p.Articles))
	case len(p.Services) < 60:
		t.Errorf("%d services, want at least 60", len(p.Services))
	case len(groups) < 8:
		t.Errorf("%d groups, want at least 8", len(groups))
	case len(p.Definitions) < 20:
		t.Errorf("%d definitions, want at least 20", len(p.Definitions))
	}
	for _, dt := range []string{"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"} {
		if datatypes[dt] == 0 {
			t.Errorf("no definition asks a %s", dt)
		}
	}
	if len(p.Synonyms["en"]) == 0 {
		t.Error("no synonyms")
	}
	for _, a := range p.Articles {
		if len(a.Short) > 320 {
			t.Errorf("%s: short answer is %d characters, more than two SMS segments", a.File, len(a.Short))
		}
	}
	if got := p.PopularTopics("en"); len(got) < 4 {
		t.Errorf("popular topics: %v", got)
	}
}

func TestBrokenPackReportsEveryProblem(t *testing.T) {
	_, err := knowledge.Load(os.DirFS("testdata/broken"))
	var probs knowledge.Problems
	if !errors.As(err, &probs) {
		t.Fatalf("Load = %v, want Problems", err)
	}
	want := []struct{ file, msg string }{
		{"services.json", `duplicate service_code "P1"`},
		{"services/P1.json", `attribute "SIZE" is a singlevaluelist without values`},
		{"services/P1.json", `has order 1, like attribute "SIZE"`},
		{"services/Z9.json", `definition of service "Z9", which services.json does not list`},
		{"articles/bad-yaml.md", "front matter"},
		{"articles/dup-2.md", `duplicate article id "same-id"`},
		{"articles/dup-1.md", `names service "P9"`},
		{"articles/empty.md", "the answer is empty"},
		{"articles/latin1.md", "not UTF-8"},
		{"city.yaml", `popular topic "no-such-topic"`},
	}
	for _, w := range want {
		found := false
		for _, p := range probs {
			if p.File == w.file && strings.Contains(p.Msg, w.msg) && !p.Warning {
				found = true
			}
		}
		if !found {
			t.Errorf("no error in %s saying %q; got:\n%v", w.file, w.msg, probs)
		}
	}
	// Problems say where: the duplicate service is on line 3.
	for _, p := range probs {
		if strings.Contains(p.Msg, "duplicate service_code") && p.Line != 3 {
			t.Errorf("duplicate service reported on line %d, want 3", p.Line)
		}
		if p.File == "articles/bad-yaml.md" && p.Line == 0 {
			t.Error("bad YAML reported without a line")
		}
	}
	warned := false
	for _, p := range probs {
		warned = warned || p.Warning && strings.Contains(p.Msg, `"informational"`)
	}
	if !warned {
		t.Error("an unknown datatype should be a warning")
	}
}

func TestMinimalPackIsValid(t *testing.T) {
	p, err := knowledge.Load(os.DirFS("testdata/minimal"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Articles) != 0 || len(p.Services) != 1 {
		t.Errorf("articles %d services %d", len(p.Articles), len(p.Services))
	}
	if s, ok := p.Service("001", "en"); !ok || s.Name != "Streetlight out" {
		t.Errorf("service 001 = %+v", s)
	}
	if len(p.Warnings) != 1 {
		t.Errorf("want one warning (metadata without definition), got %v", p.Warnings)
	}
	if g := p.City.Greeting.In("en"); g != "Hello from Tiny Town." {
		t.Errorf("greeting = %q", g)
	}
}

func TestOfficeHours(t *testing.T) {
	p, err := knowledge.Load(os.DirFS("testdata/minimal"))
	if err != nil {
		t.Fatal(err)
	}
	loc := p.City.Location()
	tests := []struct {
		at   time.Time
		open bool
		next time.Time
	}{
		{time.Date(2026, 12, 3, 10, 0, 0, 0, loc), true, time.Date(2026, 12, 3, 10, 0, 0, 0, loc)},
		{time.Date(2026, 12, 3, 18, 0, 0, 0, loc), false, time.Date(2026, 12, 4, 9, 0, 0, 0, loc)},
		{time.Date(2026, 12, 5, 12, 0, 0, 0, loc), false, time.Date(2026, 12, 7, 9, 0, 0, 0, loc)}, // Saturday
		{time.Date(2026, 12, 3, 17, 0, 0, 0, loc), false, time.Date(2026, 12, 4, 9, 0, 0, 0, loc)},
	}
	for _, tt := range tests {
		if got := p.City.IsOpen(tt.at); got != tt.open {
			t.Errorf("IsOpen(%v) = %v", tt.at, got)
		}
		if got, ok := p.City.NextOpen(tt.at); !ok || !got.Equal(tt.next) {
			t.Errorf("NextOpen(%v) = %v, want %v", tt.at, got, tt.next)
		}
	}
}

func TestSynonymsAcceptListsAndCommaStrings(t *testing.T) {
	got, err := knowledge.ParseSynonyms([]byte("en:\n  - [garbage, Trash, refuse]\n  - \"sidewalk, footpath\"\nfr:\n  - [ordures, déchets]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got["en"]) != 2 || got["en"][0][1] != "trash" || got["en"][1][1] != "footpath" || got["fr"][0][1] != "déchets" {
		t.Errorf("got %v", got)
	}
	if _, err := knowledge.ParseSynonyms([]byte("en:\n  - [lonely]\n")); err == nil {
		t.Error("a group of one is not a synonym")
	}
}
