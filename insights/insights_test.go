package insights_test

import (
	"context"
	"database/sql"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/insights"
	"github.com/cityline/cityline/insights/insightstest"
	"github.com/cityline/cityline/knowledge"
)

// eventRow is one row of the events table, read back plainly.
type eventRow struct {
	at, day, typ, conv, channel, lang, kind, target, text, ref string
	conf                                                       float64
	elapsed                                                    int64
}

func readEvents(t *testing.T, db *sql.DB) []eventRow {
	t.Helper()
	rows, err := db.Query(`SELECT at, day, type, conversation, channel, lang, kind, target, text, ref, confidence, elapsed_ms FROM events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []eventRow
	for rows.Next() {
		var r eventRow
		if err := rows.Scan(&r.at, &r.day, &r.typ, &r.conv, &r.channel, &r.lang, &r.kind, &r.target, &r.text, &r.ref, &r.conf, &r.elapsed); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// day is the generated day: one set of 500 conversations played once and
// shared by the tests that only read it.
var day struct {
	once   sync.Once
	env    *insightstest.Env
	played []insightstest.Played
	report *insights.Report
	rows   []eventRow
}

// keep is a testing.TB whose clean-ups and temporary folders last until
// TestMain ends, for the day the tests share.
type keep struct{ testing.TB }

var cleanups []func()

func (k *keep) Cleanup(f func()) { cleanups = append(cleanups, f) }

func (k *keep) TempDir() string {
	dir, err := os.MkdirTemp("", "cityline-insights-")
	if err != nil {
		k.Fatal(err)
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	return dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

func generatedDay(t *testing.T) (*insightstest.Env, []insightstest.Played, *insights.Report, []eventRow) {
	t.Helper()
	day.once.Do(func() {
		// Built outside any one test's cleanup: it outlives the first test.
		env := insightstest.New(&keep{TB: t}, "", insightstest.Epoch, nil)
		day.env = env
		day.played = env.PlayDay(t, insightstest.Epoch, 500, 1)
		var err error
		day.report, err = env.Insights.Report(context.Background(), insightstest.Epoch, insightstest.Epoch.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		day.rows = readEvents(t, env.DB)
	})
	if day.env == nil || day.report == nil {
		t.Fatal("the generated day could not be made")
	}
	return day.env, day.played, day.report, day.rows
}

// TestGeneratedDayCounts plays a day of 500 conversations through the
// real engine, with the sink on SQLite, and checks every figure of the
// report against what the event rows say, counted here independently.
func TestGeneratedDayCounts(t *testing.T) {
	_, played, rep, rows := generatedDay(t)
	if len(played) != 500 {
		t.Fatalf("played %d conversations", len(played))
	}
	// The generator's own view: one conversation each, by channel.
	byChannel := map[string]int{}
	filed := 0
	for _, p := range played {
		byChannel[p.Channel]++
		filed += len(p.Refs)
	}

	// What the rows say.
	started := map[string]string{} // conversation -> channel
	handed := map[string]bool{}
	resolved := map[string]bool{}
	topics := map[string]int{}
	filedBy := map[string]int{}
	reasons := map[string]int{}
	var fallbacks, clarified, cases int
	for _, r := range rows {
		switch r.typ {
		case dialog.EventStarted:
			started[r.conv] = r.channel
		case dialog.EventHandoff:
			handed[r.conv] = true
			reasons[r.text]++
		case dialog.EventCase:
			resolved[r.conv] = true
			filedBy[r.target]++
			cases++
		case dialog.EventDecision:
			if r.kind == "answer" || r.kind == "status" {
				resolved[r.conv] = true
			}
			if r.kind == "answer" {
				topics[r.target]++
			}
		case dialog.EventFallback:
			fallbacks++
		case dialog.EventClarify:
			clarified++
		}
	}
	rowChannels := map[string]int{}
	contained, res := 0, 0
	for conv, ch := range started {
		rowChannels[ch]++
		if !handed[conv] {
			contained++
			if resolved[conv] {
				res++
			}
		}
	}

	if rep.Conversations != 500 || len(started) != 500 {
		t.Errorf("conversations: report %d, rows %d, played 500", rep.Conversations, len(started))
	}
	for ch, n := range byChannel {
		if rep.ByChannel[ch] != n || rowChannels[ch] != n {
			t.Errorf("channel %s: report %d, rows %d, played %d", ch, rep.ByChannel[ch], rowChannels[ch], n)
		}
	}
	if len(rep.Days) != 1 || rep.Days[0].Day != "2026-11-17" || rep.Days[0].Total != 500 {
		t.Errorf("days: %+v", rep.Days)
	}
	k := rep.Containment
	if k.Conversations != len(started) || k.HandedOff != len(handed) || k.Contained != contained || k.Resolved != res {
		t.Errorf("containment %+v; rows say %d conversations, %d handed off, %d contained, %d resolved",
			k, len(started), len(handed), contained, res)
	}
	if k.HandedOff == 0 || k.Resolved == 0 || k.Contained == k.Resolved {
		t.Errorf("the day should have every outcome: %+v", k)
	}
	if rep.CasesFiled != cases || cases != filed || filed < 50 {
		t.Errorf("cases filed: report %d, rows %d, played %d", rep.CasesFiled, cases, filed)
	}
	if rep.Cases.Open != filed || rep.Cases.OpenByAge[0].N != filed || rep.Cases.OpenedInPeriod != filed {
		t.Errorf("cases by status: %+v, want %d open, all under a day", rep.Cases, filed)
	}
	for _, tp := range rep.Topics {
		if topics[tp.ID] != tp.N {
			t.Errorf("topic %s: report %d, rows %d", tp.ID, tp.N, topics[tp.ID])
		}
		if tp.Name == tp.ID {
			t.Errorf("topic %s has no title", tp.ID)
		}
	}
	if len(rep.Topics) == 0 || rep.Topics[0].N < rep.Topics[len(rep.Topics)-1].N {
		t.Errorf("topics are not most-first: %+v", rep.Topics)
	}
	sum := 0
	for _, q := range rep.Requests {
		if filedBy[q.Code] != q.Filed {
			t.Errorf("request %s: report %d filed, rows %d", q.Code, q.Filed, filedBy[q.Code])
		}
		sum += q.Filed
	}
	if len(rep.Requests) < 15 && sum != cases {
		t.Errorf("request types add up to %d cases, rows say %d", sum, cases)
	}
	if rep.Handoffs.Total != len(handed) || rep.Handoffs.Waits != rep.Handoffs.Total {
		t.Errorf("handoffs: %+v, rows say %d", rep.Handoffs, len(handed))
	}
	for _, r := range rep.Handoffs.ByReason {
		if reasons[r.ID] != r.N {
			t.Errorf("handoff reason %s: report %d, rows %d", r.ID, r.N, reasons[r.ID])
		}
	}
	// (Whether any message is clarified rather than answered is the
	// router's business; the count must match whatever it did.)
	if rep.Fallbacks != fallbacks || rep.Clarified != clarified || fallbacks == 0 {
		t.Errorf("fallbacks %d (rows %d), clarified %d (rows %d)", rep.Fallbacks, fallbacks, rep.Clarified, clarified)
	}
	if rep.ToCase <= 0 {
		t.Errorf("time to file a case: %v", rep.ToCase)
	}
	t.Logf("report: %s; by channel %v; containment %+v; handoffs %d (median wait %v)", rep, rep.ByChannel, k,
		rep.Handoffs.Total, rep.Handoffs.MedianWait)
}

// TestGeneratedDayGaps: the gap list puts the most frequent unanswered
// theme first, whole, with its phrasings as examples and a draft.
func TestGeneratedDayGaps(t *testing.T) {
	_, _, rep, rows := generatedDay(t)
	themeOf := map[string]string{"pizza delivery": "pizza"}
	for _, th := range insightstest.Themes {
		for _, p := range th.Phrasings {
			themeOf[dialog.Scrub(p)] = th.Name
		}
	}
	counts := map[string]int{}
	for _, r := range rows {
		if r.typ == dialog.EventFallback || r.typ == dialog.EventClarify {
			counts[themeOf[r.text]]++
		}
	}
	top := ""
	for th, n := range counts {
		if th != "" && (top == "" || n > counts[top]) {
			top = th
		}
	}
	if top != "weather" {
		t.Logf("the most frequent unanswered theme is %q (the router now answers some weather questions?)", top)
	}
	if len(rep.Gaps) < 4 {
		t.Fatalf("gaps: %+v", rep.Gaps)
	}
	g := rep.Gaps[0]
	if g.Count != counts[top] {
		t.Errorf("first gap %q holds %d messages, the %s theme has %d", g.Title, g.Count, top, counts[top])
	}
	for _, e := range g.Examples {
		if themeOf[e.Text] != top {
			t.Errorf("first gap %q has an example from elsewhere: %q", g.Title, e.Text)
		}
	}
	for i := 1; i < len(rep.Gaps); i++ {
		if rep.Gaps[i].Count > rep.Gaps[i-1].Count {
			t.Errorf("gaps not most frequent first: %d then %d", rep.Gaps[i-1].Count, rep.Gaps[i].Count)
		}
	}
	draft := g.Draft()
	for _, want := range []string{"id: " + g.Slug(), "title: ", "keywords: [", "questions:\n  - ", g.Examples[0].Text} {
		if !strings.Contains(draft, want) {
			t.Errorf("draft lacks %q:\n%s", want, draft)
		}
	}
	if !slices.Contains(g.Keywords, top) && top != "market" && top != "life" {
		t.Errorf("keywords of the %s theme: %v", top, g.Keywords)
	}
	t.Logf("first gap: %q, %d messages, keywords %v", g.Title, g.Count, g.Keywords)
}

// TestNoContactDetailsInEvents: no phone number, e-mail or raw
// conversation id reaches the events table.
func TestNoContactDetailsInEvents(t *testing.T) {
	env, played, _, rows := generatedDay(t)
	var all strings.Builder
	hexID := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, r := range rows {
		all.WriteString(strings.Join([]string{r.at, r.day, r.typ, r.conv, r.channel, r.lang, r.kind, r.target, r.text, r.ref}, "\x00"))
		all.WriteByte('\n')
		if !hexID.MatchString(r.conv) {
			t.Fatalf("conversation stored as %q", r.conv)
		}
	}
	text := all.String()
	for _, p := range played {
		for _, secret := range []string{p.Contact, p.Email, p.ID, strings.TrimPrefix(p.Contact, "+1")} {
			if secret != "" && strings.Contains(text, secret) {
				t.Fatalf("the events hold %q (conversation %s)", secret, p.Plan)
			}
		}
	}
	for _, s := range []string{"555-867-5309", "@example", "+1555"} {
		if strings.Contains(text, s) {
			t.Errorf("the events hold %q", s)
		}
	}
	// The cases do keep them (staff need them), so the check above is
	// not vacuous.
	list, err := env.Cases.List(t.Context(), cases.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	withPhone := 0
	for _, c := range list {
		if c.Contact.Phone != "" {
			withPhone++
		}
	}
	if withPhone == 0 {
		t.Error("no case has a phone number: the generator does not exercise contact details")
	}
}

// TestSinkNeverBlocks: with the database locked, recording stays instant;
// what does not fit the queue is dropped and counted, the rest written
// once the lock goes.
func TestSinkNeverBlocks(t *testing.T) {
	env := insightstest.New(t, "", insightstest.Epoch, nil)
	sink := env.Insights.NewSink(insights.SinkConfig{Queue: 50, Batch: 10, Every: 10 * time.Millisecond, Timeout: 30 * time.Second})
	defer sink.Close()
	conn, err := env.DB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const n = 2000
	for i := range n {
		sink.Record(t.Context(), dialog.Event{Type: dialog.EventStarted, Conversation: "web:x" + string(rune('a'+i%26)),
			Channel: "web", Time: insightstest.Epoch})
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("recording %d events with the database locked took %v", n, d)
	}
	dropped := sink.Dropped()
	if dropped < n-100 || dropped == n {
		t.Errorf("dropped %d of %d with a queue of 50", dropped, n)
	}
	if _, err := conn.ExecContext(t.Context(), "COMMIT"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := sink.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var rows int64
	env.DB.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&rows)
	if rows != n-dropped || sink.Written() != rows || sink.Failed() != 0 {
		t.Errorf("%d rows, %d written, %d failed; want %d", rows, sink.Written(), sink.Failed(), n-dropped)
	}
}

// TestSinkCloseWrites: Close writes what is queued; later events are
// dropped, not written and not blocking.
func TestSinkCloseWrites(t *testing.T) {
	env := insightstest.New(t, "", insightstest.Epoch, nil)
	sink := env.Insights.NewSink(insights.SinkConfig{Every: time.Hour})
	for range 7 {
		sink.Record(t.Context(), dialog.Event{Type: dialog.EventFallback, Text: "call 416-555-0199 or me@example.com at 12 King St",
			Conversation: "sms:+14165550199", Channel: "sms", Time: insightstest.Epoch})
	}
	sink.Close()
	sink.Close()
	sink.Record(t.Context(), dialog.Event{Type: dialog.EventStarted})
	rows := readEvents(t, env.DB)
	if len(rows) != 7 || sink.Dropped() != 1 {
		t.Fatalf("%d rows after Close, %d dropped", len(rows), sink.Dropped())
	}
	if r := rows[0]; strings.Contains(r.text, "555") || strings.Contains(r.text, "@") || strings.Contains(r.text, "12 King") ||
		strings.Contains(r.conv, "416") || r.day != "2026-11-17" {
		t.Errorf("row keeps what it should not: %+v", r)
	}
}

// TestConversationKeyChangesByDay: a phone number is counted, never
// followed: the same conversation id hashes differently on another day.
func TestConversationKeyChangesByDay(t *testing.T) {
	env := insightstest.New(t, "", insightstest.Epoch, nil)
	ev := dialog.Event{Type: dialog.EventStarted, Conversation: "sms:+14165550199", Channel: "sms"}
	var evs []dialog.Event
	for _, d := range []time.Duration{time.Hour, 2 * time.Hour, 25 * time.Hour} {
		ev.Time = insightstest.Epoch.Add(d)
		evs = append(evs, ev)
	}
	if err := env.Insights.Insert(t.Context(), evs...); err != nil {
		t.Fatal(err)
	}
	rows := readEvents(t, env.DB)
	if rows[0].conv != rows[1].conv || rows[1].conv == rows[2].conv {
		t.Errorf("keys: %s %s %s", rows[0].conv, rows[1].conv, rows[2].conv)
	}
	// Another database has another key.
	other := insightstest.New(t, "", insightstest.Epoch, nil)
	other.Insights.Insert(t.Context(), evs[0])
	if readEvents(t, other.DB)[0].conv == rows[0].conv {
		t.Error("two databases hash alike: the key is not per database")
	}
}

// TestRetention: Purge empties the words of old events and the contact
// details of old closed cases, keeps open and recent ones, and every
// count stays.
func TestRetention(t *testing.T) {
	t0 := insightstest.Epoch.Add(10 * time.Hour)
	env := insightstest.New(t, "", t0, nil)
	ctx := t.Context()
	mk := func(desc string) *cases.Case {
		c := &cases.Case{ServiceCode: "RD-01", ServiceName: "Pothole", Description: desc, Address: "12 King St W",
			Channel: "sms", Conversation: "sms:+14165550100", MediaURLs: []string{"https://example.city/p.jpg"},
			Contact: cases.Contact{Phone: "+14165550100", Email: "old@example.org", FirstName: "Ada", Notify: true}}
		if err := env.Cases.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	closed := cases.StatusClosed
	oldClosed, oldOpen := mk("hole, call 416 555 0100"), mk("still open")
	if _, err := env.Cases.Update(ctx, oldClosed.Ref, cases.Change{Status: &closed}); err != nil {
		t.Fatal(err)
	}
	env.Insights.Insert(ctx,
		dialog.Event{Type: dialog.EventStarted, Conversation: "web:a", Channel: "web", Time: t0},
		dialog.Event{Type: dialog.EventFallback, Conversation: "web:a", Channel: "web", Text: "weather tomorrow", Time: t0},
		dialog.Event{Type: dialog.EventHandoff, Conversation: "web:a", Channel: "web", Text: "asked", Time: t0.Add(time.Minute)})

	later := t0.Add(400 * insights.Day)
	env.Clock.Set(later)
	recent := mk("recent, closed")
	if _, err := env.Cases.Update(ctx, recent.Ref, cases.Change{Status: &closed}); err != nil {
		t.Fatal(err)
	}
	env.Insights.Insert(ctx,
		dialog.Event{Type: dialog.EventStarted, Conversation: "web:b", Channel: "web", Time: later},
		dialog.Event{Type: dialog.EventFallback, Conversation: "web:b", Channel: "web", Text: "lottery results", Time: later})

	before, err := env.Insights.Report(ctx, t0.Add(-time.Hour), later.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.Insights.Purge(ctx, later.Add(-insights.DefaultRetention))
	if err != nil {
		t.Fatal(err)
	}
	if p.Events != 1 || p.Cases != 1 {
		t.Errorf("purged %+v, want 1 event (the old fallback's words) and 1 case", p)
	}
	got, _ := env.Cases.Get(ctx, oldClosed.Ref)
	if !got.Contact.IsZero() || got.Contact.Notify || got.Description != "" || got.Conversation != "" || len(got.MediaURLs) > 0 {
		t.Errorf("old closed case keeps personal information: %+v", got)
	}
	if got.ServiceCode != "RD-01" || got.Status != cases.StatusClosed || got.Address == "" || got.Requested.IsZero() {
		t.Errorf("old closed case lost what counts: %+v", got)
	}
	for _, c := range []*cases.Case{oldOpen, recent} {
		g, _ := env.Cases.Get(ctx, c.Ref)
		if g.Contact.Phone == "" || g.Description == "" || g.Conversation == "" {
			t.Errorf("case %s (%s) was purged", g.Ref, g.Status)
		}
	}
	after, err := env.Insights.Report(ctx, t0.Add(-time.Hour), later.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if after.Conversations != before.Conversations || after.Containment != before.Containment ||
		after.Fallbacks != before.Fallbacks || after.Handoffs.Total != before.Handoffs.Total ||
		after.Cases.Open != before.Cases.Open || after.Cases.Closed != before.Cases.Closed {
		t.Errorf("counts changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if len(after.Gaps) != 1 || after.Gaps[0].Title != "Lottery results" {
		t.Errorf("gaps after the purge: %+v (the old words should be gone, the recent kept)", after.Gaps)
	}
	if p, err := env.Insights.Purge(ctx, later.Add(-insights.DefaultRetention)); err != nil || p.Events+p.Cases != 0 {
		t.Errorf("a second purge: %+v, %v", p, err)
	}
}

// TestPopular: the pack's list until there is data; then the topics used
// at least three times in the last 30 days, most used first, the pack's
// list after them, titles in the resident's language.
func TestPopular(t *testing.T) {
	env := insightstest.New(t, "", insightstest.Epoch, nil)
	pop := insights.NewPopular(env.Insights, env.Pack, insights.PopularConfig{})
	ctx := t.Context()
	ids := func(ts []knowledge.Topic) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Kind+":"+t.ID)
		}
		return out
	}
	cold := ids(pop.Topics(ctx, "en", 4))
	var want []string
	for _, tp := range env.Pack.PopularTopics("en")[:4] {
		want = append(want, tp.Kind+":"+tp.ID)
	}
	if !slices.Equal(cold, want) {
		t.Errorf("cold start: %v, want the pack's %v", cold, want)
	}
	var evs []dialog.Event
	use := func(kind dialog.Kind, id string, n int, at time.Time) {
		for range n {
			evs = append(evs, dialog.Event{Type: dialog.EventDecision, Kind: kind, Target: id, Channel: "web", Conversation: "web:p", Time: at})
		}
	}
	now := insightstest.Epoch
	use(dialog.KindAnswer, "libraries", 6, now.Add(-time.Hour))
	use(dialog.KindService, "GL-04", 4, now.Add(-2*insights.Day))
	use(dialog.KindAnswer, "pools", 2, now.Add(-time.Hour))                 // too few
	use(dialog.KindAnswer, "dog-parks", 9, now.Add(-40*insights.Day))       // too long ago
	use(dialog.KindAnswer, "garbage-schedule", 3, now.Add(-3*insights.Day)) // also the pack's first
	if err := env.Insights.Insert(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	if err := pop.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := ids(pop.Topics(ctx, "en", 5))
	want = []string{"answer:libraries", "service:GL-04", "answer:garbage-schedule", want[1], want[2]}
	if !slices.Equal(got, want) {
		t.Errorf("popular: %v, want %v", got, want)
	}
	fr := pop.Topics(ctx, "fr", 1)
	if a, _ := env.Pack.Article("libraries", "fr"); len(fr) != 1 || fr[0].Title != a.Title {
		t.Errorf("French topics: %+v", fr)
	}
}

// TestGroupGaps: the grouping rule on its own.
func TestGroupGaps(t *testing.T) {
	in := func(texts ...string) []insights.GapInput {
		var out []insights.GapInput
		for _, s := range texts {
			out = append(out, insights.GapInput{Text: s, Lang: "en"})
		}
		return out
	}
	gaps := insights.GroupGaps(in(
		"Are the farmers' markets open?", "farmers market hours", "where is the farmers market",
		"e-scooter rental", "can I rent an e-scooter", "rent a scooter downtown",
		"farmers market hours", "What's the weather?", "!!!", "",
	), 10)
	if len(gaps) != 3 {
		t.Fatalf("want 3 themes, got %d: %+v", len(gaps), gaps)
	}
	if g := gaps[0]; g.Count != 4 || g.Title != "Farmers market hours" || g.Examples[0].N != 2 ||
		!slices.Equal(g.Keywords[:2], []string{"farmer", "market"}) || g.Slug() != "farmer-market" {
		t.Errorf("first theme: %+v (slug %s)", g, g.Slug())
	}
	if g := gaps[1]; g.Count != 3 || g.Keywords[0] != "scooter" {
		t.Errorf("second theme: %+v", g)
	}
	if w := insights.Words("Où est le marché fermier? Les marchés!"); !slices.Equal(w, []string{"fermier", "marche"}) {
		t.Errorf("French words: %v", w)
	}
}

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * insights.Day, "30": 30 * insights.Day, "2w": 14 * insights.Day,
		"36h": 36 * time.Hour, " 365D ": 365 * insights.Day} {
		if got, err := insights.ParsePeriod(in); err != nil || got != want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-3d", "soon", "7x"} {
		if _, err := insights.ParsePeriod(in); err == nil {
			t.Errorf("ParsePeriod(%q) accepted", in)
		}
	}
}
