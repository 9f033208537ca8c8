package cases

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Notifications: a change to a case's status or notes, which residents
// may have asked to hear about (the one who filed it, those who follow
// it). Update records one in the transaction that makes the change, so it
// does not matter which process made it (`cityline case update` runs
// apart from `serve`, the upstream poller inside it): serve claims the
// recorded notifications and tells whoever asked. A claim is
// taken before anything is sent and is never handed out again, so a
// notification is delivered at most once, across restarts and replicas;
// one the process stopped in the middle of telling is reported and given
// up (AbandonNotifications), not repeated.

// Notification is a change waiting to be told to whoever asked.
type Notification struct {
	ID      int64
	Case    *Case // the case as it is now
	Created time.Time
}

// Results a finished notification records.
const (
	NotifySent    = "sent"
	NotifySkipped = "skipped" // nobody asked, no way to reach them, or they opted out
	NotifyFailed  = "failed"
	NotifyExpired = "expired" // too old to be news
)

// ClaimNotifications claims up to limit pending notifications, oldest
// first, and returns them with their cases. A claimed notification is
// never returned again, by this store or any other on the same database.
func (s *SQLStore) ClaimNotifications(ctx context.Context, limit int) ([]Notification, error) {
	if limit <= 0 {
		limit = 50
	}
	// One statement: the inner SELECT picks, the outer UPDATE re-checks
	// the state row by row, so concurrent claimers never share a row.
	rows, err := s.DB.QueryContext(ctx, s.q(`UPDATE notifications SET state = 'claimed', claimed = ?
		WHERE state = 'pending' AND id IN (SELECT id FROM notifications WHERE state = 'pending' ORDER BY id LIMIT ?)
		RETURNING id, case_id, created`), FormatTime(s.now()), limit)
	if err != nil {
		return nil, s.wrap("claim notifications", err)
	}
	var out []Notification
	var caseIDs []int64
	for rows.Next() {
		var n Notification
		var caseID int64
		var created string
		if err := rows.Scan(&n.ID, &caseID, &created); err != nil {
			rows.Close()
			return nil, s.wrap("claim notifications", err)
		}
		n.Created = ParseTime(created)
		out = append(out, n)
		caseIDs = append(caseIDs, caseID)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, s.wrap("claim notifications", err)
	}
	for i := range out {
		if out[i].Case, err = s.one(ctx, "WHERE id = ?", caseIDs[i]); err != nil {
			return nil, s.wrap("claim notifications: case", err)
		}
	}
	// RETURNING gives no order; oldest first.
	slices.SortFunc(out, func(a, b Notification) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// FinishNotification records what became of a claimed notification:
// result is NotifySent, NotifySkipped, NotifyFailed or NotifyExpired,
// optionally followed by ": " and a detail for staff.
func (s *SQLStore) FinishNotification(ctx context.Context, id int64, result string) error {
	state, _, _ := strings.Cut(result, ":")
	switch state {
	case NotifySent, NotifySkipped, NotifyFailed, NotifyExpired:
	default:
		return fmt.Errorf("finish notification %d: %w: result %q", id, ErrInvalid, result)
	}
	res, err := s.DB.ExecContext(ctx, s.q(`UPDATE notifications SET state = ?, result = ? WHERE id = ? AND state = 'claimed'`),
		state, result, id)
	if err != nil {
		return s.wrap("finish notification", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("finish notification %d: %w: not claimed", id, ErrNotFound)
	}
	return nil
}

// ReleaseNotifications hands claimed notifications back, for when the
// claimer stops before it has tried to tell anyone.
func (s *SQLStore) ReleaseNotifications(ctx context.Context, ids []int64) error {
	for _, id := range ids {
		if _, err := s.DB.ExecContext(ctx, s.q(`UPDATE notifications SET state = 'pending', claimed = ''
			WHERE id = ? AND state = 'claimed'`), id); err != nil {
			return s.wrap("release notification", err)
		}
	}
	return nil
}

// AbandonNotifications gives up on notifications claimed before since
// and never finished — a process stopped while telling them — recording
// them as failed, and returns how many. They are not told again: that
// could tell a resident twice.
func (s *SQLStore) AbandonNotifications(ctx context.Context, since time.Time) (int, error) {
	res, err := s.DB.ExecContext(ctx, s.q(`UPDATE notifications SET state = ?, result = ?
		WHERE state = 'claimed' AND claimed < ?`), NotifyFailed, NotifyFailed+": interrupted", FormatTime(since))
	if err != nil {
		return 0, s.wrap("abandon notifications", err)
	}
	n, err := res.RowsAffected()
	return int(n), s.wrap("abandon notifications", err)
}
