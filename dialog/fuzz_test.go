package dialog_test

import (
	"math"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/locale"
)

// The datatype parsers read whatever residents type. Fuzzed, each must
// never panic, and what it returns must be usable: a finite number, a
// real time, choices among those offered, a place in valid UTF-8 with a
// point on Earth. Run one with
//
//	go test ./dialog -run '^$' -fuzz FuzzParseNumber -fuzztime 2m
//
// Inputs that once failed are kept in testdata/fuzz/.

func fuzzLang(f *testing.F) func(fr bool) *locale.Lang {
	_, _, cat := examplePack(f)
	return func(fr bool) *locale.Lang {
		if fr {
			return cat.Lang("fr")
		}
		return cat.Lang("en")
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"30", "2.5", "2,5", "about thirty", "twenty five", "a couple", "one hundred and five",
		"-4", "trente-deux", "une douzaine", "one million million million", "99999999999999999999999", ""} {
		f.Add(s, false)
		f.Add(s, true)
	}
	lang := fuzzLang(f)
	f.Fuzz(func(t *testing.T, text string, fr bool) {
		v, err := dialog.ParseNumber(lang(fr), text)
		if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("ParseNumber(%q) = %v: not a number a case can keep", text, v)
		}
	})
}

func FuzzParseYesNo(f *testing.F) {
	for _, s := range []string{"yes", "no", "yes please", "no thanks", "oh yes", "ouais", "non merci", "yes no", "", "y"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	lang := fuzzLang(f)
	f.Fuzz(func(t *testing.T, text string, fr bool) {
		if yes, ok := dialog.ParseYesNo(lang(fr), text); yes && !ok {
			t.Fatalf("ParseYesNo(%q) = yes without ok", text)
		}
	})
}

func FuzzParseChoice(f *testing.F) {
	values := []cases.Value{{Key: "GARBAGE", Name: "Garbage (black bin)"}, {Key: "RECYCLING", Name: "Recycling (blue bin)"},
		{Key: "ORGANICS", Name: "Green bin"}, {Key: "YARD", Name: "Yard waste or leaves"}}
	for _, s := range []string{"1", "2 and 3", "garbage, recycling", "all", "grean bin", "the blue one", "4 5 6", "tous", ""} {
		f.Add(s, false, true)
		f.Add(s, true, false)
	}
	lang := fuzzLang(f)
	f.Fuzz(func(t *testing.T, text string, fr, multi bool) {
		keys, err := dialog.ParseChoice(lang(fr), text, values, multi)
		if err != nil {
			return
		}
		if len(keys) == 0 || !multi && len(keys) != 1 {
			t.Fatalf("ParseChoice(%q, multi %v) = %q", text, multi, keys)
		}
		for _, k := range keys {
			if !slices.ContainsFunc(values, func(v cases.Value) bool { return v.Key == k }) {
				t.Fatalf("ParseChoice(%q) = %q: %q was not offered", text, keys, k)
			}
		}
	})
}

func FuzzParseDatetime(f *testing.F) {
	for _, s := range []string{"yesterday at 5pm", "this morning", "2026-12-03", "dec 3", "monday", "2 hours ago", "now",
		"hier à 17 h", "le 3 décembre", "3/12/2026", "25:99", "9999-99-99t99:99", "last week", ""} {
		f.Add(s, false)
		f.Add(s, true)
	}
	lang := fuzzLang(f)
	now := time.Date(2026, 12, 4, 14, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, text string, fr bool) {
		at, err := dialog.ParseDatetime(lang(fr), text, now)
		if err == nil && (at.IsZero() || at.Year() < 1000 || at.Year() > 9999) {
			t.Fatalf("ParseDatetime(%q) = %v", text, at)
		}
	})
}

func FuzzParsePlace(f *testing.F) {
	for _, s := range []string{"12 King St W", "Queen and Spadina", "in front of the Central Library", "43.6487, -79.3854",
		"12 rue King Ouest", "coin Main et King", "main/king", "on King St", "99.9999, 999.9999", "\xff\xfe 12 Main", ""} {
		f.Add(s, false, true)
		f.Add(s, true, false)
	}
	lang := fuzzLang(f)
	f.Fuzz(func(t *testing.T, text string, fr, whole bool) {
		p, ok := dialog.ParsePlace(lang(fr), text, whole)
		if !ok {
			return
		}
		if p.Address == "" || !utf8.ValidString(p.Address) || p.Kind == "" {
			t.Fatalf("ParsePlace(%q) = %+v", text, p)
		}
		if pt := p.Point; pt != nil && (math.IsNaN(pt.Lat) || math.IsNaN(pt.Long) || math.Abs(pt.Lat) > 90 || math.Abs(pt.Long) > 180) {
			t.Fatalf("ParsePlace(%q) = a point off the Earth: %+v", text, *pt)
		}
	})
}
