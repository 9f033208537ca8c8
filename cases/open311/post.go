package open311

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cityline/cityline/cases"
)

// Channel is the Case.Channel of requests filed through the API.
const Channel = "open311"

// maxForm bounds a POST body: a 4,000-character description, a few
// dozen attributes and the contact fields fit many times over.
const maxForm = 1 << 20

// htmlRE finds markup, which the specification keeps out of descriptions.
var htmlRE = regexp.MustCompile(`<\s*/?\s*[a-zA-Z!?][^>]*>`)

type receiptDoc struct {
	XMLName xml.Name `json:"-" xml:"request"`
	ID      string   `json:"service_request_id,omitempty" xml:"service_request_id,omitempty"`
	Token   string   `json:"token,omitempty" xml:"token,omitempty"`
	Notice  string   `json:"service_notice,omitempty" xml:"service_notice,omitempty"`
}

// post serves POST requests: a new service request.
func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	base, format, ok := splitFormat(r.PathValue("name"))
	if !ok || base != "requests" {
		writeErrors(w, format, http.StatusNotFound, APIError{Code: http.StatusNotFound,
			Description: "Requests are created with POST " + Prefix + "requests.xml or requests.json."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var err error
	switch mt {
	case "application/x-www-form-urlencoded":
		err = r.ParseForm()
	case "multipart/form-data":
		err = r.ParseMultipartForm(maxForm)
	default:
		writeErrors(w, format, http.StatusBadRequest, APIError{Code: http.StatusBadRequest,
			Description: "Send the request as application/x-www-form-urlencoded."})
		return
	}
	if err != nil {
		writeErrors(w, format, http.StatusBadRequest, APIError{Code: http.StatusBadRequest,
			Description: "The request body could not be read as a form."})
		return
	}
	if _, _, ok := h.start(w, r); !ok {
		return
	}
	// The key travels in the body only: URLs end up in proxies' logs.
	key := r.PostForm.Get("api_key")
	if !h.keyOK(key) {
		desc := "Invalid api_key received -- can't proceed with create_request."
		if key == "" {
			desc = "api_key is required to create a request."
		}
		if len(h.keys) == 0 {
			desc = "This endpoint does not take new requests (no api_key is configured)."
		}
		writeErrors(w, format, http.StatusForbidden, APIError{Code: http.StatusForbidden, Description: desc})
		return
	}
	form := r.PostForm
	code := strings.TrimSpace(form.Get("service_code"))
	if code == "" {
		writeErrors(w, format, http.StatusBadRequest, badParam("service_code", "is required"))
		return
	}
	svc, found, err := h.service(r.Context(), code)
	if err != nil {
		h.trouble(w, format, "services", err)
		return
	}
	if !found {
		writeErrors(w, format, http.StatusNotFound, APIError{Code: http.StatusNotFound,
			Description: fmt.Sprintf("service_code %q was not found.", code)})
		return
	}
	def, _, err := h.lookup(r.Context(), svc.Code)
	if err != nil {
		h.trouble(w, format, "definition", err)
		return
	}
	c, errs := h.newCase(form, svc, def)
	if len(errs) > 0 {
		writeErrors(w, format, http.StatusBadRequest, errs...)
		return
	}
	if idem := strings.TrimSpace(r.Header.Get("Idempotency-Key")); idem != "" {
		// A client's retry of the same POST files nothing new. Keys are
		// kept apart by api_key, so clients cannot collide.
		if len(idem) > 200 {
			writeErrors(w, format, http.StatusBadRequest, badParam("Idempotency-Key", "at most 200 characters"))
			return
		}
		sum := sha256.Sum256([]byte(key))
		c.Key = "open311:" + hex.EncodeToString(sum[:6]) + ":" + idem
	}
	batch := svc.Type == "batch" && h.tokens != nil
	if batch {
		c.Token = newToken()
	}
	err = h.store.Create(r.Context(), c)
	if err != nil && !errors.Is(err, cases.ErrConflict) {
		h.trouble(w, format, "create request", err)
		return
	}
	doc := receiptDoc{Notice: c.Notice}
	switch {
	case svc.Type == "blackbox":
		// No id is returned for blackbox services.
	case batch && c.Token != "":
		doc.Token = c.Token
		// Cityline keeps the request at once, so it is numbered at once;
		// the token tells the client so, as the specification asks.
		if _, err := h.tokens.ResolveToken(r.Context(), c.Token); err != nil {
			h.log.Warn("open311: number a batch request", "err", err)
		}
	default:
		doc.ID = c.Ref
	}
	h.log.Info("open311: request filed", "ref", c.Ref, "service", c.ServiceCode)
	write(w, format, http.StatusOK, []receiptDoc{doc}, xmlRequests{Requests: []any{doc}})
}

// newCase reads a POST form into a case, or says everything that is wrong
// with it.
func (h *Handler) newCase(form url.Values, svc cases.Service, def cases.Definition) (*cases.Case, []APIError) {
	c := &cases.Case{ServiceCode: svc.Code, ServiceName: svc.Name, Status: cases.StatusOpen, Agency: h.cfg.Agency,
		Channel: Channel, Requested: h.now()}
	c.Updated = c.Requested
	var errs []APIError
	get := func(name string) string { return strings.TrimSpace(form.Get(name)) }

	lat, long := get("lat"), get("long")
	if lat != "" || long != "" {
		p, perrs := parsePoint(lat, long)
		errs = append(errs, perrs...)
		c.Location = p
	}
	c.Address, c.AddressID = get("address_string"), get("address_id")
	if lat == "" && long == "" && c.Address == "" && c.AddressID == "" {
		errs = append(errs, APIError{Code: http.StatusBadRequest,
			Description: "A location is required: lat and long, address_string, or address_id."})
	}
	c.Description = strings.TrimSpace(strings.ReplaceAll(form.Get("description"), "\r\n", "\n"))
	if n := utf8.RuneCountInString(c.Description); n > MaxDescription {
		errs = append(errs, badParam("description", fmt.Sprintf("%d characters; at most %d", n, MaxDescription)))
	}
	if !utf8.ValidString(c.Description) {
		errs = append(errs, badParam("description", "must be UTF-8 text"))
	} else if htmlRE.MatchString(c.Description) {
		errs = append(errs, badParam("description", "must be plain text, without HTML"))
	}
	if m := get("media_url"); m != "" {
		u, err := url.Parse(m)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(m) > 2000 {
			errs = append(errs, badParam("media_url", "want an http or https URL"))
		} else {
			c.MediaURLs = []string{m}
		}
	}
	c.Contact = cases.Contact{Email: get("email"), Phone: get("phone"), FirstName: get("first_name"),
		LastName: get("last_name"), DeviceID: get("device_id"), AccountID: get("account_id")}
	for name, v := range map[string]string{"email": c.Contact.Email, "phone": c.Contact.Phone,
		"first_name": c.Contact.FirstName, "last_name": c.Contact.LastName, "device_id": c.Contact.DeviceID,
		"account_id": c.Contact.AccountID} {
		if len(v) > 200 {
			errs = append(errs, badParam(name, "at most 200 characters"))
		}
	}
	attrs, aerrs := h.attributes(form, def)
	errs = append(errs, aerrs...)
	c.Attributes = attrs
	slices.SortFunc(errs, func(a, b APIError) int { return strings.Compare(a.Description, b.Description) })
	return c, errs
}

// attributes reads attribute[CODE]=v and attribute[CODE][]=v (several
// values, for a multivaluelist) and checks them against the definition:
// required questions answered, list answers among the keys, numbers and
// datetimes readable, no question the service does not ask.
func (h *Handler) attributes(form url.Values, def cases.Definition) (map[string][]string, []APIError) {
	given := map[string][]string{}
	for name, vals := range form {
		rest, ok := strings.CutPrefix(name, "attribute[")
		if !ok {
			continue
		}
		code, tail, ok := strings.Cut(rest, "]")
		if !ok || (tail != "" && tail != "[]") || code == "" {
			return nil, []APIError{badParam(name, "want attribute[CODE] or attribute[CODE][]")}
		}
		for _, v := range vals {
			if v = strings.TrimSpace(v); v != "" && !slices.Contains(given[code], v) {
				given[code] = append(given[code], v)
			}
		}
		if _, ok := given[code]; !ok {
			given[code] = nil
		}
	}
	var errs []APIError
	out := map[string][]string{}
	byCode := map[string]cases.Attribute{}
	for _, a := range def.Attributes {
		byCode[a.Code] = a
	}
	for code, vals := range given {
		a, ok := byCode[code]
		switch {
		case !ok && len(def.Attributes) > 0:
			errs = append(errs, badParam("attribute["+code+"]", fmt.Sprintf("service %s has no such question", def.Code)))
			continue
		case !ok:
			// No definition published: keep what the client sent.
			if len(vals) > 0 {
				out[code] = vals
			}
			continue
		case !a.Variable:
			continue // information shown to the resident, not a question
		}
		if len(vals) == 0 {
			continue
		}
		if err := checkValues(a, vals); err != "" {
			errs = append(errs, badParam("attribute["+code+"]", err))
			continue
		}
		out[code] = vals
	}
	for _, a := range def.Attributes {
		if a.Variable && a.Required && len(out[a.Code]) == 0 && !hasError(errs, a.Code) {
			errs = append(errs, badParam("attribute["+a.Code+"]", "is required: "+a.Description))
		}
	}
	return out, errs
}

func hasError(errs []APIError, code string) bool {
	for _, e := range errs {
		if strings.HasPrefix(e.Description, "attribute["+code+"]") {
			return true
		}
	}
	return false
}

// checkValues says what is wrong with answers to a, or "".
func checkValues(a cases.Attribute, vals []string) string {
	if a.Datatype != cases.MultiValueList && len(vals) > 1 {
		return "takes one value"
	}
	switch a.Datatype {
	case cases.SingleValueList, cases.MultiValueList:
		for _, v := range vals {
			if !slices.ContainsFunc(a.Values, func(x cases.Value) bool { return x.Key == v }) {
				keys := make([]string, len(a.Values))
				for i, x := range a.Values {
					keys[i] = x.Key
				}
				return fmt.Sprintf("%q is not one of the keys %s", v, strings.Join(keys, ", "))
			}
		}
	case cases.Number:
		if _, err := strconv.ParseFloat(vals[0], 64); err != nil {
			return fmt.Sprintf("%q is not a number", vals[0])
		}
	case cases.Datetime:
		if _, err := parseTime(vals[0], nil); err != nil {
			return err.Error()
		}
	case cases.String:
		if strings.ContainsAny(vals[0], "\r\n") {
			return "takes one line of text"
		}
	}
	return ""
}

// newToken is an unguessable token for a batch request.
func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
