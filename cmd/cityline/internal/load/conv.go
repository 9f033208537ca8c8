package load

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/cityline/cityline/dialog/locale"

	"github.com/cityline/cityline/channels/twilio"
)

// msg is what a resident sends: words, or a button pressed (web).
type msg struct {
	text, choice string
}

// reply is what came back, read the same way for both channels.
type reply struct {
	text     string
	choices  []string // web: the choices' ids; text: "1", "2", ...
	expect   string   // web only: the kind of answer asked for
	optional bool     // web only
	caseRef  string   // web only: the case filed or looked up
	web      bool
}

// conv is one conversation on a channel.
type conv interface {
	// open starts the conversation (a web chat is created; a text
	// conversation needs nothing).
	open(ctx context.Context) error
	send(ctx context.Context, m msg) (reply, error)
	channel() string
}

// statusError: the server answered with an unexpected HTTP status.
type statusError int

func (s statusError) Error() string { return "HTTP " + strconv.Itoa(int(s)) }

var (
	errEmpty     = errors.New("empty reply")
	errBadReply  = errors.New("unreadable reply")
	maxReplySize = int64(1 << 20)
)

// smsConv is a conversation by text: each message a signed Messaging
// webhook, as Twilio posts it, answered with TwiML.
type smsConv struct {
	run  *run
	from string
}

func (c *smsConv) channel() string { return "sms" }

func (c *smsConv) open(context.Context) error { return nil }

// SMSPath is where Twilio posts incoming texts.
const SMSPath = "/twilio/sms"

func (c *smsConv) send(ctx context.Context, m msg) (reply, error) {
	r := c.run
	form := Webhook(c.from, m.text, r.sid())
	body, err := post(ctx, r.sms, r.cfg.Base+SMSPath, "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()), func(h http.Header) {
			if r.cfg.AuthToken != "" {
				h.Set("X-Twilio-Signature", twilio.Sign(r.cfg.AuthToken, r.cfg.PublicURL+SMSPath, form))
			}
		}, http.StatusOK)
	if err != nil {
		return reply{}, err
	}
	texts, err := ReadTwiML(body)
	if err != nil {
		return reply{}, err
	}
	if len(texts) == 0 {
		return reply{}, errEmpty
	}
	text := strings.Join(texts, "\n")
	return reply{text: text, choices: numbered(text)}, nil
}

// Webhook is the form Twilio posts for an incoming text, with the
// fields a real one carries.
func Webhook(from, body, sid string) url.Values {
	return url.Values{
		"ToCountry": {"US"}, "ToState": {"NY"}, "SmsMessageSid": {sid}, "NumMedia": {"0"}, "ToCity": {""},
		"FromZip": {""}, "SmsSid": {sid}, "FromState": {"ON"}, "SmsStatus": {"received"}, "FromCity": {""},
		"Body": {body}, "FromCountry": {"CA"}, "To": {"+15550100311"}, "ToZip": {""}, "NumSegments": {"1"},
		"MessageSid": {sid}, "AccountSid": {"AC00000000000000000000000000000000"}, "From": {from},
		"ApiVersion": {"2010-04-01"},
	}
}

// ReadTwiML returns the texts of a Messaging TwiML document's <Message>s.
func ReadTwiML(doc []byte) ([]string, error) {
	var resp struct {
		XMLName  xml.Name `xml:"Response"`
		Messages []struct {
			Text string `xml:",chardata"`
			Body string `xml:"Body"`
		} `xml:"Message"`
	}
	if err := xml.Unmarshal(doc, &resp); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadReply, err)
	}
	var out []string
	for _, m := range resp.Messages {
		if t := strings.TrimSpace(m.Text + m.Body); t != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

// numbered returns "1", "2"... for the numbered options at the end of a
// text ("1. Smaller than a dinner plate").
func numbered(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, strconv.Itoa(len(out)+1)+". ") {
			out = append(out, strconv.Itoa(len(out)+1))
		}
	}
	return out
}

// webConv is a conversation on the web chat's JSON API, from a browser
// of its own.
type webConv struct {
	run   *run
	hc    *http.Client
	id    string
	token string
}

func (c *webConv) channel() string { return "web" }

func (c *webConv) close() {
	if c.hc != nil && c.hc != c.run.sms {
		c.hc.CloseIdleConnections()
	}
}

// open creates the conversation, from a browser (an address) of its own.
func (c *webConv) open(ctx context.Context) error {
	c.hc = c.run.webClient()
	body, err := post(ctx, c.hc, c.run.cfg.Base+"/api/v1/conversations", "application/json", nil, nil, http.StatusCreated)
	if err != nil {
		return fmt.Errorf("start a web chat: %w", err)
	}
	var created struct{ ID, Token string }
	if err := json.Unmarshal(body, &created); err != nil || created.ID == "" || created.Token == "" {
		return fmt.Errorf("start a web chat: %w", errBadReply)
	}
	c.id, c.token = created.ID, created.Token
	return nil
}

