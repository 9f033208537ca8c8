package nominatim_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/nominatim"
)

// standIn answers like Nominatim's /search for two streets.
func standIn(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/search" || r.URL.Query().Get("format") != "jsonv2" || r.Header.Get("User-Agent") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("q") {
		case "12 King St W":
			w.Write([]byte(`[{"lat":"44.0500","lon":"-79.4510","display_name":"12, King Street West, Example City",
				"address":{"house_number":"12","road":"King Street West","city":"Example City"}}]`))
		case "Main St":
			w.Write([]byte(`[{"lat":"44.0500","lon":"-79.4500","display_name":"Main Street, Example City","address":{"road":"Main Street"}},
				{"lat":"46.1","lon":"-64.8","display_name":"Main Street, Moncton","address":{"road":"Main Street"}}]`))
		case "down":
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
		default:
			w.Write([]byte(`[]`))
		}
	}))
}

func TestNominatim(t *testing.T) {
	srv := standIn(t)
	defer srv.Close()
	g, err := nominatim.New(nominatim.Config{BaseURL: srv.URL, CountryCode: "ca",
		Min: cases.Point{Lat: 43.9, Long: -79.6}, Max: cases.Point{Lat: 44.2, Long: -79.3}})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(addr string) dialog.Geocoded {
		res, err := g.Geocode(context.Background(), dialog.PlaceQuery{Text: addr, Place: dialog.Place{Address: addr, Kind: "address"}, Lang: "en"})
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		return res
	}
	if r := ask("12 King St W"); len(r.Matches) != 1 || r.Matches[0].Address != "12 King Street West" || r.Matches[0].Point.Lat != 44.05 {
		t.Errorf("12 King St W: %+v", r)
	}
	// The Main Street in another province is outside the city's box.
	if r := ask("Main St"); len(r.Matches) != 1 || r.Matches[0].Point.Long != -79.45 {
		t.Errorf("Main St: %+v", r)
	}
	if r := ask("Nowhere Rd"); len(r.Matches) != 0 {
		t.Errorf("Nowhere Rd: %+v", r)
	}
	if _, err := g.Geocode(context.Background(), dialog.PlaceQuery{Text: "down", Place: dialog.Place{Address: "down"}}); err == nil {
		t.Error("a server error was not reported")
	}
	if _, err := nominatim.New(nominatim.Config{BaseURL: "not a url"}); err == nil {
		t.Error("a bad base URL was accepted")
	}
}
