package open311_test

// A client of GeoReport v2 written only from the specification
// (wiki.open311.org/GeoReport_v2): net/http, encoding/json, encoding/xml,
// and its own reading of the documents. It uses nothing of package
// open311, so the server is checked against the standard rather than
// against itself.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/cases/open311"
)

type specService struct {
	Code        string `json:"service_code" xml:"service_code"`
	Name        string `json:"service_name" xml:"service_name"`
	Description string `json:"description" xml:"description"`
	Metadata    bool   `json:"metadata" xml:"metadata"`
	Type        string `json:"type" xml:"type"`
	Keywords    string `json:"keywords" xml:"keywords"`
	Group       string `json:"group" xml:"group"`
}

type specServicesXML struct {
	XMLName  xml.Name      `xml:"services"`
	Services []specService `xml:"service"`
}

type specValue struct {
	Key  string `json:"key" xml:"key"`
	Name string `json:"name" xml:"name"`
}

type specAttribute struct {
	Variable            bool        `json:"variable" xml:"variable"`
	Code                string      `json:"code" xml:"code"`
	Datatype            string      `json:"datatype" xml:"datatype"`
	Required            bool        `json:"required" xml:"required"`
	DatatypeDescription string      `json:"datatype_description" xml:"datatype_description"`
	Order               int         `json:"order" xml:"order"`
	Description         string      `json:"description" xml:"description"`
	Values              []specValue `json:"values" xml:"values>value"`
}

type specDefinition struct {
	XMLName    xml.Name        `json:"-" xml:"service_definition"`
	Code       string          `json:"service_code" xml:"service_code"`
	Attributes []specAttribute `json:"attributes" xml:"attributes>attribute"`
}

type specReceipt struct {
	ID        string `json:"service_request_id" xml:"service_request_id"`
	Token     string `json:"token" xml:"token"`
	Notice    string `json:"service_notice" xml:"service_notice"`
	AccountID string `json:"account_id" xml:"account_id"`
}

type specRequest struct {
	ID          string   `json:"service_request_id" xml:"service_request_id"`
	Status      string   `json:"status" xml:"status"`
	StatusNotes string   `json:"status_notes" xml:"status_notes"`
	ServiceName string   `json:"service_name" xml:"service_name"`
	ServiceCode string   `json:"service_code" xml:"service_code"`
	Description string   `json:"description" xml:"description"`
	Agency      string   `json:"agency_responsible" xml:"agency_responsible"`
	Notice      string   `json:"service_notice" xml:"service_notice"`
	Requested   string   `json:"requested_datetime" xml:"requested_datetime"`
	Updated     string   `json:"updated_datetime" xml:"updated_datetime"`
	Expected    string   `json:"expected_datetime" xml:"expected_datetime"`
	Address     string   `json:"address" xml:"address"`
	AddressID   string   `json:"address_id" xml:"address_id"`
	Zipcode     string   `json:"zipcode" xml:"zipcode"`
	Lat         *float64 `json:"lat" xml:"lat"`
	Long        *float64 `json:"long" xml:"long"`
	MediaURL    string   `json:"media_url" xml:"media_url"`
}

type specRequestsXML struct {
	XMLName  xml.Name      `xml:"service_requests"`
	Requests []specRequest `xml:"request"`
}

type specReceiptsXML struct {
	XMLName  xml.Name      `xml:"service_requests"`
	Requests []specReceipt `xml:"request"`
}

type specError struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
}

type specErrorsXML struct {
	XMLName xml.Name    `xml:"errors"`
	Errors  []specError `xml:"error"`
}

type specDiscovery struct {
	Changeset  string `json:"changeset" xml:"changeset"`
	Contact    string `json:"contact" xml:"contact"`
	KeyService string `json:"key_service" xml:"key_service"`
	Endpoints  []struct {
		Specification string   `json:"specification" xml:"specification"`
		URL           string   `json:"url" xml:"url"`
		Type          string   `json:"type" xml:"type"`
		Formats       []string `json:"formats" xml:"formats>format"`
	} `json:"endpoints" xml:"endpoints>endpoint"`
}

// specClient is the client: an endpoint URL, and every body it read.
type specClient struct {
	t        testing.TB
	endpoint string
	seen     [][]byte // every GET answer, raw
}

