package open311

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
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
)

// ClientConfig configures a Client. URL is required.
type ClientConfig struct {
	// URL is the endpoint, as discovery gives it:
	// https://crm.example.city/open311/v2.
	URL          string
	APIKey       string // for POST
	Jurisdiction string // sent as jurisdiction_id when set
	// Format is "json" (the default) or "xml" (the one every server has).
	Format string
	// Timeout bounds one request (30 seconds when zero).
	Timeout   time.Duration
	Transport http.RoundTripper // http.DefaultTransport when nil
	// Location reads the upstream's datetimes that lack an offset.
	Location *time.Location
}

// Client speaks GeoReport v2 to another server.
type Client struct {
	cfg  ClientConfig
	base *url.URL
	http *http.Client
}

// NewClient returns a Client.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(cfg.URL), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("open311 client: URL %q: want http(s)://host/path", cfg.URL)
	}
	switch cfg.Format {
	case "":
		cfg.Format = formatJSON
	case formatJSON, formatXML:
	default:
		return nil, fmt.Errorf("open311 client: format %q: want json or xml", cfg.Format)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return &Client{cfg: cfg, base: u, http: &http.Client{Timeout: cfg.Timeout, Transport: cfg.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// Timeout is how long one request may take.
func (c *Client) Timeout() time.Duration { return c.cfg.Timeout }

// StatusError is an answer other than 2xx, with the errors the server
// listed.
type StatusError struct {
	Status int
	Errors []APIError
}

func (e *StatusError) Error() string {
	var parts []string
	for _, x := range e.Errors {
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("%d %s", x.Code, x.Description)))
	}
	msg := fmt.Sprintf("upstream answered %d %s", e.Status, http.StatusText(e.Status))
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, "; ")
	}
	return msg
}

// Rejected reports whether err is the upstream refusing a request as it
// stands (a 4xx other than 408 and 429, which mean "later").
func Rejected(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status >= 400 && se.Status < 500 &&
		se.Status != http.StatusRequestTimeout && se.Status != http.StatusTooManyRequests
}

// refusedKey reports whether err is the upstream refusing our api_key:
// a problem with the configuration, not with one request.
func refusedKey(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden)
}

// Request is a service request as a server publishes it.
type Request struct {
	ID          string
	Status      string
	StatusNotes string
	ServiceName string
	ServiceCode string
	Description string
	Agency      string
	Notice      string
	Requested   time.Time
	Updated     time.Time
	Expected    time.Time
	Address     string
	AddressID   string
	Zipcode     string
	Location    *cases.Point
	MediaURL    string
}

// Receipt is a server's answer to a POST, or to a token lookup.
type Receipt struct {
	ID        string // service_request_id
	Token     string
	Notice    string
	AccountID string
}

// PostRequest is what Post sends.
type PostRequest struct {
	ServiceCode string
	Location    *cases.Point
	Address     string
	AddressID   string
	Description string
	MediaURL    string
	Attributes  map[string][]string
	// Multi names the attributes sent as attribute[CODE][] (multivaluelists).
	Multi   map[string]bool
	Contact cases.Contact
	// IdempotencyKey goes in the Idempotency-Key header, which servers
	// that know it use to ignore a repeated POST.
	IdempotencyKey string
}

// Query selects requests for Requests.
type Query struct {
	IDs          []string // overrides the rest
	ServiceCodes []string
	Start, End   time.Time
	Status       string
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path = c.base.Path + "/" + path + "." + c.cfg.Format
	if c.cfg.Jurisdiction != "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("jurisdiction_id", c.cfg.Jurisdiction)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// do sends req and decodes a 2xx answer into jsonv or xmlv.
func (c *Client) do(req *http.Request, jsonv, xmlv any) error {
	if c.cfg.Format == formatJSON {
		req.Header.Set("Accept", "application/json")
	} else {
		req.Header.Set("Accept", "text/xml")
	}
	req.Header.Set("User-Agent", "Cityline (Open311 GeoReport v2)")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Status: resp.StatusCode, Errors: c.decodeErrors(body)}
	}
	if c.cfg.Format == formatJSON {
		err = json.Unmarshal(body, jsonv)
	} else {
		err = xml.Unmarshal(body, xmlv)
	}
	if err != nil {
		return fmt.Errorf("%s %s: the answer is not GeoReport v2 %s: %w", req.Method, req.URL.Path, c.cfg.Format, err)
	}
	return nil
}

