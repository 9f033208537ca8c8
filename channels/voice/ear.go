package voice

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cityline/cityline/dialog"
)

// Writing for the ear: what reads well on a screen is rewritten to be
// heard. Each line becomes a sentence; links are left out (with one
// mention of the website); reference numbers are spelled out ("E X, 0 0 4
// 2 1 1") so a caller can write them down; "St" and "W" after a street
// name become "Street" and "West"; "07:00-20:00" becomes "07:00 to 20:00".

var (
	urlRE       = regexp.MustCompile(`(?i)\b(?:https?://|www\.)\S+`)
	timeRangeRE = regexp.MustCompile(`\b(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\b`)
	wordRE      = regexp.MustCompile(`\pL+`)
)

// spoken is a reply as said: its paragraphs, and the menu of choices.
func (h *Handler) spoken(r dialog.Reply, lang string) ([]string, string) {
	var paras []string
	for _, m := range r.Messages {
		if t := h.forEar(lang, m.Text); t != "" {
			paras = append(paras, t)
		}
	}
	return paras, h.menu(r.Choices, lang)
}

// menu reads the choices as keypad options: "Press 1 for ..., press 2 for
// ...". A yes-or-no question gets "Say yes or press 1 ...".
func (h *Handler) menu(choices []dialog.Choice, lang string) string {
	if len(choices) == 0 {
		return ""
	}
	if len(choices) == 2 && choices[0].ID == "yes" && choices[1].ID == "no" {
		return h.eng.Say(lang, "voice_yes_no")
	}
	var items []string
	for i, c := range choices[:min(len(choices), 9)] {
		label := strings.TrimRight(h.forEar(lang, c.Label), ".")
		items = append(items, h.eng.Say(lang, "voice_choice", "n", strconv.Itoa(i+1), "label", label))
	}
	return capitalize(strings.Join(items, ", ") + ".")
}

// forEar rewrites text to be spoken.
func (h *Handler) forEar(lang, text string) string {
	link := false
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if urlRE.MatchString(line) {
			link = true
			line = urlRE.ReplaceAllString(line, "")
			// What is left of "More: <link>" says nothing.
			if rest := strings.TrimRight(strings.TrimSpace(line), ":"); len(strings.Fields(rest)) <= 1 {
				continue
			}
		}
		line = strings.TrimSpace(strings.Trim(strings.TrimSpace(line), "*•#-"))
		if line == "" {
			continue
		}
		line = h.spellRefs(line)
		line = timeRangeRE.ReplaceAllStringFunc(line, func(m string) string {
			p := timeRangeRE.FindStringSubmatch(m)
			return h.eng.Say(lang, "voice_time_range", "from", p[1], "to", p[2])
		})
		line = h.expandStreets(lang, line)
		if !endsSentence(line) {
			line += "."
		}
		out = append(out, line)
	}
	if link {
		out = append(out, h.eng.Say(lang, "voice_more_online"))
	}
	return strings.Join(out, " ")
}

// spellRefs reads reference numbers letter by letter and digit by digit.
func (h *Handler) spellRefs(s string) string {
	if h.ref == nil {
		return s
	}
	return h.ref.ReplaceAllStringFunc(s, func(m string) string {
		p := h.ref.FindStringSubmatch(m)
		return spaced(strings.ToUpper(p[1])) + ", " + spaced(p[2])
	})
}

func spaced(s string) string {
	return strings.Join(strings.Split(s, ""), " ")
}

// expandStreets says street-type abbreviations in full after a street
// name ("King St W" → "King Street West"), from the language's own word
// lists.
func (h *Handler) expandStreets(lang, s string) string {
	l := h.eng.Catalog().Lang(lang)
	types, dirs := fullWords(l.WordMap("street_types")), fullWords(l.WordMap("directions"))
	if len(types) == 0 {
		return s
	}
	var b strings.Builder
	last, afterType := 0, false
	for i, loc := range wordRE.FindAllStringIndex(s, -1) {
		w := s[loc[0]:loc[1]]
		gap := s[last:loc[0]]
		b.WriteString(gap)
		adjacent := strings.TrimSpace(gap) == ""
		switch full, ok := types[w]; {
		case ok && i > 0 && adjacent && w != full:
			b.WriteString(full)
			afterType = true
		case afterType && adjacent && dirs[w] != "":
			b.WriteString(dirs[w])
			afterType = false
		default:
			b.WriteString(w)
			afterType = false
		}
		last = loc[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// fullWords inverts a word list of word=Abbrev: Abbrev → its longest word,
// capitalised ("St" → "Street").
func fullWords(m map[string]string) map[string]string {
	out := map[string]string{}
	for word, abbr := range m {
		if abbr == "" || len(word) <= len(abbr) {
			continue
		}
		if cur, ok := out[abbr]; !ok || len(word) > len(cur) {
			out[abbr] = capitalize(word)
		}
	}
	return out
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// endsSentence reports whether s ends like a sentence, looking inside a
// closing bracket or quote: "(You can say skip.)" does.
func endsSentence(s string) bool {
	s = strings.TrimRight(s, ")]\"'”’ ")
	last, _ := utf8.DecodeLastRuneInString(s)
	return strings.ContainsRune(".?!:;…", last)
}
