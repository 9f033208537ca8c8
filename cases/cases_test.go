package cases_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
)

func TestFormatRef(t *testing.T) {
	for _, tt := range []struct {
		prefix string
		n      int64
		want   string
	}{
		{"EX", 4211, "EX-004211"},
		{"ex", 1, "EX-000001"},
		{"Hv", 0, "HV-000000"},
		{"EX", 999999, "EX-999999"},
		{"EX", 1000000, "EX-1000000"}, // grows, never wraps
		{"", 42, "000042"},
	} {
		if got := cases.FormatRef(tt.prefix, tt.n); got != tt.want {
			t.Errorf("FormatRef(%q, %d) = %q, want %q", tt.prefix, tt.n, got, tt.want)
		}
	}
}

func TestNormalizeRef(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"EX-004211", "EX-004211"},
		{"ex-004211", "EX-004211"},
		{"ex 4211", "EX-004211"},
		{"EX4211", "EX-004211"},
		{"  ex-4211\n", "EX-004211"},
		{"ex #4211", "EX-004211"},
		{"ex - 4211", "EX-004211"},
		{"Ex-0004211", "EX-004211"},
		{"ex 1", "EX-000001"},
		{"EX-1234567", "EX-1234567"},
		{"4211", "004211"},
		{"#4211", "004211"},
		// Not a number after the prefix: upper case, otherwise as typed.
		{"EX-12A", "EX-12A"},
		{"abc-2026-0042", "ABC-2026-0042"},
		{"4f1c9a", "4F1C9A"},
		{"EX-99999999999999999999", "EX-99999999999999999999"},
		{"hello", "HELLO"},
		{"", ""},
		{"   ", ""},
	} {
		got := cases.NormalizeRef(tt.in)
		if got != tt.want {
			t.Errorf("NormalizeRef(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if again := cases.NormalizeRef(got); again != got {
			t.Errorf("NormalizeRef(%q) = %q, not stable: normalized again it is %q", tt.in, got, again)
		}
	}
}

// Every reference Cityline gives out is found again whichever way a
// resident types it.
func TestNormalizeRefFindsFormatRef(t *testing.T) {
	for _, prefix := range []string{"EX", "hv", "A", "ABCDEF", ""} {
		for _, n := range []int64{0, 1, 42, 4211, 999999, 1000000, 123456789} {
			ref := cases.FormatRef(prefix, n)
			for _, typed := range []string{ref, strings.ToLower(ref), fmt.Sprintf("%s %d", prefix, n),
				fmt.Sprintf(" %s#%d ", strings.ToLower(prefix), n), fmt.Sprintf("%s%d", prefix, n)} {
				if got := cases.NormalizeRef(typed); got != ref {
					t.Errorf("NormalizeRef(%q) = %q, want %q", typed, got, ref)
				}
			}
		}
	}
}

