package cases

import (
	"context"
	"fmt"
	"time"
)

// Follower is a resident who asked to hear about a case someone else
// filed: they reported the same problem and chose to follow that case
// rather than file a duplicate. Private, like Contact.
type Follower struct {
	Contact      Contact // how to reach them; Contact.Notify says whether to
	Conversation string  // where they asked, so a web chat resident can be told there
	Channel      string
	Lang         string
	Since        time.Time
}

// Follow adds a follower to the case ref. Following twice from the same
// conversation is one follower.
func (s *SQLStore) Follow(ctx context.Context, ref string, f Follower) error {
	c, err := s.Get(ctx, ref)
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	if f.Since.IsZero() {
		f.Since = s.now()
	}
	_, err = s.DB.ExecContext(ctx, s.q(`INSERT INTO followers (case_id, conversation, channel, lang, phone, email, notify, since)
		VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (case_id, conversation) DO UPDATE SET notify = excluded.notify`),
		c.ID, f.Conversation, f.Channel, f.Lang, f.Contact.Phone, f.Contact.Email, boolInt(f.Contact.Notify), FormatTime(f.Since))
	return s.wrap("follow "+ref, err)
}

// Followers lists who follows the case ref.
func (s *SQLStore) Followers(ctx context.Context, ref string) ([]Follower, error) {
	rows, err := s.query(ctx, s.reads(), `SELECT f.conversation, f.channel, f.lang, f.phone, f.email, f.notify, f.since
		FROM followers f JOIN cases c ON c.id = f.case_id WHERE c.ref = ? ORDER BY f.since`, NormalizeRef(ref))
	if err != nil {
		return nil, s.wrap("followers "+ref, err)
	}
	defer rows.Close()
	var out []Follower
	for rows.Next() {
		var f Follower
		var notify int
		var since string
		if err := rows.Scan(&f.Conversation, &f.Channel, &f.Lang, &f.Contact.Phone, &f.Contact.Email, &notify, &since); err != nil {
			return nil, s.wrap("followers "+ref, err)
		}
		f.Contact.Notify, f.Since = notify != 0, ParseTime(since)
		out = append(out, f)
	}
	return out, s.wrap("followers "+ref, rows.Err())
}
