package open311

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
)

// Prefix is where the GeoReport v2 endpoint is mounted.
const Prefix = "/open311/v2/"

// Specification is the URL discovery gives as the specification served.
const Specification = "http://wiki.open311.org/GeoReport_v2"

// Paging defaults: the specification's "first 1,000" and its 90 days.
const (
	DefaultPageSize = 1000
	DefaultWindow   = 90 * 24 * time.Hour
	// Near searches (lat, long, radius) default to this radius, in metres,
	// and may not exceed MaxRadiusM.
	DefaultRadiusM = 1000
	MaxRadiusM     = 50000
	// MaxDescription is the specification's limit, in characters.
	MaxDescription = 4000
)

// TokenStore finds the case filed with a batch token, giving it its
// service_request_id when it has none yet; cases.SQLStore implements it.
type TokenStore interface {
	ResolveToken(ctx context.Context, token string) (*cases.Case, error)
}

// Config configures a Handler. Store and Catalog are required.
type Config struct {
	Store   cases.Store
	Catalog Catalog
	// APIKeys are the keys POST accepts; with none, POST is refused.
	APIKeys []string
	// Jurisdiction, when set, is the only jurisdiction_id accepted (an
	// absent one is fine: this endpoint serves one jurisdiction).
	Jurisdiction string
	// Location is the city's time zone: datetimes are written with its
	// offset, and read in it when a client gives none. UTC when nil.
	Location *time.Location
	// Agency is the agency_responsible of requests filed through the API.
	Agency string
	// Discovery is what discovery.{xml,json} says.
	Discovery Discovery
	// MaxPageSize caps page_size (DefaultPageSize when zero).
	MaxPageSize int
	Now         func() time.Time // time.Now when nil
	Logger      *slog.Logger
}

// Discovery is the service discovery document of the endpoint.
type Discovery struct {
	Contact    string // who runs it: a phone, an e-mail, a web page
	KeyService string // how to get an api_key
	// URL is the endpoint's public URL (https://311.example.city/open311/v2);
	// derived from each request when empty.
	URL       string
	Changeset time.Time // when the endpoint last changed
}

// Handler is the GeoReport v2 server.
type Handler struct {
	cfg    Config
	store  cases.Store
	tokens TokenStore // nil: batch services are answered like realtime ones
	keys   [][32]byte
	loc    *time.Location
	now    func() time.Time
	log    *slog.Logger
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Catalog == nil {
		return nil, errors.New("open311: a store and a catalog are required")
	}
	h := &Handler{cfg: cfg, store: cfg.Store, loc: cfg.Location, now: cfg.Now, log: cfg.Logger}
	if h.loc == nil {
		h.loc = time.UTC
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfg.MaxPageSize <= 0 {
		h.cfg.MaxPageSize = DefaultPageSize
	}
	if h.cfg.Discovery.Changeset.IsZero() {
		h.cfg.Discovery.Changeset = h.now()
	}
	for _, k := range cfg.APIKeys {
		if k = strings.TrimSpace(k); k != "" {
			h.keys = append(h.keys, sha256.Sum256([]byte(k)))
		}
	}
	h.tokens, _ = cfg.Store.(TokenStore)
	return h, nil
}

// Register adds the endpoint's routes to mux, under Prefix.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Prefix+"{name}", h.top)
	mux.HandleFunc("POST "+Prefix+"{name}", h.post)
	mux.HandleFunc("GET "+Prefix+"services/{name}", h.definition)
	mux.HandleFunc("GET "+Prefix+"requests/{name}", h.request)
	mux.HandleFunc("GET "+Prefix+"tokens/{name}", h.token)
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		_, format, _ := splitFormat(r.URL.Path)
		writeErrors(w, format, http.StatusNotFound, APIError{Code: http.StatusNotFound,
			Description: "There is no such resource; see " + Prefix + "discovery.xml."})
	})
}

// ServeHTTP serves the endpoint on its own (for tests and embedding).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mux := http.NewServeMux()
	h.Register(mux)
	mux.ServeHTTP(w, r)
}

