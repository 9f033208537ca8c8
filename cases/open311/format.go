package open311

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The two formats of GeoReport v2, chosen by the suffix of the resource.
const (
	formatXML  = "xml"
	formatJSON = "json"
)

// splitFormat splits "033.json" into "033" and "json". A name with no
// suffix is XML, the format the specification requires.
func splitFormat(name string) (base, format string, ok bool) {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return name, formatXML, true
	}
	switch f := strings.ToLower(name[i+1:]); f {
	case formatXML, formatJSON:
		return name[:i], f, true
	}
	return name, formatXML, false
}

// APIError is one entry of a GeoReport v2 error answer. Description is
// meant to be shown to the person using the client.
type APIError struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
}

type xmlErrors struct {
	XMLName xml.Name   `xml:"errors"`
	Errors  []APIError `xml:"error"`
}

// write sends v as the format asks: JSON as is, XML after the
// declaration the specification requires. xmlv is the XML form of v
// (a root element wrapping a list), or v itself when nil.
func write(w http.ResponseWriter, format string, status int, v, xmlv any) {
	var buf bytes.Buffer
	if format == formatJSON {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
			return
		}
	} else {
		if xmlv == nil {
			xmlv = v
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		buf.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
		if err := xml.NewEncoder(&buf).Encode(xmlv); err != nil {
			http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
			return
		}
		buf.WriteByte('\n')
	}
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// writeErrors sends the standard error answer: the HTTP status, and a
// list of {code, description}.
func writeErrors(w http.ResponseWriter, format string, status int, errs ...APIError) {
	if len(errs) == 0 {
		errs = []APIError{{Code: status, Description: http.StatusText(status)}}
	}
	write(w, format, status, errs, xmlErrors{Errors: errs})
}

// formatTime writes t as ISO 8601 with the offset of loc (the city's).
func formatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	if loc != nil {
		t = t.In(loc)
	}
	return t.Format(time.RFC3339)
}

// parseTime reads an ISO 8601 datetime (the W3C profile the
// specification names). A datetime without an offset, or a date alone,
// is read in loc: clients and servers that forget the offset are common,
// and the city's own zone is the least wrong reading.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if loc == nil {
		loc = time.UTC
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	// Offsets written without the colon (-0500), seen in the wild.
	for _, layout := range []string{"2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.999999999-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 datetime (like 2010-01-01T00:00:00Z)", s)
}

// flexText reads a JSON string, number or null as text: published
// servers print ids, codes and keys either way.
type flexText string

func (f *flexText) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexText(s)
	case string(b) == "true" || string(b) == "false":
		*f = flexText(b)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or a number, got %s", b)
		}
		*f = flexText(n.String())
	}
	return nil
}

func (f flexText) String() string { return strings.TrimSpace(string(f)) }

// splitList splits a comma-separated parameter; empty items are dropped.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
