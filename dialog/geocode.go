package dialog

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog/locale"
	"github.com/cityline/cityline/knowledge"
)

// Geocoder turns a place a resident described into places the city knows.
// The default is Gazetteer, over the content pack's gazetteer.csv;
// dialog/nominatim adapts a Nominatim or Pelias server.
type Geocoder interface {
	Geocode(ctx context.Context, q PlaceQuery) (Geocoded, error)
}

// PlaceQuery is what the resident said, and how it was read.
type PlaceQuery struct {
	Text  string
	Place Place // ParsePlace's reading (Kind "" when it found none)
	Lang  string
}

// Geocoded is what a geocoder made of a place.
type Geocoded struct {
	// Matches are the places it could be: one is an answer, several a
	// question to ask, none a place not found.
	Matches []Place
	// Outside names where the place is when it is not in the city, and
	// OutsideContact whom to call there (when known).
	Outside, OutsideContact string
}

// Gazetteer geocodes from the city's own gazetteer.
type Gazetteer struct {
	g        *knowledge.Gazetteer
	city     *knowledge.City
	cat      *locale.Catalog
	min, max cases.Point
	bounded  bool
	types    map[string]bool   // street type words, every language
	dirs     map[string]string // direction words -> compass code, every language
	keys     [][]streetKey     // each street segment's names, reduced (keyOf), made once
}

// NewGazetteer returns the local geocoder; nil when the pack has no
// gazetteer (every parsed place is then accepted as said).
func NewGazetteer(p *knowledge.Pack, cat *locale.Catalog) *Gazetteer {
	if p.Gazetteer == nil || len(p.Gazetteer.Streets)+len(p.Gazetteer.Places)+len(p.Gazetteer.Intersections) == 0 {
		return nil
	}
	g := &Gazetteer{g: p.Gazetteer, city: &p.City, cat: cat, types: map[string]bool{}, dirs: map[string]string{}}
	for _, code := range cat.Languages() {
		l := cat.Lang(code)
		for w := range l.WordMap("street_types") {
			g.types[w] = true
		}
		for w, c := range l.WordMap("direction_codes") {
			g.dirs[w] = c
		}
	}
	for _, st := range p.Gazetteer.Streets {
		var ks []streetKey
		for _, n := range st.Names() {
			ks = append(ks, g.keyOf(strings.Fields(Normalize(n))))
		}
		g.keys = append(g.keys, ks)
	}
	if lo, hi, ok := p.Gazetteer.Bounds(); ok {
		// A margin of about two kilometres: the gazetteer's points are on
		// streets, the city reaches a little beyond them.
		const m = 0.02
		g.min = cases.Point{Lat: lo.Lat - m, Long: lo.Long - m}
		g.max = cases.Point{Lat: hi.Lat + m, Long: hi.Long + m}
		g.bounded = true
	}
	return g
}

func (g *Gazetteer) inside(p cases.Point) bool {
	return !g.bounded || p.Lat >= g.min.Lat && p.Lat <= g.max.Lat && p.Long >= g.min.Long && p.Long <= g.max.Long
}

// Geocode implements Geocoder.
func (g *Gazetteer) Geocode(_ context.Context, q PlaceQuery) (Geocoded, error) {
	l := g.cat.Lang(q.Lang)
	norm := Normalize(q.Text)
	for _, n := range g.city.Neighbours {
		if strings.Contains(" "+norm+" ", " "+Normalize(n.Name)+" ") {
			return Geocoded{Outside: n.Name, OutsideContact: n.Contact.In(q.Lang)}, nil
		}
	}
	p := q.Place
	switch p.Kind {
	case "point":
		if !g.inside(*p.Point) {
			return Geocoded{Outside: "?"}, nil
		}
		out := p
		if s, ok := g.nearestStreet(*p.Point); ok {
			out.Address = g.cat.T(q.Lang, "near_street", "street", s.Name)
		}
		return Geocoded{Matches: []Place{out}}, nil
	case "address":
		return g.address(l, p), nil
	case "intersection":
		return g.intersection(l, p), nil
	}
	// A landmark, or words ParsePlace did not read as a place: the city's
	// named places.
	if m := g.places(l, norm, p); len(m) > 0 {
		return Geocoded{Matches: m}, nil
	}
	return Geocoded{}, nil
}

