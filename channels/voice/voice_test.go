package voice

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/cityline/cityline/channels/twilio/twiliotest"
	"github.com/cityline/cityline/dialog"
)

// spokenRef is a reference number read out for the ear: "E X, 0 0 0 0 0 1".
var spokenRef = regexp.MustCompile(`E X, (\d ){5}\d`)

func TestAnswer(t *testing.T) {
	s := newServer(t, agentLine)
	c := s.call("CA0001")
	root := c.answer(t)
	gathers := root.All("Gather")
	if len(gathers) < 1 {
		t.Fatalf("no Gather:\n%s", c.doc)
	}
	g := gathers[0]
	for attr, want := range map[string]string{"input": "speech dtmf", "language": "en-CA", "speechTimeout": "auto", "method": "POST"} {
		if got := g.Attr(attr); got != want {
			t.Errorf("Gather %s=%q, want %q", attr, got, want)
		}
	}
	if a := g.Attr("action"); !strings.HasPrefix(a, GatherPath+"?") {
		t.Errorf("action %q, want %s", a, GatherPath)
	}
	for _, hint := range []string{"Pothole", "Missed collection"} {
		if !strings.Contains(g.Attr("hints"), hint) {
			t.Errorf("hints %q lack the popular service %q", g.Attr("hints"), hint)
		}
	}
	said := heard(root)
	for _, want := range []string{"Example City 311", "Press 1 for", "press 3 for Pothole"} {
		if !strings.Contains(said, want) {
			t.Errorf("greeting lacks %q: %s", want, said)
		}
	}
	// The greeting is said in English, and the French service offered in
	// French: "Pour le service en français, faites le 9."
	for _, say := range root.All("Say") {
		switch {
		case strings.Contains(say.Text, "français"):
			if say.Attr("language") != "fr-CA" || !strings.Contains(say.Text, "9") {
				t.Errorf("the French offer: <Say language=%q>%s", say.Attr("language"), say.Text)
			}
		case say.Attr("language") != "en-CA":
			t.Errorf("<Say language=%q>%s", say.Attr("language"), say.Text)
		}
	}
	// Nobody answers the first prompt: it is asked again, then Twilio is
	// sent on to offer a person.
	if len(gathers) != 2 || !strings.Contains(strings.Join(gathers[1].Texts("Say"), " "), "didn't hear") {
		t.Errorf("no second chance after silence:\n%s", c.doc)
	}
	redirects := root.All("Redirect")
	if len(redirects) != 1 || !strings.Contains(redirects[0].Text, "quiet=2") {
		t.Errorf("no redirect after two silences:\n%s", c.doc)
	}
}

func TestReportBySpeech(t *testing.T) {
	s := newServer(t, agentLine)
	c := s.call("CA0002")
	c.answer(t)
	said := c.play(t, script(t, "speech.txt"))
	last := said[len(said)-1]
	list := s.cases(t)
	if len(list) != 1 {
		t.Fatalf("%d cases, want 1", len(list))
	}
	cs := list[0]
	if want := spell(cs.Ref); !strings.Contains(last, want) {
		t.Errorf("the caller heard %q, want the reference read as %q", last, want)
	}
	if strings.Contains(last, cs.Ref) {
		t.Errorf("the reference was read as a word: %s", last)
	}
	if cs.Channel != dialog.ChannelVoice || cs.Contact.Phone != caller || cs.ServiceCode != "RD-01" {
		t.Errorf("case: channel %q phone %q service %s", cs.Channel, cs.Contact.Phone, cs.ServiceCode)
	}
	if !strings.Contains(strings.ToLower(cs.Address), "king") {
		t.Errorf("spoken address not taken: %q", cs.Address)
	}
	if cs.Attributes["SIZE"] == nil || cs.Attributes["POSITION"] == nil {
		t.Errorf("answers not recorded: %v", cs.Attributes)
	}
	// Every question with choices offered them as keypad options.
	for _, h := range said {
		if strings.Contains(h, "http") || strings.Contains(h, "\n") {
			t.Errorf("not written for the ear: %q", h)
		}
	}
}

