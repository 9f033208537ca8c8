package twilio_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
)

// Twilio's documented example of a signed request (its security page and
// every official helper library's tests). The caller is +14158675309: the
// copy in issue 4 gives +12349013030, which does not produce this
// signature (it signs to 0/KCTR6DLpKmkAf8muzZqo1nDgQ=).
const (
	docToken = "12345"
	docURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	docSig   = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
)

var docParams = url.Values{
	"CallSid": {"CA1234567890ABCDE"},
	"Caller":  {"+14158675309"},
	"Digits":  {"1234"},
	"From":    {"+14158675309"},
	"To":      {"+18005551212"},
}

func TestDocumentedSignature(t *testing.T) {
	if got := twilio.Sign(docToken, docURL, docParams); got != docSig {
		t.Errorf("independent signer: got %s, want %s", got, docSig)
	}
	v := twilio.NewVerifier(twilio.VerifierConfig{AuthToken: docToken})
	body := []byte(docParams.Encode())
	if !v.Valid(docURL, body, docSig) {
		t.Error("verifier rejects Twilio's documented example")
	}
	tampered := url.Values{}
	for k, vs := range docParams {
		tampered[k] = vs
	}
	tampered.Set("Digits", "1235")
	for name, c := range map[string]struct {
		url, body, sig, token string
	}{
		"tampered parameter": {docURL, tampered.Encode(), docSig, docToken},
		"other URL":          {"https://mycompany.com/myapp.php?foo=1&bar=3", string(body), docSig, docToken},
		"wrong token":        {docURL, string(body), docSig, "54321"},
		"empty signature":    {docURL, string(body), "", docToken},
		"no token":           {docURL, string(body), docSig, ""},
	} {
		v := twilio.NewVerifier(twilio.VerifierConfig{AuthToken: c.token})
		if v.Valid(c.url, []byte(c.body), c.sig) {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSignerAgreesWithValidator signs assorted requests independently and
// checks twilio-go's validator accepts each.
func TestSignerAgreesWithValidator(t *testing.T) {
	v := twilio.NewVerifier(twilio.VerifierConfig{AuthToken: "f00dcafe"})
	for _, c := range []struct {
		url    string
		params url.Values
	}{
		{"https://311.example.city/twilio/sms", url.Values{"Body": {"Pothole at 12 King St W"}, "From": {"+15551230000"}}},
		{"https://311.example.city/twilio/voice/gather?n=3", url.Values{"SpeechResult": {"twelve King Street West"}, "CallSid": {"CA1"}}},
		{"https://311.example.city/twilio/sms", url.Values{"Body": {"Ça déborde — “vite” 🚧 & <b>"}, "NumMedia": {"0"}}},
		{"http://localhost:8311/twilio/sms", url.Values{}},
	} {
		sig := twiliotest.Sign("f00dcafe", c.url, c.params)
		if !v.Valid(c.url, []byte(c.params.Encode()), sig) {
			t.Errorf("%s %v: independent signature rejected", c.url, c.params)
		}
	}
}

func TestWrap(t *testing.T) {
	const token = "s3cr3t"
	form := url.Values{"From": {"+15551230000"}, "Body": {"hello"}, "MessageSid": {"SM1"}}
	loopback := func(r *http.Request) bool { return strings.HasPrefix(r.RemoteAddr, "127.0.0.1:") }
	type request struct {
		remote, ctype, body, sig, path string
	}
	sign := func(u string, params url.Values) string { return twiliotest.Sign(token, u, params) }
	cases := []struct {
		name    string
		cfg     twilio.VerifierConfig
		req     request
		status  int
		reached bool
	}{
		{"signed", twilio.VerifierConfig{AuthToken: token, PublicURL: "https://311.example.city"},
			request{sig: sign("https://311.example.city/twilio/sms", form)}, 200, true},
		{"signed with query", twilio.VerifierConfig{AuthToken: token, PublicURL: "https://311.example.city"},
			request{path: "/twilio/sms?n=2", sig: sign("https://311.example.city/twilio/sms?n=2", form)}, 200, true},
		{"public URL with a path prefix behind a proxy", twilio.VerifierConfig{AuthToken: token, PublicURL: "https://city.example/311/"},
			request{sig: sign("https://city.example/311/twilio/sms", form)}, 200, true},
		{"no public URL: the Host header", twilio.VerifierConfig{AuthToken: token},
			request{sig: sign("http://example.com/twilio/sms", form)}, 200, true},
		{"missing signature", twilio.VerifierConfig{AuthToken: token, PublicURL: "https://311.example.city"},
			request{}, 403, false},
		{"signed for the wrong host", twilio.VerifierConfig{AuthToken: token, PublicURL: "https://311.example.city"},
			request{sig: sign("http://example.com/twilio/sms", form)}, 403, false},
		{"tampered body", twilio.VerifierConfig{AuthToken: token, PublicURL: "https://311.example.city"},
			request{body: strings.Replace(form.Encode(), "hello", "HELLO", 1), sig: sign("https://311.example.city/twilio/sms", form)}, 403, false},
		{"signed with another token", twilio.VerifierConfig{AuthToken: token, PublicURL: "https://311.example.city"},
			request{sig: twiliotest.Sign("other", "https://311.example.city/twilio/sms", form)}, 403, false},
		{"dev: unsigned from loopback", twilio.VerifierConfig{Unsigned: loopback},
			request{remote: "127.0.0.1:5555"}, 200, true},
		{"dev: unsigned from elsewhere", twilio.VerifierConfig{Unsigned: loopback},
			request{remote: "203.0.113.9:5555"}, 403, false},
		{"dev with a token: tampered from loopback still refused", twilio.VerifierConfig{AuthToken: token, Unsigned: loopback},
			request{remote: "127.0.0.1:5555", sig: "bm9wZQ=="}, 403, false},
		{"no token and not dev", twilio.VerifierConfig{},
			request{sig: sign("http://example.com/twilio/sms", form)}, 403, false},
		{"malformed form", twilio.VerifierConfig{AuthToken: token},
			request{body: "From=%zz&Body=x"}, 400, false},
		{"not a form", twilio.VerifierConfig{AuthToken: token},
			request{ctype: "application/json", body: `{"From":"+1"}`}, 415, false},
		{"too large", twilio.VerifierConfig{AuthToken: token},
			request{body: "Body=" + strings.Repeat("a", twilio.MaxWebhookBytes)}, 413, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var reached atomic.Bool
			var gotFrom string
			h := twilio.NewVerifier(c.cfg).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached.Store(true)
				gotFrom = r.PostFormValue("From")
				io.WriteString(w, "ok")
			}))
			path := c.req.path
			if path == "" {
				path = "/twilio/sms"
			}
			body := c.req.body
			if body == "" {
				body = form.Encode()
			}
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.req.ctype != "" {
				r.Header.Set("Content-Type", c.req.ctype)
			}
			if c.req.sig != "" {
				r.Header.Set(twilio.SignatureHeader, c.req.sig)
			}
			if c.req.remote != "" {
				r.RemoteAddr = c.req.remote
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.status {
				t.Errorf("status %d, want %d (%s)", w.Code, c.status, strings.TrimSpace(w.Body.String()))
			}
			if reached.Load() != c.reached {
				t.Errorf("handler reached: %v, want %v", reached.Load(), c.reached)
			}
			if c.reached && gotFrom != "+15551230000" {
				t.Errorf("handler saw From %q: the form was not passed on", gotFrom)
			}
		})
	}
}
