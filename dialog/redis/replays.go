package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cityline/cityline/dialog"
)

// Replays is dialog.Replays on Redis: the reply given to each platform
// message id (Twilio's MessageSid, a call's CallSid and turn), kept for a
// time to live. The engine consults it while holding the conversation, so
// a webhook retried to another replica is answered the same and not
// processed twice.
type Replays struct {
	c   *Client
	ttl time.Duration
}

var _ dialog.Replays = (*Replays)(nil)

// Replays returns the client's replay store, keeping replies for ttl (24
// hours when zero).
func (c *Client) Replays(ttl time.Duration) *Replays {
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	return &Replays{c: c, ttl: ttl}
}

func (r *Replays) key(id string) string { return r.c.prefix + "r:" + id }

// Seen implements dialog.Replays.
func (r *Replays) Seen(ctx context.Context, key string) (dialog.Reply, bool, error) {
	data, err := r.c.rdb.Get(ctx, r.key(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return dialog.Reply{}, false, nil
	}
	if err != nil {
		return dialog.Reply{}, false, unavailable("replay", err)
	}
	var out dialog.Reply
	if err := json.Unmarshal(data, &out); err != nil {
		return dialog.Reply{}, false, fmt.Errorf("replay: %w", err)
	}
	return out, true, nil
}

// Remember implements dialog.Replays.
func (r *Replays) Remember(ctx context.Context, key string, rep dialog.Reply) error {
	rep.Decision = nil // not needed to answer a retry
	data, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("remember reply: %w", err)
	}
	if err := r.c.rdb.Set(ctx, r.key(key), data, r.ttl).Err(); err != nil {
		return unavailable("remember reply", err)
	}
	return nil
}

// Dedup remembers keys for a while and says whether one was seen before:
// the de-duplication of platform events that carry an id and are retried
// (Slack's event_id), shared by every replica.
type Dedup struct {
	c    *Client
	name string
	ttl  time.Duration
}

// Dedup returns a set of keys named name (keys of different names never
// meet), each remembered for ttl (24 hours when zero).
func (c *Client) Dedup(name string, ttl time.Duration) *Dedup {
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	return &Dedup{c: c, name: name, ttl: ttl}
}

func (d *Dedup) key(k string) string { return d.c.prefix + "d:" + d.name + ":" + k }

// First remembers key and reports whether this is the first time it is
// seen within the time to live. Of several callers with one key, on any
// replicas, exactly one gets true.
func (d *Dedup) First(ctx context.Context, key string) (bool, error) {
	ok, err := d.c.rdb.SetNX(ctx, d.key(key), 1, d.ttl).Result()
	if err != nil {
		return false, unavailable("dedup", err)
	}
	return ok, nil
}

// Forget drops key, so that a retry of an event whose handling failed is
// handled again.
func (d *Dedup) Forget(ctx context.Context, key string) error {
	if err := d.c.rdb.Del(ctx, d.key(key)).Err(); err != nil {
		return unavailable("dedup", err)
	}
	return nil
}
