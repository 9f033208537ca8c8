package dialog

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog/locale"
)

// Place is where a problem is, as the resident said it.
type Place struct {
	Address string       // normalised: "12 King St W", "Queen St & Spadina Ave"
	Point   *cases.Point // when known
	Kind    string       // address, intersection, landmark, point
	words   []string     // the normalised words it was read from
	prep    string       // a landmark's preposition: "in front of"
}

var (
	latLongRE = regexp.MustCompile(`(-?\d{1,2}\.\d{2,})\s*[, ]\s*(-?\d{1,3}\.\d{2,})`)
	measureRE = regexp.MustCompile(`^(cm|mm|m|km|ft|feet|foot|inch|inches|in|metres?|meters?|centimet(re|er)s?|days?|hours?|weeks?|minutes?|mins?|am|pm|h|x|times|percent|kg|lbs?|pounds|bags?|items?|years?|months?|dollars?|people|cars?|trees?)$`)
)

// placeSeparators read "Main/King" and "Main @ King" as "Main & King".
var placeSeparators = strings.NewReplacer("/", " & ", "@", " & ")

// ParsePlace reads a reply to "where is it?". whole is true when the reply
// is only the place (so "Queen and Spadina" is enough); false when looking
// for a place inside a longer message.
func ParsePlace(l *locale.Lang, text string, whole bool) (Place, bool) {
	if m := latLongRE.FindStringSubmatch(text); m != nil {
		lat, err1 := strconv.ParseFloat(m[1], 64)
		long, err2 := strconv.ParseFloat(m[2], 64)
		if err1 == nil && err2 == nil && lat >= -90 && lat <= 90 && long >= -180 && long <= 180 {
			return Place{Address: m[1] + ", " + m[2], Point: &cases.Point{Lat: lat, Long: long}, Kind: "point"}, true
		}
	}
	// "Main/5th" and "Main @ 5th" are intersections, in any language.
	norm := Normalize(placeSeparators.Replace(text))
	words := spokenNumbers(l, strings.Fields(norm))
	if len(words) == 0 || (whole && l.IsOneOf("not_place", norm)) {
		return Place{}, false
	}
	if p, ok := streetAddress(l, words, whole); ok {
		return p, true
	}
	if p, ok := intersection(l, words, whole); ok {
		return p, true
	}
	if p, ok := landmark(l, words, whole); ok {
		return p, true
	}
	if whole {
		// "on King St", "sur la rue King": the street itself.
		rest := words
		for len(rest) > 1 && (l.IsOneOf("place_prepositions", rest[0]) || l.IsOneOf("small_words", rest[0])) {
			rest = rest[1:]
		}
		if len(rest) <= 5 && len(rest) > 1 && (hasStreetType(l, rest) || isStreetType(l, rest[0])) {
			return Place{Address: prettyStreet(l, rest), Kind: "address", words: rest}, true
		}
	}
	return Place{}, false
}

// spokenNumbers turns "twelve king street" into "12 king street" so a
// spoken address reads like a typed one.
func spokenNumbers(l *locale.Lang, words []string) []string {
	nums := l.WordMap("numbers")
	var out []string
	for i := 0; i < len(words); {
		if _, ok := nums[words[i]]; ok && words[i] != "a" && words[i] != "an" {
			j := i
			for j < len(words) {
				if _, ok := nums[words[j]]; ok {
					j++
					continue
				}
				if _, ok := l.WordMap("number_scale")[words[j]]; ok {
					j++
					continue
				}
				break
			}
			// A number before a street: "twelve King", "douze rue King"; but
			// "first avenue" is a name, not a house number.
			if j < len(words) && !(isStreetType(l, words[j]) && l.IsOneOf("ordinals", words[i])) {
				if v, ok := wordNumber(l, words[i:j]); ok && v >= 1 && v == float64(int(v)) {
					out = append(out, strconv.Itoa(int(v)))
					i = j
					continue
				}
			}
		}
		out = append(out, words[i])
		i++
	}
	return out
}

func isStreetType(l *locale.Lang, w string) bool {
	_, ok := l.WordMap("street_types")[w]
	return ok
}

func hasStreetType(l *locale.Lang, words []string) bool {
	for _, w := range words[1:] {
		if isStreetType(l, w) {
			return true
		}
	}
	return false
}

func isNumber(w string) bool {
	if w == "" {
		return false
	}
	n := 0
	for n < len(w) && w[n] >= '0' && w[n] <= '9' {
		n++
	}
	return n > 0 && len(w)-n <= 1
}