func (c *Client) decodeErrors(body []byte) []APIError {
	type rawErr struct {
		Code        flexText `json:"code" xml:"code"`
		Description flexText `json:"description" xml:"description"`
	}
	var list []rawErr
	if json.Unmarshal(body, &list) != nil {
		var x struct {
			Errors []rawErr `xml:"error"`
		}
		if xml.Unmarshal(body, &x) != nil {
			if s := strings.TrimSpace(string(body)); s != "" && len(s) < 300 {
				return []APIError{{Description: s}}
			}
			return nil
		}
		list = x.Errors
	}
	out := make([]APIError, 0, len(list))
	for _, e := range list {
		n, _ := strconv.Atoi(e.Code.String())
		out = append(out, APIError{Code: n, Description: e.Description.String()})
	}
	return out
}

func (c *Client) get(ctx context.Context, path string, q url.Values, jsonv, xmlv any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path, q), nil)
	if err != nil {
		return err
	}
	return c.do(req, jsonv, xmlv)
}

// Services returns the server's service list.
func (c *Client) Services(ctx context.Context) ([]cases.Service, error) {
	var list []cases.Service
	var x struct {
		Services []cases.Service `xml:"service"`
	}
	if err := c.get(ctx, "services", nil, &list, &x); err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	if c.cfg.Format == formatXML {
		list = x.Services
	}
	return list, nil
}

// Definition returns a service's definition.
func (c *Client) Definition(ctx context.Context, code string) (cases.Definition, error) {
	var d cases.Definition
	err := c.get(ctx, "services/"+url.PathEscape(code), nil, &d, &d)
	var se *StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return cases.Definition{}, fmt.Errorf("definition of %q: %w: %v", code, cases.ErrNotFound, err)
	}
	if err != nil {
		return cases.Definition{}, fmt.Errorf("definition of %q: %w", code, err)
	}
	for i, a := range d.Attributes {
		d.Attributes[i].Datatype = strings.ToLower(strings.TrimSpace(a.Datatype))
	}
	return d, nil
}

type rawReceipt struct {
	ID        flexText `json:"service_request_id" xml:"service_request_id"`
	Token     flexText `json:"token" xml:"token"`
	Notice    flexText `json:"service_notice" xml:"service_notice"`
	AccountID flexText `json:"account_id" xml:"account_id"`
}

func firstReceipt(list []rawReceipt, x struct {
	Requests []rawReceipt `xml:"request"`
}) Receipt {
	if len(list) == 0 {
		list = x.Requests
	}
	if len(list) == 0 {
		return Receipt{}
	}
	r := list[0]
	return Receipt{ID: r.ID.String(), Token: r.Token.String(), Notice: r.Notice.String(), AccountID: r.AccountID.String()}
}

// Post files a request. A Receipt with neither ID nor Token means the
// server took it without saying under what id (a blackbox service).
func (c *Client) Post(ctx context.Context, p PostRequest) (Receipt, error) {
	form := url.Values{}
	set := func(k, v string) {
		if v != "" {
			form.Set(k, v)
		}
	}
	set("api_key", c.cfg.APIKey)
	set("jurisdiction_id", c.cfg.Jurisdiction)
	set("service_code", p.ServiceCode)
	if p.Location != nil {
		form.Set("lat", strconv.FormatFloat(p.Location.Lat, 'f', -1, 64))
		form.Set("long", strconv.FormatFloat(p.Location.Long, 'f', -1, 64))
	}
	set("address_string", p.Address)
	set("address_id", p.AddressID)
	set("description", p.Description)
	set("media_url", p.MediaURL)
	set("email", p.Contact.Email)
	set("phone", p.Contact.Phone)
	set("first_name", p.Contact.FirstName)
	set("last_name", p.Contact.LastName)
	set("device_id", p.Contact.DeviceID)
	set("account_id", p.Contact.AccountID)
	codes := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	for _, k := range codes {
		vals := p.Attributes[k]
		if p.Multi[k] || len(vals) > 1 {
			for _, v := range vals {
				form.Add("attribute["+k+"][]", v)
			}
		} else if len(vals) == 1 {
			form.Set("attribute["+k+"]", vals[0])
		}
	}
	u := *c.base
	u.Path = c.base.Path + "/requests." + c.cfg.Format
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewBufferString(form.Encode()))
	if err != nil {
		return Receipt{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if p.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", p.IdempotencyKey)
	}
	var list []rawReceipt
	var x struct {
		Requests []rawReceipt `xml:"request"`
	}
	if err := c.do(req, &list, &x); err != nil {
		return Receipt{}, fmt.Errorf("post request: %w", err)
	}
	return firstReceipt(list, x), nil
}

