package sms_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cityline/cityline/cases/sqlite"
	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/sessiontest"
)

// FuzzWebhook posts any body to the Messaging webhook, behind the
// signature check, signed as Twilio would sign it or not. Whatever comes
// in, the channel answers with a status a webhook may get (200, 400, 403,
// 413, 415), never panics, and a 200 is well-formed TwiML whose messages
// are valid UTF-8 that XML can carry.
//
//	go test ./channels/sms -run '^$' -fuzz FuzzWebhook -fuzztime 2m
func FuzzWebhook(f *testing.F) {
	seed := func(v url.Values) string { return v.Encode() }
	for _, body := range []string{
		seed(url.Values{"From": {resident}, "To": {cityNum}, "Body": {"There is a big pothole at 12 King St W"}, "MessageSid": {"SM1"}}),
		seed(url.Values{"From": {"whatsapp:" + resident}, "Body": {"STOP"}, "MessageSid": {"SM2"}}),
		seed(url.Values{"From": {resident}, "Body": {"\xff\xfe\x00 hi \u2028"}, "NumMedia": {"2"},
			"MediaUrl0": {"https://api.twilio.com/x.jpg"}, "MediaContentType0": {"image/jpeg"}, "MediaUrl1": {"::"}}),
		seed(url.Values{"From": {resident}, "Body": {"status EX-000001"}, "SmsSid": {"SM3"}}),
		"From=%2B1555&Body=%zz", "Body=no+sender", "", "From=&From=%2B15551230000&Body=yes",
	} {
		f.Add(body, true, "")
		f.Add(body, false, "application/x-www-form-urlencoded; charset=utf-8")
	}
	p, ix, cat := sessiontest.Example(f)
	store, err := sqlite.Open(f.Context(), filepath.Join(f.TempDir(), "cases.db"), p.City.ReferencePrefix, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	eng, err := dialog.New(dialog.Config{Pack: p, Router: dialog.NewRouter(p, ix, cat), Catalog: cat, Cases: store})
	if err != nil {
		f.Fatal(err)
	}
	h, err := sms.New(sms.Config{Engine: eng, OptOuts: store})
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux, twilio.NewVerifier(twilio.VerifierConfig{AuthToken: authToken, PublicURL: publicURL}).Wrap)

	f.Fuzz(func(t *testing.T, body string, signed bool, contentType string) {
		req := httptest.NewRequest(http.MethodPost, sms.Path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if signed {
			form, err := url.ParseQuery(body)
			if err != nil {
				form = url.Values{}
			}
			req.Header.Set(twilio.SignatureHeader, twiliotest.Sign(authToken, publicURL+sms.Path, form))
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge,
			http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		if !utf8.Valid(rec.Body.Bytes()) {
			t.Fatalf("reply is not UTF-8: %q", rec.Body)
		}
		if rec.Code != http.StatusOK {
			return
		}
		var doc struct {
			Messages []string `xml:"Message"`
		}
		if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("reply is not TwiML: %v\n%s", err, rec.Body)
		}
		for _, m := range doc.Messages {
			for _, r := range m {
				if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
					t.Fatalf("reply carries %U: %q", r, m)
				}
			}
		}
	})
}
