package main

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
)

// englishRE finds English wording that must not reach a French resident:
// words of the assistant's English catalogue that French never uses.
var englishRE = regexp.MustCompile(`(?i)\b(the|where|shall|please|your|thank you|report|which|would|yes or no)\b`)

// TestFrenchReportOnEveryChannel files the same pothole report in French
// by text, on the web and by phone: French prompts throughout, and the
// case stored exactly as an English one would be.
func TestFrenchReportOnEveryChannel(t *testing.T) {
	api := twiliotest.NewMessagesAPI(t, e2eSID, e2eToken)
	base, srv, _ := startTwilioServer(t, nil, map[string]string{
		"TWILIO_ACCOUNT_SID": e2eSID, "TWILIO_AUTH_TOKEN": e2eToken, "TWILIO_FROM_NUMBER": "+15550001111",
		"CITYLINE_PUBLIC_URL": e2ePublic + "/", "CITYLINE_TWILIO_API_URL": api.URL,
	})
	tw := &twiliotest.Client{Base: base, PublicURL: e2ePublic, AuthToken: e2eToken}
	ctx := context.Background()
	// A kilometre apart, so that none is offered as a duplicate of another.
	addresses := map[string]string{"sms": "12 King Street West", "web": "212 King Street West", "voice": "312 King Street West"}
	check := func(channel string, replies []string, ref string) {
		t.Helper()
		for _, r := range replies {
			if m := englishRE.FindString(r); m != "" && !strings.Contains(r, "Example City") {
				t.Errorf("%s: English %q in a French reply: %q", channel, m, r)
			}
		}
		if ref == "" {
			t.Fatalf("%s: no reference; replies:\n%s", channel, strings.Join(replies, "\n---\n"))
		}
		c, err := srv.store.Get(ctx, ref)
		if err != nil {
			t.Fatalf("%s: %v", channel, err)
		}
		if c.ServiceCode != "RD-01" || c.Lang != "fr" || c.Address != addresses[channel] || c.Location == nil ||
			c.Attributes["SIZE"][0] != "M" || c.Attributes["POSITION"][0] != "BIKE" {
			t.Errorf("%s: stored %s %s %q %v %v", channel, c.ServiceCode, c.Lang, c.Address, c.Location, c.Attributes)
		}
	}

	// By text message.
	var replies []string
	for i, body := range []string{"Il y a un gros nid-de-poule devant chez nous au 12 rue King Ouest",
		"2", "dans la piste cyclable", "8", "oui"} {
		out := textSid(t, tw, "+15557770000", body, "SMfr"+string(rune('a'+i)))
		replies = append(replies, strings.Join(out, "\n"))
	}
	check("sms", replies, e2eRef.FindString(replies[len(replies)-1]))

	// On the web, in a widget switched to French.
	var conv struct{ ID, Token string }
	if code := postJSON(t, base+"/api/v1/conversations", "", "", &conv); code != 201 {
		t.Fatalf("create: %d", code)
	}
	replies = nil
	var ref string
	for _, body := range []string{`{"text":"nid de poule","lang":"fr"}`, `{"text":"212, rue King Ouest"}`,
		`{"text":"entre une assiette et un pneu"}`, `{"text":"piste cyclable"}`, `{"text":"passer"}`, `{"text":"passer"}`, `{"text":"oui"}`} {
		var turn struct {
			Reply string `json:"reply"`
			Lang  string `json:"lang"`
			Case  *struct {
				ID string `json:"id"`
			} `json:"case"`
		}
		if code := postJSON(t, base+"/api/v1/conversations/"+conv.ID+"/messages", conv.Token, body, &turn); code != 200 {
			t.Fatalf("message %s: %d", body, code)
		}
		if turn.Lang != "fr" {
			t.Errorf("web reply in %q: %q", turn.Lang, turn.Reply)
		}
		replies = append(replies, turn.Reply)
		if turn.Case != nil {
			ref = turn.Case.ID
		}
	}
	check("web", replies, ref)

	// By phone: 9 at the greeting for French, then speech and keys.
	status, doc := tw.Post(t, "/twilio/voice", url.Values{"CallSid": {"CAfr1"}, "From": {"+15557770001"}})
	if status != 200 {
		t.Fatalf("voice: %d", status)
	}
	next := twiliotest.Parse(t, doc, twiliotest.VoiceVerbs).All("Gather")[0].Attr("action")
	replies = nil
	for _, step := range []url.Values{{"Digits": {"9"}}, {"SpeechResult": {"je veux signaler un nid-de-poule"}},
		{"SpeechResult": {"trois cent douze rue King Ouest"}}, {"Digits": {"2"}}, {"Digits": {"2"}}, {"Digits": {"8"}},
		{"SpeechResult": {"passer"}}, {"Digits": {"1"}}} {
		step.Set("CallSid", "CAfr1")
		step.Set("From", "+15557770001")
		status, doc := tw.Post(t, next, step)
		if status != 200 {
			t.Fatalf("gather %v: %d", step, status)
		}
		root := twiliotest.Parse(t, doc, twiliotest.VoiceVerbs)
		for _, say := range root.All("Say") {
			if say.Attr("language") != "fr-CA" && !strings.Contains(say.Text, "English") {
				t.Errorf("<Say language=%q>%s", say.Attr("language"), say.Text)
			}
		}
		replies = append(replies, strings.Join(root.Texts("Say"), " "))
		if g := root.All("Gather"); len(g) > 0 {
			next = g[0].Attr("action")
		}
	}
	last := replies[len(replies)-1]
	list, err := srv.store.List(ctx, casesByPhone("+15557770001"))
	if err != nil || len(list) != 1 {
		t.Fatalf("voice cases: %v %v\n%s", list, err, strings.Join(replies, "\n---\n"))
	}
	// The reference is read digit by digit.
	if spelled := strings.Join(strings.Split(strings.TrimPrefix(list[0].Ref, "EX-"), ""), " "); !strings.Contains(last, spelled) {
		t.Errorf("the reference %s is not read out: %q", list[0].Ref, last)
	}
	check("voice", replies[1:], list[0].Ref)
}

func casesByPhone(p string) cases.Filter { return cases.Filter{Phone: p} }
