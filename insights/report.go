package insights

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// Report is every figure of the dashboard and `cityline report` for one
// period. Conversations are counted per conversation and day (the way
// they are stored); a count is never a guess.
type Report struct {
	Since, Until time.Time // the period: Since inclusive, Until exclusive
	Generated    time.Time

	// Days is every day of the period in the city's time zone, oldest
	// first, with the conversations started that day by channel.
	Days []DayVolume
	// Channels are the channels seen, busiest first.
	Channels []string
	// Conversations is how many were started in the period; ByChannel
	// splits them.
	Conversations int
	ByChannel     map[string]int

	// Topics are the articles given as answers, most given first.
	Topics []Count
	// Requests are the request types residents started to report and the
	// cases filed, most filed first.
	Requests []Request
	// Containment is how many conversations ended without staff.
	Containment Containment
	// Gaps are the messages the assistant could not answer or was unsure
	// of, grouped by similarity, the most frequent theme first.
	Gaps []Gap
	// Guesses are the articles given with low confidence (below
	// GuessBelow), most first: answers that may be wrong.
	Guesses    []Count
	GuessBelow float64
	// Cases are the cases in the database now, by status and age.
	Cases CaseFigures
	// Handoffs are the conversations handed to staff, and how long the
	// resident had been talking before.
	Handoffs Handoffs
	// Feedback counts "was this helpful?" answers.
	Feedback Feedback
	// ToCase is how long residents took, from their first message, to
	// file a case (median; zero without cases).
	ToCase      time.Duration
	CasesFiled  int
	Fallbacks   int // messages not understood
	Clarified   int // messages answered with "did you mean...?"
	Emergencies int
}

// DayVolume is one day's conversations.
type DayVolume struct {
	Day       string // YYYY-MM-DD, the city's local date
	ByChannel map[string]int
	Total     int
}

// Count is how often something (an article, a service, a reason) came up.
type Count struct {
	ID   string // article id, service code, reason
	Name string // its title or name
	N    int
}

// Request is one request type: how often residents started reporting it
// and how many cases they filed.
type Request struct {
	Code, Name string
	Started    int
	Filed      int
}

// Containment is how conversations ended.
type Containment struct {
	Conversations int // started in the period
	HandedOff     int // a person was asked for or offered
	Contained     int // Conversations - HandedOff
	Resolved      int // contained, and given an answer, a status or a case
}

// Rate is the share of conversations contained, 0..1.
func (c Containment) Rate() float64 {
	if c.Conversations == 0 {
		return 0
	}
	return float64(c.Contained) / float64(c.Conversations)
}

// ResolvedRate is the share resolved without staff, 0..1.
func (c Containment) ResolvedRate() float64 {
	if c.Conversations == 0 {
		return 0
	}
	return float64(c.Resolved) / float64(c.Conversations)
}

// CaseFigures are the cases by status and, for open ones, age.
type CaseFigures struct {
	Open, Closed int
	OpenByAge    []AgeBucket
	// OpenedInPeriod and ClosedInPeriod count cases received, and cases
	// last changed while closed, within the report's period.
	OpenedInPeriod, ClosedInPeriod int
}

// AgeBucket counts open cases received within an age range.
type AgeBucket struct {
	Label string
	Upto  time.Duration // 0 for the oldest bucket
	N     int
}

// Handoffs counts conversations handed to staff.
type Handoffs struct {
	Total    int
	ByReason []Count
	// Waits are measured from the conversation's first message to the
	// handoff: how long the resident talked to the assistant before a
	// person was brought in (or they were told how to reach one).
	Waits      int
	MedianWait time.Duration
	P90Wait    time.Duration
}

// Feedback counts "was this helpful?" answers.
type Feedback struct {
	Helpful, NotHelpful int
}

// ageBuckets are the ages open cases are counted in.
var ageBuckets = []AgeBucket{
	{Label: "under 1 day", Upto: Day},
	{Label: "1 to 3 days", Upto: 3 * Day},
	{Label: "3 to 7 days", Upto: 7 * Day},
	{Label: "1 to 4 weeks", Upto: 28 * Day},
	{Label: "over 4 weeks"},
}

// Handoff reasons as the engine records them.
var reasonNames = map[string]string{
	"asked":         "asked for a person",
	"fallback":      "not understood twice",
	"misunderstood": "misunderstood",
}

