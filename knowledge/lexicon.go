package knowledge

import (
	"embed"
	"fmt"

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
	// Filler words carry little meaning in a 311 message ("today",
	// "corner", "week"): they count for less when judging a match.
	Filler []string `yaml:"filler"`
}

//go:embed lexicon/*.yaml
var lexiconFS embed.FS

// BuiltinLexicon returns the lexicon for lang; ok is false when there is
// none for that language.
func BuiltinLexicon(lang string) (Lexicon, bool, error) {
	data, err := lexiconFS.ReadFile("lexicon/" + lang + ".yaml")
	if err != nil {
		return Lexicon{}, false, nil
	}
	var raw struct {
		Synonyms yaml.Node           `yaml:"synonyms"`
		Related  map[string][]string `yaml:"related"`
		Filler   []string            `yaml:"filler"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return Lexicon{}, false, fmt.Errorf("lexicon %s: %w", lang, err)
	}
	var lx Lexicon
	lx.Related = raw.Related
	lx.Filler = raw.Filler
	var groups []any
	if err := raw.Synonyms.Decode(&groups); err != nil {
		return Lexicon{}, false, fmt.Errorf("lexicon %s: synonyms: %w", lang, err)
	}
	syn, err := ParseSynonyms(mustYAML(map[string]any{lang: groups}))
	if err != nil {
		return Lexicon{}, false, fmt.Errorf("lexicon %s: %w", lang, err)
	}
	lx.Synonyms = syn[lang]
	return lx, true, nil
}

func mustYAML(v any) []byte {
	b, err := yaml.Marshal(v)
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return b
}