// spell is how a reference is read: "EX-000001" is "E X, 0 0 0 0 0 1".
func spell(ref string) string {
	p, n, _ := strings.Cut(ref, "-")
	return strings.Join(strings.Split(p, ""), " ") + ", " + strings.Join(strings.Split(n, ""), " ")
}

func TestReportByDigits(t *testing.T) {
	s := newServer(t, agentLine)
	c := s.call("CA0003")
	c.answer(t)
	said := c.play(t, script(t, "digits.txt"))
	if !strings.Contains(said[0], "Pothole") {
		t.Errorf("pressing 3 on the menu did not start a pothole report: %s", said[0])
	}
	list := s.cases(t)
	if len(list) != 1 {
		t.Fatalf("%d cases, want 1", len(list))
	}
	cs := list[0]
	if got := cs.Attributes["SIZE"]; len(got) != 1 || got[0] != "M" {
		t.Errorf("pressing 2 for the size gave %v, want M (the second choice)", got)
	}
	if got := cs.Attributes["POSITION"]; len(got) != 1 || got[0] != "LANE" {
		t.Errorf("pressing 1 for the position gave %v, want LANE", got)
	}
	if got := cs.Attributes["DEPTH_CM"]; len(got) != 1 || got[0] != "8" {
		t.Errorf("depth %v, want 8", got)
	}
	if cs.Contact.Phone == "" {
		t.Error("the caller's number was not kept with the case")
	}
	// Menus read as keypad options; yes-or-no questions say how.
	joined := strings.Join(said, "\n")
	for _, want := range []string{"press 2 for", "Say yes or press 1"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the caller never heard %q", want)
		}
	}
}

func TestRetriedGather(t *testing.T) {
	s := newServer(t, agentLine)
	c := s.call("CA0004")
	c.answer(t)
	steps := script(t, "speech.txt")
	for _, st := range steps {
		action := c.action(t)
		first := c.say(t, st[1])
		firstDoc := c.doc
		// Twilio retries the same request: same answer, no second turn.
		c.post(t, action, url.Values{"SpeechResult": {st[1]}, "Confidence": {"0.92"}})
		if heard(c.last) != heard(first) || c.action(t) != actionOf(first) {
			t.Fatalf("retry of %q answered differently:\n%s\n%s", st[1], firstDoc, c.doc)
		}
		if spokenRef.MatchString(heard(first)) {
			break
		}
	}
	if n := len(s.cases(t)); n != 1 {
		t.Errorf("%d cases after retried gathers, want 1", n)
	}
}

func actionOf(n *twiliotest.Node) string {
	if g := n.All("Gather"); len(g) > 0 {
		return g[0].Attr("action")
	}
	return ""
}

func TestTransfer(t *testing.T) {
	for _, c := range []struct {
		name    string
		agent   string
		closed  bool
		input   url.Values
		dial    bool
		hangup  bool
		hearing []string
	}{
		{"agent by speech", agentLine, false, url.Values{"SpeechResult": {"agent"}}, true, true, []string{"connect you"}},
		{"zero pressed", agentLine, false, url.Values{"Digits": {"0"}}, true, true, []string{"connect you"}},
		{"a person, in words", agentLine, false, url.Values{"SpeechResult": {"Can I talk to a real person please"}}, true, true, nil},
		{"after hours", agentLine, true, url.Values{"Digits": {"0"}}, false, true,
			[]string{"not in right now", "07:00 to 20:00", "Goodbye"}},
		{"no agent line", "", false, url.Values{"SpeechResult": {"agent"}}, false, false, []string{"311"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, c.agent)
			if c.closed {
				s.clock.Set(afterHours)
			}
			call := s.call("CA-transfer")
			call.answer(t)
			root := call.post(t, call.action(t), c.input)
			dials := root.All("Dial")
			if got := len(dials) == 1 && dials[0].Text == agentLine; got != c.dial {
				t.Errorf("dialled the agent: %v, want %v\n%s", got, c.dial, call.doc)
			}
			if got := len(root.All("Hangup")) > 0 && len(root.All("Gather")) == 0; got != c.hangup {
				t.Errorf("hung up: %v, want %v\n%s", got, c.hangup, call.doc)
			}
			said := heard(root)
			if strings.Contains(said, "..") {
				t.Errorf("the caller hears %q", said)
			}
			for _, want := range c.hearing {
				if !strings.Contains(said, want) {
					t.Errorf("the caller heard %q, want %q in it", said, want)
				}
			}
		})
	}
}

