package dialog_test

import (
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

func en(t *testing.T) *dialog.Engine {
	t.Helper()
	return newConv(t, dialog.ChannelWeb).eng
}

func TestParseNumber(t *testing.T) {
	l := en(t).Catalog().Lang("en")
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"30", 30, true},
		{"about 30cm", 30, true},
		{"2.5", 2.5, true},
		{"2,5", 2.5, true},
		{"thirty", 30, true},
		{"twenty five", 25, true},
		{"one hundred and five", 105, true},
		{"a couple", 2, true},
		{"3 or 4", 3, true},
		{"-4", -4, true},
		{"lots", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := dialog.ParseNumber(l, tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseNumber(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseDatetime(t *testing.T) {
	l := en(t).Catalog().Lang("en")
	// Thursday 3 December 2026, 14:00 in Toronto.
	now := start
	at := func(m time.Month, d, h, min int) time.Time {
		return time.Date(2026, m, d, h, min, 0, 0, now.Location())
	}
	tests := []struct {
		in   string
		want time.Time
	}{
		{"yesterday at 5pm", at(12, 2, 17, 0)},
		{"yesterday 5:30 pm", at(12, 2, 17, 30)},
		{"this morning", at(12, 3, 9, 0)},
		{"last night", at(12, 2, 22, 0)},
		{"right now", at(12, 3, 14, 0)},
		{"today", at(12, 3, 14, 0)},
		{"2026-12-01", at(12, 1, 0, 0)},
		{"2026-11-30 08:15", at(11, 30, 8, 15)},
		{"dec 1", at(12, 1, 12, 0)},
		{"December 1st at 9am", at(12, 1, 9, 0)},
		{"monday", at(11, 30, 12, 0)},
		{"last thursday", at(11, 26, 12, 0)},
		{"2 hours ago", at(12, 3, 12, 0)},
		{"three days ago", at(11, 30, 14, 0)},
		{"an hour ago", at(12, 3, 13, 0)},
		{"at 9am", at(12, 3, 9, 0)},
		{"at 11pm", at(12, 2, 23, 0)}, // 11 pm today is still to come
		{"25/11", at(11, 25, 12, 0)},
		{"17:45", at(12, 3, 17, 45).AddDate(0, 0, -1)},
		{"dec 25", time.Date(2025, 12, 25, 12, 0, 0, 0, now.Location())}, // the last one that happened
	}
	for _, tt := range tests {
		got, err := dialog.ParseDatetime(l, tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseDatetime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"sometime", "purple", "", "2026-02-30", "may"} {
		if got, err := dialog.ParseDatetime(l, bad, now); err == nil {
			t.Errorf("ParseDatetime(%q) = %v, want an error", bad, got)
		}
	}
}

func TestParseChoice(t *testing.T) {
	l := en(t).Catalog().Lang("en")
	values := []cases.Value{{Key: "S", Name: "Smaller than a dinner plate"}, {Key: "M", Name: "Dinner plate to car tire size"},
		{Key: "L", Name: "Larger than a car tire"}}
	streams := []cases.Value{{Key: "G", Name: "Garbage (black bin)"}, {Key: "R", Name: "Recycling (blue bin)"},
		{Key: "O", Name: "Green bin"}, {Key: "Y", Name: "Yard waste"}}
	tests := []struct {
		in     string
		values []cases.Value
		multi  bool
		want   []string
	}{
		{"2", values, false, []string{"M"}},
		{"two", values, false, []string{"M"}},
		{"L", values, false, []string{"L"}},
		{"larger than a car tire", values, false, []string{"L"}},
		{"Larger than a car tyre", values, false, []string{"L"}}, // a typo
		{"small", values, false, []string{"S"}},
		{"dinner plate to car tire size", values, false, []string{"M"}},
		{"1 and 2", streams, true, []string{"G", "R"}},
		{"garbage, recycling", streams, true, []string{"G", "R"}},
		{"recyling and yard waste", streams, true, []string{"R", "Y"}},
		{"all", streams, true, []string{"G", "R", "O", "Y"}},
		{"green bin", streams, true, []string{"O"}},
	}
	for _, tt := range tests {
		got, err := dialog.ParseChoice(l, tt.in, tt.values, tt.multi)
		if err != nil || !equal(got, tt.want) {
			t.Errorf("ParseChoice(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"purple", "7", "0", ""} {
		if got, err := dialog.ParseChoice(l, bad, values, false); err == nil {
			t.Errorf("ParseChoice(%q) = %v, want an error", bad, got)
		}
	}
	if got, err := dialog.ParseChoice(l, "1 and 3", values, false); err == nil {
		t.Errorf("two answers to a single choice accepted: %v", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseYesNo(t *testing.T) {
	l := en(t).Catalog().Lang("en")
	tests := []struct {
		in      string
		yes, ok bool
	}{
		{"yes", true, true}, {"Yep!", true, true}, {"y", true, true}, {"sure", true, true},
		{"yes please submit it", true, true}, {"that's right", true, true}, {"1", true, true},
		{"no", false, true}, {"nope", false, true}, {"no thanks", false, true}, {"2", false, true},
		{"maybe", false, false}, {"the pothole is bigger", false, false},
	}
	for _, tt := range tests {
		yes, ok := dialog.ParseYesNo(l, tt.in)
		if yes != tt.yes || ok != tt.ok {
			t.Errorf("ParseYesNo(%q) = %v, %v; want %v, %v", tt.in, yes, ok, tt.yes, tt.ok)
		}
	}
}

func TestParsePlace(t *testing.T) {
	l := en(t).Catalog().Lang("en")
	tests := []struct {
		in    string
		whole bool
		want  string
		kind  string
	}{
		{"12 king st w", true, "12 King St W", "address"},
		{"12 King Street West", true, "12 King Street West", "address"},
		{"twelve King Street West", true, "12 King Street West", "address"},
		{"45 elm", true, "45 Elm", "address"},
		{"Queen and Spadina", true, "Queen & Spadina", "intersection"},
		{"the corner of Main & 2nd", true, "Main & 2nd", "intersection"},
		{"main st / 5th ave", true, "Main St & 5th Ave", "intersection"},
		{"in front of the Central Library", true, "in front of the Central Library", "landmark"},
		{"43.6532, -79.3832", true, "43.6532, -79.3832", "point"},
		{"there's a pothole at 12 King St near the school", false, "12 King St", "address"},
		{"pothole at queen and spadina", false, "Queen & Spadina", "intersection"},
		{"about 30 cm deep", false, "", ""},
		{"i dont know", true, "", ""},
		{"yes", true, "", ""},
	}
	for _, tt := range tests {
		p, ok := dialog.ParsePlace(l, tt.in, tt.whole)
		if tt.want == "" {
			if ok {
				t.Errorf("ParsePlace(%q) = %q, want no place", tt.in, p.Address)
			}
			continue
		}
		if !ok || p.Address != tt.want || p.Kind != tt.kind {
			t.Errorf("ParsePlace(%q) = %q (%s) %v, want %q (%s)", tt.in, p.Address, p.Kind, ok, tt.want, tt.kind)
		}
	}
}
