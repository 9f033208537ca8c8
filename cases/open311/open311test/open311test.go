// Package open311test plays a city's own Open311 GeoReport v2 server (its
// CRM) for tests of upstream mode. It is written from the specification,
// not from package open311, so the client is checked against the
// standard rather than against itself; and it can misbehave on demand:
// be down, drop connections, answer too late, refuse requests.
package open311test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
)

// Mode is how the stand-in behaves.
type Mode int

const (
	// Up answers as a GeoReport v2 server should.
	Up Mode = iota
	// Down answers every request 503 with an error body.
	Down
	// Drop closes every connection without an answer.
	Drop
	// Slow answers only after Delay, having done the work: a client with
	// a shorter timeout never learns that its POST was filed.
	Slow
	// Refuse answers every POST 400 with an error body, filing nothing.
	Refuse
)

// Request is a service request the stand-in filed.
type Request struct {
	ID, Token      string
	ServiceCode    string
	Description    string
	Form           url.Values // everything that was posted
	IdempotencyKey string
	Status         string // open or closed
	Notes          string
	Expected       time.Time
	Requested      time.Time
	Updated        time.Time
}

// Server is the stand-in.
type Server struct {
	*httptest.Server
	APIKey       string
	Jurisdiction string // when set, a different jurisdiction_id is 404
	Now          func() time.Time
	Delay        time.Duration // how late Slow answers

	mu       sync.Mutex
	services []cases.Service
	defs     map[string]cases.Definition
	mode     Mode
	posts    int
	gets     int
	reqs     []*Request
	next     int
	after    func(Request)
	problems []string
}

// New starts a stand-in serving services and defs; it stops with the
// test. The endpoint is URL + "/open311/v2".
func New(t testing.TB, apiKey string, services []cases.Service, defs map[string]cases.Definition) *Server {
	s := &Server{APIKey: apiKey, Now: time.Now, Delay: 2 * time.Second, services: services, defs: defs, next: 638344}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Endpoint is the GeoReport v2 endpoint URL.
func (s *Server) Endpoint() string { return s.URL + "/open311/v2" }

// SetMode changes how the stand-in behaves from the next request on.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// SetServices replaces the service list and definitions.
func (s *Server) SetServices(services []cases.Service, defs map[string]cases.Definition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services, s.defs = services, defs
}

// AfterCreate sets f to run after a POST is filed and before it is
// answered (tests use it to stop the client at the worst moment).
func (s *Server) AfterCreate(f func(Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.after = f
}

// Requests returns copies of the requests filed so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = *r
	}
	return out
}

// Count is how many filed requests have text in their description.
func (s *Server) Count(text string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.Contains(r.Description, text) {
			n++
		}
	}
	return n
}

// Posts is how many POSTs arrived, whatever became of them.
func (s *Server) Posts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}

// Problems lists what clients got wrong.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.problems)
}

// Update changes a filed request as the city's staff would.
func (s *Server) Update(id, status, notes string, expected time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.reqs {
		if r.ID == id {
			r.Status, r.Notes, r.Expected, r.Updated = status, notes, expected, s.Now()
		}
	}
}

// NumberTokens gives every batch request its id, as the CRM's batch run
// would.
func (s *Server) NumberTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.reqs {
		if r.ID == "" && r.Token != "" {
			r.ID = strconv.Itoa(s.next)
			s.next++
		}
	}
}

type apiError struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
}

func (s *Server) fail(w http.ResponseWriter, format string, status int, desc string) {
	errs := []apiError{{Code: status, Description: desc}}
	s.write(w, format, status, errs, struct {
		XMLName xml.Name   `xml:"errors"`
		Errors  []apiError `xml:"error"`
	}{Errors: errs})
}

func (s *Server) write(w http.ResponseWriter, format string, status int, jsonv, xmlv any) {
	if format == "json" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(jsonv)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n")
	xml.NewEncoder(w).Encode(xmlv)
}

