package dialog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// TestPlacesResolve reads places the way residents write and say them and
// checks what the city's gazetteer makes of each: one address with its
// coordinates, a choice to offer, a place not known, or one outside.
func TestPlacesResolve(t *testing.T) {
	p, _, cat := examplePack(t)
	g := dialog.NewGazetteer(p, cat)
	if g == nil {
		t.Fatal("the Example City pack has no gazetteer")
	}
	l := cat.Lang("en")
	const (
		unknown   = "?"
		ambiguous = "*"
		outside   = "outside"
		notPlace  = "-"
	)
	tests := []struct{ text, want string }{
		// Addresses, in the forms residents type and say.
		{"12 king st w", "12 King Street West"},
		{"12 King Street West", "12 King Street West"},
		{"twelve King Street West", "12 King Street West"},
		{"12 kng st w", "12 King Street West"},
		{"12 king street w", "12 King Street West"},
		{"12 King St. W.", "12 King Street West"},
		{"350 Queen St E", "350 Queen Street East"},
		{"45 elm", "45 Elm Street"},
		{"45 elm st", "45 Elm Street"},
		{"45 Elm Street", "45 Elm Street"},
		{"forty five elm street", "45 Elm Street"},
		{"45 Maplle Ave", "45 Maple Avenue"},
		{"120 Spadina", "120 Spadina Avenue"},
		{"120 spadina ave", "120 Spadina Avenue"},
		{"one hundred twenty Spadina Avenue", "120 Spadina Avenue"},
		{"88 Oak Ave", "88 Oak Avenue"},
		{"88 oak avenue", "88 Oak Avenue"},
		{"700 Lakeshore Blvd", "700 Lakeshore Boulevard"},
		{"700 lake shore blvd", "700 Lakeshore Boulevard"},
		{"5 Bay St", "5 Bay Street"},
		{"200 Keele St", "200 Keele Street"},
		{"15 Hill St", "15 Hill Street"},
		{"3 2nd Ave", "3 2nd Avenue"},
		{"3 second avenue", "3 2nd Avenue"},
		{"44 Birch Ave", "44 Birch Avenue"},
		{"9 Ash St", "9 Ash Street"},
		{"1 Church St", "1 Church Street"},
		{"7 Pine St", "7 Pine Street"},
		{"99 Willow Rd", "99 Willow Road"},
		{"55 Ridge Rd", "55 Ridge Road"},
		{"22 Cedar St", "22 Cedar Street"},
		{"400 College St", "400 College Street"},
		{"400 colege st", "400 College Street"},
		// King, Queen, Dundas and Bloor have a West and an East part.
		{"12 king st", ambiguous},
		{"100 queen street", ambiguous},
		// Streets the city does not have.
		{"12 Fake Street", unknown},
		{"12 Nowhere Ave", unknown},
		// Intersections.
		{"Queen and Spadina", "Queen Street West & Spadina Avenue"},
		{"queen st w and spadina ave", "Queen Street West & Spadina Avenue"},
		{"Main & King", "King Street West & Main Street"},
		{"corner of Queen & 2nd", "Queen Street East & 2nd Avenue"},
		{"the corner of queen and 2nd ave", "Queen Street East & 2nd Avenue"},
		{"Bay/Dundas", "Dundas Street West & Bay Street"},
		{"the intersection of College and Keele", "College Street & Keele Street"},
		{"lawrence and 5th", "Lawrence Avenue & 5th Avenue"},
		{"elm st and oak ave", "Elm Street & Oak Avenue"},
		{"main st at college st", "College Street & Main Street"},
		{"Birch and Pine", "Birch Avenue & Pine Street"},
		{"King and Queen", unknown}, // both run east-west: they never meet
		// Landmarks.
		{"in front of the Central Library", "in front of Central Library"},
		{"in front of the Centrl Library", "in front of Central Library"},
		{"near city hall", "near City Hall"},
		{"outside the library", "outside Central Library"},
		{"behind the arena", "behind Memorial Arena"},
		{"at centennial park", "at Centennial Park"},
		{"Riverside Park", "Riverside Park"},
		{"by the pier", "by Harbour Pier"},
		{"across from the mall", "across from Northgate Mall"},
		{"next to St Mary's Church", "next to St. Mary's Church"},
		{"beside the westside pool", "beside Westside Community Complex"},
		{"at the farmers market", "at Farmers' Market"},
		{"near union station", "near Union Station"},
		// Shared locations.
		{"44.0500, -79.4500", "near King Street"},
		{"45.5017, -73.5673", outside},
		// Elsewhere.
		{"12 main st in Northtown", outside},
		{"somewhere in port ellis", outside},
		// Not places.
		{"i dont know", notPlace},
		{"yes", notPlace},
	}
	if len(tests) < 60 {
		t.Fatalf("only %d phrasings", len(tests))
	}
	for _, tt := range tests {
		pl, parsed := dialog.ParsePlace(l, tt.text, true)
		if tt.want == notPlace {
			if parsed {
				t.Errorf("%q read as a place: %q", tt.text, pl.Address)
			}
			continue
		}
		res, err := g.Geocode(context.Background(), dialog.PlaceQuery{Text: tt.text, Place: pl, Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		switch {
		case res.Outside != "":
			got = outside
		case len(res.Matches) == 0:
			got = unknown
		case len(res.Matches) > 1:
			got = ambiguous
		default:
			got = res.Matches[0].Address
			if res.Matches[0].Point == nil {
				t.Errorf("%q: %q has no coordinates", tt.text, got)
			}
		}
		if got != tt.want && !(strings.HasPrefix(tt.want, "near ") && strings.HasPrefix(got, tt.want)) {
			t.Errorf("%q: got %q, want %q", tt.text, got, tt.want)
		}
	}
}

func TestAddressesAreInterpolated(t *testing.T) {
	p, _, cat := examplePack(t)
	g := dialog.NewGazetteer(p, cat)
	l := cat.Lang("en")
	at := func(text string) cases.Point {
		pl, _ := dialog.ParsePlace(l, text, true)
		res, _ := g.Geocode(context.Background(), dialog.PlaceQuery{Text: text, Place: pl, Lang: "en"})
		if len(res.Matches) != 1 || res.Matches[0].Point == nil {
			t.Fatalf("%q: %+v", text, res)
		}
		return *res.Matches[0].Point
	}
	a, b := at("10 King St E"), at("90 King St E")
	// A hundred numbers to a 500 m block in Example City: 80 numbers, 400 m.
	if d := cases.DistanceM(a, b); d < 350 || d > 450 {
		t.Errorf("10 and 90 King St E are %.0f m apart, want about 400", d)
	}
}

func TestPlaceQuestionsInConversation(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	c.say("there's a pothole on my street")
	c.say("12 Fake Street")
	c.expect(dialog.StateCollecting, `couldn't find "12 Fake Street"`)
	c.say("12 main st in Northtown")
	c.expect(dialog.StateCollecting, "Northtown", "555-0190")
	c.say("12 king st")
	c.expect(dialog.StateCollecting, "which one", "12 King Street West", "12 King Street East")
	c.say("2")
	c.expect(dialog.StateCollecting, "how wide")
	for _, s := range []string{"small", "curb", "skip", "yes"} {
		c.say(s)
	}
	got := c.only()
	if got.Address != "12 King Street East" || got.Location == nil {
		t.Errorf("filed at %q %v", got.Address, got.Location)
	}
}

// TestDuplicatesAreOffered: a pothole 30 m from an open pothole case is
// offered that case; following it files nothing new and adds the
// resident to its updates. One 2 km away is not offered.
func TestDuplicatesAreOffered(t *testing.T) {
	c := newConv(t, dialog.ChannelSMS)
	p, _, cat := examplePack(t)
	g := dialog.NewGazetteer(p, cat)
	at := func(text string) *cases.Point {
		pl, _ := dialog.ParsePlace(cat.Lang("en"), text, true)
		res, _ := g.Geocode(context.Background(), dialog.PlaceQuery{Text: text, Place: pl, Lang: "en"})
		return res.Matches[0].Point
	}
	// Six numbers further along King St E (100 numbers a 500 m block): ~30 m.
	existing := &cases.Case{ServiceCode: "RD-01", ServiceName: "Pothole", Status: cases.StatusOpen,
		Address: "106 King Street East", Location: at("106 King St E"), Requested: start.Add(-24 * time.Hour)}
	if err := c.desk.Create(context.Background(), existing); err != nil {
		t.Fatal(err)
	}
	if d := cases.DistanceM(*existing.Location, *at("100 King St E")); d < 20 || d > 40 {
		t.Fatalf("the two places are %.0f m apart", d)
	}
	c.say("big pothole at 100 King St E")
	c.expect(dialog.StateCollecting, "already reported", existing.Ref, "Dec 2, 2026", "follow")
	c.say("yes")
	c.expect(dialog.StateIdle, "following "+existing.Ref)
	if n := len(c.desk.All()); n != 1 {
		t.Errorf("%d cases after following, want the one that was there", n)
	}
	if len(c.desk.Followers) != 1 || !strings.HasPrefix(c.desk.Followers[0], existing.Ref+" ") {
		t.Errorf("followers %v", c.desk.Followers)
	}

	// Saying no files a new case as usual.
	c2 := newConv(t, dialog.ChannelSMS)
	c2.desk = c.desk
	c2.id += "-2"
	c2.eng = c.eng
	c2.say("big pothole at 100 King St E")
	c2.say("no")
	c2.expect(dialog.StateCollecting, "file a new report", "how wide")

	// Two kilometres away: nothing to offer.
	c3 := newConv(t, dialog.ChannelSMS)
	c3.desk.Create(context.Background(), existing)
	c3.say("big pothole at 500 King St E")
	c3.expect(dialog.StateCollecting, "how wide")
}