// start checks what every resource checks: a known format and, when
// given, the right jurisdiction. It writes the error and returns false
// when the request cannot go on.
func (h *Handler) start(w http.ResponseWriter, r *http.Request) (base, format string, ok bool) {
	base, format, ok = splitFormat(r.PathValue("name"))
	if !ok {
		writeErrors(w, format, http.StatusNotFound, APIError{Code: http.StatusNotFound,
			Description: "Unknown format: ask for .xml or .json."})
		return "", "", false
	}
	if r.Method == http.MethodGet {
		// Public data, no credentials: any web page may read it.
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}
	if j := strings.TrimSpace(r.FormValue("jurisdiction_id")); j != "" && h.cfg.Jurisdiction != "" &&
		!strings.EqualFold(j, h.cfg.Jurisdiction) {
		writeErrors(w, format, http.StatusNotFound, APIError{Code: http.StatusNotFound,
			Description: fmt.Sprintf("jurisdiction_id %q was not found; this endpoint serves %s.", j, h.cfg.Jurisdiction)})
		return "", "", false
	}
	return base, format, true
}

// trouble answers a failure inside Cityline: logged, never shown.
func (h *Handler) trouble(w http.ResponseWriter, format, op string, err error) {
	h.log.Error("open311: "+op, "err", err)
	writeErrors(w, format, http.StatusBadRequest, APIError{Code: http.StatusServiceUnavailable,
		Description: "The service is not available right now; please try again later."})
}

// top serves the resources at the root: discovery, services, requests.
func (h *Handler) top(w http.ResponseWriter, r *http.Request) {
	base, format, ok := h.start(w, r)
	if !ok {
		return
	}
	switch base {
	case "discovery":
		h.discovery(w, r, format)
	case "services":
		h.services(w, r, format)
	case "requests":
		h.requests(w, r, format)
	default:
		writeErrors(w, format, http.StatusNotFound, APIError{Code: http.StatusNotFound,
			Description: fmt.Sprintf("There is no resource %q.", base)})
	}
}

type discoveryDoc struct {
	XMLName    xml.Name   `json:"-" xml:"discovery"`
	Changeset  string     `json:"changeset" xml:"changeset"`
	Contact    string     `json:"contact" xml:"contact"`
	KeyService string     `json:"key_service" xml:"key_service"`
	Endpoints  []endpoint `json:"endpoints" xml:"endpoints>endpoint"`
}

type endpoint struct {
	Specification string   `json:"specification" xml:"specification"`
	URL           string   `json:"url" xml:"url"`
	Changeset     string   `json:"changeset" xml:"changeset"`
	Type          string   `json:"type" xml:"type"`
	Formats       []string `json:"formats" xml:"formats>format"`
}

func (h *Handler) discovery(w http.ResponseWriter, r *http.Request, format string) {
	d := h.cfg.Discovery
	u := strings.TrimRight(d.URL, "/")
	if u == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		u = scheme + "://" + r.Host + strings.TrimRight(Prefix, "/")
	}
	changeset := formatTime(d.Changeset, h.loc)
	doc := discoveryDoc{Changeset: changeset, Contact: d.Contact, KeyService: d.KeyService,
		Endpoints: []endpoint{{Specification: Specification, URL: u, Changeset: changeset, Type: "production",
			Formats: []string{"text/xml", "application/json"}}}}
	write(w, format, http.StatusOK, doc, nil)
}

type xmlServices struct {
	XMLName  xml.Name        `xml:"services"`
	Services []cases.Service `xml:"service"`
}

func (h *Handler) services(w http.ResponseWriter, r *http.Request, format string) {
	list, err := h.cfg.Catalog.Services(r.Context())
	if err != nil {
		h.trouble(w, format, "services", err)
		return
	}
	if list == nil {
		list = []cases.Service{}
	}
	write(w, format, http.StatusOK, list, xmlServices{Services: list})
}

// xmlDefinition is a definition as XML: values only for list questions.
type xmlDefinition struct {
	XMLName    xml.Name       `xml:"service_definition"`
	Code       string         `xml:"service_code"`
	Attributes []xmlAttribute `xml:"attributes>attribute"`
}

type xmlAttribute struct {
	Variable            bool       `xml:"variable"`
	Code                string     `xml:"code"`
	Datatype            string     `xml:"datatype"`
	Required            bool       `xml:"required"`
	DatatypeDescription string     `xml:"datatype_description"`
	Order               int        `xml:"order"`
	Description         string     `xml:"description"`
	Values              *xmlValues `xml:"values,omitempty"`
}

