package twilio_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
	"github.com/twilio/twilio-go/client"
)

// FuzzVerify checks the webhook signature check against twilio-go's own
// RequestValidator, for any URL, body and signature: the two always
// agree (the check settles the usual case with one HMAC of its own before
// asking twilio-go), a body Twilio signed is let through, and Wrap
// answers every request with a status a webhook may get.
//
//	go test ./channels/twilio -run '^$' -fuzz FuzzVerify -fuzztime 2m
func FuzzVerify(f *testing.F) {
	f.Add("/twilio/sms", docParams.Encode(), "", true)
	f.Add("/twilio/voice/gather?n=2&lang=en", "CallSid=CA1&Digits=1&Digits=2", "", true)
	f.Add("/myapp.php?foo=1&bar=2", docParams.Encode(), docSig, false)
	f.Add("/x?bodySHA256=abc", `{"a":1}`, "garbage", false)
	f.Add("/%zz", "a=%zz", "", true)
	const token = docToken
	v := twilio.NewVerifier(twilio.VerifierConfig{AuthToken: token, PublicURL: "https://mycompany.com"})
	rv := client.NewRequestValidator(token)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.PostForm.Encode())
	})
	wrapped := v.Wrap(next)
	f.Fuzz(func(t *testing.T, path, body, sig string, sign bool) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		full := "https://mycompany.com" + path
		if sign {
			if form, err := url.ParseQuery(body); err == nil {
				sig = twiliotest.Sign(token, full, form)
			}
		}
		got, want := v.Valid(full, []byte(body), sig), rv.ValidateBody(full, []byte(body), sig)
		if got != want {
			t.Fatalf("Valid(%q, %q, %q) = %v, twilio-go says %v", full, body, sig, got, want)
		}
		req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a server could receive
		}
		req.Header.Set(twilio.SignatureHeader, sig)
		want = rv.ValidateBody(v.URL(req), []byte(body), sig) // the URL as the server rebuilds it
		rec := httptest.NewRecorder()
		wrapped.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge,
			http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("Wrap answered %d", rec.Code)
		}
		if rec.Code == http.StatusOK && !want {
			t.Fatalf("Wrap let through %q signed %q, which twilio-go refuses", body, sig)
		}
	})
}
