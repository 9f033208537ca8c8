package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/voice"
)

// textSender texts a resident (status updates, staff replies); the Twilio
// Notifier is one.
type textSender interface {
	Send(ctx context.Context, to, body string) ([]string, error)
}

// mountTwilio adds the Twilio webhooks — text messages (and WhatsApp) on
// /twilio/sms, calls on /twilio/voice — behind the signature check, and
// sets up outbound texts. Without an auth token nothing can be verified,
// so the webhooks stay off unless --dev lets this machine in unsigned.
func (s *server) mountTwilio(ctx context.Context, mux *http.ServeMux) error {
	cfg := s.cfg
	log := s.log.With("channel", "twilio")
	signed := cfg.twilioToken != ""
	if !signed && !cfg.dev {
		log.Warn("SMS and voice are off: TWILIO_AUTH_TOKEN is not set, so requests cannot be verified as Twilio's. " +
			"Set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to turn them on, or run with --dev to try them unsigned from this machine.")
		return nil
	}
	vc := twilio.VerifierConfig{AuthToken: cfg.twilioToken, PublicURL: cfg.publicURL, Logger: log}
	if cfg.dev {
		vc.Unsigned = devUnsigned
		log.Warn("--dev: the Twilio webhooks accept UNSIGNED requests from loopback addresses (127.0.0.1, ::1). " +
			"Never use --dev on a server the internet can reach.")
	}
	if signed && cfg.publicURL == "" {
		log.Warn("CITYLINE_PUBLIC_URL is not set: Twilio signatures are checked against the Host header this server sees, " +
			"which fails behind a proxy or tunnel; set it to the URL configured in the Twilio console")
	}
	optOuts, ok := s.store.(sms.OptOuts)
	if !ok {
		return fmt.Errorf("twilio: the case store (%T) cannot keep SMS opt-outs", s.store)
	}
	verify := twilio.NewVerifier(vc)

	texts, err := sms.New(sms.Config{Engine: s.engine, OptOuts: optOuts, Limiter: s.smsLimiter(), Logger: s.log.With("channel", "sms")})
	if err != nil {
		return err
	}
	texts.Mount(mux, verify.Wrap)
	calls, err := voice.New(voice.Config{Engine: s.engine, AgentNumber: cfg.agentNumber, Limiter: s.callLimiter(),
		Logger: s.log.With("channel", "voice")})
	if err != nil {
		return err
	}
	calls.Mount(mux, verify.Wrap)
	if cfg.agentNumber == "" {
		log.Info("CITYLINE_AGENT_NUMBER is not set: callers who ask for a person are told how to reach staff, not connected")
	}
	log.Info("Twilio webhooks ready", "sms", cfg.publicURL+sms.Path, "voice", cfg.publicURL+voice.Path,
		"signed", signed, "dev", cfg.dev)

	if cfg.twilioSID == "" || !signed || cfg.twilioFrom == "" {
		log.Info("outbound texts are off: they need TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER")
		return nil
	}
	n, err := twilio.NewNotifier(twilio.NotifierConfig{AccountSID: cfg.twilioSID, AuthToken: cfg.twilioToken,
		From: cfg.twilioFrom, APIURL: cfg.twilioAPIURL, OptOuts: optOuts, Logger: log})
	if err != nil {
		return err
	}
	s.texts = n
	return nil
}

// devUnsigned admits an unsigned webhook in --dev only from this machine,
// and not through a proxy on it (which would make every caller loopback).
func devUnsigned(r *http.Request) bool {
	return isLoopback(r) && r.Header.Get("X-Forwarded-For") == "" && r.Header.Get("Forwarded") == "" &&
		r.Header.Get("X-Real-Ip") == ""
}