// Token returns what a batch request's token became; Receipt.ID is empty
// while the server has not numbered it.
func (c *Client) Token(ctx context.Context, token string) (Receipt, error) {
	var list []rawReceipt
	var x struct {
		Requests []rawReceipt `xml:"request"`
	}
	if err := c.get(ctx, "tokens/"+url.PathEscape(token), nil, &list, &x); err != nil {
		return Receipt{}, fmt.Errorf("token: %w", err)
	}
	return firstReceipt(list, x), nil
}

type rawRequest struct {
	ID          flexText `json:"service_request_id" xml:"service_request_id"`
	Status      flexText `json:"status" xml:"status"`
	StatusNotes flexText `json:"status_notes" xml:"status_notes"`
	ServiceName flexText `json:"service_name" xml:"service_name"`
	ServiceCode flexText `json:"service_code" xml:"service_code"`
	Description flexText `json:"description" xml:"description"`
	Agency      flexText `json:"agency_responsible" xml:"agency_responsible"`
	Notice      flexText `json:"service_notice" xml:"service_notice"`
	Requested   flexText `json:"requested_datetime" xml:"requested_datetime"`
	Updated     flexText `json:"updated_datetime" xml:"updated_datetime"`
	Expected    flexText `json:"expected_datetime" xml:"expected_datetime"`
	Address     flexText `json:"address" xml:"address"`
	AddressID   flexText `json:"address_id" xml:"address_id"`
	Zipcode     flexText `json:"zipcode" xml:"zipcode"`
	Lat         flexText `json:"lat" xml:"lat"`
	Long        flexText `json:"long" xml:"long"`
	MediaURL    flexText `json:"media_url" xml:"media_url"`
}

// Requests returns the requests q selects (one page: the server's first).
func (c *Client) Requests(ctx context.Context, q Query) ([]Request, error) {
	v := url.Values{}
	if len(q.IDs) > 0 {
		v.Set("service_request_id", strings.Join(q.IDs, ","))
	}
	if len(q.ServiceCodes) > 0 {
		v.Set("service_code", strings.Join(q.ServiceCodes, ","))
	}
	if !q.Start.IsZero() {
		v.Set("start_date", q.Start.UTC().Format(time.RFC3339))
	}
	if !q.End.IsZero() {
		v.Set("end_date", q.End.UTC().Format(time.RFC3339))
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	var list []rawRequest
	var x struct {
		Requests []rawRequest `xml:"request"`
	}
	if err := c.get(ctx, "requests", v, &list, &x); err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	if c.cfg.Format == formatXML {
		list = x.Requests
	}
	out := make([]Request, 0, len(list))
	for _, r := range list {
		rq := Request{ID: r.ID.String(), Status: strings.ToLower(r.Status.String()), StatusNotes: r.StatusNotes.String(),
			ServiceName: r.ServiceName.String(), ServiceCode: r.ServiceCode.String(), Description: r.Description.String(),
			Agency: r.Agency.String(), Notice: r.Notice.String(), Address: r.Address.String(),
			AddressID: r.AddressID.String(), Zipcode: r.Zipcode.String(), MediaURL: r.MediaURL.String()}
		// A datetime that cannot be read is left out, not guessed.
		rq.Requested, _ = parseTime(r.Requested.String(), c.cfg.Location)
		rq.Updated, _ = parseTime(r.Updated.String(), c.cfg.Location)
		rq.Expected, _ = parseTime(r.Expected.String(), c.cfg.Location)
		lat, err1 := strconv.ParseFloat(r.Lat.String(), 64)
		long, err2 := strconv.ParseFloat(r.Long.String(), 64)
		if err1 == nil && err2 == nil {
			rq.Location = &cases.Point{Lat: lat, Long: long}
		}
		out = append(out, rq)
	}
	return out, nil
}
