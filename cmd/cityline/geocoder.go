package main

import (
	"fmt"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/nominatim"
)

// useGeocoder sets how places are found: the pack's gazetteer (the
// engine's default), then a Nominatim server when CITYLINE_GEOCODER_URL
// names one, kept to the gazetteer's area when there is one. Settings:
// CITYLINE_GEOCODER_URL, CITYLINE_GEOCODER_COUNTRY (e.g. "ca"), and
// CITYLINE_DUPLICATE_RADIUS (metres; 0 turns the duplicate check off).
func (s *server) useGeocoder(ec *dialog.Config) error {
	if r := env("CITYLINE_DUPLICATE_RADIUS", ""); r != "" {
		var m float64
		if _, err := fmt.Sscan(r, &m); err != nil || m < 0 {
			return fmt.Errorf("CITYLINE_DUPLICATE_RADIUS: want metres, got %q", r)
		}
		ec.DuplicateRadius = m
		if m == 0 {
			ec.DuplicateRadius = -1
		}
	}
	url := env("CITYLINE_GEOCODER_URL", "")
	if url == "" {
		return nil
	}
	cfg := nominatim.Config{BaseURL: url, CountryCode: env("CITYLINE_GEOCODER_COUNTRY", ""),
		UserAgent: "Cityline 311 assistant for " + s.brain.pack.City.Name}
	if g := s.brain.pack.Gazetteer; g != nil {
		if lo, hi, ok := g.Bounds(); ok {
			const margin = 0.05 // about five kilometres
			cfg.Min = cases.Point{Lat: lo.Lat - margin, Long: lo.Long - margin}
			cfg.Max = cases.Point{Lat: hi.Lat + margin, Long: hi.Long + margin}
		}
	}
	remote, err := nominatim.New(cfg)
	if err != nil {
		return err
	}
	if local := dialog.NewGazetteer(s.brain.pack, s.brain.catalog); local != nil {
		ec.Geocoder = dialog.Chain{local, remote}
	} else {
		ec.Geocoder = remote
	}
	s.log.Info("geocoding with a map server after the gazetteer", "url", url)
	return nil
}