// Misunderstood twice after hours: the assistant hands over, but a caller
// who never asked for a person is not hung up on.
func TestGaveUpAfterHours(t *testing.T) {
	s := newServer(t, agentLine)
	s.clock.Set(afterHours)
	c := s.call("CA-lost")
	c.answer(t)
	c.say(t, "what is the meaning of life")
	root := c.say(t, "who won the hockey game last night")
	if len(root.All("Hangup")) > 0 && len(root.All("Gather")) == 0 {
		t.Errorf("hung up on a caller who did not ask for a person:\n%s", c.doc)
	}
	if len(root.All("Dial")) > 0 {
		t.Errorf("dialled staff after hours:\n%s", c.doc)
	}
	// Open: the same conversation is put through to a person.
	s.clock.Set(officeHours)
	c2 := s.call("CA-lost-2")
	c2.answer(t)
	c2.say(t, "what is the meaning of life")
	if root := c2.say(t, "who won the hockey game last night"); len(root.All("Dial")) != 1 {
		t.Errorf("office open: not put through after the assistant gave up:\n%s", c2.doc)
	}
}

func TestNoInputTwice(t *testing.T) {
	s := newServer(t, agentLine)
	c := s.call("CA0005")
	root := c.answer(t)
	// Twilio follows the Redirect after both Gathers heard nothing.
	offer := c.post(t, root.All("Redirect")[0].Text, nil)
	said := heard(offer)
	if !strings.Contains(said, "press 0") {
		t.Errorf("no transfer offered after two silences: %s", said)
	}
	if len(offer.All("Hangup")) != 1 {
		t.Errorf("the call does not end if the caller stays silent:\n%s", c.doc)
	}
	if n := s.events.N.Load(); n != 1 { // the greeting's "started" only
		t.Errorf("silence took dialog turns: %d events", n)
	}
	// Taking the offer.
	root = c.press(t, "0")
	if d := root.All("Dial"); len(d) != 1 || d[0].Text != agentLine {
		t.Errorf("pressing 0 after the offer did not transfer:\n%s", c.doc)
	}
}

func TestUnknownCall(t *testing.T) {
	s := newServer(t, agentLine)
	c := s.call("CA-never-answered")
	root := c.post(t, GatherPath+"?n=4&lang=en", url.Values{"SpeechResult": {"twelve King Street West"}})
	said := heard(root)
	for _, want := range []string{"start again", "Example City 311", "Press 1 for"} {
		if !strings.Contains(said, want) {
			t.Errorf("unknown call: heard %q, want %q in it", said, want)
		}
	}
	// The fresh conversation carries on from there.
	root = c.press(t, "3")
	if !strings.Contains(heard(root), "Pothole") {
		t.Errorf("after the fresh greeting, 3 did not pick Pothole: %s", heard(root))
	}
	if n := len(s.cases(t)); n != 0 {
		t.Errorf("%d cases", n)
	}
}

