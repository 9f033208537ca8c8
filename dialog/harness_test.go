package dialog_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/locale"
	"github.com/cityline/cityline/dialog/sessiontest"
	"github.com/cityline/cityline/knowledge"
	"github.com/cityline/cityline/knowledge/index"
)

// The harness drives the engine with scripted turns, the way go-joe's
// joetest drives a bot: one conversation, a controllable clock, a case
// desk that can fail on purpose.

func examplePack(t testing.TB) (*knowledge.Pack, *index.Index, *locale.Catalog) {
	t.Helper()
	return sessiontest.Example(t)
}

// conv is one scripted conversation.
type conv struct {
	t       *testing.T
	eng     *dialog.Engine
	desk    *sessiontest.Desk
	clock   *casetest.FakeClock
	id      string
	channel string
	contact string
	last    dialog.Reply
}

// Thursday 2026-12-03 14:00 in Toronto: inside office hours.
var start = time.Date(2026, 12, 3, 14, 0, 0, 0, mustZone("America/Toronto"))

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func newConv(t *testing.T, channel string) *conv {
	t.Helper()
	p, ix, cat := examplePack(t)
	c := &conv{t: t, desk: &sessiontest.Desk{}, clock: casetest.NewFakeClock(start), id: t.Name(), channel: channel}
	if channel == dialog.ChannelSMS || channel == dialog.ChannelVoice {
		c.contact = "+15550001234"
	}
	eng, err := dialog.New(dialog.Config{Pack: p, Router: dialog.NewRouter(p, ix, cat), Catalog: cat,
		Cases: c.desk, Now: c.clock.Now, Sessions: dialog.NewMemoryStore(30*time.Minute, c.clock.Now)})
	if err != nil {
		t.Fatal(err)
	}
	c.eng = eng
	return c
}

// say sends one message and returns the reply.
func (c *conv) say(text string) dialog.Reply {
	c.t.Helper()
	r, err := c.eng.Handle(context.Background(), dialog.Inbound{Channel: c.channel, ConversationID: c.id,
		Contact: c.contact, Text: text})
	if err != nil {
		c.t.Fatalf("say %q: %v", text, err)
	}
	c.last = r
	return r
}

// pick presses a choice button.
func (c *conv) pick(id string) dialog.Reply {
	c.t.Helper()
	r, err := c.eng.Handle(context.Background(), dialog.Inbound{Channel: c.channel, ConversationID: c.id,
		Contact: c.contact, Choice: id})
	if err != nil {
		c.t.Fatalf("pick %q: %v", id, err)
	}
	c.last = r
	return r
}

// expect checks the state and that the reply contains each snippet
// (case-insensitive).
func (c *conv) expect(state string, snippets ...string) {
	c.t.Helper()
	if c.last.State != state {
		c.t.Errorf("state = %s, want %s; reply: %q", c.last.State, state, c.last.Text())
	}
	// What the resident sees: the messages and the choices offered.
	text := c.last.Text()
	for _, ch := range c.last.Choices {
		text += "\n" + ch.Label
	}
	text = strings.ToLower(text)
	for _, s := range snippets {
		if !strings.Contains(text, strings.ToLower(s)) {
			c.t.Errorf("reply does not mention %q: %q", s, c.last.Text())
		}
	}
}

func (c *conv) only() *cases.Case {
	c.t.Helper()
	filed := c.desk.All()
	if len(filed) != 1 {
		c.t.Fatalf("%d cases filed, want 1", len(filed))
	}
	return filed[0]
}

var errDown = errors.New("database is down")