type xmlValues struct {
	Values []cases.Value `xml:"value"`
}

func toXMLDefinition(d cases.Definition) xmlDefinition {
	x := xmlDefinition{Code: d.Code, Attributes: make([]xmlAttribute, len(d.Attributes))}
	for i, a := range d.Attributes {
		x.Attributes[i] = xmlAttribute{Variable: a.Variable, Code: a.Code, Datatype: a.Datatype, Required: a.Required,
			DatatypeDescription: a.DatatypeDescription, Order: a.Order, Description: a.Description}
		if len(a.Values) > 0 || a.IsList() {
			x.Attributes[i].Values = &xmlValues{Values: a.Values}
		}
	}
	return x
}

func (h *Handler) definition(w http.ResponseWriter, r *http.Request) {
	code, format, ok := h.start(w, r)
	if !ok {
		return
	}
	def, found, err := h.lookup(r.Context(), code)
	switch {
	case err != nil:
		h.trouble(w, format, "definition", err)
		return
	case !found:
		writeErrors(w, format, http.StatusNotFound, APIError{Code: http.StatusNotFound,
			Description: fmt.Sprintf("service_code %q was not found.", code)})
		return
	}
	if def.Attributes == nil {
		def.Attributes = []cases.Attribute{}
	}
	write(w, format, http.StatusOK, def, toXMLDefinition(def))
}

// lookup returns a service's definition; found is false when the
// service is unknown. A known service without a published definition has
// one with no attributes (real catalogues say metadata true and publish
// nothing: accept, and carry on).
func (h *Handler) lookup(ctx context.Context, code string) (def cases.Definition, found bool, err error) {
	svc, ok, err := h.service(ctx, code)
	if err != nil || !ok {
		return cases.Definition{}, false, err
	}
	def, err = h.cfg.Catalog.Definition(ctx, svc.Code)
	if errors.Is(err, cases.ErrNotFound) {
		return cases.Definition{Code: svc.Code}, true, nil
	}
	if err != nil {
		return cases.Definition{}, false, err
	}
	if def.Code == "" {
		def.Code = svc.Code
	}
	return def, true, nil
}

func (h *Handler) service(ctx context.Context, code string) (cases.Service, bool, error) {
	list, err := h.cfg.Catalog.Services(ctx)
	if err != nil {
		return cases.Service{}, false, err
	}
	svc, ok := findService(list, strings.TrimSpace(code))
	return svc, ok, nil
}

// requestDoc is a service request as GET publishes it: the standard's
// fields and nothing else. Contact details are not among them.
type requestDoc struct {
	XMLName     xml.Name `json:"-" xml:"request"`
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
	Expected    *string  `json:"expected_datetime" xml:"expected_datetime,omitempty"`
	Address     string   `json:"address" xml:"address"`
	AddressID   string   `json:"address_id" xml:"address_id"`
	Zipcode     string   `json:"zipcode" xml:"zipcode"`
	Lat         *float64 `json:"lat" xml:"lat,omitempty"`
	Long        *float64 `json:"long" xml:"long,omitempty"`
	MediaURL    string   `json:"media_url" xml:"media_url"`
}

type xmlRequests struct {
	XMLName  xml.Name `xml:"service_requests"`
	Requests []any    `xml:"request"`
}

func (h *Handler) doc(c *cases.Case) requestDoc {
	d := requestDoc{ID: c.Ref, Status: string(c.Status), StatusNotes: c.StatusNotes, ServiceName: c.ServiceName,
		ServiceCode: c.ServiceCode, Description: redact(c.Description, c.Contact), Agency: c.Agency, Notice: c.Notice,
		Requested: formatTime(c.Requested, h.loc), Updated: formatTime(c.Updated, h.loc), Address: c.Address,
		AddressID: c.AddressID, Zipcode: c.Zipcode, MediaURL: c.MediaURL()}
	if !c.Expected.IsZero() {
		e := formatTime(c.Expected, h.loc)
		d.Expected = &e
	}
	if c.Location != nil {
		lat, long := c.Location.Lat, c.Location.Long
		d.Lat, d.Long = &lat, &long
	}
	return d
}