// streetKey is a street name reduced for comparison: the name's words, and
// its type and direction in the city's abbreviations.
type streetKey struct {
	name      []string
	typ, dir  string
	full      string // the gazetteer's name, for a match
	segment   int
	aliasOnly bool
}

// keyOf reduces a street's words. Types and directions are read in every
// language of the city, since a French speaker says "rue King Ouest" of
// the street the gazetteer calls "King Street West".
func (g *Gazetteer) keyOf(words []string) streetKey {
	var k streetKey
	if n := len(words); n > 1 && g.dirs[words[n-1]] != "" {
		k.dir = g.dirs[words[n-1]]
		words = words[:n-1]
	}
	switch n := len(words); {
	case n > 1 && g.types[words[n-1]]:
		k.typ = words[n-1]
		words = words[:n-1]
	case n > 1 && g.types[words[0]]:
		k.typ = words[0]
		words = words[1:]
	}
	k.name = words
	return k
}

// streets finds the segments a street's words may name, best first; exact
// is true when the match is by name, type and direction, not by typo or
// by leaving the type or direction out.
func (g *Gazetteer) streets(l *locale.Lang, words []string) []streetKey {
	q := g.keyOf(words)
	if len(q.name) == 0 {
		return nil
	}
	type scored struct {
		k     streetKey
		score int
	}
	var found []scored
	for i, s := range g.g.Streets {
		best := 0
		for _, k := range g.keys[i] {
			sc := nameScore(q.name, k.name)
			if sc == 0 {
				continue
			}
			// The direction must agree when both are said; the type only
			// counts for a little ("Elm" may be said without "Street").
			if q.dir != "" && k.dir != "" && q.dir != k.dir {
				continue
			}
			if q.typ != "" && q.typ == k.typ {
				sc++
			}
			if q.dir != "" && q.dir == k.dir {
				sc += 2
			}
			best = max(best, sc)
		}
		if best > 0 {
			found = append(found, scored{streetKey{full: s.Name, segment: i}, best})
		}
	}
	slices.SortStableFunc(found, func(a, b scored) int { return b.score - a.score })
	var out []streetKey
	for _, f := range found {
		if f.score == found[0].score {
			out = append(out, f.k)
		}
	}
	return out
}

// nameScore compares a street's name words: 10 for the same words, 5 with
// a typo or two, 0 when different.
func nameScore(q, n []string) int {
	if len(q) != len(n) {
		return 0
	}
	typo := false
	for i := range q {
		if q[i] == n[i] {
			continue
		}
		limit := 1
		if len(n[i]) >= 7 {
			limit = 2
		}
		if len(n[i]) < 4 || levenshtein(q[i], n[i]) > limit {
			return 0
		}
		typo = true
	}
	if typo {
		return 5
	}
	return 10
}

// address resolves "12 King St W": the street, the segment holding the
// number, the point along it.
func (g *Gazetteer) address(l *locale.Lang, p Place) Geocoded {
	if len(p.words) < 2 {
		return Geocoded{}
	}
	num, err := strconv.Atoi(strings.TrimRight(p.words[0], "abcdefghijklmnopqrstuvwxyz"))
	if err != nil {
		return Geocoded{}
	}
	var out []Place
	seen := map[string]bool{}
	for _, k := range g.streets(l, p.words[1:]) {
		// Several segments share a name; keep the one holding the number.
		for _, s := range g.g.Streets {
			if s.Name != k.full || !s.Has(num) || seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			pt := s.PointOf(num)
			out = append(out, Place{Address: p.words[0] + " " + s.Name, Point: &pt, Kind: "address"})
		}
	}
	return Geocoded{Matches: out}
}

// intersection resolves "Queen and Spadina".
func (g *Gazetteer) intersection(l *locale.Lang, p Place) Geocoded {
	join := -1
	for i, w := range p.words {
		if _, ok := l.WordMap("intersection")[w]; ok && i > 0 {
			join = i
			break
		}
	}
	if join < 0 {
		return Geocoded{}
	}
	a, b := g.streets(l, p.words[:join]), g.streets(l, p.words[join+1:])
	if len(a) == 0 || len(b) == 0 {
		return Geocoded{}
	}
	var out []Place
	for _, x := range a {
		for _, y := range b {
			name, pt, ok := g.crossing(x.full, y.full)
			if !ok || slices.ContainsFunc(out, func(o Place) bool { return *o.Point == pt }) {
				continue // where King St W becomes King St E, both meet Main St at one point
			}
			out = append(out, Place{Address: name, Point: &pt, Kind: "intersection"})
		}
	}
	return Geocoded{Matches: out}
}

