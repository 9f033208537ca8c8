package load

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReadTwiML(t *testing.T) {
	texts, err := ReadTwiML([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response><Message>One &amp; two</Message>` +
		`<Message><Body>Three</Body></Message></Response>`))
	if err != nil || strings.Join(texts, "|") != "One & two|Three" {
		t.Errorf("ReadTwiML = %q, %v", texts, err)
	}
	if _, err := ReadTwiML([]byte("not xml")); err == nil {
		t.Error("ReadTwiML accepted a body that is not TwiML")
	}
}

// The resident reads the assistant's texts as a person would.
func TestReaderReadsTheCatalogue(t *testing.T) {
	rd := newReader()
	for _, c := range []struct {
		text    string
		choices int
		want    string
	}{
		{"Your report: Pothole\nWhere: 12 King Street West\n\nShall I send it? (yes or no)", 0, "yesno"},
		{"Dois-je l'envoyer? (oui ou non)", 0, "yesno"},
		{"Please answer with a number, like 3 or 2.5.", 0, "number"},
		{"Please give a day and time, like \"yesterday at 5pm\", \"this morning\" or 2026-12-03.", 0, "date"},
		{"About how wide is the pothole?\n\n1. Small\n2. Large", 2, "choice"},
		{"In a sentence or two, describe the problem for our crew. (Or say skip.)", 0, "description"},
		{"About how deep is it, in centimetres? (optional) (You can say skip.)", 0, "text"},
	} {
		if got := rd.kind(c.text, c.choices); got != c.want {
			t.Errorf("kind(%q) = %s, want %s", c.text, got, c.want)
		}
	}
	if !rd.isOptional("About how deep is it? (You can say skip.)") {
		t.Error("an optional question is not read as optional")
	}
	if got := rd.finished(reply{text: "Thank you! Your report (Pothole) is filed. Your reference number is EX-000042."}); got != "EX-000042" {
		t.Errorf("finished = %q", got)
	}
	if got := rd.finished(reply{text: "This looks already reported: Pothole, on Dec 4, 2026 (EX-000007). Would you like to follow that report instead of filing a new one? (yes or no)"}); got != "" {
		t.Errorf("a duplicate offer read as finished: %q", got)
	}
	r := &run{}
	if !r.isTrouble("Sorry, we're having trouble right now. Please call 311 (or 905-555-0311 from outside the city) and we'll help you there.") {
		t.Error("the trouble reply is not recognised")
	}
}

func TestNumbered(t *testing.T) {
	if got := numbered("Which one?\n\n1. Main St\n2. Main Ave\n4. Not this"); strings.Join(got, ",") != "1,2" {
		t.Errorf("numbered = %q", got)
	}
}

func TestIsLoopback(t *testing.T) {
	for u, want := range map[string]bool{"http://127.0.0.1:8311": true, "http://localhost:1": true, "http://[::1]:80": true,
		"https://311.example.city": false, "http://10.0.0.1": false, "::": false} {
		if got := IsLoopback(u); got != want {
			t.Errorf("IsLoopback(%q) = %v", u, got)
		}
	}
}

// BenchmarkBare is the yardstick of the Go benchmarks: the bare handler
// answering one webhook in process, without the network. BENCHMARKS.md
// gives the other benchmarks as multiples of it, run in the same
// `go test` invocation.
func BenchmarkBare(b *testing.B) {
	h := Bare()
	body := Webhook("+15551230000", "when is garbage day", "SM123").Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/twilio/sms", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("bare handler answered %d", rec.Code)
		}
	}
}