// streetAddress finds "12 king st w", "45 elm", "1200 block of main".
func streetAddress(l *locale.Lang, words []string, whole bool) (Place, bool) {
	for i, w := range words {
		if !isNumber(w) || i+1 >= len(words) {
			continue
		}
		rest := words[i+1:]
		if len(rest) > 2 && l.IsOneOf("block_of", rest[0]+" "+rest[1]) {
			rest = rest[2:]
		}
		if measureRE.MatchString(rest[0]) || l.IsOneOf("skip", rest[0]) {
			continue
		}
		// French (and some English) names put the type first: "12 rue King
		// Ouest". The name runs until a word that cannot be part of it.
		if isStreetType(l, rest[0]) && len(rest) > 1 {
			end := 1
			for end < len(rest) && end < 4 && !isNumber(rest[end]) && !l.IsOneOf("place_prepositions", rest[end]) &&
				!l.IsOneOf("small_words", rest[end]) && !l.IsOneOf("intersection", rest[end]) {
				end++
				if _, ok := l.WordMap("directions")[rest[end-1]]; ok {
					break
				}
			}
			if end > 1 {
				street := append([]string{w}, rest[:end]...)
				return Place{Address: prettyStreet(l, street), Kind: "address", words: street}, true
			}
		}
		// The street name runs to its type, and a direction after it.
		end := -1
		for j := 0; j < len(rest) && j < 4; j++ {
			if j > 0 && isStreetType(l, rest[j]) {
				end = j + 1
				if end < len(rest) {
					if _, ok := l.WordMap("directions")[rest[end]]; ok {
						end++
					}
				}
				break
			}
		}
		if end < 0 {
			// No type: accept "45 elm" only when the reply is just that, or
			// it follows a place word ("at 45 elm").
			cue := i > 0 && l.IsOneOf("address_cues", words[i-1])
			if !(whole && len(rest) <= 3) && !cue {
				continue
			}
			end = min(len(rest), 2)
			if !whole {
				end = 1
			}
			for k := 0; k < end; k++ {
				if l.IsOneOf("place_prepositions", rest[k]) || l.IsOneOf("intersection", rest[k]) {
					end = k
					break
				}
			}
			if end == 0 {
				continue
			}
		}
		street := append([]string{w}, rest[:end]...)
		return Place{Address: prettyStreet(l, street), Kind: "address", words: street}, true
	}
	return Place{}, false
}

// intersection finds "queen and spadina", "corner of main & 2nd", "main/5th".
func intersection(l *locale.Lang, words []string, whole bool) (Place, bool) {
	joins := l.WordMap("intersection")
	for i := 1; i < len(words)-1; i++ {
		if _, ok := joins[words[i]]; !ok {
			continue
		}
		// The two streets: up to three words each, stopping at prepositions.
		left := streetWords(l, words[:i], true)
		right := streetWords(l, words[i+1:], false)
		if len(left) == 0 || len(right) == 0 {
			continue
		}
		cue := false
		start := i - len(left)
		if start > 0 {
			prev := strings.Join(words[max(0, start-2):start], " ")
			cue = l.IsOneOf("intersection_cues", words[start-1])
			for _, c := range l.Phrases("intersection_cues") {
				if strings.HasSuffix(prev, c) {
					cue = true
				}
			}
		}
		// Inside a longer message, "&" and "and" join many things that are
		// not streets: one side must be a street by its type, or the words
		// say "corner of".
		strong := start > 1 && l.IsOneOf("intersection_cues", strings.Join(words[start-2:start], " ")) ||
			cue && len(left) <= 2 && len(right) <= 2 && !slices.ContainsFunc(append(slices.Clone(left), right...), func(w string) bool {
				return l.IsOneOf("small_words", w)
			})
		if !whole && !strong && !hasStreetType(l, append([]string{""}, append(left, right...)...)) {
			continue
		}
		if whole && !cue && (len(left)+len(right) > 6) {
			continue
		}
		return Place{Address: prettyStreet(l, left) + " & " + prettyStreet(l, right), Kind: "intersection",
			words: words[i-len(left) : i+1+len(right)]}, true
	}
	return Place{}, false
}

