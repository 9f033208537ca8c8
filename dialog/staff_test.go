package dialog_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/dialog"
)

// liveDesk is a staff desk that is always live and records what it got.
type liveDesk struct {
	mu      sync.Mutex
	opened  []dialog.Handoff
	relayed []string
}

func (d *liveDesk) Open(_ context.Context, h dialog.Handoff) (string, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.opened = append(d.opened, h)
	return "C1/1.1", true, nil
}

func (d *liveDesk) Relay(_ context.Context, thread string, _ *dialog.Session, text string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.relayed = append(d.relayed, thread+" "+text)
	return nil
}

// staffConv is a conversation whose engine has a live staff desk.
func staffConv(t *testing.T, channel string) (*conv, *liveDesk) {
	t.Helper()
	c := newConv(t, channel)
	p, ix, cat := examplePack(t)
	desk := &liveDesk{}
	eng, err := dialog.New(dialog.Config{Pack: p, Router: dialog.NewRouter(p, ix, cat), Catalog: cat,
		Cases: c.desk, Now: c.clock.Now, Sessions: dialog.NewMemoryStore(30*time.Minute, c.clock.Now), Handoff: desk})
	if err != nil {
		t.Fatal(err)
	}
	c.eng = eng
	return c, desk
}

func TestStaffFileTheDraftAndKeepTheConversation(t *testing.T) {
	c, desk := staffConv(t, dialog.ChannelSMS)
	ctx := t.Context()
	if _, err := c.eng.FileDraft(ctx, c.id); !errors.Is(err, dialog.ErrNoSession) {
		t.Errorf("FileDraft of an unknown conversation: %v, want ErrNoSession", err)
	}
	c.say("there is a big pothole at 12 King St W")
	if _, err := c.eng.FileDraft(ctx, c.id); !errors.Is(err, dialog.ErrNotWithStaff) {
		t.Errorf("FileDraft while the assistant has it: %v, want ErrNotWithStaff", err)
	}
	c.say("I want to talk to a person")
	c.expect(dialog.StateHandoff)
	if len(desk.opened) != 1 || desk.opened[0].Draft == nil || desk.opened[0].Draft.ServiceCode != "RD-01" ||
		desk.opened[0].Draft.Address == "" {
		t.Fatalf("staff were given %+v", desk.opened)
	}
	r, err := c.eng.FileDraft(ctx, c.id)
	if err != nil {
		t.Fatal(err)
	}
	filed := c.only()
	if r.Case == nil || r.Case.Ref != filed.Ref || !strings.Contains(r.Text(), filed.Ref) || r.State != dialog.StateHandoff {
		t.Errorf("FileDraft reply %+v for case %s", r, filed.Ref)
	}
	if filed.ServiceCode != "RD-01" || filed.Contact.Phone != c.contact || filed.Conversation != c.id {
		t.Errorf("filed %+v", filed)
	}
	if _, err := c.eng.FileDraft(ctx, c.id); !errors.Is(err, dialog.ErrNoDraft) {
		t.Errorf("FileDraft twice: %v, want ErrNoDraft", err)
	}
	// Staff still own it: the resident's words go to them, the assistant is silent.
	c.say("thanks, and it's near the bus stop")
	if !c.last.Silent || c.last.State != dialog.StateHandoff || len(desk.relayed) != 1 {
		t.Errorf("after filing: %+v, relayed %v", c.last, desk.relayed)
	}
	r, err = c.eng.StaffClosed(ctx, c.id)
	if err != nil || r.State != dialog.StateIdle {
		t.Fatalf("StaffClosed = %+v, %v", r, err)
	}
	c.say("what day is garbage day")
	if c.last.Silent || len(c.last.Messages) == 0 {
		t.Errorf("the assistant does not answer after staff closed: %+v", c.last)
	}
	if len(c.desk.All()) != 1 {
		t.Errorf("%d cases filed, want 1", len(c.desk.All()))
	}
}

func TestStaffWaiting(t *testing.T) {
	c, _ := staffConv(t, dialog.ChannelWeb)
	ctx := t.Context()
	c.say("I want to talk to a person")
	c.expect(dialog.StateHandoff)
	// Thursday 14:00: open until 20:00.
	r, err := c.eng.StaffWaiting(ctx, c.id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text(), "by 20:00") {
		t.Errorf("waiting, office open: %q", r.Text())
	}
	// Thursday 22:00: closed; the hours, and when it opens.
	c.clock.Advance(8 * time.Hour)
	c.id += "-late"
	c.say("I want to talk to a person")
	c.expect(dialog.StateHandoff)
	r, _ = c.eng.StaffWaiting(ctx, c.id)
	for _, want := range []string{"closed", "Mon, Tue, Wed, Thu, Fri 07:00-20:00", "Next open: Fri 07:00"} {
		if !strings.Contains(r.Text(), want) {
			t.Errorf("waiting, office closed: %q lacks %q", r.Text(), want)
		}
	}
	// Back with the assistant: nothing to say.
	if _, err := c.eng.StaffClosed(ctx, c.id); err != nil {
		t.Fatal(err)
	}
	if r, err := c.eng.StaffWaiting(ctx, c.id); err != nil || len(r.Messages) != 0 {
		t.Errorf("waiting after close: %+v, %v", r, err)
	}
	if _, err := c.eng.StaffWaiting(ctx, "web:nobody"); !errors.Is(err, dialog.ErrNoSession) {
		t.Errorf("waiting, unknown conversation: %v", err)
	}
}
