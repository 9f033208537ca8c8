package main

import (
	"context"
	"net/http"
	"path/filepath"

	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/voice"
	"github.com/cityline/cityline/channels/webchat"
	"github.com/cityline/cityline/channels/webchat/simulator"
)

// mountWeb adds the web chat: its API and event stream, the widget, the
// photos residents upload (kept under the data folder) and the city's
// front page. It is always on: it is the embedded default channel. With
// --dev or an admin token it adds the staff simulator of the SMS and
// voice channels too.
func (s *server) mountWeb(ctx context.Context, mux *http.ServeMux) error {
	wc := webchat.Config{
		Engine:         s.engine,
		Pack:           s.brain.pack,
		Catalog:        s.brain.catalog,
		PhotoDir:       filepath.Join(*s.cfg.store.data, "photos"),
		PublicURL:      s.cfg.publicURL,
		AllowedOrigins: s.cfg.allowedOrigins,
		SessionTTL:     s.cfg.sessionTTL,
		Logger:         s.log.With("channel", "web"),
	}
	s.redisWeb(&wc) // redis.go: conversations and event streams shared when --redis is set
	h, err := webchat.New(wc)
	if err != nil {
		return err
	}
	h.Register(mux)
	s.web = h
	// Event streams never go idle: end them when the server shuts down,
	// so in-flight turns are all that it waits for.
	context.AfterFunc(ctx, h.CloseStreams)
	return s.mountSimulator(mux)
}

// mountSimulator adds /simulator when staff can open it (--dev from this
// machine, or CITYLINE_ADMIN_TOKEN). It drives the real SMS and voice
// handlers in-process, without Twilio and without its signature check.
func (s *server) mountSimulator(mux *http.ServeMux) error {
	if !s.cfg.dev && s.cfg.adminToken == "" {
		return nil
	}
	log := s.log.With("channel", "simulator")
	optOuts, ok := s.store.(sms.OptOuts)
	if !ok {
		log.Warn("simulator off: the case store cannot keep SMS opt-outs")
		return nil
	}
	texts, err := sms.New(sms.Config{Engine: s.engine, OptOuts: optOuts, Logger: s.log.With("channel", "sms")})
	if err != nil {
		return err
	}
	calls, err := voice.New(voice.Config{Engine: s.engine, AgentNumber: s.cfg.agentNumber, Logger: s.log.With("channel", "voice")})
	if err != nil {
		return err
	}
	inProcess := func(h http.Handler) http.Handler { return h }
	textMux, callMux := http.NewServeMux(), http.NewServeMux()
	texts.Mount(textMux, inProcess)
	calls.Mount(callMux, inProcess)
	sim, err := simulator.New(simulator.Config{SMS: textMux, SMSPath: sms.Path, Voice: callMux, VoicePath: voice.Path,
		Dev: s.cfg.dev, AdminToken: s.cfg.adminToken, City: s.brain.pack.City.Name, To: s.cfg.twilioFrom, Logger: log})
	if err != nil {
		return err
	}
	sim.Register(mux)
	log.Info("simulator at /simulator", "dev", s.cfg.dev, "admin_token", s.cfg.adminToken != "")
	return nil
}
