package dialog

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog/locale"
)

// Parsers for the Open311 datatypes, working on normalised text in the
// conversation's language. Each returns errNotUnderstood (wrapped) when
// the reply cannot be read, so the engine re-asks with a hint.

var errNotUnderstood = errors.New("not understood")

var digitsRE = regexp.MustCompile(`-?\d+(?:[.,]\d+)?`)

// ParseNumber reads a number written in digits or words ("30", "2.5",
// "about thirty", "twenty five", "a couple"). With several, the first.
func ParseNumber(l *locale.Lang, text string) (float64, error) {
	norm := Normalize(strings.ReplaceAll(text, ",", "."))
	// Normalize turned "2.5" into "2 5"; read digits from the raw text.
	if m := digitsRE.FindString(strings.ReplaceAll(text, ",", ".")); m != "" {
		v, err := strconv.ParseFloat(m, 64)
		if err == nil {
			return v, nil
		}
	}
	if v, ok := wordNumber(l, strings.Fields(norm)); ok {
		return v, nil
	}
	return 0, fmt.Errorf("number %q: %w", text, errNotUnderstood)
}

// wordNumber reads the first number written in words: "twenty five",
// "one hundred and five", "a couple".
func wordNumber(l *locale.Lang, words []string) (float64, bool) {
	nums := l.WordMap("numbers")
	scale := l.WordMap("number_scale")
	join := l.WordMap("number_join")
	joined := strings.Join(words, " ")
	// Multi-word entries ("a couple") first.
	for _, p := range l.Phrases("numbers") {
		if strings.Contains(p, " ") && strings.Contains(" "+joined+" ", " "+p+" ") {
			v, _ := strconv.ParseFloat(nums[p], 64)
			return v, true
		}
	}
	total, cur, found := 0.0, 0.0, false
	for _, w := range words {
		if s, ok := scale[w]; ok && found {
			f, _ := strconv.ParseFloat(s, 64)
			if cur == 0 {
				cur = 1
			}
			cur *= f
			if f >= 1000 {
				total += cur
				cur = 0
			}
			continue
		}
		if v, ok := nums[w]; ok {
			f, _ := strconv.ParseFloat(v, 64)
			cur += f
			found = true
			continue
		}
		if _, ok := join[w]; ok && found {
			continue
		}
		if found {
			break
		}
	}
	return total + cur, found
}

// ParseYesNo reads yes or no; ok is false for anything else.
func ParseYesNo(l *locale.Lang, text string) (yes, ok bool) {
	norm := Normalize(text)
	norm = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(norm, "oh "), " please"))
	switch {
	case l.IsOneOf("yes", norm):
		return true, true
	case l.IsOneOf("no", norm):
		return false, true
	}
	// "yes it is", "no thanks", "yes please submit"
	first := strings.Fields(norm)
	if len(first) > 0 && len(first) <= 10 {
		if l.IsOneOf("yes", first[0]) && !l.HasPhrase("no", norm) {
			return true, true
		}
		if l.IsOneOf("no", first[0]) && !l.HasPhrase("yes", strings.Join(first[1:], " ")) {
			return false, true
		}
	}
	return false, false
}

