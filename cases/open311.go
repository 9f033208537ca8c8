package cases

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Service is one entry of an Open311 GeoReport v2 service list, kept
// exactly as cities publish it.
type Service struct {
	Code        string `json:"service_code" xml:"service_code"`
	Name        string `json:"service_name" xml:"service_name"`
	Description string `json:"description" xml:"description"`
	Metadata    bool   `json:"metadata" xml:"metadata"`
	Type        string `json:"type" xml:"type"`         // realtime, batch, blackbox
	Keywords    string `json:"keywords" xml:"keywords"` // comma-separated
	Group       string `json:"group" xml:"group"`
}

// KeywordList splits the comma-separated keywords.
func (s Service) KeywordList() []string {
	var out []string
	for _, k := range strings.Split(s.Keywords, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// Definition is an Open311 service definition: the attributes a request
// of that service carries.
type Definition struct {
	Code       string      `json:"service_code" xml:"service_code"`
	Attributes []Attribute `json:"attributes" xml:"attributes>attribute"`
}

// Datatypes of the Open311 standard.
const (
	String          = "string"
	Number          = "number"
	Datetime        = "datetime"
	Text            = "text"
	SingleValueList = "singlevaluelist"
	MultiValueList  = "multivaluelist"
)

// KnownDatatype reports whether dt is one of the standard datatypes.
func KnownDatatype(dt string) bool {
	switch dt {
	case String, Number, Datetime, Text, SingleValueList, MultiValueList:
		return true
	}
	return false
}

// Attribute is one question of a service definition. Variable false means
// information shown to the resident, never asked.
type Attribute struct {
	Variable            bool    `json:"variable" xml:"variable"`
	Code                string  `json:"code" xml:"code"`
	Datatype            string  `json:"datatype" xml:"datatype"`
	Required            bool    `json:"required" xml:"required"`
	DatatypeDescription string  `json:"datatype_description" xml:"datatype_description"`
	Order               int     `json:"order" xml:"order"`
	Description         string  `json:"description" xml:"description"`
	Values              []Value `json:"values,omitempty" xml:"values>value,omitempty"`
}

// IsList reports whether the attribute is answered from its values.
func (a Attribute) IsList() bool {
	return a.Datatype == SingleValueList || a.Datatype == MultiValueList
}

// ValueName returns the display name of key, or key itself.
func (a Attribute) ValueName(key string) string {
	for _, v := range a.Values {
		if v.Key == key {
			return v.Name
		}
	}
	return key
}

// Value is one choice of a list attribute.
type Value struct {
	Key  string `json:"key" xml:"key"`
	Name string `json:"name" xml:"name"`
}

// Published catalogues print codes and keys both as strings and as bare
// numbers (the spec's own JSON examples do), and booleans as "true". The
// decoders below accept either so a city's file loads unchanged.

// UnmarshalJSON accepts codes given as numbers and metadata given as a string.
func (s *Service) UnmarshalJSON(b []byte) error {
	var raw struct {
		Code        flexString `json:"service_code"`
		Name        flexString `json:"service_name"`
		Description flexString `json:"description"`
		Metadata    flexBool   `json:"metadata"`
		Type        flexString `json:"type"`
		Keywords    flexString `json:"keywords"`
		Group       flexString `json:"group"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = Service{Code: string(raw.Code), Name: string(raw.Name), Description: string(raw.Description),
		Metadata: bool(raw.Metadata), Type: string(raw.Type), Keywords: string(raw.Keywords), Group: string(raw.Group)}
	return nil
}

// UnmarshalJSON accepts a numeric service code.
func (d *Definition) UnmarshalJSON(b []byte) error {
	var raw struct {
		Code       flexString  `json:"service_code"`
		Attributes []Attribute `json:"attributes"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*d = Definition{Code: string(raw.Code), Attributes: raw.Attributes}
	return nil
}

// UnmarshalJSON accepts numbers or strings for code and order, and
// strings for booleans.
func (a *Attribute) UnmarshalJSON(b []byte) error {
	var raw struct {
		Variable            *flexBool  `json:"variable"`
		Code                flexString `json:"code"`
		Datatype            flexString `json:"datatype"`
		Required            flexBool   `json:"required"`
		DatatypeDescription flexString `json:"datatype_description"`
		Order               flexString `json:"order"`
		Description         flexString `json:"description"`
		Values              []Value    `json:"values"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*a = Attribute{Variable: true, Code: string(raw.Code), Datatype: strings.ToLower(string(raw.Datatype)),
		Required: bool(raw.Required), DatatypeDescription: string(raw.DatatypeDescription),
		Description: string(raw.Description), Values: raw.Values}
	if len(a.Values) == 0 {
		a.Values = nil // "values": [] is no values, as omitted is
	}
	if raw.Variable != nil {
		a.Variable = bool(*raw.Variable)
	}
	if raw.Order != "" {
		n, err := strconv.Atoi(string(raw.Order))
		if err != nil {
			return fmt.Errorf("attribute %q: order %q is not a whole number", a.Code, raw.Order)
		}
		a.Order = n
	}
	return nil
}

// UnmarshalJSON accepts a numeric key.
func (v *Value) UnmarshalJSON(b []byte) error {
	var raw struct {
		Key  flexString `json:"key"`
		Name flexString `json:"name"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*v = Value{Key: string(raw.Key), Name: string(raw.Name)}
	return nil
}

type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, got %s", b)
	}
	*f = flexString(n.String())
	return nil
}

type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch strings.Trim(strings.ToLower(string(b)), `"`) {
	case "true", "1", "yes":
		*f = true
	case "false", "0", "no", "", "null":
		*f = false
	default:
		return fmt.Errorf("want true or false, got %s", b)
	}
	return nil
}
