package dialog

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// Replays remembers the reply given to each inbound message that carries
// a platform id (Twilio's MessageSid, a call's CallSid and turn), so a
// retried webhook is answered the same and never processed twice. The
// engine consults it while holding the conversation's lock, so two copies
// of one message arriving together are handled one after the other.
type Replays interface {
	// Seen returns the stored reply for key; ok is false for a new key.
	Seen(ctx context.Context, key string) (r Reply, ok bool, err error)
	// Remember stores the reply for key for the store's time to live.
	Remember(ctx context.Context, key string, r Reply) error
}

// MemoryReplays keeps replies in memory for a time to live (24 hours by
// default), holding at most max entries (the oldest go first).
type MemoryReplays struct {
	mu    sync.Mutex
	m     map[string]replayEntry
	order []string
	ttl   time.Duration
	max   int
	now   func() time.Time
}

type replayEntry struct {
	data    []byte
	expires time.Time
}

// NewMemoryReplays returns an in-memory Replays.
func NewMemoryReplays(ttl time.Duration, max int, now func() time.Time) *MemoryReplays {
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	if max <= 0 {
		max = 200000
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryReplays{m: map[string]replayEntry{}, ttl: ttl, max: max, now: now}
}

// Seen implements Replays.
func (m *MemoryReplays) Seen(_ context.Context, key string) (Reply, bool, error) {
	m.mu.Lock()
	e, ok := m.m[key]
	m.mu.Unlock()
	if !ok || !m.now().Before(e.expires) {
		return Reply{}, false, nil
	}
	var r Reply
	if err := json.Unmarshal(e.data, &r); err != nil {
		return Reply{}, false, err
	}
	return r, true, nil
}

// Remember implements Replays.
func (m *MemoryReplays) Remember(_ context.Context, key string, r Reply) error {
	r.Decision = nil // not needed to answer a retry
	// Nor are articles' pages: the platforms that retry (SMS, WhatsApp,
	// voice) say an article's short text. Up to max replies are kept for a
	// day, so what each holds counts.
	if hasPage(r.Messages) {
		r.Messages = slices.Clone(r.Messages)
		for i, msg := range r.Messages {
			if msg.Article != nil && msg.Article.HTML != "" {
				a := *msg.Article
				a.HTML = ""
				r.Messages[i].Article = &a
			}
		}
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.m[key]; !ok {
		m.order = append(m.order, key)
	}
	m.m[key] = replayEntry{data: data, expires: m.now().Add(m.ttl)}
	for len(m.order) > m.max || len(m.order) > 0 && !m.now().Before(m.m[m.order[0]].expires) {
		delete(m.m, m.order[0])
		m.order = m.order[1:]
	}
	return nil
}

func hasPage(ms []Message) bool {
	for _, m := range ms {
		if m.Article != nil && m.Article.HTML != "" {
			return true
		}
	}
	return false
}
