package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cityline/cityline/channels/slack"
	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/webchat"
	"github.com/cityline/cityline/dialog"
)

// slackSettings is how staff are reached in Slack. Secrets come only from
// the environment.
type slackSettings struct {
	channel       string
	apiURL        string
	wait          time.Duration
	botToken      string // secret: SLACK_BOT_TOKEN only
	signingSecret string // secret: SLACK_SIGNING_SECRET only
}

// slackFlags registers serve's Slack flags.
func slackFlags(fs *flag.FlagSet) *slackSettings {
	c := &slackSettings{botToken: env("SLACK_BOT_TOKEN", ""), signingSecret: env("SLACK_SIGNING_SECRET", "")}
	fs.StringVar(&c.channel, "slack-channel", env("CITYLINE_SLACK_CHANNEL", ""),
		"Slack channel (id or name) where staff take over conversations [CITYLINE_SLACK_CHANNEL]")
	fs.StringVar(&c.apiURL, "slack-api-url", env("CITYLINE_SLACK_API_URL", ""),
		"Slack Web API base URL (tests point it at a stand-in) [CITYLINE_SLACK_API_URL]")
	fs.DurationVar(&c.wait, "handoff-wait", envDuration("CITYLINE_HANDOFF_WAIT", slack.DefaultWait),
		"how long a resident waits for a staff reply before being told when to expect one [CITYLINE_HANDOFF_WAIT]")
	return c
}

// handoffDesk is the engine's staff desk: Slack when it is configured;
// nil otherwise, so the engine keeps its embedded OfficeDesk (residents
// are told how to reach 311), and the log says why.
func (s *server) handoffDesk() (dialog.HandoffDesk, error) {
	c := s.cfg.slack
	log := s.log.With("channel", "slack")
	if c == nil {
		return nil, nil
	}
	var missing []string
	for _, v := range []struct{ name, value string }{{"SLACK_BOT_TOKEN", c.botToken},
		{"SLACK_SIGNING_SECRET", c.signingSecret}, {"CITYLINE_SLACK_CHANNEL", c.channel}} {
		if v.value == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) > 0 {
		log.Info("staff handoff in Slack is off: " + strings.Join(missing, ", ") + " not set. " +
			"Residents who ask for a person are told how to reach 311 instead. " +
			"Set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and CITYLINE_SLACK_CHANNEL to turn it on.")
		return nil, nil
	}
	threads, ok := s.store.(slack.Threads)
	if !ok {
		return nil, fmt.Errorf("slack: the case store (%T) cannot keep handoff threads", s.store)
	}
	desk, err := slack.New(slack.Config{Token: c.botToken, Channel: c.channel, APIURL: c.apiURL, Threads: threads,
		Catalog: s.brain.catalog, Wait: c.wait, VoiceTransfer: s.cfg.agentNumber != "", Logger: log})
	if err != nil {
		return nil, err
	}
	s.desk = desk
	return desk, nil
}

// mountSlack adds Slack's endpoints (events, interactivity) when the desk
// is on, and runs the work they acknowledge until ctx ends.
func (s *server) mountSlack(ctx context.Context, mux *http.ServeMux) error {
	if s.desk == nil {
		return nil
	}
	c := s.cfg.slack
	hc := slack.HandlerConfig{Engine: s.engine, Residents: residents{s}, SigningSecret: c.signingSecret}
	// Event ids are remembered in Redis when replicas share it (a retry
	// may reach another replica), in this process's memory otherwise.
	seen := "memory"
	if d, err := s.dedup("slack"); err == nil {
		hc.Seen, seen = d, "redis"
	}
	h, err := s.desk.Handler(hc)
	if err != nil {
		return err
	}
	h.Register(mux)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(ctx)
	}()
	// Work in flight finishes before the case store closes.
	s.closers = append(s.closers, func() error {
		select {
		case <-done:
		case <-time.After(s.cfg.shutdownMax):
			s.log.Warn("slack: work still running at shutdown")
		}
		return nil
	})
	s.log.Info("staff handoff in Slack ready", "channel", "slack", "staff_channel", c.channel,
		"events", s.cfg.publicURL+slack.EventsPath, "interactions", s.cfg.publicURL+slack.InteractionsPath,
		"wait", s.desk.Wait().String(), "voice_transfer", s.cfg.agentNumber != "", "event_ids", seen)
	return nil
}

// residents delivers staff replies and the assistant's word to residents
// through server.tell, in the vocabulary channels/slack understands.
type residents struct{ s *server }

func (r residents) Tell(ctx context.Context, conversation, contact, from string, reply dialog.Reply) error {
	who := webchat.FromAssistant
	if from == slack.FromStaff {
		who = webchat.FromStaff
	}
	err := r.s.tell(ctx, conversation, contact, who, reply)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, twilio.ErrOptedOut):
		return fmt.Errorf("%w: %w", slack.ErrOptedOut, err)
	case errors.Is(err, errNoRoute), errors.Is(err, webchat.ErrNotFound):
		return fmt.Errorf("%w: %w", slack.ErrUnreachable, err)
	}
	return err
}