func TestParseStatus(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want cases.Status
	}{
		{"open", cases.StatusOpen},
		{"OPEN", cases.StatusOpen},
		{" Open\n", cases.StatusOpen},
		{"closed", cases.StatusClosed},
		{"Closed", cases.StatusClosed},
	} {
		if got, err := cases.ParseStatus(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseStatus(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "fixed", "opened", "close", "in progress", "open closed"} {
		got, err := cases.ParseStatus(in)
		if !errors.Is(err, cases.ErrInvalid) || got != "" {
			t.Errorf("ParseStatus(%q) = %q, %v; want an error wrapping ErrInvalid", in, got, err)
		}
	}
}

func TestServiceJSON(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     cases.Service
	}{
		{"spec example", `{"service_code":"001","service_name":"Cans left out 24x7",
			"description":"Garbage or recycling cans that have been left out for more than 24 hours after collection.",
			"metadata":false,"type":"realtime","keywords":"lorem, ipsum, dolor","group":"sanitation"}`,
			cases.Service{Code: "001", Name: "Cans left out 24x7",
				Description: "Garbage or recycling cans that have been left out for more than 24 hours after collection.",
				Type:        "realtime", Keywords: "lorem, ipsum, dolor", Group: "sanitation"}},
		{"numeric code, string metadata", `{"service_code":4,"service_name":"Pothole","metadata":"true"}`,
			cases.Service{Code: "4", Name: "Pothole", Metadata: true}},
		{"decimal code kept as written", `{"service_code":12.50,"metadata":"TRUE"}`,
			cases.Service{Code: "12.50", Metadata: true}},
		{"metadata as a number", `{"service_code":"A","metadata":1}`, cases.Service{Code: "A", Metadata: true}},
		{"metadata yes", `{"service_code":"A","metadata":"yes"}`, cases.Service{Code: "A", Metadata: true}},
		{"metadata false as text", `{"service_code":"A","metadata":"false"}`, cases.Service{Code: "A"}},
		{"nulls", `{"service_code":"A","service_name":null,"description":null,"metadata":null,"keywords":null,"group":null}`,
			cases.Service{Code: "A"}},
		{"missing fields", `{"service_code":"A"}`, cases.Service{Code: "A"}},
		{"unknown fields ignored", `{"service_code":"A","jurisdiction_id":"city.gov","extra":{"a":[1]}}`, cases.Service{Code: "A"}},
		{"escapes", `{"service_code":"A","service_name":"Caf\u00e9 \"noise\""}`, cases.Service{Code: "A", Name: `Café "noise"`}},
	} {
		var got cases.Service
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	for _, in := range []string{
		`{"service_code":"A","metadata":"maybe"}`,
		`{"service_code":"A","metadata":2}`,
		`{"service_code":true}`,
		`{"service_code":{"a":1}}`,
		`{"service_code":["A"]}`,
		`{"service_code":"A"`,
		`[]`,
	} {
		var got cases.Service
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("Unmarshal(%s) = %+v, want an error", in, got)
		}
	}
	// A whole list, as services.json carries it, and back.
	var list []cases.Service
	in := `[{"service_code":1,"service_name":"A"},{"service_code":"002","service_name":"B","metadata":"true"}]`
	if err := json.Unmarshal([]byte(in), &list); err != nil {
		t.Fatal(err)
	}
	want := []cases.Service{{Code: "1", Name: "A"}, {Code: "002", Name: "B", Metadata: true}}
	if !slices.Equal(list, want) {
		t.Errorf("service list = %+v, want %+v", list, want)
	}
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	var again []cases.Service
	if err := json.Unmarshal(b, &again); err != nil || !slices.Equal(again, want) {
		t.Errorf("service list through Marshal and Unmarshal = %+v, %v; want %+v", again, err, want)
	}
}

