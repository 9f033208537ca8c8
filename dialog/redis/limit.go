package redis

import (
	"context"
	"fmt"
	"time"
)

// Limiter is a rate limit shared by every replica: burst requests at
// once for a key (a resident's number, an address), then one every
// interval. It is the generic cell rate algorithm, one small key per
// client that expires once the client is back to a full burst. The
// channels' Limiter interfaces (sms, voice, webchat) are satisfied by it.
type Limiter struct {
	c        *Client
	name     string
	burst    int
	interval time.Duration
}

// Limiter returns a limit named name (limits of different names never
// meet) of burst requests, then one every interval.
func (c *Client) Limiter(name string, burst int, interval time.Duration) *Limiter {
	if burst < 1 {
		burst = 1
	}
	if interval <= 0 {
		interval = time.Second
	}
	return &Limiter{c: c, name: name, burst: burst, interval: interval}
}

// gcraScript: KEYS: the client's key. ARGV: interval ms, burst. It
// returns {allowed, ms to wait}. The key holds the theoretical arrival
// time of the next request.
var gcraScript = script("gcra.lua")

// Allow takes one request for key; when it is over the limit, ok is false
// and retryAfter says when the next one will pass. An error (Redis
// unreachable) says nothing about the limit: callers let the request
// through.
func (l *Limiter) Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	res, err := gcraScript.Run(ctx, l.c.rdb, []string{l.c.prefix + "rl:" + l.name + ":" + key},
		l.interval.Milliseconds(), l.burst).Int64Slice()
	if err != nil {
		return true, 0, unavailable("rate limit", err)
	}
	if len(res) != 2 {
		return true, 0, fmt.Errorf("rate limit: %w: answered %v", ErrUnavailable, res)
	}
	return res[0] == 1, time.Duration(res[1]) * time.Millisecond, nil
}