// ParseChoice matches a reply against choices: the number shown (1-based),
// the key, or the name, tolerating typos. multi allows several ("1 and 3",
// "garbage, recycling", "all").
func ParseChoice(l *locale.Lang, text string, values []cases.Value, multi bool) ([]string, error) {
	norm := Normalize(text)
	if norm == "" {
		return nil, fmt.Errorf("choice: %w", errNotUnderstood)
	}
	if multi && l.IsOneOf("all", norm) {
		keys := make([]string, len(values))
		for i, v := range values {
			keys[i] = v.Key
		}
		return keys, nil
	}
	// Several parts: split on commas and joining words.
	parts := splitList(l, text)
	if len(parts) < 2 || !multi {
		if k, ok := matchOne(l, norm, values); ok {
			return []string{k}, nil
		}
	}
	var keys []string
	for _, p := range parts {
		k, ok := matchOne(l, Normalize(p), values)
		if !ok {
			continue
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 && len(parts) >= 2 && multi {
		if k, ok := matchOne(l, norm, values); ok {
			keys = []string{k}
		}
	}
	// Names mentioned anywhere in a longer sentence ("it's in the bike lane").
	if len(keys) == 0 {
		keys = mentioned(l, norm, values)
	}
	switch {
	case len(keys) == 0:
		return nil, fmt.Errorf("choice %q: %w", text, errNotUnderstood)
	case len(keys) > 1 && !multi:
		return nil, fmt.Errorf("choice %q: several answers where one is wanted: %w", text, errNotUnderstood)
	}
	return keys, nil
}

func splitList(l *locale.Lang, text string) []string {
	s := " " + strings.ToLower(text) + " "
	for _, j := range l.Phrases("list_join") {
		s = strings.ReplaceAll(s, " "+j+" ", ",")
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '/' || r == '+' || r == '&' || r == '\n' })
}

// matchOne matches one answer to one value.
func matchOne(l *locale.Lang, norm string, values []cases.Value) (string, bool) {
	norm = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(norm, "option "), "number "))
	if n, err := strconv.Atoi(norm); err == nil && n >= 1 && n <= len(values) {
		return values[n-1].Key, true
	}
	if v, ok := l.WordMap("numbers")[norm]; ok {
		if n, err := strconv.Atoi(v); err == nil && n >= 1 && n <= len(values) {
			return values[n-1].Key, true
		}
	}
	for _, v := range values {
		if strings.EqualFold(norm, v.Key) || norm == Normalize(v.Key) || norm == Normalize(v.Name) {
			return v.Key, true
		}
	}
	// Typos: the closest name within a small edit distance.
	best, bestD := "", 3
	for _, v := range values {
		name := Normalize(v.Name)
		limit := 1
		if len(name) >= 7 {
			limit = 2
		}
		if d := levenshtein(norm, name); d <= limit && d < bestD {
			best, bestD = v.Key, d
		}
	}
	if best != "" {
		return best, true
	}
	// The value whose name holds most of the reply's words ("bike lane"
	// for "In a bike lane", "bike" too), when exactly one does.
	words := contentWords(l, norm)
	if len(words) == 0 {
		return "", false
	}
	best, bestN, tie := "", 0, false
	first := ""
	for _, v := range values {
		name := strings.Fields(Normalize(v.Name))
		n := 0
		for _, w := range words {
			for _, nw := range name {
				if sameWord(w, nw) {
					n++
					break
				}
			}
		}
		switch {
		case n > bestN:
			best, bestN, tie, first = v.Key, n, false, v.Key
		case n == bestN && n > 0:
			tie = true
		}
	}
	if bestN > 0 && !tie && 2*bestN >= len(words) {
		return best, true
	}
	// "the lane where cars drive" shares "lane" with "In a travel lane"
	// and "In a bike lane" alike, and names no other: the city lists the
	// usual case first.
	if tie && bestN > 0 && !distinctive(l, words, values) {
		return first, true
	}
	return "", false
}

// distinctive reports whether the reply uses a word that only some values
// have besides the shared ones: then a tie is a real doubt.
func distinctive(l *locale.Lang, words []string, values []cases.Value) bool {
	for _, w := range words {
		n := 0
		for _, v := range values {
			if slices.ContainsFunc(strings.Fields(Normalize(v.Name)), func(nw string) bool { return sameWord(w, nw) }) {
				n++
			}
		}
		if n > 0 && n < len(values) && n != countSharing(words, values) {
			return true
		}
	}
	return false
}

