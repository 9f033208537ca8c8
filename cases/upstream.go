package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Upstream mode: a city that already runs an Open311 server (its CRM)
// keeps it, and Cityline forwards every case to it. The forwarding is a
// durable outbox: one row a case, written in the transaction that stores
// the case (QueueUpstream turns that on), then moved along by the sender
// and the status poller of cases/open311. The rows outlive restarts, so
// nothing a resident filed is lost while the upstream is down.

// DispatchState is where a case stands with the upstream server.
type DispatchState string

const (
	// DispatchPending: not sent yet, or known not to have arrived.
	DispatchPending DispatchState = "pending"
	// DispatchSending: an attempt was made and its outcome is unknown (it
	// is in flight, timed out, or the process stopped). The upstream may
	// have the request: it is looked for there before any new attempt.
	DispatchSending DispatchState = "sending"
	// DispatchSent: the upstream gave a service_request_id or a token.
	DispatchSent DispatchState = "sent"
	// DispatchAccepted: the upstream took the request but gave neither
	// an id nor a token (a blackbox service). It is never sent again; the
	// poller looks for it to learn its id.
	DispatchAccepted DispatchState = "accepted"
	// DispatchFailed: the upstream refused the request; staff must act.
	DispatchFailed DispatchState = "failed"
)

// Dispatch is a case's journey to the upstream server.
type Dispatch struct {
	Case     *Case // the case, as stored when the dispatch was read
	State    DispatchState
	Attempt  string // the id of the latest attempt to send
	Attempts int    // attempts to send so far
	// Rejections counts the upstream's refusals (4xx) in a row.
	Rejections int
	FirstTry   time.Time // when the first attempt began
	NextAt     time.Time // when the sender or the poller looks at it next
	// UpstreamID and UpstreamToken are what the upstream answered.
	UpstreamID    string
	UpstreamToken string
	LastError     string // the last failure, for staff
	// SeenStatus, SeenNotes and SeenExpected are the upstream's values at
	// the last poll, so only what changes there is copied to the case.
	SeenStatus   Status
	SeenNotes    string
	SeenExpected time.Time
	Updated      time.Time
	// Version guards SaveDispatch: a save from a stale read fails.
	Version int64
}

// QueueUpstream turns upstream mode on or off: while on, Create queues
// every new case for the upstream in the transaction that stores it.
func (s *SQLStore) QueueUpstream(on bool) { s.queue.Store(on) }