// crossing finds where two streets meet and its name: a listed
// intersection, else the closest ends of their segments when they touch.
func (g *Gazetteer) crossing(a, b string) (string, cases.Point, bool) {
	na, nb := Normalize(a), Normalize(b)
	for _, x := range g.g.Intersections {
		for _, n := range x.Names() {
			nn := Normalize(n)
			if strings.Contains(nn, na) && strings.Contains(nn, nb) {
				return x.Name, x.At, true
			}
		}
	}
	best, found := math.Inf(1), false
	var at cases.Point
	for _, s := range g.g.Streets {
		if s.Name != a {
			continue
		}
		for _, t := range g.g.Streets {
			if t.Name != b {
				continue
			}
			for _, p := range []cases.Point{s.From, s.To} {
				for _, q := range []cases.Point{t.From, t.To} {
					if d := cases.DistanceM(p, q); d < best && d < 150 {
						best, found = d, true
						at = cases.Point{Lat: (p.Lat + q.Lat) / 2, Long: (p.Long + q.Long) / 2}
					}
				}
			}
		}
	}
	return a + " & " + b, at, found
}

// places finds named places in what the resident said.
func (g *Gazetteer) places(l *locale.Lang, norm string, p Place) []Place {
	padded := " " + norm + " "
	var out []Place
	for _, x := range g.g.Places {
		for _, n := range x.Names() {
			nn := Normalize(n)
			if nn == "" {
				continue
			}
			if strings.Contains(padded, " "+nn+" ") || fuzzyContains(l, strings.Fields(norm), strings.Fields(nn)) {
				at := x.At
				addr := x.Name
				if p.Kind == "landmark" && p.prep != "" {
					addr = p.prep + " " + x.Name
				}
				out = append(out, Place{Address: addr, Point: &at, Kind: "landmark"})
				break
			}
		}
	}
	// "the library" may be one of several: the longest name wins outright.
	return out
}

// fuzzyContains reports whether words hold name's words in order, each
// equal or within a typo.
func fuzzyContains(l *locale.Lang, words, name []string) bool {
	if len(name) == 0 || len(name) > len(words) {
		return false
	}
	for i := 0; i+len(name) <= len(words); i++ {
		if nameScore(words[i:i+len(name)], name) > 0 {
			return true
		}
	}
	return false
}

// nearestStreet is the street closest to a point.
func (g *Gazetteer) nearestStreet(p cases.Point) (knowledge.Street, bool) {
	best, found := math.Inf(1), false
	var out knowledge.Street
	for _, s := range g.g.Streets {
		if d := distanceToSegment(p, s.From, s.To); d < best {
			best, out, found = d, s, true
		}
	}
	return out, found && best < 500
}

// distanceToSegment is the distance in metres from p to the segment a-b,
// on a local flat approximation (fine at city scale).
func distanceToSegment(p, a, b cases.Point) float64 {
	k := math.Cos(p.Lat * math.Pi / 180)
	ax, ay := (a.Long-p.Long)*k, a.Lat-p.Lat
	bx, by := (b.Long-p.Long)*k, b.Lat-p.Lat
	dx, dy := bx-ax, by-ay
	t := 0.0
	if l2 := dx*dx + dy*dy; l2 > 0 {
		t = min(max(-(ax*dx+ay*dy)/l2, 0), 1)
	}
	x, y := ax+t*dx, ay+t*dy
	return math.Sqrt(x*x+y*y) * 111320
}

// Chain asks geocoders in turn: the first that finds the place, or knows
// it is outside the city, answers. A city's own gazetteer comes first, a
// map server fills its gaps.
type Chain []Geocoder

// Geocode implements Geocoder. An error from one is passed over when a
// later one answers.
func (c Chain) Geocode(ctx context.Context, q PlaceQuery) (Geocoded, error) {
	var firstErr error
	for _, g := range c {
		res, err := g.Geocode(ctx, q)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if len(res.Matches) > 0 || res.Outside != "" {
			return res, nil
		}
	}
	return Geocoded{}, firstErr
}
