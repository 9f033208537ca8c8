// Package locale holds everything the assistant says and recognises in
// each language: the message catalogue (prompts, replies, hints) and the
// phrases that reveal an intent (an emergency, a wish for a person, a
// status check, a greeting). Dialog and channel code look words up here
// by key and never write a resident-facing sentence themselves; a content
// pack may override any message in messages/<lang>.yaml.
package locale

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed *.yaml
var builtin embed.FS

// Catalog is the wording and intent phrases of every language.
type Catalog struct {
	langs map[string]*Lang
	def   string
}

// Lang is one language's wording and phrases.
type Lang struct {
	Code     string
	Messages map[string]string
	Intents  map[string]*Patterns
	// Words are small vocabularies the parsers need (numbers, weekdays,
	// yes and no), each a list of "word=value" or plain words.
	Words map[string][]string

	wordMaps map[string]map[string]string
	phrases  map[string][]string
}

// Patterns is a list of regular expressions matched against normalised
// text (lower case, no accents, punctuation turned to spaces). Each has a
// prefilter (prefilter.go): the words one of which any match contains.
// One pass over a text finds which prefilters it satisfies, and only
// those patterns run.
type Patterns struct {
	res    []*regexp.Regexp
	pre    []prefilter
	ix     *literalIndex // nil: each prefilter is checked on its own
	always uint64        // the patterns without a prefilter
}

// add compiles a pattern, matched on word boundaries.
func (p *Patterns) add(s string) error {
	expr := `(?:^|\b)(?:` + s + `)(?:\b|$)`
	re, err := regexp.Compile(expr)
	if err != nil {
		return err
	}
	p.res = append(p.res, re)
	p.pre = append(p.pre, newPrefilter(expr))
	p.ix = nil
	return nil
}

// index builds the literal index once every pattern is added.
func (p *Patterns) index() {
	p.ix = newLiteralIndex(p.pre)
	p.always = 0
	for i, pre := range p.pre {
		if pre == nil && i < 64 {
			p.always |= 1 << i
		}
	}
}

// candidates is the set of the first 64 patterns (bit i for pattern i)
// that may match s.
func (p *Patterns) candidates(s string) uint64 {
	if p.ix != nil {
		return p.ix.scan(s) | p.always
	}
	var set uint64
	for i := range min(len(p.pre), 64) {
		if p.pre[i].mayMatch(s) {
			set |= 1 << i
		}
	}
	return set
}

// may reports whether pattern i may match s, of which set are the
// candidates.
func (p *Patterns) may(set uint64, i int, s string) bool {
	if i < 64 {
		return set&(1<<i) != 0
	}
	return p.pre[i].mayMatch(s)
}

// Match reports whether any pattern matches.
func (p *Patterns) Match(norm string) bool {
	if p == nil {
		return false
	}
	set := p.candidates(norm)
	for i, re := range p.res {
		if p.may(set, i, norm) && re.MatchString(norm) {
			return true
		}
	}
	return false
}

// Find returns the first match of any pattern.
func (p *Patterns) Find(norm string) string {
	if p == nil {
		return ""
	}
	set := p.candidates(norm)
	for i, re := range p.res {
		if !p.may(set, i, norm) {
			continue
		}
		if m := re.FindString(norm); m != "" {
			return m
		}
	}
	return ""
}

// Remove deletes every match from norm.
func (p *Patterns) Remove(norm string) string {
	if p == nil {
		return norm
	}
	set := p.candidates(norm)
	for i, re := range p.res {
		if p.may(set, i, norm) {
			if out := re.ReplaceAllString(norm, " "); out != norm {
				norm = out
				set = p.candidates(norm) // the text changed: so may what matches
			}
		}
	}
	return norm
}

type file struct {
	Messages map[string]string   `yaml:"messages"`
	Intents  map[string][]string `yaml:"intents"`
	Words    map[string][]string `yaml:"words"`
}

// New loads the built-in catalogues for langs (the first is the default)
// and applies a pack's overrides (language -> key -> text). A language
// without a built-in catalogue falls back to English wording.
func New(langs []string, overrides map[string]map[string]string) (*Catalog, error) {
	if len(langs) == 0 {
		langs = []string{"en"}
	}
	c := &Catalog{langs: map[string]*Lang{}, def: langs[0]}
	base, err := load("en")
	if err != nil {
		return nil, err
	}
	for _, code := range append([]string{"en"}, langs...) {
		if _, done := c.langs[code]; done {
			continue
		}
		l := base
		if code != "en" {
			l, err = load(code)
			if err != nil {
				return nil, err
			}
			if l == nil {
				l = base
			}
			// A language still being translated borrows what it lacks.
			if len(l.Intents) == 0 {
				l.Intents = base.Intents
			}
			if len(l.Words) == 0 {
				l.Words, l.wordMaps, l.phrases = base.Words, base.wordMaps, base.phrases
			}
		}
		l = l.clone(code)
		for k, v := range overrides[code] {
			l.Messages[k] = v
		}
		c.langs[code] = l
	}
	return c, nil
}

