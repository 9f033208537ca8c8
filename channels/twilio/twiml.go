package twilio

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/twilio/twilio-go/twiml"
)

// The TwiML the channels speak, as small values of our own so that only
// this package knows twilio-go's types. Each is built into the document by
// twilio-go's twiml package.

// Verb is one TwiML verb of a voice response: Say, Gather, Dial,
// Redirect, Pause or Hangup.
type Verb interface{ element() twiml.Element }

// Say speaks text.
type Say struct {
	Text     string
	Language string // BCP 47, e.g. en-CA
	Voice    string // Twilio's voice name; empty for the account default
}

// Gather listens for speech and key presses, saying its prompts meanwhile,
// and posts what it heard to Action.
type Gather struct {
	Action        string
	Input         string // "speech dtmf"
	Language      string
	Hints         []string
	SpeechTimeout string // "auto" or seconds
	Timeout       int    // seconds of silence before giving up; 0 for Twilio's default
	NumDigits     int    // 0: until # or the timeout
	FinishOnKey   string
	Prompts       []Say
}

// Dial connects the caller to a phone number.
type Dial struct {
	Number   string
	CallerID string
	Timeout  int // seconds to ring; 0 for Twilio's default
}

// Redirect continues the call with the TwiML at URL (POST).
type Redirect struct{ URL string }

// Pause waits.
type Pause struct{ Seconds int }

// Hangup ends the call.
type Hangup struct{}

func (s Say) element() twiml.Element {
	return twiml.VoiceSay{Message: XMLSafe(s.Text), Language: s.Language, Voice: s.Voice}
}

func (g Gather) element() twiml.Element {
	el := twiml.VoiceGather{Action: g.Action, Method: http.MethodPost, Input: g.Input, Language: g.Language,
		SpeechTimeout: g.SpeechTimeout, FinishOnKey: g.FinishOnKey}
	if len(g.Hints) > 0 {
		el.Hints = XMLSafe(strings.Join(g.Hints, ", "))
	}
	if g.Timeout > 0 {
		el.Timeout = strconv.Itoa(g.Timeout)
	}
	if g.NumDigits > 0 {
		el.NumDigits = strconv.Itoa(g.NumDigits)
	}
	for _, p := range g.Prompts {
		el.InnerElements = append(el.InnerElements, p.element())
	}
	return el
}

func (d Dial) element() twiml.Element {
	el := twiml.VoiceDial{Number: XMLSafe(d.Number), CallerId: d.CallerID}
	if d.Timeout > 0 {
		el.Timeout = strconv.Itoa(d.Timeout)
	}
	return el
}

func (r Redirect) element() twiml.Element {
	return twiml.VoiceRedirect{Url: r.URL, Method: http.MethodPost}
}

func (p Pause) element() twiml.Element {
	el := twiml.VoicePause{}
	if p.Seconds > 0 {
		el.Length = strconv.Itoa(p.Seconds)
	}
	return el
}

func (Hangup) element() twiml.Element { return twiml.VoiceHangup{} }

// VoiceResponse is the TwiML document of verbs.
func VoiceResponse(verbs ...Verb) (string, error) {
	els := make([]twiml.Element, 0, len(verbs))
	for _, v := range verbs {
		els = append(els, v.element())
	}
	return twiml.Voice(els)
}

// MessagingResponse is the TwiML document that replies with one
// <Message> per body; no bodies gives an empty <Response/>, which sends
// nothing.
func MessagingResponse(bodies ...string) (string, error) {
	var els []twiml.Element
	for _, b := range bodies {
		if b = XMLSafe(b); b != "" {
			els = append(els, twiml.MessagingMessage{Body: b})
		}
	}
	return twiml.Messages(els)
}

// WriteTwiML sends a TwiML document.
func WriteTwiML(w http.ResponseWriter, doc string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(doc))
}

// XMLSafe drops what XML 1.0 cannot carry (control characters, invalid
// UTF-8, noncharacters), so a resident's odd bytes echoed back never make
// Twilio reject the document.
func XMLSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == 0x7F, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}
