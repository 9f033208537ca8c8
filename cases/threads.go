package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Handoff threads: when staff take over a conversation, the staff desk
// (Slack) opens a thread about it. The thread is kept here, with the
// cases, so that a staff reply finds its resident after a restart and on
// any replica, and so that exactly one replica tells a resident who has
// waited too long.

// Thread is a staff desk's thread about one conversation.
type Thread struct {
	ID           string // the desk's id of the thread (Slack: channel/ts)
	Conversation string // the engine's conversation id
	Channel      string // the resident's channel: web, sms, whatsapp, voice
	Contact      string // the resident's address on it: private
	Lang         string
	Opened       time.Time
	// Due is when the resident is owed word that staff have not replied
	// yet; zero once a staff member has replied, or the resident was told.
	Due     time.Time
	TakenBy string    // who took the conversation ("" until someone does)
	Closed  time.Time // when staff handed it back; zero while open
}

const threadColumns = `thread, conversation, channel, contact, lang, opened, due, taken_by, closed`

func scanThread(r scanner) (Thread, error) {
	var t Thread
	var opened, due, closed string
	if err := r.Scan(&t.ID, &t.Conversation, &t.Channel, &t.Contact, &t.Lang, &opened, &due, &t.TakenBy, &closed); err != nil {
		return Thread{}, err
	}
	t.Opened, t.Due, t.Closed = ParseTime(opened), ParseTime(due), ParseTime(closed)
	return t, nil
}

// OpenThread records a new thread. It returns ErrInvalid without an id or
// a conversation, ErrConflict when the id is taken.
func (s *SQLStore) OpenThread(ctx context.Context, t Thread) error {
	if strings.TrimSpace(t.ID) == "" || strings.TrimSpace(t.Conversation) == "" {
		return fmt.Errorf("open thread: %w: no id or conversation", ErrInvalid)
	}
	if t.Opened.IsZero() {
		t.Opened = s.now()
	}
	res, err := s.DB.ExecContext(ctx, s.q(`INSERT INTO handoff_threads (`+threadColumns+`)
		VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (thread) DO NOTHING`),
		t.ID, t.Conversation, t.Channel, t.Contact, t.Lang, FormatTime(t.Opened), FormatTime(t.Due),
		t.TakenBy, FormatTime(t.Closed))
	if err != nil {
		return s.wrap("open thread", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("open thread %s: %w", t.ID, ErrConflict)
	}
	return nil
}

// Thread returns the thread with id, or ErrNotFound.
func (s *SQLStore) Thread(ctx context.Context, id string) (Thread, error) {
	t, err := scanThread(s.queryRow(ctx, s.reads(), `SELECT `+threadColumns+` FROM handoff_threads WHERE thread = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Thread{}, fmt.Errorf("thread %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Thread{}, s.wrap("thread", err)
	}
	return t, nil
}

// TakeThread records that by took the thread, unless someone already
// has, and returns the thread as it now stands: TakenBy is whoever holds
// it. ErrNotFound when there is no such thread.
func (s *SQLStore) TakeThread(ctx context.Context, id, by string) (Thread, error) {
	if strings.TrimSpace(by) == "" {
		return Thread{}, fmt.Errorf("take thread: %w: nobody", ErrInvalid)
	}
	if _, err := s.DB.ExecContext(ctx, s.q(`UPDATE handoff_threads SET taken_by = ? WHERE thread = ? AND taken_by = ''`),
		by, id); err != nil {
		return Thread{}, s.wrap("take thread", err)
	}
	return s.Thread(ctx, id)
}

// AnswerThread records that staff replied: the resident is no longer
// owed word of the wait. ErrNotFound when there is no such thread.
func (s *SQLStore) AnswerThread(ctx context.Context, id string) error {
	res, err := s.DB.ExecContext(ctx, s.q(`UPDATE handoff_threads SET due = '' WHERE thread = ?`), id)
	return s.affected("answer thread "+id, res, err)
}

// CloseThread records that staff handed the conversation back at at. It
// reports whether this call closed it (false: it was closed already).
// ErrNotFound when there is no such thread.
func (s *SQLStore) CloseThread(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := s.DB.ExecContext(ctx, s.q(`UPDATE handoff_threads SET closed = ?, due = '' WHERE thread = ? AND closed = ''`),
		FormatTime(at), id)
	if err != nil {
		return false, s.wrap("close thread", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return true, nil
	}
	if _, err := s.Thread(ctx, id); err != nil {
		return false, fmt.Errorf("close thread: %w", err)
	}
	return false, nil
}

// DueThreads claims the open threads whose Due is at or before now and
// returns them: each is returned once, to one caller, on any replica
// (Due is cleared as it is claimed).
func (s *SQLStore) DueThreads(ctx context.Context, now time.Time) ([]Thread, error) {
	rows, err := s.DB.QueryContext(ctx, s.q(`UPDATE handoff_threads SET due = ''
		WHERE due <> '' AND due <= ? AND closed = '' RETURNING `+threadColumns), FormatTime(now))
	if err != nil {
		return nil, s.wrap("due threads", err)
	}
	defer rows.Close()
	var out []Thread
	for rows.Next() {
		t, err := scanThread(rows)
		if err != nil {
			return nil, s.wrap("due threads", err)
		}
		out = append(out, t)
	}
	return out, s.wrap("due threads", rows.Err())
}

func (s *SQLStore) affected(op string, res sql.Result, err error) error {
	if err != nil {
		return s.wrap(op, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return nil
}
