package dialog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cityline/cityline/cases"
)

// Where the problem is: what the resident said, read by ParsePlace and
// checked against the city's places by the Geocoder.

var (
	// errPlaceUnknown: a place the city does not know (a typo too far, a
	// street elsewhere).
	errPlaceUnknown = errors.New("place not found")
	// errPlaceOutside: a place in another municipality.
	errPlaceOutside = errors.New("place outside the city")
	// errPlaceWhich: several places match; the resident is asked which.
	errPlaceWhich = errors.New("which place")
)

// maxPlaceTries is how often an unknown place is asked again before it is
// taken as said: a report with an address the crew must look up is better
// than no report.
const maxPlaceTries = 2

// fillPlace reads the answer to "where is it?".
func (t *turn) fillPlace(text string) error {
	d := t.s.Draft
	if len(d.Options) > 0 {
		if p, ok := t.pickPlace(); ok {
			d.Options = nil
			t.setPlace(p)
			return nil
		}
	}
	if t.in.Location != nil {
		p := Place{Point: t.in.Location, Kind: "point", Address: fmt.Sprintf("%.5f, %.5f", t.in.Location.Lat, t.in.Location.Long)}
		if typed, ok := ParsePlace(t.l, text, true); ok {
			p.Address = typed.Address
		}
		return t.resolve(text, p, true)
	}
	p, ok := ParsePlace(t.l, text, true)
	if !ok && t.e.geocoder == nil {
		return fmt.Errorf("location: %w", errNotUnderstood)
	}
	if !ok {
		p = Place{}
	}
	return t.resolve(text, p, ok)
}

// placeFrom takes a place found inside a longer message (the first one):
// kept only when it is certain; otherwise the location question sorts it out.
func (t *turn) placeFrom(text string, p Place) {
	if t.e.geocoder == nil {
		t.setPlace(p)
		return
	}
	g, err := t.e.geocoder.Geocode(context.Background(), PlaceQuery{Text: text, Place: p, Lang: t.lang})
	switch {
	case err != nil:
		t.e.log.Warn("geocode", "err", err)
	case len(g.Matches) == 1:
		t.setPlace(g.Matches[0])
	case len(g.Matches) > 1:
		t.s.Draft.Options = optionsOf(g.Matches)
	}
}

// resolve checks a place with the geocoder.
func (t *turn) resolve(text string, p Place, parsed bool) error {
	d := t.s.Draft
	if t.e.geocoder == nil {
		t.setPlace(p)
		return nil
	}
	g, err := t.e.geocoder.Geocode(context.Background(), PlaceQuery{Text: text, Place: p, Lang: t.lang})
	if err != nil {
		// A geocoder that is down must not stop a report: take it as said.
		t.e.log.Warn("geocode", "err", err)
		if !parsed && p.Point == nil {
			return fmt.Errorf("location: %w", errNotUnderstood)
		}
		t.setPlace(p)
		return nil
	}
	switch {
	case g.Outside != "":
		d.Outside, d.OutsideContact = g.Outside, g.OutsideContact
		return fmt.Errorf("location: %w", errPlaceOutside)
	case len(g.Matches) == 1:
		t.setPlace(g.Matches[0])
		return nil
	case len(g.Matches) > 1:
		d.Options = optionsOf(g.Matches)
		return fmt.Errorf("location: %w", errPlaceWhich)
	case p.Point != nil:
		t.setPlace(p)
		return nil
	case !parsed:
		return fmt.Errorf("location: %w", errNotUnderstood)
	case d.Tries+1 >= maxPlaceTries:
		t.setPlace(p)
		return nil
	}
	d.Unknown = p.Address
	return fmt.Errorf("location: %w", errPlaceUnknown)
}

// PlaceOption is one of several places a description may mean.
type PlaceOption struct {
	Address string  `json:"a"`
	Lat     float64 `json:"lat,omitempty"`
	Long    float64 `json:"lng,omitempty"`
	Point   bool    `json:"p,omitempty"`
}

func optionsOf(ps []Place) []PlaceOption {
	out := make([]PlaceOption, 0, min(len(ps), 4))
	for _, p := range ps[:min(len(ps), 4)] {
		o := PlaceOption{Address: p.Address}
		if p.Point != nil {
			o.Lat, o.Long, o.Point = p.Point.Lat, p.Point.Long, true
		}
		out = append(out, o)
	}
	return out
}

// pickPlace reads which of the offered places the resident means: the
// number, the button, or (part of) its name.
func (t *turn) pickPlace() (Place, bool) {
	opts := t.s.Draft.Options
	i := -1
	if id, ok := strings.CutPrefix(t.in.Choice, "place:"); ok {
		i, _ = strconv.Atoi(id)
	} else if n, err := strconv.Atoi(t.norm); err == nil {
		i = n - 1
	} else {
		for j, o := range opts {
			if t.norm != "" && strings.Contains(Normalize(o.Address), t.norm) {
				if i >= 0 {
					return Place{}, false // still ambiguous
				}
				i = j
			}
		}
		// "East" for "King Street East": a word that only one option has.
		if i < 0 {
			for j, o := range opts {
				for _, w := range strings.Fields(t.norm) {
					if d, ok := t.l.WordMap("directions")[w]; ok && strings.Contains(" "+o.Address+" ", " "+dirWord(t, d)+" ") {
						i = j
					}
				}
			}
		}
	}
	if i < 0 || i >= len(opts) {
		return Place{}, false
	}
	o := opts[i]
	p := Place{Address: o.Address, Kind: "address"}
	if o.Point {
		p.Point = &cases.Point{Lat: o.Lat, Long: o.Long}
	}
	return p, true
}

// dirWord is the full word for a direction's abbreviation in the
// gazetteer's names ("W" -> "West").
func dirWord(t *turn, abbr string) string {
	for word, a := range t.l.WordMap("directions") {
		if a == abbr && len(word) > 1 {
			return title(word)
		}
	}
	return abbr
}

// placeQuestion asks which place, or says why the last one was not taken.
func (t *turn) placeQuestion(err error) bool {
	d := t.s.Draft
	switch {
	case errors.Is(err, errPlaceWhich) || err == nil && len(d.Options) > 0:
		t.add(t.say("place_which"))
		t.reply.Choices = nil
		for i, o := range d.Options {
			t.reply.Choices = append(t.reply.Choices, Choice{ID: "place:" + strconv.Itoa(i), Label: o.Address})
		}
		t.reply.Expect = ExpectChoice
		return true
	case errors.Is(err, errPlaceOutside):
		if d.OutsideContact != "" {
			t.add(t.say("place_outside_contact", "place", d.Outside, "contact", d.OutsideContact))
		} else {
			t.add(t.say("place_outside"))
		}
		t.add(t.say("ask_location"))
		t.reply.Expect = ExpectLocation
		return true
	case errors.Is(err, errPlaceUnknown):
		t.add(t.say("place_unknown", "place", d.Unknown))
		t.add(t.say("ask_location"))
		t.reply.Expect = ExpectLocation
		return true
	}
	return false
}
