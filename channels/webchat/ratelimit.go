package webchat

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limiter is a rate limit: whether one more request for key (an address,
// a conversation) may go ahead now. The embedded one is in memory; a
// shared one (dialog/redis's Limiter) applies across replicas.
type Limiter interface {
	// Allow takes one request for key. When it is over the limit, ok is
	// false and retryAfter says when the next one will pass. An error
	// says the limit could not be checked: the request goes ahead.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// limiter is a token bucket per client address: burst requests at once,
// then one every interval. It holds at most maxKeys addresses; full
// buckets are forgotten first, since forgetting them changes nothing.
type limiter struct {
	mu       sync.Mutex
	burst    float64
	interval time.Duration
	now      func() time.Time
	buckets  map[string]*bucket
	maxKeys  int
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(burst int, interval time.Duration, now func() time.Time) *limiter {
	return &limiter{burst: float64(burst), interval: interval, now: now,
		buckets: map[string]*bucket{}, maxKeys: 10000}
}

// Allow implements Limiter.
func (l *limiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	ok, wait := l.allow(key)
	return ok, wait, nil
}

// allow takes a token for key; when there is none it returns how long
// until there will be.
func (l *limiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.at))/float64(l.interval))
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.interval))
}

// sweep forgets buckets that have refilled; if none has, it forgets them
// all rather than grow without bound. The caller holds l.mu.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(l.interval) >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.maxKeys {
		clear(l.buckets)
	}
}

// remoteIP is the client's address as the connection shows it.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
