package sms_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
	"github.com/cityline/cityline/dialog"
)

func TestSignatureRequired(t *testing.T) {
	s := newServer(t, t.TempDir())
	form := url.Values{"From": {resident}, "To": {cityNum}, "Body": {"pothole at 12 King St W"}, "MessageSid": {"SM1"}}
	for name, c := range map[string]*twiliotest.Client{
		"unsigned":                    {Base: s.Base},
		"signed with the wrong token": {Base: s.Base, PublicURL: publicURL, AuthToken: "0000"},
		"signed for another URL":      {Base: s.Base, PublicURL: "https://evil.example", AuthToken: authToken},
	} {
		status, body := c.Post(t, sms.Path, form)
		if status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403: %s", name, status, body)
		}
	}
	// A signed request whose body was changed on the way.
	req, _ := http.NewRequest(http.MethodPost, s.Base+sms.Path, strings.NewReader(strings.Replace(form.Encode(), "pothole", "graffiti", 1)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, twiliotest.Sign(authToken, publicURL+sms.Path, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered: status %d, want 403", resp.StatusCode)
	}
	if n := s.events.N.Load(); n != 0 {
		t.Errorf("refused requests took %d dialog steps, want none", n)
	}
	if got := s.text(t, resident, "hi"); len(got) == 0 {
		t.Error("a signed message got no reply")
	}
}

func TestPotholeReport(t *testing.T) {
	s := newServer(t, t.TempDir())
	replies := s.report(t, resident, script(t, "pothole.txt"))
	last := replies[len(replies)-1]
	ref := refRE.FindString(last)
	list := s.cases(t)
	if len(list) != 1 {
		t.Fatalf("%d cases filed, want 1", len(list))
	}
	c := list[0]
	if c.Ref != ref || c.ServiceCode != "RD-01" || c.Channel != dialog.ChannelSMS || c.Contact.Phone != resident {
		t.Errorf("case %s %s channel %q phone %q; the reply said %s", c.Ref, c.ServiceCode, c.Channel, c.Contact.Phone, ref)
	}
	if !strings.Contains(c.Address, "King") {
		t.Errorf("address %q", c.Address)
	}
	for i, r := range replies {
		if twilio.Length(r) > twilio.MaxBody || !twilio.IsGSM7(r) {
			t.Errorf("reply %d: %d characters, GSM-7 %v", i, twilio.Length(r), twilio.IsGSM7(r))
		}
		// Each reply of a report fits in two segments.
		if twilio.Length(r) > sms.Aim || twilio.Segments(r) > 2 {
			t.Errorf("reply %d is %d characters (%d segments), over the %d aimed at:\n%s", i, twilio.Length(r), twilio.Segments(r), sms.Aim, r)
		}
	}
	// The questions with choices show them as numbered lines.
	if !strings.Contains(replies[0], "\n1. ") || !strings.Contains(replies[0], "\n2. ") {
		t.Errorf("choices not numbered:\n%s", replies[0])
	}
}

func TestRetriedMessageSid(t *testing.T) {
	s := newServer(t, t.TempDir())
	lines := script(t, "pothole.txt")
	var last []string
	for i, line := range lines {
		sid := "SMretry" + string(rune('a'+i))
		last = s.textSid(t, resident, line, sid)
		// Twilio retries each message: the same reply, no second step.
		again := s.textSid(t, resident, line, sid)
		if !slices.Equal(last, again) {
			t.Fatalf("message %d retried: reply changed\nfirst: %q\nretry: %q", i, last, again)
		}
		if refRE.MatchString(strings.Join(last, "\n")) {
			break
		}
	}
	if !refRE.MatchString(strings.Join(last, "\n")) {
		t.Fatalf("no reference: %q", last)
	}
	if n := len(s.cases(t)); n != 1 {
		t.Errorf("%d cases after retries, want 1", n)
	}
}

func TestOptOut(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, dir)
	if got := s.text(t, resident, "hi"); len(got) == 0 {
		t.Fatal("no greeting")
	}
	confirm := s.text(t, resident, "Stop")
	if len(confirm) != 1 || !strings.Contains(confirm[0], "START") {
		t.Fatalf("STOP: %q, want one confirmation mentioning START", confirm)
	}
	for _, body := range []string{"pothole at 12 King St W", "STOP", "hello?", "yes please"} {
		if got := s.text(t, resident, body); len(got) != 0 {
			t.Errorf("opted out, %q got a reply: %q", body, got)
		}
	}
	if got := s.text(t, resident, "HELP"); len(got) != 1 || !strings.Contains(got[0], "Reply STOP") {
		t.Errorf("HELP while opted out: %q (carriers require an answer)", got)
	}

	// A new server on the same database remembers.
	s2 := newServer(t, dir)
	if got := s2.text(t, resident, "is anyone there"); len(got) != 0 {
		t.Errorf("after a restart, an opted-out number got %q", got)
	}
	if out, err := s2.store.OptedOut(t.Context(), resident); err != nil || !out {
		t.Errorf("OptedOut after restart: %v, %v", out, err)
	}
	// Others are not affected.
	if got := s2.text(t, "+15557654321", "hi"); len(got) == 0 {
		t.Error("another number got no reply")
	}
	// START opts back in; then the conversation carries on.
	if got := s2.text(t, resident, "start"); len(got) != 1 || !strings.Contains(got[0], "STOP") {
		t.Errorf("START: %q", got)
	}
	if got := s2.text(t, resident, "hi"); len(got) == 0 {
		t.Error("opted back in, but no reply")
	}
	// YES opts in only a number that is opted out.
	s2.text(t, resident, "UNSUBSCRIBE")
	if got := s2.text(t, resident, " yes. "); len(got) != 1 || !strings.Contains(got[0], "subscribed") {
		t.Errorf("YES from an opted-out number: %q", got)
	}
	if out, _ := s2.store.OptedOut(t.Context(), resident); out {
		t.Error("still opted out after YES")
	}
}