// Period returns the period of d ending at now: whole days in the city's
// time zone (today and the d-1 days before) when d is a number of days,
// otherwise exactly d.
func (st *Store) Period(now time.Time, d time.Duration) (since, until time.Time) {
	if d%Day != 0 {
		return now.Add(-d), now
	}
	local := now.In(st.loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, st.loc)
	return midnight.AddDate(0, 0, -int(d/Day)+1), now
}

// Report computes every figure for events in [since, until).
func (st *Store) Report(ctx context.Context, since, until time.Time) (*Report, error) {
	r := &Report{Since: since, Until: until, Generated: st.now(), ByChannel: map[string]int{}, GuessBelow: st.lowConf}
	from, to := cases.FormatTime(since), cases.FormatTime(until)
	steps := []struct {
		name string
		f    func(context.Context, *Report, string, string) error
	}{
		{"volume", st.volume},
		{"topics", st.topics},
		{"requests", st.requests},
		{"containment", st.containment},
		{"gaps", st.gaps},
		{"guesses", st.guesses},
		{"cases", st.caseFigures},
		{"handoffs", st.handoffs},
		{"counts", st.counts},
	}
	for _, s := range steps {
		if err := s.f(ctx, r, from, to); err != nil {
			return nil, st.wrap("report: "+s.name, err)
		}
	}
	return r, nil
}

