package slack

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack/slackutilsx"
)

// escape makes a resident's words safe in a Slack message: &, < and > are
// escaped, so "<!channel>" or a link in disguise is shown, never acted on.
func escape(s string) string { return slackutilsx.EscapeMessage(s) }

// clip shortens s to at most n bytes, on a rune boundary, with an ellipsis.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n-len("…")]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// Slack's markup in a message staff wrote: <https://x|label>, <https://x>,
// <mailto:a@b|a@b>, <@U123>, <#C123|name>, <!here>.
var markupRE = regexp.MustCompile(`<([^<>|]*)(?:\|([^<>]*))?>`)

var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// plain turns a staff member's Slack message into the plain text a
// resident reads: links written out, mentions of colleagues and channel
// alerts left out, entities decoded.
func plain(s string) string {
	s = markupRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := markupRE.FindStringSubmatch(m)
		target, label := sub[1], sub[2]
		switch {
		case strings.HasPrefix(target, "@"), strings.HasPrefix(target, "!"):
			return ""
		case strings.HasPrefix(target, "#"):
			if label != "" {
				return "#" + label
			}
			return ""
		case strings.HasPrefix(target, "mailto:"):
			if label != "" {
				return label
			}
			return strings.TrimPrefix(target, "mailto:")
		case label != "" && label != target:
			return label + " (" + target + ")"
		}
		return target
	})
	lines := strings.Split(unescaper.Replace(s), "\n")
	for i, line := range lines {
		lines[i] = strings.Join(strings.Fields(line), " ")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
