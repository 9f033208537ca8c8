package dialog

import (
	"context"
	"slices"

	"github.com/cityline/cityline/cases"
)

// choiceByMeaning reads a reply to a list question the way the router
// reads a message: with the search index's analysis, where the lexicon
// says what words point to. "drywall" shares no word with "Construction
// or renovation waste", nor "an old couch" with "Furniture", but the
// lexicon links them.
//
// It only adds to what ParseChoice understood by the words themselves:
// for a single choice, an answer when there was none; for several, each
// part of the list ("tires, some reno junk") that named nothing. A part
// counts only when one value clearly matches it best.
func (t *turn) choiceByMeaning(ctx context.Context, a cases.Attribute, text string, keys []string, err error) ([]string, error) {
	multi := a.Datatype == cases.MultiValueList
	if !multi && err == nil {
		return keys, nil
	}
	parts := []string{text}
	if multi {
		parts = splitList(t.l, text)
	}
	if multi && err == nil {
		// Only the parts that named nothing by their own words.
		parts = slices.DeleteFunc(parts, func(part string) bool {
			k, perr := ParseChoice(t.l, part, a.Values, false)
			return perr == nil && len(k) > 0
		})
	}
	if len(parts) == 0 {
		return keys, err
	}
	names := make([][]string, len(a.Values))
	for i, v := range a.Values {
		res, serr := t.e.router.search.Search(ctx, v.Name, t.lang, 1)
		if serr != nil {
			return keys, err
		}
		names[i] = res.Terms
	}
	found := slices.Clone(keys)
	for _, part := range parts {
		res, serr := t.e.router.search.Search(ctx, part, t.lang, 1)
		if serr != nil {
			return keys, err
		}
		if k := bestByMeaning(res.Terms, res.Related, names, a.Values); k != "" && !slices.Contains(found, k) {
			found = append(found, k)
		}
	}
	if len(found) == len(keys) {
		return keys, err
	}
	if !multi && len(found) != 1 {
		return keys, err
	}
	return found, nil
}

// bestByMeaning is the value whose name's terms the reply's terms and
// related terms cover most, counting a term the reply says itself twice
// a term the lexicon only relates to it; "" when none or a tie.
func bestByMeaning(terms, related []string, names [][]string, values []cases.Value) string {
	best, bestScore, tie := "", 0, false
	for i, name := range names {
		score := 0
		for _, n := range name {
			switch {
			case slices.Contains(terms, n):
				score += 2
			case slices.Contains(related, n):
				score++
			}
		}
		switch {
		case score > bestScore:
			best, bestScore, tie = values[i].Key, score, false
		case score == bestScore && score > 0:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}
