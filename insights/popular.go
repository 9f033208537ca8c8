package insights

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/knowledge"
)

// Popular is dialog.Popular from the events: the articles and services
// residents asked for most over the last Window, then the pack's own list
// (its city.yaml "popular"), which is all there is before any data. The
// counts are read at most every Refresh, in the background: a quick start
// never waits for the database.
type Popular struct {
	st      *Store
	pack    *knowledge.Pack
	window  time.Duration
	minUses int
	every   time.Duration

	mu         sync.Mutex
	used       []usedTopic // most used first
	read       time.Time   // when used was read; zero: never
	refreshing bool
	gen        int // the latest refresh started; an older one's result is dropped
}

var _ dialog.Popular = (*Popular)(nil)

type usedTopic struct {
	kind, id string
	n        int
}

// PopularConfig tunes Popular; zero values have defaults.
type PopularConfig struct {
	// Window is how far back use is counted (30 days).
	Window time.Duration
	// MinUses is how often a topic must have been asked for to come
	// before the pack's list (3), so one stray question does not.
	MinUses int
	// Refresh is how often the counts are read again (10 minutes).
	Refresh time.Duration
}

// NewPopular returns the popular topics of st's events, with pack's list
// as the default.
func NewPopular(st *Store, pack *knowledge.Pack, cfg PopularConfig) *Popular {
	p := &Popular{st: st, pack: pack, window: cfg.Window, minUses: cfg.MinUses, every: cfg.Refresh}
	if p.window <= 0 {
		p.window = 30 * Day
	}
	if p.minUses <= 0 {
		p.minUses = 3
	}
	if p.every <= 0 {
		p.every = 10 * time.Minute
	}
	return p
}

// Topics implements dialog.Popular: up to n topics in lang.
func (p *Popular) Topics(_ context.Context, lang string, n int) []knowledge.Topic {
	p.mu.Lock()
	used := p.used
	if !p.refreshing && (p.read.IsZero() || p.st.now().Sub(p.read) >= p.every) {
		p.refreshing = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p.Refresh(ctx)
		}()
	}
	p.mu.Unlock()
	var out []knowledge.Topic
	seen := map[string]bool{}
	add := func(t knowledge.Topic) {
		if len(out) < n && !seen[t.Kind+":"+t.ID] {
			seen[t.Kind+":"+t.ID] = true
			out = append(out, t)
		}
	}
	for _, u := range used {
		if t, ok := p.resolve(u, lang); ok {
			add(t)
		}
	}
	for _, t := range p.pack.PopularTopics(lang) {
		add(t)
	}
	return out
}

func (p *Popular) resolve(u usedTopic, lang string) (knowledge.Topic, bool) {
	switch u.kind {
	case string(dialog.KindAnswer):
		if a, ok := p.pack.Article(u.id, lang); ok {
			return knowledge.Topic{Kind: u.kind, ID: u.id, Title: a.Title}, true
		}
	case string(dialog.KindService):
		if s, ok := p.pack.Service(u.id, lang); ok {
			return knowledge.Topic{Kind: u.kind, ID: u.id, Title: s.Name}, true
		}
	}
	return knowledge.Topic{}, false
}

// Refresh reads the counts now.
func (p *Popular) Refresh(ctx context.Context) error {
	p.mu.Lock()
	p.gen++
	gen := p.gen
	p.mu.Unlock()
	since := cases.FormatTime(p.st.now().Add(-p.window))
	var used []usedTopic
	err := p.st.rows(ctx, func(rows *sql.Rows) error {
		var u usedTopic
		if err := rows.Scan(&u.kind, &u.id, &u.n); err != nil {
			return err
		}
		used = append(used, u)
		return nil
	}, `SELECT kind, target, COUNT(*) FROM events WHERE type = 'decision' AND kind IN (?, ?) AND target <> ''
		AND at >= ? GROUP BY kind, target HAVING COUNT(*) >= ? ORDER BY COUNT(*) DESC, kind, target LIMIT 50`,
		string(dialog.KindAnswer), string(dialog.KindService), since, p.minUses)
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.gen {
		return nil // a later refresh has (or will have) newer counts
	}
	p.refreshing = false
	p.read = p.st.now()
	if err != nil {
		// Keep what was known; try again after the next interval.
		p.st.log.Warn("insights: popular topics not read", "err", err)
		return p.st.wrap("popular topics", err)
	}
	p.used = used
	return nil
}
