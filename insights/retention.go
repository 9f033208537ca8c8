package insights

import (
	"context"
	"fmt"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// DefaultRetention is how long personal information is kept when the
// city says nothing: a year, the minimum Ontario's MFIPPA regulation
// expects for personal information that was used.
const DefaultRetention = 365 * Day

// Purged is what one Purge emptied.
type Purged struct {
	// Events whose words were emptied.
	Events int64
	// Cases closed before the cut-off whose contact details, description,
	// photos and conversation were emptied.
	Cases int64
}

// Purge applies the retention rule to everything older than before:
//
//   - events keep their type, time, channel, language, decision and
//     hashed conversation (every count stays), but fallbacks and
//     clarifications lose the resident's words;
//   - cases closed (last changed) before it keep their reference,
//     service, status, dates, place and answers to the service's
//     questions, but lose the resident's phone number, e-mail, name,
//     device and account ids, notification wish, the conversation they
//     came from (which can hold a phone number), their description and
//     photo links.
//
// Open cases are never touched, however old: the resident is still owed
// an answer. Purge is idempotent.
func (st *Store) Purge(ctx context.Context, before time.Time) (Purged, error) {
	var p Purged
	cut := cases.FormatTime(before)
	res, err := st.db.ExecContext(ctx, st.q(`UPDATE events SET text = '' WHERE at < ? AND text <> '' AND type IN (?, ?)`),
		cut, dialog.EventFallback, dialog.EventClarify)
	if err != nil {
		return p, st.wrap("purge events", err)
	}
	p.Events, _ = res.RowsAffected()
	res, err = st.db.ExecContext(ctx, st.q(`UPDATE cases SET phone = '', email = '', first_name = '', last_name = '',
		device_id = '', account_id = '', notify = 0, conversation = '', description = '', media = ''
		WHERE status = ? AND updated < ? AND (phone <> '' OR email <> '' OR first_name <> '' OR last_name <> ''
			OR device_id <> '' OR account_id <> '' OR notify <> 0 OR conversation <> '' OR description <> ''
			OR media <> '')`), string(cases.StatusClosed), cut)
	if err != nil {
		return p, st.wrap("purge cases", err)
	}
	p.Cases, _ = res.RowsAffected()
	return p, nil
}

// KeepPurging purges what is older than keep now and then every day
// until ctx ends, logging what it did.
func (st *Store) KeepPurging(ctx context.Context, keep time.Duration) {
	tick := time.NewTicker(Day)
	defer tick.Stop()
	for {
		p, err := st.Purge(ctx, st.now().Add(-keep))
		switch {
		case err != nil && ctx.Err() == nil:
			st.log.Error("retention: purge failed", "err", err)
		case err == nil:
			st.log.Info("retention: purged", "older_than", FormatPeriod(keep), "events", p.Events, "cases", p.Cases)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// String describes a purge for people.
func (p Purged) String() string {
	return fmt.Sprintf("%d events lost their text; %d closed cases lost their contact details and description", p.Events, p.Cases)
}
