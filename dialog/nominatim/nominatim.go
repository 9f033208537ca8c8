// Package nominatim adapts an OpenStreetMap Nominatim server (or one that
// answers its /search API, as Photon and some Pelias set-ups do) to the
// dialog's Geocoder, for cities whose content pack has no gazetteer or
// wants a second opinion. It speaks plain HTTP and JSON.
package nominatim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// Geocoder asks a Nominatim server.
type Geocoder struct {
	base   string
	client *http.Client
	// viewbox limits results to the city: min and max corners.
	min, max cases.Point
	bounded  bool
	country  string
	agent    string
}

// Config says which server and where the city is.
type Config struct {
	BaseURL string // e.g. https://nominatim.example.city
	// Bounds, when set, keep results inside the city's box.
	Min, Max    cases.Point
	CountryCode string // e.g. "ca"
	UserAgent   string // Nominatim's usage policy asks for one
	Client      *http.Client
}

// New returns a geocoder for the server at cfg.BaseURL.
func New(cfg Config) (*Geocoder, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("nominatim: base URL %q is not an absolute URL", cfg.BaseURL)
	}
	g := &Geocoder{base: strings.TrimRight(cfg.BaseURL, "/"), client: cfg.Client, country: cfg.CountryCode,
		agent: cfg.UserAgent, min: cfg.Min, max: cfg.Max, bounded: cfg.Min != cfg.Max}
	if g.client == nil {
		g.client = &http.Client{Timeout: 5 * time.Second}
	}
	if g.agent == "" {
		g.agent = "Cityline 311 assistant"
	}
	return g, nil
}

type result struct {
	Lat         string `json:"lat"`
	Lon         string `json:"lon"`
	DisplayName string `json:"display_name"`
	Address     struct {
		HouseNumber string `json:"house_number"`
		Road        string `json:"road"`
		Amenity     string `json:"amenity"`
		City        string `json:"city"`
		Town        string `json:"town"`
	} `json:"address"`
}

// Geocode implements dialog.Geocoder.
func (g *Geocoder) Geocode(ctx context.Context, q dialog.PlaceQuery) (dialog.Geocoded, error) {
	text := q.Place.Address
	if text == "" || q.Place.Kind == "point" {
		text = q.Text
	}
	v := url.Values{"q": {text}, "format": {"jsonv2"}, "addressdetails": {"1"}, "limit": {"5"}}
	if g.country != "" {
		v.Set("countrycodes", g.country)
	}
	if g.bounded {
		v.Set("viewbox", fmt.Sprintf("%f,%f,%f,%f", g.min.Long, g.max.Lat, g.max.Long, g.min.Lat))
		v.Set("bounded", "1")
	}
	if q.Lang != "" {
		v.Set("accept-language", q.Lang)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+"/search?"+v.Encode(), nil)
	if err != nil {
		return dialog.Geocoded{}, fmt.Errorf("nominatim: %w", err)
	}
	req.Header.Set("User-Agent", g.agent)
	resp, err := g.client.Do(req)
	if err != nil {
		return dialog.Geocoded{}, fmt.Errorf("nominatim: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return dialog.Geocoded{}, fmt.Errorf("nominatim: %s", resp.Status)
	}
	var rs []result
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&rs); err != nil {
		return dialog.Geocoded{}, fmt.Errorf("nominatim: %w", err)
	}
	var out dialog.Geocoded
	for _, r := range rs {
		lat, err1 := strconv.ParseFloat(r.Lat, 64)
		lon, err2 := strconv.ParseFloat(r.Lon, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		pt := cases.Point{Lat: lat, Long: lon}
		if g.bounded && (lat < g.min.Lat || lat > g.max.Lat || lon < g.min.Long || lon > g.max.Long) {
			continue
		}
		addr := strings.TrimSpace(r.Address.HouseNumber + " " + r.Address.Road)
		switch {
		case addr == "" && r.Address.Amenity != "":
			addr = r.Address.Amenity
		case addr == "":
			addr, _, _ = strings.Cut(r.DisplayName, ",")
		}
		out.Matches = append(out.Matches, dialog.Place{Address: addr, Point: &pt, Kind: q.Place.Kind})
	}
	return out, nil
}

var _ dialog.Geocoder = (*Geocoder)(nil)