func TestDefinitionJSON(t *testing.T) {
	// The GeoReport v2 specification's own example, numbers and all.
	in := `{
	  "service_code":"DMV66",
	  "attributes":[
	    {"variable":true,"code":"WHISHETN","datatype":"singlevaluelist","required":true,
	     "datatype_description":null,"order":1,"description":"What is the ticket/tag/DL number?",
	     "values":[{"key":123,"name":"Ford"},{"key":124,"name":"Chrysler"}]}
	  ]
	}`
	var got cases.Definition
	if err := json.Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := cases.Definition{Code: "DMV66", Attributes: []cases.Attribute{{
		Variable: true, Code: "WHISHETN", Datatype: cases.SingleValueList, Required: true, Order: 1,
		Description: "What is the ticket/tag/DL number?",
		Values:      []cases.Value{{Key: "123", Name: "Ford"}, {Key: "124", Name: "Chrysler"}},
	}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	var numeric cases.Definition
	if err := json.Unmarshal([]byte(`{"service_code":33,"attributes":[]}`), &numeric); err != nil || numeric.Code != "33" {
		t.Errorf("numeric service code: %+v, %v; want code 33", numeric, err)
	}
	var bad cases.Definition
	if err := json.Unmarshal([]byte(`{"service_code":"X","attributes":[{"code":"A","order":"first"}]}`), &bad); err == nil {
		t.Errorf("an attribute with order \"first\" was accepted: %+v", bad)
	}
}

func TestAttributeJSON(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     cases.Attribute
	}{
		{"variable defaults to true", `{"code":"A","datatype":"string"}`,
			cases.Attribute{Variable: true, Code: "A", Datatype: cases.String}},
		{"variable false", `{"variable":false,"code":"INFO","datatype":"text"}`,
			cases.Attribute{Code: "INFO", Datatype: cases.Text}},
		{"variable as text", `{"variable":"false","code":"INFO"}`, cases.Attribute{Code: "INFO"}},
		{"variable null is the default", `{"variable":null,"code":"A"}`, cases.Attribute{Variable: true, Code: "A"}},
		{"numeric code", `{"code":7,"datatype":"number"}`, cases.Attribute{Variable: true, Code: "7", Datatype: cases.Number}},
		{"datatype in any case", `{"code":"A","datatype":"MultiValueList"}`,
			cases.Attribute{Variable: true, Code: "A", Datatype: cases.MultiValueList}},
		{"required as text", `{"code":"A","required":"true"}`, cases.Attribute{Variable: true, Code: "A", Required: true}},
		{"order as text", `{"code":"A","order":"3"}`, cases.Attribute{Variable: true, Code: "A", Order: 3}},
		{"order as a number", `{"code":"A","order":12}`, cases.Attribute{Variable: true, Code: "A", Order: 12}},
		{"order null", `{"code":"A","order":null}`, cases.Attribute{Variable: true, Code: "A"}},
		{"datatype_description null", `{"code":"A","datatype_description":null}`, cases.Attribute{Variable: true, Code: "A"}},
		{"values with numeric keys", `{"code":"A","datatype":"singlevaluelist","values":[{"key":1,"name":"Yes"},{"key":"2","name":"No"}]}`,
			cases.Attribute{Variable: true, Code: "A", Datatype: cases.SingleValueList,
				Values: []cases.Value{{Key: "1", Name: "Yes"}, {Key: "2", Name: "No"}}}},
	} {
		var got cases.Attribute
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	for _, in := range []string{
		`{"code":"A","order":"three"}`,
		`{"code":"A","order":2.5}`,
		`{"code":"A","required":"sometimes"}`,
		`{"code":"A","values":[{"key":true}]}`,
		`{"code":"A","values":{"key":"1"}}`,
	} {
		var got cases.Attribute
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("Unmarshal(%s) = %+v, want an error", in, got)
		}
	}
}

func TestValueJSON(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want cases.Value
	}{
		{`{"key":"OAK","name":"Oak"}`, cases.Value{Key: "OAK", Name: "Oak"}},
		{`{"key":123,"name":"Ford"}`, cases.Value{Key: "123", Name: "Ford"}},
		{`{"key":"1","name":2}`, cases.Value{Key: "1", Name: "2"}},
		{`{"key":null,"name":"None"}`, cases.Value{Name: "None"}},
		{`{}`, cases.Value{}},
	} {
		var got cases.Value
		if err := json.Unmarshal([]byte(tt.in), &got); err != nil || got != tt.want {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	var v cases.Value
	if err := json.Unmarshal([]byte(`{"key":[1]}`), &v); err == nil {
		t.Errorf("a key given as a list was accepted: %+v", v)
	}
}

func TestAttributeHelpers(t *testing.T) {
	a := cases.Attribute{Datatype: cases.MultiValueList, Values: []cases.Value{{Key: "1", Name: "Yes"}}}
	if !a.IsList() || a.ValueName("1") != "Yes" || a.ValueName("9") != "9" {
		t.Errorf("IsList %v, ValueName(1) %q, ValueName(9) %q", a.IsList(), a.ValueName("1"), a.ValueName("9"))
	}
	for dt, want := range map[string]bool{cases.String: true, cases.Datetime: true, "date": false, "": false} {
		if cases.KnownDatatype(dt) != want {
			t.Errorf("KnownDatatype(%q) = %v, want %v", dt, !want, want)
		}
	}
	s := cases.Service{Keywords: " trash, garbage ,,refuse "}
	if got := s.KeywordList(); !slices.Equal(got, []string{"trash", "garbage", "refuse"}) {
		t.Errorf("KeywordList = %q", got)
	}
}

func TestDistanceM(t *testing.T) {
	p := func(lat, long float64) cases.Point { return cases.Point{Lat: lat, Long: long} }
	for _, tt := range []struct {
		name string
		a, b cases.Point
		want float64 // metres
		tol  float64
	}{
		{"same point", p(43.6534, -79.3841), p(43.6534, -79.3841), 0, 1e-9},
		{"one degree of latitude", p(10, 20), p(11, 20), 111194.93, 0.01},
		{"city hall to a tower", p(43.6534, -79.3841), p(43.6426, -79.3871), 1224.92, 0.01},
		{"London to New York", p(51.5007, -0.1246), p(40.6892, -74.0445), 5574840.46, 0.5},
		{"across the antimeridian", p(0, 179.9999), p(0, -179.9999), 22.239, 0.001},
		{"antipodes", p(0, 0), p(0, 180), 20015086.80, 0.5},
		{"pole to pole", p(90, 0), p(-90, 0), 20015086.80, 0.5},
	} {
		if got := cases.DistanceM(tt.a, tt.b); math.Abs(got-tt.want) > tt.tol {
			t.Errorf("%s: DistanceM = %.3f, want %.3f ± %g", tt.name, got, tt.want, tt.tol)
		}
		if ab, ba := cases.DistanceM(tt.a, tt.b), cases.DistanceM(tt.b, tt.a); math.Abs(ab-ba) > 1e-6 {
			t.Errorf("%s: DistanceM not symmetric: %f and %f", tt.name, ab, ba)
		}
	}
}

// destination is the point at distance m and bearing deg from p on the
// sphere DistanceM uses (the longitude not wrapped to ±180).
func destination(p cases.Point, m, deg float64) cases.Point {
	const r = 6371000.0
	rad := math.Pi / 180
	d, th, lat1, long1 := m/r, deg*rad, p.Lat*rad, p.Long*rad
	lat2 := math.Asin(math.Sin(lat1)*math.Cos(d) + math.Cos(lat1)*math.Sin(d)*math.Cos(th))
	long2 := long1 + math.Atan2(math.Sin(th)*math.Sin(d)*math.Cos(lat1), math.Cos(d)-math.Sin(lat1)*math.Sin(lat2))
	return cases.Point{Lat: lat2 / rad, Long: long2 / rad}
}

// The box is what List asks the database for: a case within the radius
// but outside the box is a case a resident never sees.
func TestBoundingBoxHoldsTheCircle(t *testing.T) {
	for _, center := range []cases.Point{
		{Lat: 0, Long: 0}, {Lat: 43.6532, Long: -79.3832}, {Lat: -33.8688, Long: 151.2093},
		{Lat: 64.1466, Long: -21.9426}, {Lat: 78.2232, Long: 15.6267}, {Lat: -89.9, Long: 0},
	} {
		for _, radius := range []float64{1, 30, 250, 1000, 5000, 50000} {
			minLat, maxLat, minLong, maxLong := cases.BoundingBox(center, radius)
			for deg := 0.0; deg < 360; deg += 0.5 {
				// Just inside the circle: the helper's rounding is not the box's.
				q := destination(center, radius*(1-1e-6), deg)
				if d := cases.DistanceM(center, q); d > radius {
					t.Fatalf("test helper: destination within %g m is %g m away", radius, d)
				}
				if q.Lat < minLat || q.Lat > maxLat || q.Long < minLong || q.Long > maxLong {
					t.Errorf("center %+v radius %g m: the point at bearing %g° (%+v) is outside the box lat [%f, %f] long [%f, %f]",
						center, radius, deg, q, minLat, maxLat, minLong, maxLong)
					break
				}
			}
		}
	}
}

// ...and it is a filter only if it is not much bigger than the circle.
func TestBoundingBoxIsTight(t *testing.T) {
	for _, tt := range []struct {
		center cases.Point
		radius float64
	}{
		{cases.Point{Lat: 0, Long: 0}, 1000},
		{cases.Point{Lat: 43.6532, Long: -79.3832}, 1000},
		{cases.Point{Lat: -60, Long: 100}, 30},
	} {
		minLat, maxLat, minLong, maxLong := cases.BoundingBox(tt.center, tt.radius)
		north := cases.DistanceM(tt.center, cases.Point{Lat: maxLat, Long: tt.center.Long})
		south := cases.DistanceM(tt.center, cases.Point{Lat: minLat, Long: tt.center.Long})
		east := cases.DistanceM(tt.center, cases.Point{Lat: tt.center.Lat, Long: maxLong})
		west := cases.DistanceM(tt.center, cases.Point{Lat: tt.center.Lat, Long: minLong})
		for _, d := range []float64{north, south, east, west} {
			if d < tt.radius*(1-1e-6) || d > tt.radius*1.01 {
				t.Errorf("center %+v radius %g: box edges at %.3f %.3f %.3f %.3f m (N S E W), want about the radius",
					tt.center, tt.radius, north, south, east, west)
				break
			}
		}
	}
	// Near a pole every longitude can be within the radius.
	if _, _, minLong, maxLong := cases.BoundingBox(cases.Point{Lat: 89.99, Long: 10}, 5000); maxLong-minLong < 360 {
		t.Errorf("5 km around 89.99°N: longitudes [%f, %f], want all of them", minLong, maxLong)
	}
}

func TestTimeColumn(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.FixedZone("EST", -5*60*60))
	s := cases.FormatTime(at)
	if s != "2026-03-14T14:26:53.589793Z" {
		t.Errorf("FormatTime = %q, want UTC to the microsecond", s)
	}
	if got := cases.ParseTime(s); !got.Equal(at.Truncate(time.Microsecond)) {
		t.Errorf("ParseTime(%q) = %v, want %v", s, got, at.Truncate(time.Microsecond))
	}
	if cases.FormatTime(time.Time{}) != "" || !cases.ParseTime("").IsZero() {
		t.Errorf("the zero time is not stored as empty text")
	}
	if got := cases.ParseTime("2026-03-14T10:26:53+01:00"); !got.Equal(time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)) {
		t.Errorf("ParseTime of RFC 3339 = %v", got)
	}
	// Text order is time order, whatever the zone or fraction.
	times := []time.Time{
		time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(2000, 1, 1, 9, 0, 0, 2000, time.FixedZone("JST", 9*60*60)),
		time.Date(2026, 3, 14, 9, 26, 53, 0, time.FixedZone("EST", -5*60*60)),
	}
	var texts []string
	for _, tm := range times {
		texts = append(texts, cases.FormatTime(tm))
	}
	if !slices.IsSorted(texts) {
		t.Errorf("stored times out of order: %q", texts)
	}
}

func TestJSONColumn(t *testing.T) {
	if cases.EncodeJSON([]string(nil)) != "" || cases.EncodeJSON([]string{}) != "" || cases.EncodeJSON(map[string][]string{}) != "" {
		t.Errorf("empty lists and maps are not stored as empty text")
	}
	attrs := map[string][]string{"HAZARDS": {"water", "traffic"}, "NOTE": {`"quoted"`}}
	var got map[string][]string
	if err := cases.DecodeJSON(cases.EncodeJSON(attrs), &got); err != nil || !reflect.DeepEqual(got, attrs) {
		t.Errorf("attributes through the column = %v, %v; want %v", got, err, attrs)
	}
	var none []string
	if err := cases.DecodeJSON("", &none); err != nil || none != nil {
		t.Errorf(`DecodeJSON("") = %v, %v`, none, err)
	}
	if err := cases.DecodeJSON("{broken", &got); err == nil {
		t.Errorf("a broken column decoded without error")
	}
}
