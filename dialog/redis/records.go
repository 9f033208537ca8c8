package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Records are values kept under keys with a time to live, updated
// atomically: the web chat's conversations (its token's hash, photos and
// recent transcript) are kept on them when several replicas serve the
// chat (webchat.KV), so a conversation started on one replica goes on at
// any other.
type Records struct {
	c    *Client
	name string
}

// Records returns the client's records named name (records of different
// names never meet).
func (c *Client) Records(name string) *Records { return &Records{c: c, name: name} }

func (r *Records) key(k string) string { return r.c.prefix + "kv:" + r.name + ":" + k }

// Add stores value under key for ttl unless the key holds a value
// already; ok is false when it does.
func (r *Records) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ok, err := r.c.rdb.SetNX(ctx, r.key(key), value, ttl).Result()
	if err != nil {
		return false, unavailable("add record", err)
	}
	return ok, nil
}

// Get returns the value under key; ok is false when there is none (or it
// expired).
func (r *Records) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := r.c.rdb.Get(ctx, r.key(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, unavailable("get record", err)
	}
	return v, true, nil
}

// Update replaces the value under key with what f makes of it and keeps
// it for ttl from now, atomically (optimistic: WATCH, then MULTI/EXEC; f
// runs again when another update came in between). ok is false, and f is
// not called, when the key holds nothing. An error from f is returned as
// it is and nothing is written.
func (r *Records) Update(ctx context.Context, key string, ttl time.Duration, f func(old []byte) ([]byte, error)) (bool, error) {
	k := r.key(key)
	found := false
	var ferr error
	txf := func(tx *goredis.Tx) error {
		old, err := tx.Get(ctx, k).Bytes()
		if errors.Is(err, goredis.Nil) {
			found = false
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		val, err := f(old)
		if err != nil {
			ferr = err
			return nil
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, k, val, ttl)
			return nil
		})
		return err
	}
	for range 100 {
		ferr = nil
		err := r.c.rdb.Watch(ctx, txf, k)
		if errors.Is(err, goredis.TxFailedErr) {
			continue
		}
		if ferr != nil {
			return found, ferr
		}
		if err != nil {
			return false, unavailable("update record", err)
		}
		return found, nil
	}
	return false, fmt.Errorf("update record: %w: too much contention", ErrUnavailable)
}
