package cases_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/cityline/cityline/cases"
)

// FuzzServiceJSON decodes any bytes as the Open311 service list and as a
// service definition, the JSON a city drops into its content pack as its
// Open311 server publishes it. Decoding never panics, accepts only valid
// UTF-8 text, and what it accepts survives a round trip unchanged.
//
//	go test ./cases -run '^$' -fuzz FuzzServiceJSON -fuzztime 2m
func FuzzServiceJSON(f *testing.F) {
	f.Add([]byte(`[{"service_code":"RD-01","service_name":"Pothole","description":"A hole","metadata":true,"type":"realtime","keywords":"pothole, hole","group":"Roads"}]`))
	f.Add([]byte(`[{"service_code":33,"service_name":null,"metadata":"true","type":"batch"}]`))
	f.Add([]byte(`{"service_code":"RD-01","attributes":[{"variable":true,"code":"SIZE","datatype":"singlevaluelist","required":true,"order":1,"description":"How wide?","values":[{"key":"S","name":"Small"},{"key":2,"name":"Big"}]}]}`))
	f.Add([]byte(`{"service_code":1,"attributes":[{"variable":"false","code":7,"datatype":"STRING","required":"yes","order":"3","description":"\ud800"}]}`))
	f.Add([]byte(`{"attributes":[{"order":"x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var list []cases.Service
		if err := json.Unmarshal(data, &list); err == nil {
			for _, s := range list {
				for _, v := range []string{s.Code, s.Name, s.Description, s.Type, s.Keywords, s.Group} {
					if !utf8.ValidString(v) {
						t.Fatalf("service decoded with invalid UTF-8: %+v", s)
					}
				}
			}
			roundTrip(t, list)
		}
		var d cases.Definition
		if err := json.Unmarshal(data, &d); err == nil {
			for _, a := range d.Attributes {
				if !utf8.ValidString(a.Code) || !utf8.ValidString(a.Description) || !utf8.ValidString(a.Datatype) {
					t.Fatalf("attribute decoded with invalid UTF-8: %+v", a)
				}
			}
			roundTrip(t, d)
		}
	})
}

func roundTrip[T any](t *testing.T, v T) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %+v: %v", v, err)
	}
	var back T
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("decode what was encoded (%s): %v", b, err)
	}
	if !reflect.DeepEqual(v, back) {
		t.Fatalf("round trip changed it:\n%+v\n%+v", v, back)
	}
}