func (h *Handler) writeRequests(w http.ResponseWriter, format string, list []*cases.Case) {
	docs := make([]requestDoc, 0, len(list))
	for _, c := range list {
		if c.Ref == "" {
			continue // a batch request not numbered yet: it has no id to show
		}
		docs = append(docs, h.doc(c))
	}
	x := xmlRequests{Requests: make([]any, len(docs))}
	for i := range docs {
		x.Requests[i] = docs[i]
	}
	write(w, format, http.StatusOK, docs, x)
}

// request serves requests/{id}: one request, as a one-element list.
func (h *Handler) request(w http.ResponseWriter, r *http.Request) {
	id, format, ok := h.start(w, r)
	if !ok {
		return
	}
	c, err := h.store.Get(r.Context(), id)
	switch {
	case errors.Is(err, cases.ErrNotFound) || (err == nil && c.Ref == ""):
		writeErrors(w, format, http.StatusNotFound, APIError{Code: http.StatusNotFound,
			Description: fmt.Sprintf("service_request_id %q was not found.", id)})
		return
	case err != nil:
		h.trouble(w, format, "get request", err)
		return
	}
	h.writeRequests(w, format, []*cases.Case{c})
}

// requests serves GET requests with the standard's filters, page and
// page_size (as Toronto, Boston and Chicago do), and lat, long and radius.
func (h *Handler) requests(w http.ResponseWriter, r *http.Request, format string) {
	f, errs := h.filter(r)
	if len(errs) > 0 {
		writeErrors(w, format, http.StatusBadRequest, errs...)
		return
	}
	list, err := h.store.List(r.Context(), f)
	if err != nil {
		h.trouble(w, format, "list requests", err)
		return
	}
	h.writeRequests(w, format, list)
}

func badParam(name, why string) APIError {
	return APIError{Code: http.StatusBadRequest, Description: name + ": " + why}
}

// filter reads the query of GET requests.
func (h *Handler) filter(r *http.Request) (cases.Filter, []APIError) {
	q := r.URL.Query()
	var f cases.Filter
	var errs []APIError
	size, page := h.cfg.MaxPageSize, 1
	if v := strings.TrimSpace(q.Get("page_size")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, badParam("page_size", "want a whole number from 1"))
		} else {
			size = min(n, h.cfg.MaxPageSize)
		}
	}
	if v := strings.TrimSpace(q.Get("page")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > math.MaxInt32/size {
			errs = append(errs, badParam("page", "want a whole number from 1"))
		} else {
			page = n
		}
	}
	f.Limit, f.Offset = size, (page-1)*size
	if ids := splitList(q.Get("service_request_id")); len(ids) > 0 {
		f.Refs = ids // overrides every other filter, as the specification says
		return f, errs
	}
	f.ServiceCodes = splitList(q.Get("service_code"))
	statuses := map[cases.Status]bool{}
	for _, s := range splitList(q.Get("status")) {
		st, err := cases.ParseStatus(s)
		if err != nil {
			errs = append(errs, badParam("status", fmt.Sprintf("%q is not open or closed", s)))
			continue
		}
		statuses[st] = true
	}
	if len(statuses) == 1 {
		for st := range statuses {
			f.Status = st
		}
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"start_date", &f.Start}, {"end_date", &f.End}} {
		t, err := parseTime(q.Get(p.name), h.loc)
		if err != nil {
			errs = append(errs, badParam(p.name, err.Error()))
		}
		*p.t = t
	}
	if !f.Start.IsZero() && !f.End.IsZero() && !f.Start.Before(f.End) {
		errs = append(errs, badParam("end_date", "must come after start_date"))
	}
	if f.Start.IsZero() {
		// The last 90 days, or the 90 days before end_date.
		end := f.End
		if end.IsZero() {
			end = h.now()
		}
		f.Start = end.Add(-DefaultWindow)
	}
	lat, long, radius := strings.TrimSpace(q.Get("lat")), strings.TrimSpace(q.Get("long")), strings.TrimSpace(q.Get("radius"))
	if lat != "" || long != "" || radius != "" {
		p, perrs := parsePoint(lat, long)
		errs = append(errs, perrs...)
		f.Near, f.RadiusM = p, DefaultRadiusM
		if radius != "" {
			m, err := strconv.ParseFloat(radius, 64)
			if err != nil || m <= 0 || m > MaxRadiusM || math.IsNaN(m) {
				errs = append(errs, badParam("radius", fmt.Sprintf("want metres, more than 0 and at most %d", MaxRadiusM)))
			}
			f.RadiusM = m
		}
	}
	return f, errs
}