// get fetches path and returns the status and the body, checking what
// the specification says of every answer: UTF-8, the content type of the
// format, and the XML declaration.
func (c *specClient) get(path string) (int, []byte) {
	c.t.Helper()
	resp, err := http.Get(c.endpoint + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	c.check(path, resp, body)
	c.seen = append(c.seen, body)
	return resp.StatusCode, body
}

func (c *specClient) post(path string, form url.Values) (int, []byte) {
	c.t.Helper()
	resp, err := http.Post(c.endpoint+path, "application/x-www-form-urlencoded; charset=utf-8", strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	c.check(path, resp, body)
	return resp.StatusCode, body
}

func (c *specClient) check(path string, resp *http.Response, body []byte) {
	c.t.Helper()
	ct := resp.Header.Get("Content-Type")
	base, _, _ := strings.Cut(path, "?")
	switch {
	case strings.HasSuffix(base, ".json"):
		if ct != "application/json; charset=utf-8" {
			c.t.Errorf("%s: Content-Type %q, want application/json; charset=utf-8", path, ct)
		}
		if !json.Valid(body) {
			c.t.Errorf("%s: not JSON: %s", path, body)
		}
	case strings.HasSuffix(base, ".xml"):
		if ct != "text/xml; charset=utf-8" {
			c.t.Errorf("%s: Content-Type %q, want text/xml; charset=utf-8", path, ct)
		}
		if !bytes.HasPrefix(body, []byte(`<?xml version="1.0" encoding="utf-8"?>`)) {
			c.t.Errorf("%s: no XML declaration with encoding=\"utf-8\": %.80s", path, body)
		}
	}
}

// decode reads body as format into v (JSON) or x (XML).
func decode(t testing.TB, format string, body []byte, v, x any) {
	t.Helper()
	var err error
	if format == "json" {
		err = json.Unmarshal(body, v)
	} else {
		err = xml.Unmarshal(body, x)
	}
	if err != nil {
		t.Fatalf("%s answer does not read as the specification's: %v\n%s", format, err, body)
	}
}

// errorsOf reads the standard error answer.
func errorsOf(t testing.TB, format string, body []byte) []specError {
	t.Helper()
	var list []specError
	var x specErrorsXML
	decode(t, format, body, &list, &x)
	if format == "xml" {
		list = x.Errors
	}
	if len(list) == 0 {
		t.Errorf("error answer lists no errors: %s", body)
	}
	for _, e := range list {
		if e.Code == 0 || strings.TrimSpace(e.Description) == "" {
			t.Errorf("error without a code or a description: %+v in %s", e, body)
		}
	}
	return list
}

func (c *specClient) requests(format, path string) []specRequest {
	c.t.Helper()
	status, body := c.get(path)
	if status != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	var list []specRequest
	var x specRequestsXML
	decode(c.t, format, body, &list, &x)
	if format == "xml" {
		list = x.Requests
	}
	return list
}

func (c *specClient) receipt(format string, body []byte) specReceipt {
	c.t.Helper()
	var list []specReceipt
	var x specReceiptsXML
	decode(c.t, format, body, &list, &x)
	if format == "xml" {
		list = x.Requests
	}
	if len(list) != 1 {
		c.t.Fatalf("POST answer has %d entries, want 1: %s", len(list), body)
	}
	return list[0]
}

// The contact details of the resident in these tests. None may ever be
// in a GET answer.
var contact = url.Values{
	"email":      {"ana.le@example.org"},
	"phone":      {"+1 (555) 010-4477"},
	"first_name": {"Anabelle"},
	"last_name":  {"Letourneau"},
	"device_id":  {"device-9f8e7d6c"},
	"account_id": {"acct-5544332211"},
}

// TestSpecClient is the walk-through: a client written from the
// specification lists services, reads a definition, posts a request with
// attributes (a multivaluelist among them) and reads it back in JSON and
// XML; refusals come as the standard's error answers; no contact detail
// is ever published.
func TestSpecClient(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			clock := casetest.Clock(t)
			s, _ := b.open(t, clock.Now)
			srv := startServer(t, s, clock.Now)
			c := &specClient{t: t, endpoint: srv.URL + "/open311/v2/"}
			want := catalog(t)

			for _, format := range []string{"json", "xml"} {
				// Discovery.
				status, body := c.get("discovery." + format)
				var disc specDiscovery
				decode(t, format, body, &disc, &disc)
				if status != 200 || len(disc.Endpoints) != 1 || disc.Endpoints[0].Specification != "http://wiki.open311.org/GeoReport_v2" ||
					disc.Endpoints[0].URL != srv.URL+"/open311/v2" || !slices.Contains(disc.Endpoints[0].Formats, "text/xml") ||
					!slices.Contains(disc.Endpoints[0].Formats, "application/json") || disc.KeyService == "" {
					t.Errorf("discovery.%s: %d %+v", format, status, disc)
				}

				// The service list, exactly as the catalogue has it.
				status, body = c.get("services." + format + "?jurisdiction_id=" + jurisdiction)
				var services []specService
				var sx specServicesXML
				decode(t, format, body, &services, &sx)
				if format == "xml" {
					services = sx.Services
				}
				if status != 200 || len(services) != len(want.List) {
					t.Fatalf("services.%s: %d, %d services, want %d", format, status, len(services), len(want.List))
				}
				for i, got := range services {
					w := want.List[i]
					exp := specService{Code: w.Code, Name: w.Name, Description: w.Description, Metadata: w.Metadata,
						Type: w.Type, Keywords: w.Keywords, Group: w.Group}
					if got != exp {
						t.Errorf("services.%s[%d] = %+v, want %+v", format, i, got, exp)
					}
				}
				if format == "json" && !bytes.Contains(body, []byte(`"service_code":"33"`)) {
					t.Errorf("services.json prints a numeric-looking code not as a string: %s", body)
				}

				// A definition.
				status, body = c.get("services/POTHOLE." + format)
				var def specDefinition
				decode(t, format, body, &def, &def)
				if status != 200 || def.Code != "POTHOLE" || len(def.Attributes) != 6 {
					t.Fatalf("services/POTHOLE.%s: %d %+v", format, status, def)
				}
				hz := def.Attributes[2]
				if hz.Code != "HAZARDS" || hz.Datatype != "multivaluelist" || hz.Order != 3 || len(hz.Values) != 3 ||
					hz.Values[2] != (specValue{Key: "CYCLISTS", Name: "In a bike lane"}) || def.Attributes[0].Variable || !def.Attributes[1].Required {
					t.Errorf("services/POTHOLE.%s attributes: %+v", format, def.Attributes)
				}
				// A service without a published definition has an empty one.
				status, body = c.get("services/GRAFFITI." + format)
				def = specDefinition{}
				decode(t, format, body, &def, &def)
				if status != 200 || def.Code != "GRAFFITI" || len(def.Attributes) != 0 {
					t.Errorf("services/GRAFFITI.%s: %d %s", format, status, body)
				}

				// A request with attributes, a multivaluelist among them.
				form := url.Values{
					"api_key":              {apiKey2},
					"jurisdiction_id":      {jurisdiction},
					"service_code":         {"POTHOLE"},
					"lat":                  {"43.653226"},
					"long":                 {"-79.383184"},
					"address_string":       {"100 Queen St W, Toronto"},
					"description":          {"Deep hole — about 20 cm, full of water.\nCall Anabelle at 555-010-4477 or ana.le@example.org"},
					"media_url":            {"https://example.org/photos/hole.jpg"},
					"attribute[SIZE]":      {"M"},
					"attribute[HAZARDS][]": {"WATER", "CYCLISTS"},
					"attribute[DEPTH]":     {"20.5"},
					"attribute[SEEN]":      {"2026-03-13T08:00:00-04:00"},
				}
				for k, v := range contact {
					form[k] = v
				}
				status, body = c.post("requests."+format, form)
				if status != 200 {
					t.Fatalf("POST requests.%s: %d %s", format, status, body)
				}
				rc := c.receipt(format, body)
				if rc.ID == "" || rc.Token != "" {
					t.Fatalf("POST of a realtime service: %+v, want a service_request_id and no token", rc)
				}

				// Read back, both ways, one by one and in lists.
				for _, f := range []string{"json", "xml"} {
					for _, path := range []string{"requests/" + rc.ID + "." + f, "requests." + f + "?service_request_id=" + rc.ID,
						"requests." + f + "?service_code=POTHOLE&status=open"} {
						list := c.requests(f, path)
						i := slices.IndexFunc(list, func(r specRequest) bool { return r.ID == rc.ID })
						if i < 0 {
							t.Fatalf("GET %s: %s is not there", path, rc.ID)
						}
						r := list[i]
						if r.Status != "open" || r.ServiceCode != "POTHOLE" || r.ServiceName != "Pothole" ||
							r.Address != "100 Queen St W, Toronto" || r.Agency != "Example City 311" ||
							r.MediaURL != "https://example.org/photos/hole.jpg" || r.Lat == nil || *r.Lat != 43.653226 ||
							r.Long == nil || *r.Long != -79.383184 || !strings.HasPrefix(r.Description, "Deep hole — about 20 cm, full of water.\n") {
							t.Errorf("GET %s: %+v", path, r)
						}
						for _, dt := range []string{r.Requested, r.Updated} {
							tm, err := time.Parse(time.RFC3339, dt)
							if err != nil || !strings.HasSuffix(dt, "-04:00") || !tm.Equal(casetest.Epoch.Truncate(time.Second)) {
								t.Errorf("GET %s: datetime %q, want ISO 8601 with the city's offset (-04:00) for %v", path, dt, casetest.Epoch)
							}
						}
					}
				}
				// What the client sent is what was kept.
				got, err := s.Get(t.Context(), rc.ID)
				if err != nil {
					t.Fatal(err)
				}
				wantAttrs := map[string][]string{"SIZE": {"M"}, "HAZARDS": {"WATER", "CYCLISTS"}, "DEPTH": {"20.5"},
					"SEEN": {"2026-03-13T08:00:00-04:00"}}
				if !reflect.DeepEqual(got.Attributes, wantAttrs) || got.Contact.Email != "ana.le@example.org" ||
					got.Contact.Phone != "+1 (555) 010-4477" || got.Contact.LastName != "Letourneau" || got.Channel != "open311" {
					t.Errorf("stored case: attributes %v, contact %+v, channel %q", got.Attributes, got.Contact, got.Channel)
				}
			}

			// A batch service answers with a token, which becomes an id.
			for _, format := range []string{"json", "xml"} {
				status, body := c.post("requests."+format, url.Values{"api_key": {apiKey1}, "service_code": {"TREE"},
					"address_id": {"ADDR-77"}, "attribute[SPECIES]": {"2"}})
				rc := c.receipt(format, body)
				if status != 200 || rc.Token == "" || rc.ID != "" {
					t.Fatalf("POST of a batch service: %d %+v, want a token and no id", status, rc)
				}
				status, body = c.get("tokens/" + rc.Token + "." + format)
				tk := c.receipt(format, body)
				if status != 200 || tk.Token != rc.Token || tk.ID == "" {
					t.Fatalf("tokens/%s.%s: %d %s", rc.Token, format, status, body)
				}
				if list := c.requests(format, "requests/"+tk.ID+"."+format); len(list) != 1 || list[0].AddressID != "ADDR-77" {
					t.Errorf("the batch request by its id: %+v", list)
				}
			}
			// A blackbox service answers with neither.
			status, body := c.post("requests.json", url.Values{"api_key": {apiKey1}, "service_code": {"NOISE"},
				"address_string": {"12 King St W"}})
			if rc := c.receipt("json", body); status != 200 || rc.ID != "" || rc.Token != "" {
				t.Errorf("POST of a blackbox service: %d %+v, want no id and no token", status, rc)
			}

			// Refusals, as the standard's error answers.
			for _, format := range []string{"json", "xml"} {
				ok := url.Values{"api_key": {apiKey1}, "service_code": {"POTHOLE"}, "lat": {"43.65"}, "long": {"-79.38"},
					"attribute[SIZE]": {"S"}}
				with := func(kv ...string) url.Values {
					f := url.Values{}
					for k, v := range ok {
						f[k] = slices.Clone(v)
					}
					for i := 0; i+1 < len(kv); i += 2 {
						if kv[i+1] == "" {
							f.Del(kv[i])
						} else {
							f.Add(kv[i], kv[i+1])
						}
					}
					return f
				}
				for _, tt := range []struct {
					name   string
					form   url.Values
					status int
					says   string // in a description
				}{
					{"missing api_key", with("api_key", ""), 403, "api_key"},
					{"wrong api_key", with("api_key", "", "api_key", "guess"), 403, "api_key"},
					{"unknown service_code", with("service_code", "", "service_code", "NOPE"), 404, "NOPE"},
					{"other jurisdiction", with("jurisdiction_id", "elsewhere.gov"), 404, "jurisdiction_id"},
					{"no service_code", with("service_code", ""), 400, "service_code"},
					{"no location", with("lat", "", "long", ""), 400, "location"},
					{"lat without long", with("long", ""), 400, "lat"},
					{"lat out of range", with("lat", "", "lat", "91"), 400, "lat"},
					{"description too long", with("description", strings.Repeat("é", 4001)), 400, "4000"},
					{"HTML in description", with("description", `<a href="x">click</a>`), 400, "HTML"},
					{"required attribute missing", with("attribute[SIZE]", ""), 400, "SIZE"},
					{"list value not a key", with("attribute[SIZE]", "", "attribute[SIZE]", "HUGE"), 400, "HUGE"},
					{"multivalue not a key", with("attribute[HAZARDS][]", "WATER", "attribute[HAZARDS][]", "FIRE"), 400, "FIRE"},
					{"two values for a single list", with("attribute[SIZE]", "L"), 400, "one value"},
					{"number not a number", with("attribute[DEPTH]", "deep"), 400, "DEPTH"},
					{"datetime not a datetime", with("attribute[SEEN]", "yesterday"), 400, "SEEN"},
					{"unknown attribute", with("attribute[COLOUR]", "red"), 400, "COLOUR"},
					{"bad media_url", with("media_url", "javascript:alert(1)"), 400, "media_url"},
				} {
					status, body := c.post("requests."+format, tt.form)
					if status != tt.status {
						t.Errorf("%s (%s): status %d, want %d: %s", tt.name, format, status, tt.status, body)
						continue
					}
					errs := errorsOf(t, format, body)
					if !slices.ContainsFunc(errs, func(e specError) bool { return strings.Contains(e.Description, tt.says) }) {
						t.Errorf("%s (%s): errors %+v do not mention %q", tt.name, format, errs, tt.says)
					}
				}
				// Several problems at once are listed together.
				status, body := c.post("requests."+format, with("lat", "", "long", "", "attribute[SIZE]", ""))
				if errs := errorsOf(t, format, body); status != 400 || len(errs) < 2 {
					t.Errorf("two problems (%s): %d %+v, want both listed", format, status, errs)
				}
				for _, tt := range []struct {
					path   string
					status int
				}{
					{"services/NOPE." + format, 404},
					{"requests/EX-999999." + format, 404},
					{"tokens/no-such-token." + format, 404},
					{"services." + format + "?jurisdiction_id=elsewhere.gov", 404},
					{"requests." + format + "?start_date=yesterday", 400},
					{"requests." + format + "?status=fixed", 400},
					{"requests." + format + "?page=0", 400},
					{"nothing." + format, 404},
				} {
					status, body := c.get(tt.path)
					if status != tt.status {
						t.Errorf("GET %s: %d, want %d: %s", tt.path, status, tt.status, body)
						continue
					}
					errorsOf(t, format, body)
				}
			}

			// Nothing a client can GET carries a contact detail.
			for _, path := range []string{"requests.json", "requests.xml", "requests.json?status=open,closed",
				"requests.xml?page_size=2&page=1", "requests.json?lat=43.65&long=-79.38&radius=5000"} {
				c.get(path)
			}
			if len(c.seen) < 20 {
				t.Fatalf("only %d GET answers seen", len(c.seen))
			}
			for _, body := range c.seen {
				for k, vals := range contact {
					for _, v := range append(vals, strings.NewReplacer(" ", "", "(", "", ")", "", "-", "").Replace(vals[0]), "4477", "Anabelle") {
						if bytes.Contains(bytes.ToLower(body), bytes.ToLower([]byte(v))) {
							t.Errorf("a GET answer carries %s (%q):\n%s", k, v, body)
						}
					}
				}
			}
		})
	}
}