func (s *Server) problem(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mode := s.mode
	if r.Method == http.MethodPost {
		s.posts++
	} else {
		s.gets++
	}
	s.mu.Unlock()
	path, ok := strings.CutPrefix(r.URL.Path, "/open311/v2/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	format := "xml"
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		format, path = path[i+1:], path[:i]
	}
	if format != "xml" && format != "json" {
		s.fail(w, "xml", http.StatusNotFound, "unknown format "+format)
		return
	}
	switch mode {
	case Down:
		s.fail(w, format, http.StatusServiceUnavailable, "The CRM is down for maintenance.")
		return
	case Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetLinger(0) // a reset, as a crashed server gives
				}
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if mode == Slow && r.Method == http.MethodGet {
		select { // an overloaded server: every answer is late
		case <-time.After(s.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, format, http.StatusBadRequest, "unreadable form")
		return
	}
	if j := r.Form.Get("jurisdiction_id"); s.Jurisdiction != "" && j != "" && j != s.Jurisdiction {
		s.fail(w, format, http.StatusNotFound, "jurisdiction_id not found")
		return
	}
	switch {
	case r.Method == http.MethodGet && path == "services":
		s.mu.Lock()
		list := slices.Clone(s.services)
		s.mu.Unlock()
		s.write(w, format, http.StatusOK, list, struct {
			XMLName  xml.Name        `xml:"services"`
			Services []cases.Service `xml:"service"`
		}{Services: list})
	case r.Method == http.MethodGet && strings.HasPrefix(path, "services/"):
		s.mu.Lock()
		d, ok := s.defs[strings.TrimPrefix(path, "services/")]
		s.mu.Unlock()
		if !ok {
			s.fail(w, format, http.StatusNotFound, "service_code not found")
			return
		}
		s.write(w, format, http.StatusOK, d, struct {
			XMLName xml.Name `xml:"service_definition"`
			cases.Definition
		}{Definition: d})
	case r.Method == http.MethodGet && path == "requests":
		s.list(w, r, format)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "tokens/"):
		s.token(w, format, strings.TrimPrefix(path, "tokens/"))
	case r.Method == http.MethodPost && path == "requests":
		s.post(w, r, format, mode)
	default:
		s.fail(w, format, http.StatusNotFound, "no such resource")
	}
}

func (s *Server) post(w http.ResponseWriter, r *http.Request, format string, mode Mode) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		s.problem("POST with content type %q", ct)
	}
	f := r.PostForm
	if f.Get("api_key") != s.APIKey {
		s.fail(w, format, http.StatusForbidden, "Invalid api_key received -- can't proceed with create_request.")
		return
	}
	if mode == Refuse {
		s.fail(w, format, http.StatusBadRequest, "Duplicate request: a similar request is already open.")
		return
	}
	code := f.Get("service_code")
	s.mu.Lock()
	i := slices.IndexFunc(s.services, func(x cases.Service) bool { return x.Code == code })
	var svc cases.Service
	if i >= 0 {
		svc = s.services[i]
	}
	s.mu.Unlock()
	if i < 0 {
		s.fail(w, format, http.StatusNotFound, "service_code "+code+" not found")
		return
	}
	if (f.Get("lat") == "" || f.Get("long") == "") && f.Get("address_string") == "" && f.Get("address_id") == "" {
		s.problem("POST without a location")
		s.fail(w, format, http.StatusBadRequest, "a location is required")
		return
	}
	for k := range f {
		if strings.HasPrefix(k, "attribute[") && !strings.HasSuffix(k, "]") {
			s.problem("malformed attribute parameter %q", k)
		}
	}
	now := s.Now()
	req := &Request{ServiceCode: code, Description: f.Get("description"), Form: f,
		IdempotencyKey: r.Header.Get("Idempotency-Key"), Status: "open", Requested: now, Updated: now}
	s.mu.Lock()
	switch svc.Type {
	case "batch":
		req.Token = fmt.Sprintf("tok-%d", len(s.reqs)+1)
	default:
		req.ID = strconv.Itoa(s.next)
		s.next++
	}
	s.reqs = append(s.reqs, req)
	after := s.after
	s.mu.Unlock()
	if after != nil {
		after(*req)
	}
	if mode == Slow {
		select {
		case <-time.After(s.Delay):
		case <-r.Context().Done():
			return
		}
	}
	type receipt struct {
		XMLName xml.Name `json:"-" xml:"request"`
		ID      any      `json:"service_request_id,omitempty" xml:"service_request_id,omitempty"`
		Token   string   `json:"token,omitempty" xml:"token,omitempty"`
		Notice  string   `json:"service_notice" xml:"service_notice"`
	}
	rc := receipt{Token: req.Token, Notice: "The city will look into it."}
	if svc.Type != "blackbox" && req.ID != "" {
		n, _ := strconv.Atoi(req.ID)
		rc.ID = n // a number, as the specification's JSON examples print it
	}
	s.write(w, format, http.StatusOK, []receipt{rc}, struct {
		XMLName  xml.Name  `xml:"service_requests"`
		Requests []receipt `xml:"request"`
	}{Requests: []receipt{rc}})
}

