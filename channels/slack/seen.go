package slack

import (
	"context"
	"sync"
	"time"
)

// SeenKeys remembers keys (Slack event ids) for a while, so that an event
// Slack delivers again (a retry, X-Slack-Retry-Num) is acted on once.
// MemorySeen keeps them in this process; the Redis one (dialog/redis
// Dedup) makes the de-duplication hold across replicas.
type SeenKeys interface {
	// First remembers key and reports whether this is the first time it
	// is seen within the time to live. Of several callers with one key,
	// exactly one gets true.
	First(ctx context.Context, key string) (bool, error)
	// Forget drops key, so that a retry of an event that could not be
	// handled is handled.
	Forget(ctx context.Context, key string) error
}

// SeenFor is how long an event id is remembered: Slack retries for much
// less than this.
const SeenFor = 24 * time.Hour

// MemorySeen is SeenKeys in memory, for one process.
type MemorySeen struct {
	mu   sync.Mutex
	m    map[string]time.Time // key -> expiry
	ttl  time.Duration
	now  func() time.Time
	tick int
}

var _ SeenKeys = (*MemorySeen)(nil)

// NewMemorySeen keeps keys for ttl (SeenFor when zero); now is the clock
// (time.Now when nil).
func NewMemorySeen(ttl time.Duration, now func() time.Time) *MemorySeen {
	if ttl <= 0 {
		ttl = SeenFor
	}
	if now == nil {
		now = time.Now
	}
	return &MemorySeen{m: map[string]time.Time{}, ttl: ttl, now: now}
}

// First implements SeenKeys. Expired keys are swept as others are added.
func (s *MemorySeen) First(_ context.Context, key string) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.m[key]; ok && now.Before(exp) {
		return false, nil
	}
	s.m[key] = now.Add(s.ttl)
	s.tick++
	if s.tick%1024 == 0 {
		for k, exp := range s.m {
			if !now.Before(exp) {
				delete(s.m, k)
			}
		}
	}
	return true, nil
}

// Forget implements SeenKeys.
func (s *MemorySeen) Forget(_ context.Context, key string) error {
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
	return nil
}
