package twilio

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The rules of an SMS body. A message in the GSM-7 alphabet costs one
// segment per 160 characters (153 once split); a single character outside
// it (a curly quote, an em dash, an emoji) turns the whole message into
// UCS-2, at 70 characters a segment (67 once split) — more than twice the
// cost, and some old phones show boxes.

// MaxBody is the most characters Twilio accepts in one message body.
const MaxBody = 1600

// gsmBasic is the GSM 03.38 default alphabet; gsmExtended its extension
// table, whose characters take two septets.
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtended = "^{}\\[~]|€\f"
)

var gsm = func() map[rune]int {
	m := map[rune]int{}
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtended {
		m[r] = 2
	}
	return m
}()

// IsGSM7 reports whether s can be sent in the GSM-7 alphabet.
func IsGSM7(s string) bool {
	for _, r := range s {
		if gsm[r] == 0 {
			return false
		}
	}
	return true
}

// gsmReplace are the usual characters that force UCS-2, with what a phone
// shows instead.
var gsmReplace = map[rune]string{
	'‘': "'", '’': "'", '‚': "'", '‛': "'", '′': "'", '`': "'", 'ʼ': "'",
	'“': `"`, '”': `"`, '„': `"`, '‟': `"`, '″': `"`, '«': `"`, '»': `"`,
	'‐': "-", '‑': "-", '‒': "-", '–': "-", '—': "-", '―': "-", '−': "-",
	'…': "...", '•': "-", '·': "-", '‣': "-", '⁃': "-",
	'\u00a0': " ", '\u2002': " ", '\u2003': " ", '\u2004': " ", '\u2005': " ", '\u2006': " ",
	'\u2007': " ", '\u2008': " ", '\u2009': " ", '\u200a': " ", '\u202f': " ", '\u205f': " ", '\u3000': " ",
	'\t': " ", '\u200b': "", '\u200c': "", '\u200d': "", '\u2060': "", '\ufeff': "", '\ufe0f': "",
	'×': "x", '÷': "/", '©': "(c)", '®': "(R)", '™': "TM", '°': " deg ", '¢': "c",
	'œ': "oe", 'Œ': "OE", 'ł': "l", 'Ł': "L", 'đ': "d", 'Đ': "D", 'ı': "i",
}

var spaces = regexp.MustCompile(` {2,}`)

// ToGSM7 rewrites s in the GSM-7 alphabet: typographic quotes, dashes,
// ellipses and spaces become their plain forms, accented letters outside
// the alphabet lose their accent (ê becomes e; é, which GSM-7 has, stays),
// and what has no equivalent (emoji) is dropped.
func ToGSM7(s string) string {
	if IsGSM7(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if gsm[r] != 0 {
			b.WriteRune(r)
			continue
		}
		if rep, ok := gsmReplace[r]; ok {
			b.WriteString(rep)
			continue
		}
		b.WriteString(stripMarks(r)) // "" when there is no equivalent
	}
	// A dropped emoji or a widened symbol leaves doubled spaces.
	return strings.ReplaceAll(spaces.ReplaceAllString(b.String(), " "), " \n", "\n")
}

// stripMarks returns r without its accents, or in its plain form (² is
// 2, ﬁ is fi), when that is GSM-7; else "".
func stripMarks(r rune) string {
	var b strings.Builder
	for _, d := range norm.NFKD.String(string(r)) {
		if unicode.Is(unicode.Mn, d) {
			continue
		}
		if gsm[d] == 0 {
			return ""
		}
		b.WriteRune(d)
	}
	return b.String()
}

// Length is the length of s as Twilio counts it against MaxBody.
func Length(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// Segments is how many SMS segments s is sent in.
func Segments(s string) int {
	if s == "" {
		return 0
	}
	if IsGSM7(s) {
		n := 0
		for _, r := range s {
			n += gsm[r]
		}
		if n <= 160 {
			return 1
		}
		return (n + 152) / 153
	}
	n := Length(s)
	if n <= 70 {
		return 1
	}
	return (n + 66) / 67
}

// Split cuts s into bodies of at most max characters (MaxBody when max
// is not positive), at a paragraph, a line, a sentence or a word when it
// can.
func Split(s string, max int) []string {
	if max <= 0 {
		max = MaxBody
	}
	var out []string
	s = strings.TrimSpace(s)
	for Length(s) > max {
		cut := cutAt(s, max)
		if part := strings.TrimSpace(s[:cut]); part != "" {
			out = append(out, part)
		}
		s = strings.TrimSpace(s[cut:])
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// cutAt returns where to end the first body of s, a byte offset whose
// prefix is at most max characters long.
func cutAt(s string, max int) int {
	end, n := 0, 0
	for end < len(s) {
		r, size := utf8.DecodeRuneInString(s[end:])
		if n+utf16.RuneLen(r) > max {
			break
		}
		n += utf16.RuneLen(r)
		end += size
	}
	if end == 0 {
		_, size := utf8.DecodeRuneInString(s)
		return size
	}
	head := s[:end]
	floor := end / 3 // never a tiny first body
	for _, seps := range [][]string{{"\n\n"}, {"\n"}, {". ", "? ", "! "}, {" "}} {
		best := -1
		for _, sep := range seps {
			if i := strings.LastIndex(head, sep); i > floor && i+len(sep) > best {
				best = i + len(sep)
			}
		}
		if best > 0 {
			return best
		}
	}
	return end
}
