package cases

import (
	"encoding/json"
	"math"
	"time"
)

// Helpers shared by the SQL stores: how a Case's lists and times are
// written to a column and read back.

// TimeLayout is how times are stored as text: UTC, fixed width, so text
// order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// FormatTime writes t for a text column ("" for the zero time).
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// ParseTime reads a text column written by FormatTime.
func ParseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		t, _ = time.Parse(time.RFC3339Nano, s)
	}
	return t
}

// EncodeJSON writes a list or map column; nil is written as "".
func EncodeJSON(v any) string {
	switch x := v.(type) {
	case []string:
		if len(x) == 0 {
			return ""
		}
	case map[string][]string:
		if len(x) == 0 {
			return ""
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// DecodeJSON reads a column written by EncodeJSON into v.
func DecodeJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}

// earthRadiusM is the radius of the sphere DistanceM and BoundingBox use.
const earthRadiusM = 6371000.0

// DistanceM is the great-circle distance between two points, in metres.
func DistanceM(a, b Point) float64 {
	rad := math.Pi / 180
	dLat := (b.Lat - a.Lat) * rad
	dLong := (b.Long - a.Long) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLong/2)*math.Sin(dLong/2)
	return 2 * earthRadiusM * math.Asin(math.Min(1, math.Sqrt(h)))
}

// BoundingBox returns the latitude and longitude ranges around p that
// contain every point within radius metres (as DistanceM measures): a
// cheap index filter before the exact distance. The longitude range is
// the whole circle (180 either side) when a pole is within radius.
func BoundingBox(p Point, radius float64) (minLat, maxLat, minLong, maxLong float64) {
	// On the sphere, the points within angular distance d of p span d of
	// latitude and asin(sin d / cos lat) of longitude either side. The
	// margin keeps points at exactly radius inside despite rounding.
	d := radius / earthRadiusM * (1 + 1e-9)
	dLat := d * 180 / math.Pi
	dLong := 180.0
	if s := math.Sin(d) / math.Cos(p.Lat*math.Pi/180); d < math.Pi/2 && s >= 0 && s < 1 {
		dLong = math.Asin(s) * 180 / math.Pi
	}
	return p.Lat - dLat, p.Lat + dLat, p.Long - dLong, p.Long + dLong
}