func streetWords(l *locale.Lang, words []string, fromEnd bool) []string {
	var out []string
	for k := 0; k < len(words) && k < 3; k++ {
		idx := k
		if fromEnd {
			idx = len(words) - 1 - k
		}
		w := words[idx]
		if l.IsOneOf("place_prepositions", w) || l.IsOneOf("small_words", w) || l.IsOneOf("intersection", w) || isNumber(w) && !isOrdinal(w) {
			break
		}
		if fromEnd {
			out = append([]string{w}, out...)
		} else {
			out = append(out, w)
			if isStreetType(l, w) && k > 0 {
				if k+1 < len(words) {
					if _, ok := l.WordMap("directions")[words[idx+1]]; ok {
						out = append(out, words[idx+1])
					}
				}
				break
			}
		}
	}
	return out
}

func isOrdinal(w string) bool {
	digits := strings.TrimRight(w, "stndrhemè")
	if digits == "" || digits == w || !isNumber(digits) {
		return false
	}
	suffix := w[len(digits):]
	switch suffix {
	case "st", "nd", "rd", "th", "e", "eme", "er", "re":
		return true
	}
	return false
}

// landmark finds "in front of the central library", "near the arena on main".
func landmark(l *locale.Lang, words []string, whole bool) (Place, bool) {
	text := " " + strings.Join(words, " ") + " "
	for _, p := range l.Phrases("place_words") {
		i := strings.Index(text, " "+p+" ")
		if i < 0 {
			continue
		}
		// Start at the preposition before the place word, when there is one.
		before := strings.Fields(text[:i])
		start := len(before)
		// The longest preposition wins: "in front of", not "of".
	search:
		for k := max(0, len(before)-6); k < len(before); k++ {
			for n := min(3, len(before)-k); n >= 1; n-- {
				if l.IsOneOf("place_prepositions", strings.Join(before[k:k+n], " ")) {
					start = k
					break search
				}
			}
		}
		// In a longer message a landmark is left to the gazetteer, which
		// knows the city's named places: "in front of my building" says
		// nothing a crew could find.
		if !whole {
			return Place{}, false
		}
		if start == len(before) {
			start = max(0, len(before)-3)
		}
		after := strings.Fields(text[i+len(p)+1:])
		// Keep "on main street" after the place word.
		tail := 0
		// In French the name follows the place word ("le parc Riverside"):
		// in a reply that is only the place, keep up to two such words.
		if whole {
			for tail < len(after) && tail < 2 && !l.IsOneOf("place_prepositions", after[tail]) &&
				!l.IsOneOf("small_words", after[tail]) && !isNumber(after[tail]) {
				tail++
			}
		}
		if tail == 0 && len(after) >= 2 && l.IsOneOf("address_cues", after[0]) {
			tail = min(len(after), 4)
			for k := 1; k < tail; k++ {
				if isStreetType(l, after[k]) {
					tail = k + 1
					break
				}
			}
		}
		prep := 0
		for n := 3; n >= 1; n-- {
			if start+n <= len(before) && l.IsOneOf("place_prepositions", strings.Join(before[start:start+n], " ")) {
				prep = n
				break
			}
		}
		phrase := append(append(slices.Clone(before[start:]), strings.Fields(p)...), after[:tail]...)
		return Place{Address: titleWords(phrase, prep), Kind: "landmark", words: phrase,
			prep: strings.Join(phrase[:prep], " ")}, true
	}
	return Place{}, false
}

// prettyStreet writes a street as the resident said it, capitalised the
// way addresses are: "12 king st w" is "12 King St W", "2 cove road" is
// "2 Cove Road". (The gazetteer, when there is one, gives the city's own
// name instead.)
func prettyStreet(l *locale.Lang, words []string) string {
	types := l.WordMap("street_types")
	out := make([]string, len(words))
	for i, w := range words {
		switch {
		case i > 0 && types[w] != "" && strings.ToLower(types[w]) == types[w]:
			out[i] = w // a type the language writes in lower case: "rue"
		case len(w) == 1:
			out[i] = strings.ToUpper(w)
		default:
			out[i] = title(w)
		}
	}
	return strings.Join(out, " ")
}

// titleWords capitalises a landmark's name, leaving its leading
// preposition (the first skip words) and small words in lower case.
func titleWords(words []string, skip int) string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w
		if i >= skip && (len(w) > 3 || i == len(words)-1) {
			out[i] = title(w)
		}
	}
	return strings.Join(out, " ")
}

func title(w string) string {
	if w == "" {
		return w
	}
	if isOrdinal(w) {
		return w
	}
	// By rune: a word may start with a letter of more than one byte
	// ("łąkowa"); cutting it would put invalid UTF-8 in the address.
	r, size := utf8.DecodeRuneInString(w)
	return string(unicode.ToUpper(r)) + w[size:]
}
