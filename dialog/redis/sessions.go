package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cityline/cityline/dialog"
)

// Sessions is dialog.SessionStore on Redis: each session one string
// value, "<fence>|<JSON>", with a time to live that every save renews.
type Sessions struct {
	c      *Client
	ttl    time.Duration
	locker *Locker
}

var _ dialog.SessionStore = (*Sessions)(nil)

// Sessions returns the client's session store: a conversation idle
// longer than ttl (30 minutes when zero) is forgotten. With a locker, a
// save made while this process holds the conversation is fenced: it is
// refused (ErrConflict) when the lock has passed to another turn since.
func (c *Client) Sessions(ttl time.Duration, locker *Locker) *Sessions {
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	return &Sessions{c: c, ttl: ttl, locker: locker}
}

// Load implements dialog.SessionStore: dialog.ErrNoSession when the
// conversation is new or expired, ErrUnavailable when Redis cannot be
// reached.
func (s *Sessions) Load(ctx context.Context, id string) (*dialog.Session, error) {
	val, err := s.c.rdb.Get(ctx, s.c.SessionKey(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("load session %s: %w", dialog.RedactID(id), dialog.ErrNoSession)
	}
	if err != nil {
		return nil, unavailable("load session", err)
	}
	_, data, ok := bytes.Cut(val, []byte("|"))
	if !ok {
		return nil, fmt.Errorf("load session %s: malformed value", dialog.RedactID(id))
	}
	var out dialog.Session
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("load session %s: %w", dialog.RedactID(id), err)
	}
	return &out, nil
}

// saveScript writes a session, fenced. With a token (the writer holds the
// conversation's lock): refused (0) while another token owns the lock,
// and refused (-1) when the lease is gone and the stored session was
// written under a later ticket. Without a token the write keeps the
// stored fence.
//
// KEYS: session, lock owner. ARGV: JSON, ttl ms, token, fence.
var saveScript = script("save.lua")

// Save implements dialog.SessionStore: the whole session and its time to
// live in one atomic step. ErrConflict when the fencing check refuses it,
// ErrUnavailable when Redis cannot be reached.
func (s *Sessions) Save(ctx context.Context, sess *dialog.Session) error {
	data, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	token, fence := "", int64(0)
	if s.locker != nil {
		var lost, held bool
		token, fence, lost, held = s.locker.held(sess.ID)
		if held && lost {
			return fmt.Errorf("save session %s: %w: the lease ran out", dialog.RedactID(sess.ID), ErrConflict)
		}
	}
	keys := s.c.lockKeys(sess.ID)
	n, err := saveScript.Run(ctx, s.c.rdb, []string{s.c.SessionKey(sess.ID), keys.owner},
		data, s.ttl.Milliseconds(), token, strconv.FormatInt(fence, 10)).Int()
	switch {
	case err != nil:
		return unavailable("save session", err)
	case n == 0:
		return fmt.Errorf("save session %s: %w: another turn holds it", dialog.RedactID(sess.ID), ErrConflict)
	case n < 0:
		return fmt.Errorf("save session %s: %w: a later turn saved it", dialog.RedactID(sess.ID), ErrConflict)
	}
	return nil
}

// Delete implements dialog.SessionStore.
func (s *Sessions) Delete(ctx context.Context, id string) error {
	if err := s.c.rdb.Del(ctx, s.c.SessionKey(id)).Err(); err != nil {
		return unavailable("delete session", err)
	}
	return nil
}
