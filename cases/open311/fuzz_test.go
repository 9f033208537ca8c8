package open311_test

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/cases/open311"
	"github.com/cityline/cityline/cases/sqlite"
)

// FuzzPost sends any form as a new service request (POST
// requests.json or requests.xml) to the endpoint over a real SQLite
// store. Whatever the body, the endpoint never panics, answers 201 with a
// request id or token, or refuses the standard's way (400, 403, 404, 413)
// with a list of errors, always in valid UTF-8 and the format asked for;
// and a case it files keeps only valid UTF-8 text.
//
//	go test ./cases/open311 -run '^$' -fuzz FuzzPost -fuzztime 2m
func FuzzPost(f *testing.F) {
	seeds := []url.Values{
		{"api_key": {apiKey1}, "service_code": {"POTHOLE"}, "lat": {"43.65"}, "long": {"-79.38"},
			"attribute[SIZE]": {"L"}, "attribute[HAZARDS][]": {"WATER", "TRAFFIC"}, "attribute[DEPTH]": {"12.5"},
			"attribute[SEEN]": {"2026-03-13T08:00:00-04:00"}, "description": {"Deep one <b>here</b>"}, "email": {"a@b.c"}},
		{"api_key": {apiKey2}, "service_code": {"TREE"}, "address_string": {"12 King St W"}, "jurisdiction_id": {jurisdiction}},
		{"api_key": {"wrong"}, "service_code": {"POTHOLE"}},
		{"api_key": {apiKey1}, "service_code": {"NOISE"}, "address_id": {"\xff\xfe"}, "description": {"\x00\xc3("},
			"attribute[SIZE]": {"XL"}, "lat": {"NaN"}, "long": {"1e400"}, "media_url": {"javascript:alert(1)"}},
		{"api_key": {apiKey1}, "service_code": {"POTHOLE"}, "lat": {"91"}, "long": {"-181"}, "attribute[DEPTH]": {"-0x1p-2"}},
	}
	for _, v := range seeds {
		f.Add(v.Encode(), true, "application/x-www-form-urlencoded")
		f.Add(v.Encode(), false, "multipart/form-data; boundary=x")
	}
	f.Add("%zz=1&api_key="+apiKey1, true, "application/x-www-form-urlencoded")
	f.Add("--x\r\nContent-Disposition: form-data; name=\"service_code\"\r\n\r\nPOTHOLE\r\n--x--\r\n", true,
		"multipart/form-data; boundary=x")

	clock := func() time.Time { return casetest.Epoch }
	store, err := sqlite.Open(f.Context(), filepath.Join(f.TempDir(), "cases.db"), casetest.Prefix, clock)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	h, err := open311.New(open311.Config{Store: store, Catalog: catalog(f), APIKeys: []string{apiKey1, apiKey2},
		Jurisdiction: jurisdiction, Location: toronto(f), Agency: "Example City 311", Now: clock})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string, asJSON bool, contentType string) {
		path := open311.Prefix + "requests.xml"
		if asJSON {
			path = open311.Prefix + "requests.json"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Body.Bytes()
		if !utf8.Valid(out) {
			t.Fatalf("answer is not UTF-8: %q", out)
		}
		switch rec.Code {
		case http.StatusCreated, http.StatusOK:
		case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, out)
		}
		if asJSON {
			if !json.Valid(out) {
				t.Fatalf("answer %d is not JSON: %s", rec.Code, out)
			}
		} else if err := xml.Unmarshal(out, new(struct{})); err != nil {
			t.Fatalf("answer %d is not XML: %v\n%s", rec.Code, err, out)
		}
		if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
			return
		}
		var receipt []struct {
			ID    string `json:"service_request_id"`
			Token string `json:"token"`
		}
		if asJSON {
			if err := json.Unmarshal(out, &receipt); err != nil || len(receipt) != 1 || receipt[0].ID == "" && receipt[0].Token == "" {
				t.Fatalf("a request filed without an id or token: %s", out)
			}
			if receipt[0].ID != "" {
				c, err := store.Get(t.Context(), receipt[0].ID)
				if err != nil {
					t.Fatalf("filed %s, then: %v", receipt[0].ID, err)
				}
				checkCase(t, c)
			}
		}
	})
}

func checkCase(t *testing.T, c *cases.Case) {
	t.Helper()
	for _, s := range []string{c.Description, c.Address, c.AddressID, c.Contact.Email, c.Contact.FirstName,
		c.Contact.LastName, c.Contact.Phone, c.Contact.DeviceID, c.Contact.AccountID} {
		if !utf8.ValidString(s) {
			t.Fatalf("case %s keeps invalid UTF-8: %q", c.Ref, s)
		}
	}
	for code, vals := range c.Attributes {
		for _, v := range vals {
			if !utf8.ValidString(v) || !utf8.ValidString(code) {
				t.Fatalf("case %s keeps invalid UTF-8 in %s: %q", c.Ref, code, v)
			}
		}
	}
}