func TestBadInput(t *testing.T) {
	s := newServer(t, agentLine)
	started := s.call("CA-bad")
	started.answer(t)
	for _, c := range []struct {
		name   string
		path   string
		form   url.Values
		status int
	}{
		{"missing CallSid", Path, url.Values{"From": {caller}}, http.StatusBadRequest},
		{"missing CallSid on gather", GatherPath + "?n=1", url.Values{"SpeechResult": {"hi"}}, http.StatusBadRequest},
		{"withheld number", Path, url.Values{"CallSid": {"CA-anon"}, "From": {"Anonymous"}}, 200},
		{"100 KB of speech", GatherPath + "?n=1&lang=en", url.Values{"CallSid": {"CA-bad"}, "SpeechResult": {strings.Repeat("pothole ", 12800)}}, 200},
		{"invalid UTF-8", GatherPath + "?n=2&lang=en", url.Values{"CallSid": {"CA-bad"}, "SpeechResult": {"pot\xffhole\x00 \xc3\x28"}}, 200},
		{"keys that are not digits", GatherPath + "?n=3&lang=en", url.Values{"CallSid": {"CA-bad"}, "Digits": {"*#"}}, 200},
		{"nothing at all", GatherPath + "?n=4&lang=en", url.Values{"CallSid": {"CA-bad"}}, 200},
		{"odd query", GatherPath + "?n=-9&lang=xx&quiet=zz", url.Values{"CallSid": {"CA-bad"}, "SpeechResult": {"hello"}}, 200},
		{"no query", GatherPath, url.Values{"CallSid": {"CA-bad"}, "SpeechResult": {"hello"}}, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, doc := s.Post(t, c.path, c.form)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, doc)
			}
			if status == 200 {
				root := twiliotest.Parse(t, doc, twiliotest.VoiceVerbs)
				if heard(root) == "" {
					t.Errorf("the caller hears nothing:\n%s", doc)
				}
			}
		})
	}
	// Unsigned requests never reach the call.
	unsigned := &twiliotest.Client{Base: s.Base}
	before := s.events.N.Load()
	for _, p := range []string{Path, GatherPath + "?n=1"} {
		if status, _ := unsigned.Post(t, p, url.Values{"CallSid": {"CA-x"}, "SpeechResult": {"agent"}}); status != http.StatusForbidden {
			t.Errorf("unsigned %s: status %d, want 403", p, status)
		}
	}
	if s.events.N.Load() != before {
		t.Error("an unsigned request took a dialog turn")
	}
}

func TestForEar(t *testing.T) {
	s := newServer(t, "")
	h := s.h
	for _, c := range []struct{ in, want string }{
		{"Thank you! Your report is filed. Your reference number is EX-004211.",
			"Thank you! Your report is filed. Your reference number is E X, 0 0 4 2 1 1."},
		{"Collection is weekly.\nMore: https://www.example.city/garbage",
			"Collection is weekly. There is more on our website."},
		{"Where: 12 King St W\nSize: Large", "Where: 12 King Street West. Size: Large."},
		{"Try \"Main St and 2nd Ave\"", "Try \"Main Street and 2nd Avenue\"."},
		{"St Lawrence Market", "St Lawrence Market."},
		{"Mon, Tue 07:00-20:00; Sat 08:00-16:00", "Mon, Tue 07:00 to 20:00; Sat 08:00 to 16:00."},
	} {
		if got := h.forEar("en", c.in); got != c.want {
			t.Errorf("forEar(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	menu := h.menu([]dialog.Choice{{ID: "a", Label: "Missed collection"}, {ID: "b", Label: "Pothole"}}, "en")
	if menu != "Press 1 for Missed collection, press 2 for Pothole." {
		t.Errorf("menu %q", menu)
	}
	if yn := h.menu([]dialog.Choice{{ID: "yes", Label: "Yes"}, {ID: "no", Label: "No"}}, "en"); !strings.Contains(yn, "press 1") {
		t.Errorf("yes/no menu %q", yn)
	}
}

func TestLanguage(t *testing.T) {
	for _, c := range []struct{ lang, tz, want string }{
		{"en", "America/Toronto", "en-CA"},
		{"fr", "America/Toronto", "fr-CA"},
		{"en", "Europe/London", "en-GB"},
		{"en", "Australia/Sydney", "en-AU"},
		{"en", "America/Indiana/Indianapolis", "en-US"},
		{"en", "", "en-US"},
		{"fr", "Asia/Tokyo", "fr-FR"},
		{"de", "Australia/Sydney", "de-DE"},
		{"en-IE", "America/Toronto", "en-IE"},
		{"", "America/Toronto", "en-CA"},
	} {
		if got := Language(c.lang, c.tz); got != c.want {
			t.Errorf("Language(%q, %q) = %q, want %q", c.lang, c.tz, got, c.want)
		}
	}
}
