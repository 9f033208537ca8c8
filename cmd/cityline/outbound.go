package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cityline/cityline/dialog"
)

// errNoRoute: there is no way to reach this resident on their channel.
var errNoRoute = errors.New("no way to reach the resident")

// tell sends a message to a resident outside a turn (a staff reply, a
// status update) the way they came: into the web chat's event stream, or
// by text through Twilio (which never texts an opted-out number). A voice
// caller who gave no text-capable number cannot be reached afterwards.
func (s *server) tell(ctx context.Context, conversation, contact, from string, r dialog.Reply) error {
	channel, _, _ := strings.Cut(conversation, ":")
	switch channel {
	case dialog.ChannelWeb:
		if s.web == nil {
			return fmt.Errorf("tell %s: %w: web chat is off", dialog.RedactID(conversation), errNoRoute)
		}
		return s.web.Deliver(ctx, conversation, from, r)
	case dialog.ChannelSMS, dialog.ChannelWhatsApp, dialog.ChannelVoice:
		if s.texts == nil || contact == "" {
			return fmt.Errorf("tell %s: %w: texts are off", dialog.RedactID(conversation), errNoRoute)
		}
		to := contact
		if channel == dialog.ChannelWhatsApp && !strings.HasPrefix(to, "whatsapp:") {
			to = "whatsapp:" + to
		}
		_, err := s.texts.Send(ctx, to, r.Text())
		return err
	}
	return fmt.Errorf("tell %s: %w", dialog.RedactID(conversation), errNoRoute)
}