func TestKeywords(t *testing.T) {
	for _, c := range []struct {
		body    string
		optsOut bool
	}{
		{"STOP", true}, {"stop", true}, {" Stop. ", true}, {"StopAll", true}, {"unsubscribe", true},
		{"CANCEL", true}, {"end", true}, {"quit", true}, {"revoke", true}, {"optout", true}, {"arret", true}, {"Arrêt", true},
		{"stop please", false}, {"don't stop", false}, {"stopped", false}, {"STOP IT", false},
	} {
		s := newServer(t, t.TempDir())
		got := s.text(t, resident, c.body)
		out, err := s.store.OptedOut(t.Context(), resident)
		if err != nil {
			t.Fatal(err)
		}
		if out != c.optsOut {
			t.Errorf("%q: opted out %v, want %v (reply %q)", c.body, out, c.optsOut, got)
		}
		if len(got) != 1 {
			t.Errorf("%q: %d messages, want exactly one", c.body, len(got))
		}
	}
}

func TestYesIsAnAnswer(t *testing.T) {
	s := newServer(t, t.TempDir())
	replies := s.report(t, resident, script(t, "pothole.txt"))
	if !refRE.MatchString(replies[len(replies)-1]) {
		t.Fatal("the final yes did not file the report")
	}
	if out, _ := s.store.OptedOut(t.Context(), resident); out {
		t.Error("yes changed the opt-out list")
	}
}

func TestHelp(t *testing.T) {
	s := newServer(t, t.TempDir())
	for _, kw := range []string{"HELP", "help", "Info"} {
		got := s.text(t, resident, kw)
		if len(got) != 1 {
			t.Fatalf("%s: %q", kw, got)
		}
		for _, want := range []string{"Example City 311", "311", "+1-555-0100", "Reply STOP to opt out", "Msg&data rates may apply"} {
			if !strings.Contains(got[0], want) {
				t.Errorf("%s: reply lacks %q:\n%s", kw, want, got[0])
			}
		}
		if !twilio.IsGSM7(got[0]) {
			t.Errorf("%s: reply needs UCS-2", kw)
		}
	}
}

func TestWhatsApp(t *testing.T) {
	s := newServer(t, t.TempDir())
	wa := "whatsapp:" + resident
	// The same number texting by SMS is another conversation.
	s.text(t, resident, "There is a big pothole at 12 King St W")
	var replies []string
	for _, line := range script(t, "whatsapp.txt") {
		reply := strings.Join(s.text(t, wa, line), "\n")
		replies = append(replies, reply)
		if strings.Contains(reply, "Details:") && !strings.Contains(reply, "— it’s deep") {
			t.Errorf("WhatsApp summary lost the resident's characters:\n%s", reply)
		}
		if refRE.MatchString(reply) {
			break
		}
	}
	var wc *dialogCase
	for _, c := range s.cases(t) {
		if c.Channel == dialog.ChannelWhatsApp {
			wc = &dialogCase{c.Ref, c.Contact.Phone, c.Description}
		}
	}
	if wc == nil {
		t.Fatalf("no WhatsApp case; replies:\n%s", strings.Join(replies, "\n---\n"))
	}
	if wc.phone != resident || !strings.Contains(wc.desc, "it’s deep") {
		t.Errorf("WhatsApp case %+v", wc)
	}
	if n := len(s.cases(t)); n != 1 {
		t.Errorf("%d cases: the unfinished SMS report must not have been filed", n)
	}
	// The same report by SMS: the summary is answered to a plain message
	// ("yes"), so it comes in GSM-7 rather than costing UCS-2 segments.
	var summary string
	for _, line := range script(t, "whatsapp.txt") {
		reply := strings.Join(s.text(t, "+15559876543", line), "\n")
		if strings.Contains(reply, "Details:") {
			summary = reply
		}
		if refRE.MatchString(reply) {
			break
		}
	}
	if !strings.Contains(summary, "- it's deep") || !twilio.IsGSM7(summary) {
		t.Errorf("SMS summary not in GSM-7:\n%s", summary)
	}
}