// rows runs a query and calls scan for each row.
func (st *Store) rows(ctx context.Context, scan func(*sql.Rows) error, query string, args ...any) error {
	rows, err := st.db.QueryContext(ctx, st.q(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (st *Store) volume(ctx context.Context, r *Report, from, to string) error {
	byDay := map[string]*DayVolume{}
	err := st.rows(ctx, func(rows *sql.Rows) error {
		var day, channel string
		var n int
		if err := rows.Scan(&day, &channel, &n); err != nil {
			return err
		}
		d := byDay[day]
		if d == nil {
			d = &DayVolume{Day: day, ByChannel: map[string]int{}}
			byDay[day] = d
		}
		d.ByChannel[channel] += n
		d.Total += n
		r.ByChannel[channel] += n
		r.Conversations += n
		return nil
	}, `SELECT day, channel, COUNT(DISTINCT conversation) FROM events
		WHERE type = 'started' AND at >= ? AND at < ? GROUP BY day, channel`, from, to)
	if err != nil {
		return err
	}
	// Every day of the period, the quiet ones too.
	last := r.Until.Add(-time.Nanosecond).In(st.loc)
	for t := r.Since.In(st.loc); ; t = t.AddDate(0, 0, 1) {
		day := t.Format(time.DateOnly)
		if day > last.Format(time.DateOnly) {
			break
		}
		if d := byDay[day]; d != nil {
			r.Days = append(r.Days, *d)
			delete(byDay, day)
		} else {
			r.Days = append(r.Days, DayVolume{Day: day, ByChannel: map[string]int{}})
		}
	}
	for _, d := range byDay { // events dated outside the period's days (a clock change)
		r.Days = append(r.Days, *d)
	}
	slices.SortFunc(r.Days, func(a, b DayVolume) int { return cmp.Compare(a.Day, b.Day) })
	for ch := range r.ByChannel {
		r.Channels = append(r.Channels, ch)
	}
	slices.SortFunc(r.Channels, func(a, b string) int {
		return cmp.Or(cmp.Compare(r.ByChannel[b], r.ByChannel[a]), cmp.Compare(a, b))
	})
	return nil
}

// topN is how many rows a top list keeps.
const topN = 15

func (st *Store) topics(ctx context.Context, r *Report, from, to string) error {
	return st.rows(ctx, func(rows *sql.Rows) error {
		var c Count
		if err := rows.Scan(&c.ID, &c.N); err != nil {
			return err
		}
		c.Name = st.articleName(c.ID)
		r.Topics = append(r.Topics, c)
		return nil
	}, `SELECT target, COUNT(*) FROM events WHERE type = 'decision' AND kind = ? AND target <> ''
		AND at >= ? AND at < ? GROUP BY target ORDER BY COUNT(*) DESC, target LIMIT ?`,
		string(dialog.KindAnswer), from, to, topN)
}

func (st *Store) guesses(ctx context.Context, r *Report, from, to string) error {
	return st.rows(ctx, func(rows *sql.Rows) error {
		var c Count
		if err := rows.Scan(&c.ID, &c.N); err != nil {
			return err
		}
		c.Name = st.articleName(c.ID)
		r.Guesses = append(r.Guesses, c)
		return nil
	}, `SELECT target, COUNT(*) FROM events WHERE type = 'decision' AND kind = ? AND target <> ''
		AND confidence < ? AND at >= ? AND at < ? GROUP BY target ORDER BY COUNT(*) DESC, target LIMIT ?`,
		string(dialog.KindAnswer), st.lowConf, from, to, topN)
}

func (st *Store) requests(ctx context.Context, r *Report, from, to string) error {
	byCode := map[string]*Request{}
	get := func(code string) *Request {
		if q := byCode[code]; q != nil {
			return q
		}
		q := &Request{Code: code, Name: st.serviceName(code)}
		byCode[code] = q
		return q
	}
	err := st.rows(ctx, func(rows *sql.Rows) error {
		var typ, code string
		var n int
		if err := rows.Scan(&typ, &code, &n); err != nil {
			return err
		}
		if typ == dialog.EventCase {
			get(code).Filed += n
		} else {
			get(code).Started += n
		}
		return nil
	}, `SELECT type, target, COUNT(*) FROM events
		WHERE (type = ? OR type = 'decision' AND kind = ?) AND target <> '' AND at >= ? AND at < ?
		GROUP BY type, target`, dialog.EventCase, string(dialog.KindService), from, to)
	if err != nil {
		return err
	}
	for _, q := range byCode {
		r.Requests = append(r.Requests, *q)
	}
	slices.SortFunc(r.Requests, func(a, b Request) int {
		return cmp.Or(cmp.Compare(b.Filed, a.Filed), cmp.Compare(b.Started, a.Started), cmp.Compare(a.Code, b.Code))
	})
	if len(r.Requests) > topN {
		r.Requests = r.Requests[:topN]
	}
	return nil
}

func (st *Store) containment(ctx context.Context, r *Report, from, to string) error {
	c := &r.Containment
	err := st.db.QueryRowContext(ctx, st.q(`SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN h = 1 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN h = 0 AND d = 1 THEN 1 ELSE 0 END), 0)
		FROM (SELECT conversation,
			MAX(CASE WHEN type = 'started' THEN 1 ELSE 0 END) AS s,
			MAX(CASE WHEN type = 'handoff' THEN 1 ELSE 0 END) AS h,
			MAX(CASE WHEN type = 'case_opened' OR type = 'decision' AND kind IN ('answer', 'status') THEN 1 ELSE 0 END) AS d
			FROM events WHERE at >= ? AND at < ? AND conversation <> '' GROUP BY conversation) c
		WHERE s = 1`), from, to).Scan(&c.Conversations, &c.HandedOff, &c.Resolved)
	c.Contained = c.Conversations - c.HandedOff
	return err
}

func (st *Store) caseFigures(ctx context.Context, r *Report, from, to string) error {
	now := st.now()
	f := &r.Cases
	f.OpenByAge = slices.Clone(ageBuckets)
	var bounds []any
	for _, b := range ageBuckets[:len(ageBuckets)-1] {
		bounds = append(bounds, cases.FormatTime(now.Add(-b.Upto)))
	}
	err := st.rows(ctx, func(rows *sql.Rows) error {
		var status string
		var age, n int
		if err := rows.Scan(&status, &age, &n); err != nil {
			return err
		}
		if cases.Status(status) == cases.StatusClosed {
			f.Closed += n
			return nil
		}
		f.Open += n
		f.OpenByAge[min(max(age, 0), len(f.OpenByAge)-1)].N += n
		return nil
	}, `SELECT status, age, COUNT(*) FROM (SELECT status, CASE WHEN requested >= ? THEN 0 WHEN requested >= ? THEN 1
		WHEN requested >= ? THEN 2 WHEN requested >= ? THEN 3 ELSE 4 END AS age FROM cases) a GROUP BY status, age`, bounds...)
	if err != nil {
		return err
	}
	return st.db.QueryRowContext(ctx, st.q(`SELECT
		COALESCE(SUM(CASE WHEN requested >= ? AND requested < ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN status = 'closed' AND updated >= ? AND updated < ? THEN 1 ELSE 0 END), 0)
		FROM cases`), from, to, from, to).Scan(&f.OpenedInPeriod, &f.ClosedInPeriod)
}

func (st *Store) handoffs(ctx context.Context, r *Report, from, to string) error {
	h := &r.Handoffs
	byReason := map[string]int{}
	var waits []time.Duration
	err := st.rows(ctx, func(rows *sql.Rows) error {
		var reason, at string
		var start sql.NullString
		if err := rows.Scan(&reason, &at, &start); err != nil {
			return err
		}
		h.Total++
		byReason[reason]++
		if start.Valid && start.String != "" {
			if w := cases.ParseTime(at).Sub(cases.ParseTime(start.String)); w >= 0 {
				waits = append(waits, w)
			}
		}
		return nil
	}, `SELECT h.text, h.at, (SELECT MAX(s.at) FROM events s WHERE s.conversation = h.conversation
			AND s.type = 'started' AND s.at <= h.at)
		FROM events h WHERE h.type = 'handoff' AND h.at >= ? AND h.at < ?`, from, to)
	if err != nil {
		return err
	}
	for reason, n := range byReason {
		name := reasonNames[reason]
		if name == "" {
			name = reason
		}
		h.ByReason = append(h.ByReason, Count{ID: reason, Name: name, N: n})
	}
	slices.SortFunc(h.ByReason, func(a, b Count) int { return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.ID, b.ID)) })
	h.Waits = len(waits)
	h.MedianWait, h.P90Wait = quantile(waits, 0.5), quantile(waits, 0.9)
	return nil
}

// counts are the single figures: cases filed and how long they took,
// fallbacks, clarifications, emergencies, feedback.
func (st *Store) counts(ctx context.Context, r *Report, from, to string) error {
	var elapsed []time.Duration
	err := st.rows(ctx, func(rows *sql.Rows) error {
		var ms int64
		if err := rows.Scan(&ms); err != nil {
			return err
		}
		elapsed = append(elapsed, time.Duration(ms)*time.Millisecond)
		return nil
	}, `SELECT elapsed_ms FROM events WHERE type = ? AND at >= ? AND at < ?`, dialog.EventCase, from, to)
	if err != nil {
		return err
	}
	r.CasesFiled = len(elapsed)
	r.ToCase = quantile(elapsed, 0.5)
	return st.rows(ctx, func(rows *sql.Rows) error {
		var typ, kind string
		var helpful sql.NullInt64
		var n int
		if err := rows.Scan(&typ, &kind, &helpful, &n); err != nil {
			return err
		}
		switch {
		case typ == dialog.EventFallback:
			r.Fallbacks += n
		case typ == dialog.EventClarify:
			r.Clarified += n
		case typ == dialog.EventDecision && kind == string(dialog.KindEmergency):
			r.Emergencies += n
		case typ == dialog.EventFeedback && helpful.Valid && helpful.Int64 == 1:
			r.Feedback.Helpful += n
		case typ == dialog.EventFeedback && helpful.Valid:
			r.Feedback.NotHelpful += n
		}
		return nil
	}, `SELECT type, kind, helpful, COUNT(*) FROM events WHERE type IN (?, ?, ?, ?) AND at >= ? AND at < ?
		GROUP BY type, kind, helpful`, dialog.EventFallback, dialog.EventClarify, dialog.EventDecision, dialog.EventFeedback, from, to)
}

// quantile is the q-quantile of ds (nearest rank), zero when empty.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func (st *Store) articleName(id string) string {
	if st.pack != nil {
		if a, ok := st.pack.Article(id, st.pack.City.DefaultLang()); ok {
			return a.Title
		}
	}
	return id
}

func (st *Store) serviceName(code string) string {
	if st.pack != nil {
		if s, ok := st.pack.Service(code, st.pack.City.DefaultLang()); ok {
			return s.Name
		}
	}
	return code
}

// String is a one-line summary, for logs.
func (r *Report) String() string {
	return fmt.Sprintf("%d conversations, %d contained, %d cases filed, %d gaps", r.Conversations,
		r.Containment.Contained, r.CasesFiled, len(r.Gaps))
}