type requestOut struct {
	XMLName     xml.Name `json:"-" xml:"request"`
	ID          any      `json:"service_request_id" xml:"service_request_id"`
	Status      string   `json:"status" xml:"status"`
	StatusNotes string   `json:"status_notes" xml:"status_notes"`
	ServiceCode string   `json:"service_code" xml:"service_code"`
	Description string   `json:"description" xml:"description"`
	Requested   string   `json:"requested_datetime" xml:"requested_datetime"`
	Updated     string   `json:"updated_datetime" xml:"updated_datetime"`
	Expected    *string  `json:"expected_datetime" xml:"expected_datetime,omitempty"`
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, format string) {
	q := r.URL.Query()
	ids := strings.Split(q.Get("service_request_id"), ",")
	codes := strings.Split(q.Get("service_code"), ",")
	parse := func(name string) (time.Time, bool) {
		v := q.Get(name)
		if v == "" {
			return time.Time{}, true
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			s.problem("%s %q is not W3C datetime", name, v)
			return time.Time{}, false
		}
		return t, true
	}
	start, ok1 := parse("start_date")
	end, ok2 := parse("end_date")
	if !ok1 || !ok2 {
		s.fail(w, format, http.StatusBadRequest, "bad date")
		return
	}
	if q.Get("service_request_id") == "" && start.IsZero() {
		start = s.Now().Add(-90 * 24 * time.Hour)
	}
	var out []requestOut
	s.mu.Lock()
	for _, rq := range s.reqs {
		if rq.ID == "" {
			continue
		}
		if q.Get("service_request_id") != "" {
			if !slices.Contains(ids, rq.ID) {
				continue
			}
		} else {
			if q.Get("service_code") != "" && !slices.Contains(codes, rq.ServiceCode) {
				continue
			}
			if rq.Requested.Before(start) || (!end.IsZero() && rq.Requested.After(end)) {
				continue
			}
			if st := q.Get("status"); st != "" && st != rq.Status {
				continue
			}
		}
		n, _ := strconv.Atoi(rq.ID)
		o := requestOut{ID: n, Status: rq.Status, StatusNotes: rq.Notes, ServiceCode: rq.ServiceCode,
			Description: rq.Description, Requested: rq.Requested.Format(time.RFC3339), Updated: rq.Updated.Format(time.RFC3339)}
		if !rq.Expected.IsZero() {
			e := rq.Expected.Format(time.RFC3339)
			o.Expected = &e
		}
		out = append(out, o)
		if len(out) == 1000 {
			break
		}
	}
	s.mu.Unlock()
	if out == nil {
		out = []requestOut{}
	}
	s.write(w, format, http.StatusOK, out, struct {
		XMLName  xml.Name     `xml:"service_requests"`
		Requests []requestOut `xml:"request"`
	}{Requests: out})
}

func (s *Server) token(w http.ResponseWriter, format, tok string) {
	s.mu.Lock()
	var found *Request
	for _, rq := range s.reqs {
		if rq.Token == tok {
			c := *rq
			found = &c
		}
	}
	s.mu.Unlock()
	if found == nil {
		s.fail(w, format, http.StatusNotFound, "token not found")
		return
	}
	type out struct {
		XMLName xml.Name `json:"-" xml:"request"`
		ID      string   `json:"service_request_id,omitempty" xml:"service_request_id,omitempty"`
		Token   string   `json:"token" xml:"token"`
	}
	o := out{ID: found.ID, Token: found.Token}
	s.write(w, format, http.StatusOK, []out{o}, struct {
		XMLName  xml.Name `xml:"service_requests"`
		Requests []out    `xml:"request"`
	}{Requests: []out{o}})
}
