package main

import (
	"context"
	"net/http"
)

// mount adds each channel's routes to the server. Channels arrive here as
// they are built; each is a thin adapter over the engine.
func (s *server) mount(ctx context.Context, mux *http.ServeMux) error {
	if err := s.mountWeb(ctx, mux); err != nil {
		return err
	}
	if err := s.mountTwilio(ctx, mux); err != nil {
		return err
	}
	if err := s.mountSlack(ctx, mux); err != nil {
		return err
	}
	if err := s.mountInsights(ctx, mux); err != nil {
		return err
	}
	return s.mountOpen311(ctx, mux) // last: status updates go out through the channels above
}
