package index

import (
	"slices"
	"strings"
)

// phrases maps sequences of terms to replacement terms, matching the
// longest phrase first: "street light" and "lamp post" both become
// "streetlight", whether written in a document or by a resident.
type phrases struct {
	m      map[string][]string // joined phrase -> terms
	maxLen int
	merge  bool // a phrase added twice keeps both meanings (else the first)
}

func newPhrases() *phrases { return &phrases{m: map[string][]string{}} }

func (p *phrases) add(phrase, to []string) {
	key := strings.Join(phrase, " ")
	if prev, ok := p.m[key]; ok {
		if !p.merge {
			return // a synonym keeps its first meaning: the pack's own wins
		}
		// Two entries analysed alike ("weeds", "weed"): both meanings count.
		for _, t := range to {
			if !slices.Contains(prev, t) {
				prev = append(prev, t)
			}
		}
		p.m[key] = prev
		return
	}
	p.m[key] = to
	p.maxLen = max(p.maxLen, len(phrase))
}

// match finds the longest phrase starting at terms[i].
func (p *phrases) match(terms []string, i int) (to []string, n int) {
	for n := min(p.maxLen, len(terms)-i); n >= 1; n-- {
		var key string
		if n == 1 {
			key = terms[i]
		} else {
			key = strings.Join(terms[i:i+n], " ")
		}
		if to, ok := p.m[key]; ok {
			return to, n
		}
	}
	return nil, 0
}

// replace rewrites terms, phrase by phrase.
func (p *phrases) replace(terms []string) []string {
	if len(p.m) == 0 {
		return terms
	}
	out := make([]string, 0, len(terms))
	for i := 0; i < len(terms); {
		if to, n := p.match(terms, i); n > 0 {
			out = append(out, to...)
			i += n
			continue
		}
		out = append(out, terms[i])
		i++
	}
	return out
}