// parsePoint reads lat and long, which come together.
func parsePoint(lat, long string) (*cases.Point, []APIError) {
	if lat == "" || long == "" {
		return nil, []APIError{badParam("lat, long", "give both, in WGS84 degrees")}
	}
	var errs []APIError
	la, err := strconv.ParseFloat(lat, 64)
	if err != nil || la < -90 || la > 90 || math.IsNaN(la) {
		errs = append(errs, badParam("lat", "want degrees from -90 to 90"))
	}
	lo, err := strconv.ParseFloat(long, 64)
	if err != nil || lo < -180 || lo > 180 || math.IsNaN(lo) {
		errs = append(errs, badParam("long", "want degrees from -180 to 180"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &cases.Point{Lat: la, Long: lo}, nil
}

type tokenDoc struct {
	XMLName xml.Name `json:"-" xml:"request"`
	ID      string   `json:"service_request_id,omitempty" xml:"service_request_id,omitempty"`
	Token   string   `json:"token" xml:"token"`
}

// token serves tokens/{token}: the service_request_id a batch request got.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	tok, format, ok := h.start(w, r)
	if !ok {
		return
	}
	var c *cases.Case
	err := fmt.Errorf("token: %w", cases.ErrNotFound)
	if h.tokens != nil && tok != "" {
		c, err = h.tokens.ResolveToken(r.Context(), tok)
	}
	switch {
	case errors.Is(err, cases.ErrNotFound):
		writeErrors(w, format, http.StatusNotFound, APIError{Code: http.StatusNotFound,
			Description: fmt.Sprintf("token %q was not found.", tok)})
		return
	case err != nil:
		h.trouble(w, format, "token", err)
		return
	}
	doc := tokenDoc{ID: c.Ref, Token: c.Token}
	write(w, format, http.StatusOK, []tokenDoc{doc}, xmlRequests{Requests: []any{doc}})
}

// keyOK reports whether key is one of the configured api_keys, in
// constant time.
func (h *Handler) keyOK(key string) bool {
	if key == "" {
		return false
	}
	sum := sha256.Sum256([]byte(key))
	ok := 0
	for _, k := range h.keys {
		ok |= subtle.ConstantTimeCompare(sum[:], k[:])
	}
	return ok == 1
}

var (
	digitRunRE = regexp.MustCompile(`\+?\d[\d\s().-]{5,}\d`)
	nonDigitRE = regexp.MustCompile(`\D`)
)

// redact removes the case's own contact details from text a resident
// wrote ("call me at 555-0100"): what is published never carries them.
// Each pattern runs only when the text could hold what it looks for.
func redact(text string, ct cases.Contact) string {
	if text == "" || ct.IsZero() {
		return text
	}
	const mark = "[private]"
	if phone := nonDigitRE.ReplaceAllString(ct.Phone, ""); len(phone) >= 7 && countDigits(text) >= 7 {
		tail := phone[len(phone)-7:]
		text = digitRunRE.ReplaceAllStringFunc(text, func(m string) string {
			if d := nonDigitRE.ReplaceAllString(m, ""); len(d) >= 7 && strings.HasSuffix(d, tail) {
				return mark
			}
			return m
		})
	}
	lower := strings.ToLower(text)
	for _, v := range []string{ct.Email, ct.DeviceID, ct.AccountID} {
		if v = strings.TrimSpace(v); len(v) >= 4 && strings.Contains(lower, strings.ToLower(v)) {
			text = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(v)).ReplaceAllString(text, mark)
		}
	}
	for _, v := range []string{ct.FirstName, ct.LastName} {
		if v = strings.TrimSpace(v); len([]rune(v)) >= 2 && strings.Contains(lower, strings.ToLower(v)) {
			text = regexp.MustCompile(`(?i)(^|[^\pL\pN])`+regexp.QuoteMeta(v)+`($|[^\pL\pN])`).
				ReplaceAllString(text, "${1}"+mark+"${2}")
		}
	}
	return text
}

func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}