func (c *webConv) send(ctx context.Context, m msg) (reply, error) {
	base := c.run.cfg.Base + "/api/v1/conversations"
	in, _ := json.Marshal(struct {
		Text   string `json:"text,omitempty"`
		Choice string `json:"choice,omitempty"`
	}{m.text, m.choice})
	body, err := post(ctx, c.hc, base+"/"+c.id+"/messages", "application/json", bytes.NewReader(in),
		func(h http.Header) { h.Set("Authorization", "Bearer "+c.token) }, http.StatusOK)
	if err != nil {
		return reply{}, err
	}
	var turn struct {
		Reply   string `json:"reply"`
		Choices []struct {
			ID string `json:"id"`
		} `json:"choices"`
		Expect   string `json:"expect"`
		Optional bool   `json:"optional"`
		Case     *struct {
			ID string `json:"id"`
		} `json:"case"`
	}
	if err := json.Unmarshal(body, &turn); err != nil {
		return reply{}, fmt.Errorf("%w: %v", errBadReply, err)
	}
	if strings.TrimSpace(turn.Reply) == "" {
		return reply{}, errEmpty
	}
	r := reply{text: turn.Reply, expect: turn.Expect, optional: turn.Optional, web: true}
	for _, ch := range turn.Choices {
		r.choices = append(r.choices, ch.ID)
	}
	if turn.Case != nil {
		r.caseRef = turn.Case.ID
	}
	return r, nil
}

// post sends a request and returns the body of a response of status want.
func post(ctx context.Context, hc *http.Client, u, contentType string, body io.Reader, header func(http.Header), want int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if header != nil {
		header(req.Header)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReplySize))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return b, statusError(resp.StatusCode)
	}
	return b, nil
}

// reader reads a text reply the way a resident does: is it asking yes or
// no, a number, a day, to pick an option, a place? It knows the
// assistant's own wording (the built-in catalogues), by the parts of each
// sentence that do not change.
type reader struct {
	kinds    [][2]string // fragment, kind, in the order they are tried
	optional []string
	done     []string
	trouble  []string
}

var (
	readerOnce sync.Once
	theReader  *reader
)

func (r *run) reader() *reader {
	readerOnce.Do(func() { theReader = newReader() })
	return theReader
}

func newReader() *reader {
	rd := &reader{}
	cat, err := locale.New([]string{"en", "fr"}, nil)
	if err != nil {
		return rd
	}
	kinds := []struct{ kind, key string }{
		{"yesno", "confirm_ask"}, {"yesno", "hint_confirm"}, {"yesno", "duplicate_offer"}, {"yesno", "switch_offer"},
		{"yesno", "resume_offer"}, {"number", "hint_number"}, {"date", "hint_datetime"}, {"multichoice", "hint_multi"},
		{"choice", "hint_choice"}, {"location", "ask_location"}, {"location", "hint_location"},
		{"location", "place_unknown"}, {"description", "ask_description"},
	}
	for _, lang := range cat.Languages() {
		for _, k := range kinds {
			if f := fold(fragment(cat.T(lang, k.key))); f != "" {
				rd.kinds = append(rd.kinds, [2]string{f, k.kind})
			}
		}
		for _, key := range []string{"optional_skip"} {
			if f := fold(fragment(cat.T(lang, key))); f != "" {
				rd.optional = append(rd.optional, f)
			}
		}
		for _, key := range []string{"filed", "duplicate_followed", "duplicate_track"} {
			if f := fold(fragment(cat.T(lang, key))); f != "" {
				rd.done = append(rd.done, f)
			}
		}
		if f := fold(fragment(cat.T(lang, "trouble"))); f != "" {
			rd.trouble = append(rd.trouble, f)
		}
	}
	return rd
}

// fragment is the longest part of a catalogue message without
// placeholders ({ref}).
func fragment(msg string) string {
	best := ""
	for _, part := range strings.FieldsFunc(msg, func(r rune) bool { return r == '{' || r == '}' }) {
		if strings.Contains(msg, "{"+part+"}") {
			continue
		}
		if len(part) > len(best) {
			best = part
		}
	}
	return strings.TrimSpace(best)
}

// kind says what a text reply asks for.
func (rd *reader) kind(text string, choices int) string {
	t := fold(text)
	for _, k := range rd.kinds {
		if strings.Contains(t, k[0]) {
			return k[1]
		}
	}
	if choices > 0 {
		return "choice"
	}
	return "text"
}

func (rd *reader) isOptional(text string) bool {
	return containsAny(fold(text), rd.optional)
}

// finished returns the reference a report ended with: a case filed, or
// one already reported that the resident follows.
func (rd *reader) finished(r reply) string {
	if r.caseRef != "" {
		return r.caseRef
	}
	if containsAny(fold(r.text), rd.done) {
		return refRE.FindString(r.text)
	}
	return ""
}

func containsAny(s string, frags []string) bool {
	for _, f := range frags {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// fold keeps only the letters and digits of s, lower case and without
// accents: texts sent as GSM-7 lose some punctuation and accents.
func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune("àâäá", r):
			b.WriteByte('a')
		case strings.ContainsRune("éèêë", r):
			b.WriteByte('e')
		case strings.ContainsRune("îïí", r):
			b.WriteByte('i')
		case strings.ContainsRune("ôöó", r):
			b.WriteByte('o')
		case strings.ContainsRune("ùûüú", r):
			b.WriteByte('u')
		case r == 'ç':
			b.WriteByte('c')
		}
	}
	return b.String()
}

// isTrouble reports whether a reply is the server's "we're having
// trouble, please call" answer.
func (r *run) isTrouble(text string) bool {
	return containsAny(fold(text), r.reader().trouble)
}