// enqueue adds the pending dispatch of case id, inside Create's transaction.
func (s *SQLStore) enqueue(ctx context.Context, tx *sql.Tx, id int64, status Status, now time.Time) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO upstream_outbox (case_id, state, next_at, seen_status, updated)
		VALUES (?, ?, ?, ?, ?)`), id, string(DispatchPending), FormatTime(now), string(status), FormatTime(now))
	return err
}

const dispatchColumns = `case_id, state, attempt, attempts, rejections, first_try, next_at, upstream_id,
	upstream_token, last_error, seen_status, seen_notes, seen_expected, updated, version`

func scanDispatch(r scanner) (*Dispatch, int64, error) {
	var (
		d                                      Dispatch
		id                                     int64
		state, first, next, seen, seenExp, upd string
	)
	err := r.Scan(&id, &state, &d.Attempt, &d.Attempts, &d.Rejections, &first, &next, &d.UpstreamID,
		&d.UpstreamToken, &d.LastError, &seen, &d.SeenNotes, &seenExp, &upd, &d.Version)
	if err != nil {
		return nil, 0, err
	}
	d.State, d.SeenStatus = DispatchState(state), Status(seen)
	d.FirstTry, d.NextAt, d.SeenExpected, d.Updated = ParseTime(first), ParseTime(next), ParseTime(seenExp), ParseTime(upd)
	return &d, id, nil
}

// DueDispatches returns up to limit dispatches in one of states whose
// NextAt is not after now, the most overdue first, each with its case.
func (s *SQLStore) DueDispatches(ctx context.Context, states []DispatchState, now time.Time, limit int) ([]*Dispatch, error) {
	if len(states) == 0 {
		return nil, nil
	}
	if limit <= 0 {
		limit = 100
	}
	ph := make([]string, len(states))
	args := make([]any, 0, len(states)+2)
	for i, st := range states {
		ph[i] = "?"
		args = append(args, string(st))
	}
	args = append(args, FormatTime(now), limit)
	rows, err := s.DB.QueryContext(ctx, s.q(`SELECT `+dispatchColumns+` FROM upstream_outbox
		WHERE state IN (`+strings.Join(ph, ",")+`) AND next_at <= ? ORDER BY next_at, case_id LIMIT ?`), args...)
	if err != nil {
		return nil, s.wrap("due dispatches", err)
	}
	var out []*Dispatch
	var ids []int64
	for rows.Next() {
		d, id, err := scanDispatch(rows)
		if err != nil {
			rows.Close()
			return nil, s.wrap("due dispatches", err)
		}
		out = append(out, d)
		ids = append(ids, id)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, s.wrap("due dispatches", err)
	}
	for i, d := range out {
		if d.Case, err = s.one(ctx, "WHERE id = ?", ids[i]); err != nil {
			return nil, s.wrap("due dispatches: case", err)
		}
	}
	return out, nil
}

// GetDispatch returns the dispatch of the case with reference ref, or
// ErrNotFound when the case was never queued for an upstream.
func (s *SQLStore) GetDispatch(ctx context.Context, ref string) (*Dispatch, error) {
	c, err := s.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("get dispatch: %w", err)
	}
	row := s.DB.QueryRowContext(ctx, s.q(`SELECT `+dispatchColumns+` FROM upstream_outbox WHERE case_id = ?`), c.ID)
	d, _, err := scanDispatch(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get dispatch %s: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, s.wrap("get dispatch "+ref, err)
	}
	d.Case = c
	return d, nil
}

// SaveDispatch writes d back if nobody changed it since it was read (its
// Version), then moves d.Version and d.Updated on. It returns ErrConflict
// when the row changed meanwhile (another replica acted on it), and
// ErrInvalid when d could never be saved as it stands: a dispatch is
// never sent without the upstream's id or token.
func (s *SQLStore) SaveDispatch(ctx context.Context, d *Dispatch) error {
	if d.Case == nil {
		return fmt.Errorf("save dispatch: %w: no case", ErrInvalid)
	}
	if d.State == DispatchSent && d.UpstreamID == "" && d.UpstreamToken == "" {
		return fmt.Errorf("save dispatch %s: %w: sent without a service_request_id or token", d.Case.Ref, ErrInvalid)
	}
	switch d.State {
	case DispatchPending, DispatchSending, DispatchSent, DispatchAccepted, DispatchFailed:
	default:
		return fmt.Errorf("save dispatch %s: %w: state %q", d.Case.Ref, ErrInvalid, d.State)
	}
	now := s.now()
	res, err := s.DB.ExecContext(ctx, s.q(`UPDATE upstream_outbox SET state = ?, attempt = ?, attempts = ?,
		rejections = ?, first_try = ?, next_at = ?, upstream_id = ?, upstream_token = ?, last_error = ?,
		seen_status = ?, seen_notes = ?, seen_expected = ?, updated = ?, version = version + 1
		WHERE case_id = ? AND version = ?`),
		string(d.State), d.Attempt, d.Attempts, d.Rejections, FormatTime(d.FirstTry), FormatTime(d.NextAt),
		d.UpstreamID, d.UpstreamToken, d.LastError, string(d.SeenStatus), d.SeenNotes, FormatTime(d.SeenExpected),
		FormatTime(now), d.Case.ID, d.Version)
	if err != nil {
		return s.wrap("save dispatch "+d.Case.Ref, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.wrap("save dispatch "+d.Case.Ref, err)
	} else if n == 0 {
		return fmt.Errorf("save dispatch %s: version %d: %w", d.Case.Ref, d.Version, ErrConflict)
	}
	d.Version++
	d.Updated = now
	return nil
}
