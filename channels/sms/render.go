package sms

import (
	"strconv"
	"strings"

	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/dialog"
)

// Aim is the length a text reply is written to stay within: two SMS
// segments. Replies are kept compact (one paragraph break between
// messages, choices as short numbered lines); longer ones are still sent,
// split at MaxBody.
const Aim = 320

// Render writes a reply for a phone: the messages (an article's short
// answer already carries its link), then the choices as numbered lines the
// resident answers by number. On SMS, characters that would force the
// whole text into UCS-2 are replaced by their GSM-7 equivalents, unless
// the resident's own message (said) used such characters; WhatsApp has
// no segments and gets the text as written. Text longer than Twilio's
// limit is split into several messages. A silent reply (staff own the
// conversation) renders as nothing.
func Render(r dialog.Reply, channel, said string) []string {
	if r.Silent {
		return nil
	}
	var b strings.Builder
	for _, m := range r.Messages {
		t := strings.TrimSpace(m.Text)
		if t == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(t)
	}
	// A yes-or-no question says so itself; numbered Yes and No would only
	// make the text longer.
	choices := r.Choices
	if r.Expect == dialog.ExpectYesNo {
		choices = nil
	}
	for i, c := range choices {
		switch {
		case i > 0:
			b.WriteString("\n")
		case b.Len() > 0:
			b.WriteString("\n\n")
		}
		b.WriteString(strconv.Itoa(i+1) + ". " + strings.TrimSpace(c.Label))
	}
	text := b.String()
	if channel != dialog.ChannelWhatsApp && twilio.IsGSM7(strings.ToValidUTF8(said, "")) {
		text = twilio.ToGSM7(text)
	}
	return twilio.Split(text, twilio.MaxBody)
}