type dialogCase struct{ ref, phone, desc string }

func TestMMS(t *testing.T) {
	s := newServer(t, t.TempDir())
	photo := "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
	form := url.Values{"From": {resident}, "To": {cityNum}, "MessageSid": {"MM1"},
		"Body":      {"There is a big pothole at 12 King St W"},
		"NumMedia":  {"3"},
		"MediaUrl0": {photo}, "MediaContentType0": {"image/jpeg"},
		"MediaUrl1": {"https://api.twilio.com/x/ME2"}, "MediaContentType1": {"audio/amr"},
		"MediaUrl2": {"https://api.twilio.com/x/ME3"}, "MediaContentType2": {"text/vcard"},
	}
	s.send(t, form)
	s.report(t, resident, script(t, "pothole.txt")[1:])
	list := s.cases(t)
	if len(list) != 1 {
		t.Fatalf("%d cases", len(list))
	}
	if got := list[0].MediaURLs; !slices.Equal(got, []string{photo}) {
		t.Errorf("case media %q, want only the photo %q", got, photo)
	}
	if list[0].MediaURL() != photo {
		t.Errorf("media_url %q", list[0].MediaURL())
	}
}

func TestSilentWhileStaffOwnTheConversation(t *testing.T) {
	desk := &liveDesk{}
	s := newServer(t, t.TempDir(), withStaff(desk))
	if got := s.text(t, resident, "I want to talk to a real person"); len(got) == 0 {
		t.Fatal("no reply to the handoff")
	}
	status, doc := s.Post(t, sms.Path, url.Values{"From": {resident}, "Body": {"my street is flooded"}, "MessageSid": {"SMstaff"}})
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	root := twiliotest.Parse(t, doc, twiliotest.MessagingVerbs)
	if len(root.Children) != 0 || root.Text != "" {
		t.Errorf("staff own the conversation, yet the reply was %s", doc)
	}
	if desk.relayed.Load() != 1 {
		t.Errorf("relayed %d messages to staff, want 1", desk.relayed.Load())
	}
}

func TestBadInput(t *testing.T) {
	s := newServer(t, t.TempDir())
	for _, c := range []struct {
		name   string
		form   url.Values
		status int
	}{
		{"100 KB body", url.Values{"From": {resident}, "Body": {strings.Repeat("pothole ", 12800)}, "MessageSid": {"SMbig"}}, 200},
		{"invalid UTF-8", url.Values{"From": {"+15550000001"}, "Body": {"pot\xffhole \xc3\x28 at 12 King St W\x00"}, "MessageSid": {"SMutf"}}, 200},
		{"empty body", url.Values{"From": {"+15550000002"}, "Body": {""}, "MessageSid": {"SMempty"}}, 200},
		{"no body at all", url.Values{"From": {"+15550000003"}, "MessageSid": {"SMnobody"}}, 200},
		{"no MessageSid", url.Values{"From": {"+15550000004"}, "Body": {"hello"}}, 200},
		{"nonsense NumMedia", url.Values{"From": {"+15550000005"}, "Body": {"hi"}, "NumMedia": {"-7"}, "MediaUrl0": {"javascript:alert(1)"}}, 200},
		{"huge NumMedia", url.Values{"From": {"+15550000006"}, "Body": {"hi"}, "NumMedia": {"99999999999999999999"}}, 200},
		{"missing From", url.Values{"Body": {"hello"}, "MessageSid": {"SMnofrom"}}, 400},
		{"From is only whatsapp:", url.Values{"From": {"whatsapp:"}, "Body": {"hello"}}, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, doc := s.Post(t, sms.Path, c.form)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, doc)
			}
			if status != 200 {
				if strings.TrimSpace(doc) == "" {
					t.Error("an error with no explanation")
				}
				return
			}
			msgs := twiliotest.Parse(t, doc, twiliotest.MessagingVerbs).Texts("Message")
			if len(msgs) == 0 {
				t.Errorf("no answer: %s", doc)
			}
			for _, m := range msgs {
				if twilio.Length(m) > twilio.MaxBody {
					t.Errorf("a message of %d characters", twilio.Length(m))
				}
			}
		})
	}
	// A malformed form never reaches the channel.
	req, _ := http.NewRequest(http.MethodPost, s.Base+sms.Path, strings.NewReader("From=%zz&Body=%"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twilio.SignatureHeader, "x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed form: status %d, want 400", resp.StatusCode)
	}
}
