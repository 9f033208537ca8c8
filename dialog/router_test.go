package dialog_test

import (
	"context"
	"testing"

	"github.com/cityline/cityline/dialog"
)

func router(t *testing.T) *dialog.Router {
	t.Helper()
	p, ix, cat := examplePack(t)
	return dialog.NewRouter(p, ix, cat)
}

func TestRouterDecisionKinds(t *testing.T) {
	r := router(t)
	tests := []struct {
		text string
		kind dialog.Kind
		id   string
	}{
		// Emergencies: call 911, never a case.
		{"my neighbours house is on fire", dialog.KindEmergency, ""},
		{"theres a man lying on the sidewalk not breathing", dialog.KindEmergency, ""},
		{"I smell gas in my basement", dialog.KindEmergency, ""},
		{"someone is breaking into the house next door right now", dialog.KindEmergency, ""},
		{"car crash on main st and people are hurt", dialog.KindEmergency, ""},
		{"power lines down on elm street sparking", dialog.KindEmergency, ""},
		{"SMOKE POURING OUT OF THE APARTMENT ABOVE ME", dialog.KindEmergency, ""},
		// Words that look like an emergency but are not.
		{"the fire hydrant on my street is leaking", dialog.KindService, "WS-05"},
		{"can I have a fire pit in my backyard", dialog.KindAnswer, "open-air-burning"},
		{"my gas bill is too high", dialog.KindAnswer, "natural-gas"},
		// Status.
		{"status EX-004211", dialog.KindStatus, ""},
		{"any update on ex 4211?", dialog.KindStatus, ""},
		{"whats happening with my pothole report", dialog.KindStatus, ""},
		{"I reported a broken streetlight 2 weeks ago and nothing has happened", dialog.KindStatus, ""},
		// A person.
		{"agent", dialog.KindHandoff, ""},
		{"can I talk to a real person please", dialog.KindHandoff, ""},
		{"operator", dialog.KindHandoff, ""},
		// Small talk is friendly, not a fallback.
		{"hi", dialog.KindHelp, ""},
		{"Good morning!", dialog.KindHelp, ""},
		{"thank you so much", dialog.KindHelp, ""},
		{"what can you do", dialog.KindHelp, ""},
		// Questions and reports.
		{"my garbage wasn't picked up", dialog.KindService, "GB-01"},
		{"when is garbage day", dialog.KindAnswer, "garbage-schedule"},
		{"pothole at 12 king st", dialog.KindService, "RD-01"},
		{"how long does it take to fix a pothole?", dialog.KindAnswer, "potholes"},
	}
	for _, tt := range tests {
		d, err := r.Route(context.Background(), tt.text, "")
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind != tt.kind || tt.id != "" && d.ID != tt.id {
			t.Errorf("%q: %s %s (%.2f), want %s %s", tt.text, d.Kind, d.ID, d.Confidence, tt.kind, tt.id)
		}
	}
}

func TestStatusKeepsTheReference(t *testing.T) {
	d, err := router(t).Route(context.Background(), "where is my request ex-004211 at", "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != dialog.KindStatus || d.Ref != "EX-004211" {
		t.Errorf("got %s %q", d.Kind, d.Ref)
	}
}

func TestOutOfScopeFallsBack(t *testing.T) {
	r := router(t)
	for _, text := range []string{"whats the weather tomorrow", "can you order me a pizza", "recommend a good dentist"} {
		d, err := r.Route(context.Background(), text, "")
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind != dialog.KindFallback {
			t.Errorf("%q: %s %s (%.2f), want fallback", text, d.Kind, d.ID, d.Confidence)
		}
	}
}

func TestConfidenceIsBetweenZeroAndOne(t *testing.T) {
	r := router(t)
	for _, text := range []string{"pothole", "asdf qwer", "the lamp at the corner is dark every night", ""} {
		d, err := r.Route(context.Background(), text, "")
		if err != nil {
			t.Fatal(err)
		}
		if d.Confidence < 0 || d.Confidence > 1 {
			t.Errorf("%q: confidence %v", text, d.Confidence)
		}
	}
}

// A street named without a house number says where, not what: "Cove Rd"
// must not pull a message towards the sea, nor "Water St" towards water
// mains. Each message routes as it does without its street. Words that
// only look like a street ("the bike lane", "the tennis court") stay.
func TestStreetNamesSayWhereNotWhat(t *testing.T) {
	p, ix, cat := examplePack(t)
	r := dialog.NewRouter(p, ix, cat)
	route := func(text string) dialog.Decision {
		t.Helper()
		d, err := r.Route(context.Background(), text, "en")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct{ with, without string }{
		{"big pothole on Water St", "big pothole"},
		{"sidewalk broken on Cove Rd", "sidewalk broken"},
		{"tree down along Maple Dr after the storm", "tree down after the storm"},
		{"streetlight out on Lake Shore Blvd", "streetlight out"},
		{"graffiti on the bus shelter on Fountain Ave", "graffiti on the bus shelter"},
	} {
		with, without := route(tc.with), route(tc.without)
		if with.Kind != without.Kind || with.ID != without.ID {
			t.Errorf("%q routes to %s %s, but %q to %s %s", tc.with, with.Kind, with.ID, tc.without, without.Kind, without.ID)
		}
	}
	for _, text := range []string{"car parked in the bike lane", "net is torn at the tennis court"} {
		if d := route(text); d.Kind == dialog.KindFallback {
			t.Errorf("%q fell back: its place words were taken for a street", text)
		}
	}
}