// countSharing is how many values share the reply's most common word.
func countSharing(words []string, values []cases.Value) int {
	most := 0
	for _, w := range words {
		n := 0
		for _, v := range values {
			if slices.ContainsFunc(strings.Fields(Normalize(v.Name)), func(nw string) bool { return sameWord(w, nw) }) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// contentWords are the words of a short reply that can name a choice:
// not the language's small words ("the", "and", "les", "pour").
func contentWords(l *locale.Lang, norm string) []string {
	var out []string
	for _, w := range strings.Fields(norm) {
		if len(w) >= 3 && !l.IsOneOf("small_words", w) {
			out = append(out, w)
		}
	}
	return out
}

// mentioned finds values named in a longer reply: every word of the name
// that matters ("bike lane" for "In a bike lane"), or every word of one of
// its alternatives ("curb" for "Along the curb or gutter").
func mentioned(l *locale.Lang, norm string, values []cases.Value) []string {
	words := strings.Fields(norm)
	var keys []string
	for _, v := range values {
		for _, alt := range splitAlternatives(l, Normalize(v.Name)) {
			need := contentWords(l, alt)
			if len(need) == 0 {
				continue
			}
			all := true
			for _, nw := range need {
				if !slices.ContainsFunc(words, func(w string) bool { return sameWord(w, nw) }) {
					all = false
					break
				}
			}
			if all {
				keys = append(keys, v.Key)
				break
			}
		}
	}
	return keys
}

// splitAlternatives splits a choice's name on the language's "or".
func splitAlternatives(l *locale.Lang, name string) []string {
	parts := []string{name}
	for _, or := range l.Phrases("or_words") {
		var next []string
		for _, p := range parts {
			next = append(next, strings.Split(p, " "+or+" ")...)
		}
		parts = next
	}
	return parts
}

// sameWord compares a resident's word with a word of a choice, forgiving
// endings ("small" for "smaller", "large" for "larger") and a typo.
func sameWord(w, nw string) bool {
	switch {
	case w == nw:
		return true
	case len(w) >= 4 && len(nw) >= 4 && (len(w)-len(nw) <= 2 && len(nw)-len(w) <= 2 || min(len(w), len(nw)) >= 5) &&
		(strings.HasPrefix(nw, w) || strings.HasPrefix(w, nw)):
		return true
	case len(w) >= 5 && levenshtein(w, nw) <= 1:
		return true
	}
	return false
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	var bufs [2][24]int // most words fit: no allocation
	prev, cur := bufs[0][:0], bufs[1][:0]
	if len(rb)+1 > len(bufs[0]) {
		prev, cur = make([]int, 0, len(rb)+1), make([]int, 0, len(rb)+1)
	}
	prev, cur = prev[:len(rb)+1], cur[:len(rb)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

var (
	isoDateRE  = regexp.MustCompile(`\b(\d{4})-(\d{1,2})-(\d{1,2})(?:[t ](\d{1,2}):(\d{2}))?`)
	slashRE    = regexp.MustCompile(`\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b`)
	clockRE    = regexp.MustCompile(`\b(\d{1,2})(?:(?::|h| h |\.)(\d{2}))?\s*(a ?m|p ?m|h)?\b`)
	agoRE      = regexp.MustCompile(`\b(\d+|[a-z]+(?: [a-z]+)?) ([a-z]+)\b`)
	dayMonthRE = regexp.MustCompile(`\b(\d{1,2})(?:st|nd|rd|th|er)?\b`)
)

// ParseDatetime reads when something happened: "yesterday at 5pm", "this
// morning", "2026-12-03", "dec 3", "monday", "2 hours ago", "now". It is
// read in the city's time zone; a date without a year is the most recent
// such date, as residents report what already happened.
func ParseDatetime(l *locale.Lang, text string, now time.Time) (time.Time, error) {
	loc := now.Location()
	raw := strings.ToLower(strings.TrimSpace(text))
	norm := Normalize(text)
	fail := fmt.Errorf("date %q: %w", text, errNotUnderstood)
	if norm == "" {
		return time.Time{}, fail
	}
	if m := isoDateRE.FindStringSubmatch(raw); m != nil {
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		h, mi := 0, 0
		if m[4] != "" {
			h, _ = strconv.Atoi(m[4])
			mi, _ = strconv.Atoi(m[5])
		} else if hh, mm, ok := clockIn(l, strings.Replace(raw, m[0], " ", 1)); ok {
			h, mi = hh, mm
		}
		if !validDate(y, mo, d) || h > 23 || mi > 59 {
			return time.Time{}, fail
		}
		return time.Date(y, time.Month(mo), d, h, mi, 0, 0, loc), nil
	}

	day, found := dayIn(l, raw, norm, now)
	hh, mm, hasClock := clockIn(l, removeDates(raw))
	if dp, ok := daypart(l, norm); ok {
		if dp == "now" {
			return now.Truncate(time.Minute), nil
		}
		off, at, _ := strings.Cut(dp, "@")
		n, _ := strconv.Atoi(off)
		if !found {
			day = now.AddDate(0, 0, n)
			found = true
		}
		if at != "" && !hasClock {
			t, _ := time.Parse("15:04", at)
			hh, mm, hasClock = t.Hour(), t.Minute(), true
		}
	}
	if t, ok := ago(l, norm, now); ok && !found {
		return t, nil
	}
	if !found && hasClock {
		// "at 5pm": today, or yesterday if that is still to come.
		day = now
		found = true
		if time.Date(now.Year(), now.Month(), now.Day(), hh, mm, 0, 0, loc).After(now.Add(time.Hour)) {
			day = now.AddDate(0, 0, -1)
		}
	}
	if !found {
		return time.Time{}, fail
	}
	if !hasClock {
		hh, mm = 0, 0
		if sameDay(day, now) {
			// "today" with no time: now is the best guess that is not in the future.
			return now.Truncate(time.Minute), nil
		}
		hh = 12 // a day without time: midday avoids slipping a date across zones
	}
	t := time.Date(day.Year(), day.Month(), day.Day(), hh, mm, 0, 0, loc)
	return t, nil
}

func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 || y < 1900 || y > 2200 {
		return false
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Day() == d
}

func sameDay(a, b time.Time) bool {
	return a.Year() == b.Year() && a.YearDay() == b.YearDay()
}

// dayIn finds a calendar day: a month name with a day number, d/m, or a
// weekday (the most recent one, "last monday" included).
func dayIn(l *locale.Lang, raw, norm string, now time.Time) (time.Time, bool) {
	months := l.WordMap("months")
	words := strings.Fields(norm)
	for i, w := range words {
		mo, ok := months[w]
		if !ok {
			continue
		}
		// "dec 3", "3 dec", "december 3rd", "le 3 decembre"
		var dayNum int
		for _, j := range []int{i + 1, i - 1} {
			if j >= 0 && j < len(words) {
				if m := dayMonthRE.FindStringSubmatch(words[j]); m != nil && m[0] == words[j] {
					dayNum, _ = strconv.Atoi(m[1])
					break
				}
			}
		}
		if dayNum == 0 {
			// "may" alone is more often the verb.
			continue
		}
		m, _ := strconv.Atoi(mo)
		y := now.Year()
		if yy := yearIn(words); yy > 0 {
			y = yy
		}
		if !validDate(y, m, dayNum) {
			return time.Time{}, false
		}
		t := time.Date(y, time.Month(m), dayNum, 0, 0, 0, 0, now.Location())
		if t.After(now) && yearIn(words) == 0 {
			t = t.AddDate(-1, 0, 0)
		}
		return t, true
	}
	if m := slashRE.FindStringSubmatch(raw); m != nil {
		a, _ := strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		// Canada writes both d/m and m/d: only read it when it cannot be wrong.
		var d, mo int
		switch {
		case a > 12 && b <= 12:
			d, mo = a, b
		case b > 12 && a <= 12:
			d, mo = b, a
		case a == b:
			d, mo = a, a
		}
		if d > 0 {
			y := now.Year()
			if m[3] != "" {
				y, _ = strconv.Atoi(m[3])
				if y < 100 {
					y += 2000
				}
			}
			if validDate(y, mo, d) {
				t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, now.Location())
				if t.After(now) && m[3] == "" {
					t = t.AddDate(-1, 0, 0)
				}
				return t, true
			}
		}
	}
	wd := l.WordMap("weekdays")
	last := l.HasPhrase("last", norm)
	for _, w := range words {
		v, ok := wd[w]
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(v)
		diff := (int(now.Weekday()) - n + 7) % 7
		if diff == 0 && last {
			diff = 7
		}
		return now.AddDate(0, 0, -diff), true
	}
	return time.Time{}, false
}

func yearIn(words []string) int {
	for _, w := range words {
		if len(w) == 4 {
			if y, err := strconv.Atoi(w); err == nil && y > 1900 && y < 2200 {
				return y
			}
		}
	}
	return 0
}

// removeDates blanks out what dayIn reads, so "dec 3" is not a clock time.
func removeDates(raw string) string {
	raw = isoDateRE.ReplaceAllString(raw, " ")
	raw = slashRE.ReplaceAllString(raw, " ")
	return raw
}

// clockIn finds a time of day: "5pm", "5:30 pm", "17:00", "17 h", "17h30",
// "noon", "at 5" (read as afternoon when ambiguous with pm cues).
func clockIn(l *locale.Lang, raw string) (h, m int, ok bool) {
	norm := Normalize(raw)
	for _, p := range l.Phrases("times") {
		if strings.Contains(" "+norm+" ", " "+p+" ") {
			t, _ := time.Parse("15:04", l.WordMap("times")[p])
			h, m, ok = t.Hour(), t.Minute(), true
			break
		}
	}
	s := strings.ReplaceAll(raw, ".", ":")
	months := l.WordMap("months")
	for _, mt := range clockRE.FindAllStringSubmatchIndex(s, -1) {
		hs := s[mt[2]:mt[3]]
		suffix := ""
		if mt[6] >= 0 {
			suffix = strings.ReplaceAll(s[mt[6]:mt[7]], " ", "")
		}
		hasMin := mt[4] >= 0
		// A bare number is a time only after a word like "at" or "around".
		before := strings.Fields(Normalize(s[:mt[0]]))
		cue := len(before) > 0 && l.IsOneOf("time_words", before[len(before)-1])
		if len(before) > 0 {
			if _, isMonth := months[before[len(before)-1]]; isMonth {
				continue
			}
		}
		if suffix == "" && !hasMin && !cue {
			continue
		}
		hh, _ := strconv.Atoi(hs)
		mm := 0
		if hasMin {
			mm, _ = strconv.Atoi(s[mt[4]:mt[5]])
		}
		switch suffix {
		case "pm":
			if hh < 12 {
				hh += 12
			}
		case "am":
			if hh == 12 {
				hh = 0
			}
		case "", "h":
			if l.HasPhrase("pm", Normalize(s[mt[1]:])) && hh < 12 {
				hh += 12
			}
		}
		if hh > 23 || mm > 59 {
			continue
		}
		return hh, mm, true
	}
	return h, m, ok
}

// daypart finds "this morning", "last night", "now"...
func daypart(l *locale.Lang, norm string) (string, bool) {
	padded := " " + norm + " "
	for _, p := range l.Phrases("dayparts") {
		if strings.Contains(padded, " "+p+" ") {
			return l.WordMap("dayparts")[p], true
		}
	}
	return "", false
}

// ago reads "2 hours ago", "three days ago", "an hour ago", "il y a 2 heures".
func ago(l *locale.Lang, norm string, now time.Time) (time.Time, bool) {
	units := l.WordMap("units")
	words := strings.Fields(norm)
	hasAgo := false
	for _, p := range append(l.Phrases("ago_after"), l.Phrases("ago_before")...) {
		if strings.Contains(" "+norm+" ", " "+p+" ") {
			hasAgo = true
		}
	}
	if !hasAgo {
		return time.Time{}, false
	}
	for i, w := range words {
		u, ok := units[w]
		if !ok || i == 0 {
			continue
		}
		prev := words[i-1]
		var n float64
		if v, err := strconv.ParseFloat(prev, 64); err == nil {
			n = v
		} else if l.IsOneOf("one_words", prev) {
			n = 1
		} else if v, ok := wordNumber(l, words[max(0, i-3):i]); ok {
			n = v
		} else {
			continue
		}
		d := time.Duration(n * float64(time.Hour))
		switch u {
		case "m":
			d = time.Duration(n * float64(time.Minute))
		case "d":
			return now.AddDate(0, 0, -int(math.Round(n))).Truncate(time.Minute), true
		case "w":
			return now.AddDate(0, 0, -7*int(math.Round(n))).Truncate(time.Minute), true
		case "mo":
			return now.AddDate(0, -int(math.Round(n)), 0).Truncate(time.Minute), true
		}
		return now.Add(-d).Truncate(time.Minute), true
	}
	return time.Time{}, false
}
