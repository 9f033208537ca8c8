package locale

import (
	"slices"
	"strings"
)

// WordMap returns the "word=value" list named name as a map; entries
// without "=" map to themselves.
func (l *Lang) WordMap(name string) map[string]string {
	return l.wordMaps[name]
}

func buildWordMap(list []string) map[string]string {
	m := map[string]string{}
	for _, e := range list {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			v = k
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m
}

// Phrases returns the keys of list name, longest first, so that matching
// in order finds "a couple" before "a".
func (l *Lang) Phrases(name string) []string {
	return l.phrases[name]
}

func buildPhrases(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b string) int {
		if d := len(strings.Fields(b)) - len(strings.Fields(a)); d != 0 {
			return d
		}
		if d := len(b) - len(a); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// IsOneOf reports whether norm is exactly one of the phrases of list name.
func (l *Lang) IsOneOf(name, norm string) bool {
	_, ok := l.WordMap(name)[norm]
	return ok
}

// HasPhrase reports whether norm contains a phrase of list name as whole words.
func (l *Lang) HasPhrase(name, norm string) bool {
	padded := " " + norm + " "
	for k := range l.WordMap(name) {
		if strings.Contains(padded, " "+k+" ") {
			return true
		}
	}
	return false
}

// Expand replaces each word of norm found in the "k=v" list name by its
// value: text-speak ("u", "pls") read as the words it stands for.
func (l *Lang) Expand(name, norm string) string {
	m := l.WordMap(name)
	if len(m) == 0 {
		return norm
	}
	words := strings.Fields(norm)
	changed := false
	for i, w := range words {
		if v, ok := m[w]; ok {
			words[i] = v
			changed = true
		}
	}
	if !changed {
		return norm
	}
	return strings.Join(words, " ")
}