// TestSeveralAPIKeys: each configured key is accepted, whitespace aside.
func TestSeveralAPIKeys(t *testing.T) {
	clock := casetest.Clock(t)
	s, _ := backends()[0].open(t, clock.Now)
	srv := startServer(t, s, clock.Now)
	for _, key := range []string{apiKey1, apiKey2} {
		resp, err := http.PostForm(srv.URL+"/open311/v2/requests.json", url.Values{"api_key": {key},
			"service_code": {"GRAFFITI"}, "address_string": {"1 Main St"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("api_key %q: %d", key, resp.StatusCode)
		}
	}
	// A retried POST with the same Idempotency-Key files one request.
	var ids []string
	for range 2 {
		req, _ := http.NewRequest("POST", srv.URL+"/open311/v2/requests.json", strings.NewReader(url.Values{"api_key": {apiKey1},
			"service_code": {"GRAFFITI"}, "address_string": {"2 Main St"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Idempotency-Key", "retry-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var rc []specReceipt
		json.NewDecoder(resp.Body).Decode(&rc)
		resp.Body.Close()
		if len(rc) == 1 {
			ids = append(ids, rc[0].ID)
		}
	}
	if len(ids) != 2 || ids[0] == "" || ids[0] != ids[1] {
		t.Errorf("the same Idempotency-Key twice gave %v, want one id twice", ids)
	}
	// Without any key configured, nobody may POST.
	h, err := open311.New(open311.Config{Store: s, Catalog: catalog(t)})
	if err != nil {
		t.Fatal(err)
	}
	none := httptest.NewServer(h)
	defer none.Close()
	resp, err := http.PostForm(none.URL+"/open311/v2/requests.xml", url.Values{"api_key": {""},
		"service_code": {"GRAFFITI"}, "address_string": {"1 Main St"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "no api_key is configured") {
		t.Errorf("POST to an endpoint with no keys: %d %s", resp.StatusCode, body)
	}
}
