package sms_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/dialog"
)

func msgs(texts ...string) []dialog.Message {
	var out []dialog.Message
	for _, t := range texts {
		out = append(out, dialog.Message{Text: t})
	}
	return out
}

func TestRender(t *testing.T) {
	long := strings.Repeat("Bulky items go out by 7 a.m. on your collection day. ", 40) // 2,120 characters
	for _, c := range []struct {
		name    string
		reply   dialog.Reply
		channel string
		said    string
		want    []string
	}{
		{"choices as numbered lines",
			dialog.Reply{Messages: msgs("Where is it on the road?"), Choices: []dialog.Choice{{ID: "value:LANE", Label: "In a travel lane"}, {ID: "value:BIKE", Label: "In a bike lane"}}},
			dialog.ChannelSMS, "2", []string{"Where is it on the road?\n\n1. In a travel lane\n2. In a bike lane"}},
		{"article: short answer and link",
			dialog.Reply{Messages: []dialog.Message{{Text: "Garbage goes out weekly.\nMore: https://www.example.city/garbage",
				Article: &dialog.ArticleInfo{ID: "garbage-schedule", HTML: "<p>long body</p>"}}}},
			dialog.ChannelSMS, "when is garbage day", []string{"Garbage goes out weekly.\nMore: https://www.example.city/garbage"}},
		{"typographic characters replaced on SMS",
			dialog.Reply{Messages: msgs("We’re on it — “soon”…", "Thanks 👍")},
			dialog.ChannelSMS, "ok", []string{"We're on it - \"soon\"...\n\nThanks"}},
		{"kept when the resident wrote them",
			dialog.Reply{Messages: msgs("We’re on it — “soon”…")},
			dialog.ChannelSMS, "Où est le “bac” ? 🙂", []string{"We’re on it — “soon”…"}},
		{"invalid UTF-8 from the resident is not a reason for UCS-2",
			dialog.Reply{Messages: msgs("We’re on it")},
			dialog.ChannelSMS, "pot\xffhole", []string{"We're on it"}},
		{"WhatsApp as written",
			dialog.Reply{Messages: msgs("We’re on it — “soon”…")},
			dialog.ChannelWhatsApp, "ok", []string{"We’re on it — “soon”…"}},
		{"staff own the conversation: nothing",
			dialog.Reply{Silent: true, Messages: msgs("ignored")}, dialog.ChannelSMS, "hello", nil},
		{"empty messages skipped",
			dialog.Reply{Messages: msgs("", "  ", "Hello")}, dialog.ChannelSMS, "hi", []string{"Hello"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := sms.Render(c.reply, c.channel, c.said)
			if !slices.Equal(got, c.want) {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}

	t.Run("long replies split under the limit", func(t *testing.T) {
		r := dialog.Reply{Messages: msgs(long, "Anything else?"), Choices: []dialog.Choice{{ID: "a", Label: "Book a pickup"}}}
		for _, ch := range []string{dialog.ChannelSMS, dialog.ChannelWhatsApp} {
			got := sms.Render(r, ch, "hi")
			if len(got) != 2 {
				t.Fatalf("%s: %d messages, want 2", ch, len(got))
			}
			for i, m := range got {
				if twilio.Length(m) > twilio.MaxBody {
					t.Errorf("%s: message %d is %d characters", ch, i, twilio.Length(m))
				}
			}
			if !strings.HasSuffix(got[1], "Anything else?\n\n1. Book a pickup") {
				t.Errorf("%s: the question and its choices were not kept together at the end: %q", ch, got[1])
			}
			joined := strings.Join(strings.Fields(strings.Join(got, " ")), " ")
			if !strings.Contains(joined, strings.TrimSpace(strings.Join(strings.Fields(long), " "))) {
				t.Errorf("%s: text lost in the split", ch)
			}
		}
	})
}
