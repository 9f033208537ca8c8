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
// text (lower case, no accents, punctuation turned to spaces).
type Patterns struct {
	res []*regexp.Regexp
}

// Match reports whether any pattern matches.
func (p *Patterns) Match(norm string) bool {
	if p == nil {
		return false
	}
	for _, re := range p.res {
		if re.MatchString(norm) {
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
	for _, re := range p.res {
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
	for _, re := range p.res {
		norm = re.ReplaceAllString(norm, " ")
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
			re, err := regexp.Compile(`(?:^|\b)(?:` + s + `)(?:\b|$)`)
			if err != nil {
				return nil, fmt.Errorf("locale %s: intent %s: %w", code, name, err)
			}
			p.res = append(p.res, re)
		}
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

// Fill replaces {name} placeholders with values given as name, value pairs.
func Fill(msg string, vars ...string) string {
	if len(vars) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	pairs := make([]string, 0, len(vars))
	for i := 0; i+1 < len(vars); i += 2 {
		pairs = append(pairs, "{"+vars[i]+"}", vars[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

// Intent returns the patterns of an intent ("emergency", "handoff", ...).
func (l *Lang) Intent(name string) *Patterns { return l.Intents[name] }