// load reads <code>.yaml and any <code>.<part>.yaml beside it (each part
// of the product keeps its wording in its own file: en.admin.yaml ...).
func load(code string) (*Lang, error) {
	names, err := fs.Glob(builtin, code+".*yaml")
	if err != nil || len(names) == 0 {
		return nil, err
	}
	var f file
	for _, name := range names {
		if name != code+".yaml" && !strings.HasPrefix(name, code+".") {
			continue
		}
		data, err := builtin.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var part file
		if err := yaml.Unmarshal(data, &part); err != nil {
			return nil, fmt.Errorf("locale %s: %w", name, err)
		}
		f.merge(part, name)
	}
	l := &Lang{Code: code, Messages: f.Messages, Intents: map[string]*Patterns{}, Words: f.Words,
		wordMaps: map[string]map[string]string{}, phrases: map[string][]string{}}
	for name, list := range f.Words {
		l.wordMaps[name] = buildWordMap(list)
		l.phrases[name] = buildPhrases(l.wordMaps[name])
	}
	for name, list := range f.Intents {
		p := &Patterns{}
		for _, s := range list {
			if err := p.add(s); err != nil {
				return nil, fmt.Errorf("locale %s: intent %s: %w", code, name, err)
			}
		}
		p.index()
		l.Intents[name] = p
	}
	return l, nil
}

// merge adds a part's entries; a key defined twice keeps the first.
func (f *file) merge(p file, name string) {
	if f.Messages == nil {
		f.Messages, f.Intents, f.Words = map[string]string{}, map[string][]string{}, map[string][]string{}
	}
	for k, v := range p.Messages {
		if _, ok := f.Messages[k]; !ok {
			f.Messages[k] = v
		}
	}
	for k, v := range p.Intents {
		f.Intents[k] = append(f.Intents[k], v...)
	}
	for k, v := range p.Words {
		f.Words[k] = append(f.Words[k], v...)
	}
}

func (l *Lang) clone(code string) *Lang {
	out := &Lang{Code: code, Messages: map[string]string{}, Intents: l.Intents, Words: l.Words,
		wordMaps: l.wordMaps, phrases: l.phrases}
	for k, v := range l.Messages {
		out.Messages[k] = v
	}
	return out
}

// Default is the pack's first language.
func (c *Catalog) Default() string { return c.def }

// Languages lists the catalogue's languages, default first.
func (c *Catalog) Languages() []string {
	out := []string{c.def}
	for k := range c.langs {
		if k != c.def {
			out = append(out, k)
		}
	}
	slices.Sort(out[1:])
	return out
}

// Lang returns the language, or the default one.
func (c *Catalog) Lang(code string) *Lang {
	if l, ok := c.langs[code]; ok {
		return l
	}
	return c.langs[c.def]
}

// Has reports whether the catalogue serves code.
func (c *Catalog) Has(code string) bool {
	_, ok := c.langs[code]
	return ok
}

// T returns message key in lang with {name} placeholders filled from
// vars (name, value pairs). A missing key returns the key itself, which a
// test catches, rather than an empty reply.
func (c *Catalog) T(lang, key string, vars ...string) string {
	l := c.Lang(lang)
	msg, ok := l.Messages[key]
	if !ok {
		if msg, ok = c.langs["en"].Messages[key]; !ok {
			return key
		}
	}
	return Fill(msg, vars...)
}

// Fill replaces {name} placeholders with values given as name, value
// pairs, in one pass from the left; when a name is given twice the first
// value counts. (It is what strings.NewReplacer would do with the pairs,
// without building a replacer for every message.)
func Fill(msg string, vars ...string) string {
	if len(vars) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	var b strings.Builder
	b.Grow(len(msg) + 32)
	for {
		i := strings.IndexByte(msg, '{')
		if i < 0 {
			break
		}
		b.WriteString(msg[:i])
		msg = msg[i:]
		found := false
		for j := 0; j+1 < len(vars); j += 2 {
			name := vars[j]
			if len(msg) >= len(name)+2 && msg[len(name)+1] == '}' && msg[1:len(name)+1] == name {
				b.WriteString(vars[j+1])
				msg = msg[len(name)+2:]
				found = true
				break
			}
		}
		if !found {
			b.WriteByte('{')
			msg = msg[1:]
		}
	}
	b.WriteString(msg)
	return b.String()
}

// Intent returns the patterns of an intent ("emergency", "handoff", ...).
func (l *Lang) Intent(name string) *Patterns { return l.Intents[name] }
