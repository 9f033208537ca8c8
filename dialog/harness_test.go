package dialog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/locale"
	"github.com/cityline/cityline/knowledge"
	"github.com/cityline/cityline/knowledge/examplecity"
	"github.com/cityline/cityline/knowledge/index"
)

// The harness drives the engine with scripted turns, the way go-joe's
// joetest drives a bot: one conversation, a controllable clock, a case
// desk that can fail on purpose.

var (
	packOnce sync.Once
	pack     *knowledge.Pack
	ix       *index.Index
	catalog  *locale.Catalog
	packErr  error
)

func examplePack(t testing.TB) (*knowledge.Pack, *index.Index, *locale.Catalog) {
	t.Helper()
	packOnce.Do(func() {
		pack, packErr = knowledge.Load(examplecity.FS())
		if packErr != nil {
			return
		}
		ix, packErr = index.Build(pack)
		if packErr != nil {
			return
		}
		catalog, packErr = locale.New(pack.City.Languages, pack.Messages)
	})
	if packErr != nil {
		t.Fatal(packErr)
	}
	return pack, ix, catalog
}

// clock is a fake time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// desk is an in-memory case desk that can be told to fail.
type desk struct {
	mu        sync.Mutex
	cases     []*cases.Case
	followers []string // "REF conversation"
	fail      error
}

func (d *desk) Create(_ context.Context, c *cases.Case) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		return d.fail
	}
	for _, o := range d.cases {
		if c.Key != "" && o.Key == c.Key {
			*c = *o
			return fmt.Errorf("create: %w", cases.ErrConflict)
		}
	}
	cp := *c
	cp.ID = int64(len(d.cases) + 4200)
	cp.Ref = cases.FormatRef("EX", cp.ID)
	d.cases = append(d.cases, &cp)
	*c = cp
	return nil
}

func (d *desk) Get(_ context.Context, ref string) (*cases.Case, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.cases {
		if c.Ref == cases.NormalizeRef(ref) {
			cp := *c
			return &cp, nil
		}
	}
	return nil, fmt.Errorf("get %s: %w", ref, cases.ErrNotFound)
}

func (d *desk) List(_ context.Context, f cases.Filter) ([]*cases.Case, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*cases.Case
	for i := len(d.cases) - 1; i >= 0; i-- {
		c := d.cases[i]
		switch {
		case f.Phone != "" && c.Contact.Phone != f.Phone:
		case len(f.ServiceCodes) > 0 && !slices.Contains(f.ServiceCodes, c.ServiceCode):
		case f.Status != "" && c.Status != f.Status:
		case f.Near != nil && (c.Location == nil || cases.DistanceM(*f.Near, *c.Location) > f.RadiusM):
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func (d *desk) Follow(_ context.Context, ref string, f cases.Follower) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.followers = append(d.followers, ref+" "+f.Conversation)
	return nil
}

func (d *desk) filed() []*cases.Case {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*cases.Case(nil), d.cases...)
}

// conv is one scripted conversation.
type conv struct {
	t       *testing.T
	eng     *dialog.Engine
	desk    *desk
	clock   *clock
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
	c := &conv{t: t, desk: &desk{}, clock: &clock{t: start}, id: t.Name(), channel: channel}
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
	filed := c.desk.filed()
	if len(filed) != 1 {
		c.t.Fatalf("%d cases filed, want 1", len(filed))
	}
	return filed[0]
}

var errDown = errors.New("database is down")
