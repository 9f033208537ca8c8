package locale

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"

	"regexp/syntax"
	"strings"
	"testing"
	"unicode"
)

// The prefilter must never rule out a text its pattern matches. Every
// intent pattern of every built-in language is checked against texts
// generated from the pattern itself (random walks of its syntax tree,
// with words around them) and against the labelled routing messages.
func TestPrefilterNeverMissesAMatch(t *testing.T) {
	corpus := routingCorpus(t)
	rng := rand.New(rand.NewPCG(1, 2))
	patterns, filtered, checked := 0, 0, 0
	for _, code := range []string{"en", "fr"} {
		l, err := load(code)
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range l.Intents {
			for i, re := range p.res {
				patterns++
				pre := p.pre[i]
				if pre == nil {
					continue
				}
				filtered++
				parsed, err := syntax.Parse(re.String(), syntax.Perl)
				if err != nil {
					t.Fatal(err)
				}
				parsed = parsed.Simplify()
				texts := corpus
				for range 300 {
					texts = append(texts, "i think "+generate(rng, parsed)+" right now", generate(rng, parsed))
				}
				for _, s := range texts {
					if re.MatchString(s) {
						checked++
						if !pre.mayMatch(s) {
							t.Errorf("%s intent %s pattern %d: prefilter %q rules out %q, which matches %s", code, name, i, pre, s, re)
						}
						if !p.may(p.candidates(s), i, s) {
							t.Errorf("%s intent %s pattern %d: the literal index rules out %q, which matches %s", code, name, i, s, re)
						}
					}
				}
			}
		}
	}
	t.Logf("%d patterns, %d with a prefilter; %d matching texts checked", patterns, filtered, checked)
	if filtered < patterns/2 {
		t.Errorf("only %d of %d patterns have a prefilter", filtered, patterns)
	}
}

// The literal index finds exactly the prefilters a text satisfies.
func TestLiteralIndexIsTheLiterals(t *testing.T) {
	corpus := routingCorpus(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = "abcdefghijklmnopqrstuvwxyz  eeaaiio"[rng.IntN(35)]
		}
		corpus = append(corpus, string(b))
	}
	for _, code := range []string{"en", "fr"} {
		l, err := load(code)
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range l.Intents {
			if p.ix == nil {
				t.Errorf("%s %s: no literal index", code, name)
				continue
			}
			for _, s := range corpus {
				got := p.ix.scan(s) | p.always
				var want uint64
				for i, pre := range p.pre {
					if pre.mayMatch(s) {
						want |= 1 << i
					}
				}
				if got != want {
					t.Errorf("%s %s: index of %q = %b, literals say %b", code, name, s, got, want)
				}
			}
		}
	}
}

// Patterns.Match, Find and Remove give what the bare expressions give.
func TestPatternsUnchangedByPrefilter(t *testing.T) {
	corpus := routingCorpus(t)
	for _, code := range []string{"en", "fr"} {
		l, err := load(code)
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range l.Intents {
			bare := &Patterns{res: p.res, pre: make([]prefilter, len(p.res))}
			for _, s := range corpus {
				if got, want := p.Match(s), bare.Match(s); got != want {
					t.Errorf("%s %s Match(%q) = %v, want %v", code, name, s, got, want)
				}
				if got, want := p.Find(s), bare.Find(s); got != want {
					t.Errorf("%s %s Find(%q) = %q, want %q", code, name, s, got, want)
				}
				if got, want := p.Remove(s), bare.Remove(s); got != want {
					t.Errorf("%s %s Remove(%q) = %q, want %q", code, name, s, got, want)
				}
			}
		}
	}
}

