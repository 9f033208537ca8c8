package dialog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// What staff may do to a conversation they own, besides StaffClosed.

// Errors of the staff actions.
var (
	// ErrNotWithStaff: the conversation is not in handoff (staff closed
	// it, or the assistant has it again).
	ErrNotWithStaff = errors.New("conversation is not with staff")
	// ErrNoDraft: there is no report in progress to file.
	ErrNoDraft = errors.New("no report in progress")
)

// FileDraft files the report a resident had in progress when staff took
// over, with the details collected so far, as staff asked. The
// conversation stays with staff. The reply tells the resident the
// reference (the case is durable first); the channel delivers it. It
// returns ErrNoSession, ErrNotWithStaff or ErrNoDraft wrapped.
func (e *Engine) FileDraft(ctx context.Context, id string) (Reply, error) {
	unlock, err := e.locker.Lock(ctx, id)
	if err != nil {
		return Reply{}, fmt.Errorf("file draft: %w", err)
	}
	defer unlock()
	s, err := e.sessions.Load(ctx, id)
	if err != nil {
		return Reply{}, fmt.Errorf("file draft: %w", err)
	}
	switch {
	case s.State != StateHandoff:
		return Reply{}, fmt.Errorf("file draft %s: %w", RedactID(id), ErrNotWithStaff)
	case s.Draft == nil:
		return Reply{}, fmt.Errorf("file draft %s: %w", RedactID(id), ErrNoDraft)
	}
	t := &turn{e: e, s: s, now: e.now(), lang: s.Lang, l: e.cat.Lang(s.Lang)}
	t.reply.Lang = s.Lang
	c, name, err := t.file(ctx)
	if err != nil {
		return Reply{}, fmt.Errorf("file draft: %w", err)
	}
	t.filed(ctx, c, name)
	s.Updated = t.now
	if err := e.sessions.Save(ctx, s); err != nil {
		// The case is durable; only the conversation's note of it is lost.
		e.log.Error("save session", "conversation", RedactID(id), "err", err)
	}
	t.reply.State = s.State
	return t.reply, nil
}

// StaffWaiting is what a resident is told when staff have not replied in
// time: when they will hear back (by closing time today), or outside
// office hours, the hours. The reply has no messages when the
// conversation is no longer with staff. It returns ErrNoSession wrapped
// when the conversation is gone.
func (e *Engine) StaffWaiting(ctx context.Context, id string) (Reply, error) {
	s, err := e.sessions.Load(ctx, id)
	if err != nil {
		return Reply{}, fmt.Errorf("staff waiting: %w", err)
	}
	r := Reply{State: s.State, Lang: s.Lang, Expect: ExpectText}
	if s.State != StateHandoff {
		return r, nil
	}
	now := e.now()
	var text string
	switch closes, ok := e.closesToday(now); {
	case !e.pack.City.IsOpen(now):
		text = e.Say(s.Lang, "handoff_waiting_closed", "hours", e.Hours(s.Lang, now))
	case ok:
		text = e.Say(s.Lang, "handoff_waiting", "when", closes)
	default:
		text = e.Say(s.Lang, "handoff_waiting_soon")
	}
	r.Messages = []Message{{Text: text}}
	return r, nil
}

// closesToday is when the office closes today ("20:00"), while it is
// open; ok is false for a city without office hours.
func (e *Engine) closesToday(now time.Time) (string, bool) {
	c := &e.pack.City
	t := now.In(c.Location())
	day := strings.ToLower(t.Weekday().String()[:3])
	hm := t.Format("15:04")
	latest := ""
	for _, h := range c.OfficeHours {
		for _, d := range h.Days {
			if strings.ToLower(d) == day && hm >= h.Open && hm < h.Close && h.Close > latest {
				latest = h.Close
			}
		}
	}
	return latest, latest != ""
}
