package twilio_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
)

func TestMessagingResponse(t *testing.T) {
	for _, c := range []struct {
		name   string
		bodies []string
		want   []string
	}{
		{"one", []string{"Hello & <welcome>"}, []string{"Hello & <welcome>"}},
		{"two", []string{"first", "second"}, []string{"first", "second"}},
		{"none: empty response", nil, nil},
		{"control characters dropped", []string{"a\x00b\x1bc\x7fd\xffe\nf"}, []string{"abcde\nf"}},
		{"empty body skipped", []string{"", "x"}, []string{"x"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, err := twilio.MessagingResponse(c.bodies...)
			if err != nil {
				t.Fatal(err)
			}
			root := twiliotest.Parse(t, doc, twiliotest.MessagingVerbs)
			if got := root.Texts("Message"); !slices.Equal(got, c.want) {
				t.Errorf("messages %q, want %q\n%s", got, c.want, doc)
			}
		})
	}
}

func TestVoiceResponse(t *testing.T) {
	doc, err := twilio.VoiceResponse(
		twilio.Gather{Action: "/twilio/voice/gather?n=1&quiet=0", Input: "speech dtmf", Language: "en-CA",
			SpeechTimeout: "auto", Hints: []string{"pothole", "missed collection"}, NumDigits: 1, Timeout: 6,
			Prompts: []twilio.Say{{Text: "Press 1 for potholes & more.", Language: "en-CA"}}},
		twilio.Say{Text: "Goodbye.", Language: "en-CA"},
		twilio.Dial{Number: "+15550100", Timeout: 20},
		twilio.Pause{Seconds: 1},
		twilio.Redirect{URL: "/twilio/voice/gather?n=1&quiet=2"},
		twilio.Hangup{},
	)
	if err != nil {
		t.Fatal(err)
	}
	root := twiliotest.Parse(t, doc, twiliotest.VoiceVerbs)
	var names []string
	for _, c := range root.Children {
		names = append(names, c.Name)
	}
	if want := []string{"Gather", "Say", "Dial", "Pause", "Redirect", "Hangup"}; !slices.Equal(names, want) {
		t.Fatalf("verbs %v, want %v\n%s", names, want, doc)
	}
	g := root.Children[0]
	for attr, want := range map[string]string{"input": "speech dtmf", "language": "en-CA", "speechTimeout": "auto",
		"action": "/twilio/voice/gather?n=1&quiet=0", "method": "POST", "numDigits": "1", "timeout": "6",
		"hints": "pothole, missed collection"} {
		if got := g.Attr(attr); got != want {
			t.Errorf("Gather %s=%q, want %q", attr, got, want)
		}
	}
	if got := g.Children[0].Text; got != "Press 1 for potholes & more." {
		t.Errorf("prompt %q", got)
	}
	if got := root.Children[2].Text; got != "+15550100" {
		t.Errorf("Dial %q", got)
	}
	if got := root.Children[4].Attr("method"); got != "POST" {
		t.Errorf("Redirect method %q", got)
	}
}

func TestGSM7(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Plain text, 100% GSM: @£$¥ é è à ü {curly} [square] €5", "Plain text, 100% GSM: @£$¥ é è à ü {curly} [square] €5"},
		{"It’s “quoted” — really…", `It's "quoted" - really...`},
		{"Mon–Fri\u00a07:00", "Mon-Fri 7:00"},
		{"Fenêtre brisée, ça déborde", "Fenetre brisée, ca déborde"},
		{"Thanks 👍 see you", "Thanks see you"},
		{"• one\n• two", "- one\n- two"},
		{"zero\u200bwidth", "zerowidth"},
		{"œuvre", "oeuvre"},
		{"sheds over 15 m², at 20°C or warmer", "sheds over 15 m2, at 20 deg C or warmer"},
		{"Fixed ✅\nThanks", "Fixed\nThanks"},
	} {
		got := twilio.ToGSM7(c.in)
		if got != c.want {
			t.Errorf("ToGSM7(%q) = %q, want %q", c.in, got, c.want)
		}
		if !twilio.IsGSM7(got) {
			t.Errorf("ToGSM7(%q) = %q still needs UCS-2", c.in, got)
		}
	}
}

func TestSegments(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("a", 306), 2},
		{strings.Repeat("a", 307), 3},
		{strings.Repeat("€", 80), 1},        // 160 septets
		{strings.Repeat("€", 81), 2},        // extension characters count twice
		{strings.Repeat("ê", 70), 1},        // UCS-2
		{strings.Repeat("ê", 71), 2},        // 67 a segment once split
		{strings.Repeat("a", 159) + "’", 3}, // one curly quote: UCS-2, 160 characters
	} {
		if got := twilio.Segments(c.in); got != c.want {
			t.Errorf("Segments(%d × %q…) = %d, want %d", len([]rune(c.in)), firstRune(c.in), got, c.want)
		}
	}
}

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

func TestSplit(t *testing.T) {
	para := strings.Repeat("Word ", 100) // 500 characters
	long := strings.Join([]string{para, para, para, para}, "\n\n")
	for _, c := range []struct {
		name  string
		in    string
		max   int
		parts int
	}{
		{"short", "hello", 0, 1},
		{"exactly the limit", strings.Repeat("a", 1600), 0, 1},
		{"paragraphs", long, 0, 2},
		{"one endless word", strings.Repeat("x", 4000), 0, 3},
		{"emoji count twice", strings.Repeat("🚧", 900), 0, 2},
		{"small limit, sentences", "One. Two. Three. Four.", 10, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			parts := twilio.Split(c.in, c.max)
			max := c.max
			if max == 0 {
				max = twilio.MaxBody
			}
			if len(parts) != c.parts {
				t.Errorf("%d parts, want %d: %q", len(parts), c.parts, parts)
			}
			if squash(strings.Join(parts, "")) != squash(c.in) {
				t.Errorf("text lost or changed in splitting")
			}
			for i, p := range parts {
				if twilio.Length(p) > max {
					t.Errorf("part %d is %d characters, over %d", i, twilio.Length(p), max)
				}
				if p == "" {
					t.Errorf("part %d empty", i)
				}
			}
		})
	}
	// Paragraphs are kept whole when they fit.
	parts := twilio.Split(long, 0)
	if !strings.HasSuffix(parts[0], "Word") || strings.Count(parts[0], "\n\n") != 2 {
		t.Errorf("split mid-paragraph: first part ends %q", parts[0][len(parts[0])-20:])
	}
}

func squash(s string) string { return strings.Join(strings.Fields(s), "") }
