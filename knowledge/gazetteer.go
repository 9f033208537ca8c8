package knowledge

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/cityline/cityline/cases"
)

// Gazetteer is the city's own list of places, from gazetteer.csv: street
// segments with their address ranges, intersections, and named places
// (parks, libraries, arenas). It lets the assistant understand "12 king st
// w", "Queen and Spadina" or "the Central Library" without a map.
type Gazetteer struct {
	Streets       []Street
	Intersections []NamedPoint
	Places        []NamedPoint
}

// Street is one segment of a street: its name, the other names residents
// use, its ends, and the house numbers along it.
type Street struct {
	Name     string
	Aliases  []string
	From, To cases.Point // the segment's ends
	Low      int         // house numbers from Low at From ...
	High     int         // ... to High at To; 0 when unknown
}

// NamedPoint is an intersection or a named place.
type NamedPoint struct {
	Name    string
	Aliases []string
	At      cases.Point
}

// Names are the name and its aliases.
func (s Street) Names() []string { return append([]string{s.Name}, s.Aliases...) }

// Names are the name and its aliases.
func (p NamedPoint) Names() []string { return append([]string{p.Name}, p.Aliases...) }

// Has reports whether a house number is on the segment (any number when
// the range is unknown).
func (s Street) Has(n int) bool {
	return s.High == 0 || n >= min(s.Low, s.High) && n <= max(s.Low, s.High)
}

// PointOf places house number n along the segment by interpolation.
func (s Street) PointOf(n int) cases.Point {
	if s.High == s.Low || s.High == 0 {
		return cases.Point{Lat: (s.From.Lat + s.To.Lat) / 2, Long: (s.From.Long + s.To.Long) / 2}
	}
	f := float64(n-s.Low) / float64(s.High-s.Low)
	f = min(max(f, 0), 1)
	return cases.Point{Lat: s.From.Lat + f*(s.To.Lat-s.From.Lat), Long: s.From.Long + f*(s.To.Long-s.From.Long)}
}

// Bounds is the box around every point of the gazetteer.
func (g *Gazetteer) Bounds() (min, max cases.Point, ok bool) {
	first := true
	add := func(p cases.Point) {
		if first {
			min, max, first = p, p, false
			return
		}
		min.Lat, min.Long = minF(min.Lat, p.Lat), minF(min.Long, p.Long)
		max.Lat, max.Long = maxF(max.Lat, p.Lat), maxF(max.Long, p.Long)
	}
	for _, s := range g.Streets {
		add(s.From)
		add(s.To)
	}
	for _, p := range append(append([]NamedPoint{}, g.Intersections...), g.Places...) {
		add(p.At)
	}
	return min, max, !first
}

func minF(a, b float64) float64 { return min(a, b) }
func maxF(a, b float64) float64 { return max(a, b) }

// gazetteer columns, in the header's order.
var gazetteerHeader = []string{"type", "name", "aliases", "lat", "long", "lat2", "long2", "from", "to"}

// loadGazetteer reads gazetteer.csv; a pack without one has none.
func (l *loader) gazetteer() {
	const file = "gazetteer.csv"
	data, err := fs.ReadFile(l.fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		l.errorf(file, 0, "cannot read: %v", unwrapPath(err))
		return
	}
	g, probs := ParseGazetteer(data)
	for _, p := range probs {
		l.errorf(file, p.Line, "%s", p.Msg)
	}
	l.p.Gazetteer = g
}

// ParseGazetteer reads a gazetteer in CSV: a header row naming the columns
// type, name, aliases, lat, long, lat2, long2, from, to; then one row a
// street segment (type street: both ends and the house numbers), an
// intersection or a place (one point). Aliases are separated by "|".
func ParseGazetteer(data []byte) (*Gazetteer, []Problem) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	g := &Gazetteer{}
	var probs []Problem
	bad := func(line int, format string, args ...any) {
		probs = append(probs, Problem{File: "gazetteer.csv", Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	header, err := r.Read()
	if err != nil {
		bad(1, "no header row: want %s", strings.Join(gazetteerHeader, ","))
		return g, probs
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, h := range []string{"type", "name", "lat", "long"} {
		if _, ok := col[h]; !ok {
			bad(1, "the header has no %q column", h)
			return g, probs
		}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			bad(line, "%v", err)
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		num := func(name string) (float64, bool) {
			v, err := strconv.ParseFloat(get(name), 64)
			return v, err == nil
		}
		name := get("name")
		if name == "" {
			bad(line, "a row without a name")
			continue
		}
		var aliases []string
		for _, a := range strings.Split(get("aliases"), "|") {
			if a = strings.TrimSpace(a); a != "" {
				aliases = append(aliases, a)
			}
		}
		lat, ok1 := num("lat")
		long, ok2 := num("long")
		if !ok1 || !ok2 || lat < -90 || lat > 90 || long < -180 || long > 180 {
			bad(line, "%s: lat and long must be decimal degrees", name)
			continue
		}
		at := cases.Point{Lat: lat, Long: long}
		switch strings.ToLower(get("type")) {
		case "street":
			s := Street{Name: name, Aliases: aliases, From: at, To: at}
			if lat2, ok := num("lat2"); ok {
				if long2, ok := num("long2"); ok {
					s.To = cases.Point{Lat: lat2, Long: long2}
				}
			}
			lo, _ := strconv.Atoi(get("from"))
			hi, _ := strconv.Atoi(get("to"))
			s.Low, s.High = lo, hi
			g.Streets = append(g.Streets, s)
		case "intersection":
			g.Intersections = append(g.Intersections, NamedPoint{Name: name, Aliases: aliases, At: at})
		case "place":
			g.Places = append(g.Places, NamedPoint{Name: name, Aliases: aliases, At: at})
		default:
			bad(line, "%s: type %q is not street, intersection or place", name, get("type"))
		}
	}
	return g, probs
}
