package knowledge

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"

	"gopkg.in/yaml.v3"
)

// Lexicon is general knowledge of how residents talk about city services,
// true in every city: words that mean the same thing (merged with a pack's
// own synonyms.yaml) and words that point to what a city would call it
// ("dark" -> streetlight, "crater" -> pothole), which widen a search with
// a lower weight. It carries no city's ids: it improves understanding,
// never the answer to a particular sentence.
type Lexicon struct {
	Synonyms [][]string          `yaml:"synonyms"`
	Related  map[string][]string `yaml:"related"`
	// Broader maps a word to broader words for the same thing ("sofa" ->
	// furniture, "maple" -> tree): weaker than Related.
	Broader map[string][]string `yaml:"broader"`
	// Filler words carry little meaning in a 311 message ("today",
	// "corner", "week"): they count for less when judging a match.
	Filler []string `yaml:"filler"`
	// Generic words say what state something is in ("broken", "missing",
	// "leaking") rather than what it is; the thing named decides the
	// service, so they count for less.
	Generic []string `yaml:"generic"`
	// Unstemmed words keep their form, where the stemmer would join
	// different things: "parking" is not a "park", "missing" not "missed".
	Unstemmed []string `yaml:"unstemmed"`
}

//go:generate go run lexicon/wordnet_gen.go -dict /usr/share/wordnet -out lexicon/en.wordnet.yaml
//go:embed lexicon/*.yaml
var lexiconFS embed.FS

// BuiltinLexicon returns the lexicon for lang, merged from lexicon/<lang>.yaml
// and any lexicon/<lang>.*.yaml beside it (generated parts); ok is false
// when there is none for that language.
func BuiltinLexicon(lang string) (Lexicon, bool, error) {
	names, err := fs.Glob(lexiconFS, "lexicon/"+lang+".*yaml")
	if err != nil || len(names) == 0 {
		return Lexicon{}, false, err
	}
	lx := Lexicon{Related: map[string][]string{}, Broader: map[string][]string{}}
	for _, name := range names {
		if name != "lexicon/"+lang+".yaml" && !strings.HasPrefix(name, "lexicon/"+lang+".") {
			continue
		}
		data, err := lexiconFS.ReadFile(name)
		if err != nil {
			return Lexicon{}, false, err
		}
		var raw struct {
			Synonyms  yaml.Node           `yaml:"synonyms"`
			Related   map[string][]string `yaml:"related"`
			Broader   map[string][]string `yaml:"broader"`
			Filler    []string            `yaml:"filler"`
			Unstemmed []string            `yaml:"unstemmed"`
			Generic   []string            `yaml:"generic"`
		}
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return Lexicon{}, false, fmt.Errorf("%s: %w", name, err)
		}
		for k, v := range raw.Related {
			lx.Related[k] = append(lx.Related[k], v...)
		}
		for k, v := range raw.Broader {
			lx.Broader[k] = append(lx.Broader[k], v...)
		}
		lx.Filler = append(lx.Filler, raw.Filler...)
		lx.Unstemmed = append(lx.Unstemmed, raw.Unstemmed...)
		lx.Generic = append(lx.Generic, raw.Generic...)
		if raw.Synonyms.Kind == 0 {
			continue
		}
		var groups []any
		if err := raw.Synonyms.Decode(&groups); err != nil {
			return Lexicon{}, false, fmt.Errorf("%s: synonyms: %w", name, err)
		}
		syn, err := ParseSynonyms(mustYAML(map[string]any{lang: groups}))
		if err != nil {
			return Lexicon{}, false, fmt.Errorf("%s: %w", name, err)
		}
		lx.Synonyms = append(lx.Synonyms, syn[lang]...)
	}
	return lx, true, nil
}

func mustYAML(v any) []byte {
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return b
}