func TestPrefilterOfSimplePatterns(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`(?:^|\b)(?:gas (leak|smell))(?:\b|$)`, []string{"gas "}},
		{`(?:^|\b)(?:on fire|catch(ing|es)? fire)(?:\b|$)`, []string{"catch", "on fire"}},
		{`(?:^|\b)(?:^emergency$)(?:\b|$)`, []string{"emergency"}},
		{`(?:^|\b)(?:(\w+ )?fire)(?:\b|$)`, []string{"fire"}},
		{`(?:^|\b)(?:.*)(?:\b|$)`, nil},
		{`(?:^|\b)(?:a|b)(?:\b|$)`, nil}, // one letter: not worth it
		{`(?i)help`, nil},
	} {
		got := newPrefilter(c.expr)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("newPrefilter(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

// FuzzPrefilter: for any text, a pattern that matches is never ruled out.
func FuzzPrefilter(f *testing.F) {
	for _, s := range []string{"there is a house fire", "gas leak on main", "smells like rotten eggs", "cant breathe"} {
		f.Add(s)
	}
	var all []*Patterns
	for _, code := range []string{"en", "fr"} {
		l, err := load(code)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range l.Intents {
			all = append(all, p)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range all {
			set := p.candidates(s)
			for i, re := range p.res {
				if re.MatchString(s) && (!p.pre[i].mayMatch(s) || !p.may(set, i, s)) {
					t.Fatalf("prefilter %q rules out %q, which matches %s", p.pre[i], s, re)
				}
			}
			bare := &Patterns{res: p.res, pre: make([]prefilter, len(p.res))}
			if got, want := p.Remove(s), bare.Remove(s); got != want {
				t.Fatalf("Remove(%q) = %q, want %q", s, got, want)
			}
		}
	})
}

// routingCorpus is the labelled routing messages, normalised as the
// router does (lower case, no accents, punctuation as spaces).
func routingCorpus(t testing.TB) []string {
	var out []string
	for _, name := range []string{"examplecity.jsonl", "examplecity.fr.jsonl", "harbourview.jsonl", "us-metro.jsonl"} {
		f, err := os.Open("../../testdata/routing/" + name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m struct{ Text string }
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Text != "" {
				out = append(out, normalize(m.Text))
			}
		}
		f.Close()
	}
	return out
}

// normalize is a stand-in for dialog.Normalize (which this package cannot
// import): lower case, accents off, apostrophes dropped, other
// punctuation as single spaces.
func normalize(s string) string {
	fold := strings.NewReplacer("à", "a", "â", "a", "ä", "a", "ç", "c", "é", "e", "è", "e", "ê", "e", "ë", "e",
		"î", "i", "ï", "i", "ô", "o", "ö", "o", "ù", "u", "û", "u", "ü", "u", "'", "", "’", "")
	s = fold.Replace(strings.ToLower(s))
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '#' && r != '&'
	}), " ")
}

// generate returns a random string the expression may match (empty-width
// assertions are not enforced; the caller checks with the expression).
func generate(rng *rand.Rand, re *syntax.Regexp) string {
	var b strings.Builder
	var walk func(re *syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		switch re.Op {
		case syntax.OpLiteral:
			b.WriteString(string(re.Rune))
		case syntax.OpCharClass:
			if len(re.Rune) == 0 {
				return
			}
			i := rng.IntN(len(re.Rune)/2) * 2
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi-lo > 30 {
				hi = lo + 30
			}
			b.WriteRune(lo + rune(rng.IntN(int(hi-lo)+1)))
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteByte("abc xyz"[rng.IntN(7)])
		case syntax.OpCapture:
			walk(re.Sub[0])
		case syntax.OpStar, syntax.OpQuest:
			n := rng.IntN(2)
			if re.Op == syntax.OpStar {
				n = rng.IntN(3)
			}
			for range n {
				walk(re.Sub[0])
			}
		case syntax.OpPlus:
			for range 1 + rng.IntN(2) {
				walk(re.Sub[0])
			}
		case syntax.OpRepeat:
			max := re.Max
			if max < 0 {
				max = re.Min + 2
			}
			for range re.Min + rng.IntN(max-re.Min+1) {
				walk(re.Sub[0])
			}
		case syntax.OpConcat:
			for _, s := range re.Sub {
				walk(s)
			}
		case syntax.OpAlternate:
			walk(re.Sub[rng.IntN(len(re.Sub))])
		}
	}
	walk(re)
	return b.String()
}
