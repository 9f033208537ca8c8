package webchat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cityline/cityline/dialog"
)

// When a city runs several replicas, any of them must serve any
// conversation: the conversation record and the event streams live in a
// store all replicas share. This file builds the web chat's Store and
// Broker on two small interfaces such a store provides (dialog/redis's
// Records and Bus implement them); the in-memory Store and Broker remain
// the defaults for one replica.

// KV keeps values under keys with a time to live, changed atomically.
type KV interface {
	// Add stores value under key for ttl unless the key holds a value
	// already; ok is false when it does.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) (ok bool, err error)
	// Get returns the value under key; ok is false when there is none.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Update replaces the value under key with what f makes of it, and
	// keeps it for ttl from now, atomically with respect to other updates
	// (f may run more than once). ok is false, and f is not called, when
	// there is no value. An error from f is returned as it is, and
	// nothing is written.
	Update(ctx context.Context, key string, ttl time.Duration, f func(old []byte) ([]byte, error)) (ok bool, err error)
}

// SharedStore is a Store on a KV that several replicas share: each
// conversation is one JSON value (its transcript bounded as in the
// memory store) that expires after the time to live unless a turn or a
// keep-alive renews it.
type SharedStore struct {
	kv    KV
	ttl   time.Duration
	now   func() time.Time
	limit MemoryLimits
}

var _ Store = (*SharedStore)(nil)

// NewSharedStore returns a Store on kv forgetting a conversation idle for
// ttl (30 minutes when zero). limits bound each conversation's
// transcript and photos (limits.Conversations is not used: the time to
// live bounds the number of conversations).
func NewSharedStore(kv KV, ttl time.Duration, now func() time.Time, limits MemoryLimits) *SharedStore {
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	limits.defaults()
	return &SharedStore{kv: kv, ttl: ttl, now: now, limit: limits}
}

func unreachable(op string, err error) error {
	return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
}

func notFound(id string) error {
	return fmt.Errorf("conversation %s: %w", dialog.RedactID(id), ErrNotFound)
}

// Create implements Store.
func (s *SharedStore) Create(ctx context.Context, c *Conversation) error {
	rec := *c
	rec.Entries = nil
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	ok, err := s.kv.Add(ctx, c.ID, data, s.ttl)
	if err != nil {
		return unreachable("create conversation", err)
	}
	if !ok {
		return fmt.Errorf("create conversation %s: the id is taken", dialog.RedactID(c.ID))
	}
	return nil
}

// Get implements Store.
func (s *SharedStore) Get(ctx context.Context, id string) (*Conversation, error) {
	data, ok, err := s.kv.Get(ctx, id)
	if err != nil {
		return nil, unreachable("get conversation", err)
	}
	if !ok {
		return nil, notFound(id)
	}
	var c Conversation
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("get conversation: %w", err)
	}
	if c.Entries == nil {
		c.Entries = []Entry{}
	}
	return &c, nil
}

// update changes a conversation with f, atomically.
func (s *SharedStore) update(ctx context.Context, op, id string, f func(c *Conversation, now time.Time) error) error {
	ok, err := s.kv.Update(ctx, id, s.ttl, func(old []byte) ([]byte, error) {
		var c Conversation
		if err := json.Unmarshal(old, &c); err != nil {
			return nil, &changeError{err}
		}
		now := s.now()
		if err := f(&c, now); err != nil {
			return nil, err
		}
		c.Updated = now
		return json.Marshal(c)
	})
	var mine *changeError
	switch {
	case errors.As(err, &mine):
		return fmt.Errorf("%s: %w", op, mine.err)
	case err != nil:
		return unreachable(op, err)
	case !ok:
		return notFound(id)
	}
	return nil
}

// changeError carries an error of the change itself (a limit) through the
// KV, so it is not taken for the store being unreachable.
type changeError struct{ err error }

func (e *changeError) Error() string { return e.err.Error() }

// Append implements Store.
func (s *SharedStore) Append(ctx context.Context, id string, entries ...Entry) ([]Entry, error) {
	var out []Entry
	err := s.update(ctx, "append", id, func(c *Conversation, now time.Time) error {
		out = make([]Entry, len(entries))
		for i, e := range entries {
			c.Seq++
			e.Seq = c.Seq
			if e.Time.IsZero() {
				e.Time = now
			}
			c.Entries = append(c.Entries, e)
			out[i] = e
		}
		// Oldest first out, but never the newest entry itself.
		size := 0
		sizes := make([]int, len(c.Entries))
		for i, e := range c.Entries {
			b, err := json.Marshal(e)
			if err != nil {
				return &changeError{err}
			}
			sizes[i] = len(b)
			size += len(b)
		}
		drop := 0
		for len(c.Entries)-drop > 1 && (len(c.Entries)-drop > s.limit.Entries || size > s.limit.Bytes) {
			size -= sizes[drop]
			drop++
		}
		c.Entries = c.Entries[drop:]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Touch implements Store.
func (s *SharedStore) Touch(ctx context.Context, id string) error {
	return s.update(ctx, "touch", id, func(*Conversation, time.Time) error { return nil })
}

// AddPhoto implements Store.
func (s *SharedStore) AddPhoto(ctx context.Context, id, name string) error {
	return s.update(ctx, "add photo", id, func(c *Conversation, _ time.Time) error {
		if len(c.Photos) >= s.limit.Photos {
			return &changeError{ErrLimit}
		}
		c.Photos = append(c.Photos, name)
		return nil
	})
}

// Bus carries messages on topics between replicas: what one publishes,
// the subscribers on every replica receive. Delivery is at most once, and
// a subscription that cannot keep up, or whose connection failed, is
// ended rather than left silent.
type Bus interface {
	// Publish sends msg to the topic's current subscribers.
	Publish(ctx context.Context, topic string, msg []byte) error
	// Subscribe returns the topic's messages published after it returns,
	// until cancel is called or ctx ends; then the channel is closed. It
	// is also closed when the subscription cannot go on.
	Subscribe(ctx context.Context, topic string) (msgs <-chan []byte, cancel func(), err error)
}

// BusBroker is a Broker on a Bus, one topic per conversation, so an entry
// published on one replica reaches the event streams open on any other.
type BusBroker struct {
	bus    Bus
	perKey int
	buffer int
	mu     sync.Mutex
	open   map[string]int
}

var _ Broker = (*BusBroker)(nil)

// NewBusBroker returns a Broker on bus allowing perConversation open
// streams (4 when zero) on one conversation at each replica.
func NewBusBroker(bus Bus, perConversation int) *BusBroker {
	if perConversation <= 0 {
		perConversation = 4
	}
	return &BusBroker{bus: bus, perKey: perConversation, buffer: 16, open: map[string]int{}}
}

// Publish implements Broker.
func (b *BusBroker) Publish(ctx context.Context, conversation string, e Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if err := b.bus.Publish(ctx, conversation, data); err != nil {
		return unreachable("publish", err)
	}
	return nil
}

// Subscribe implements Broker.
func (b *BusBroker) Subscribe(ctx context.Context, conversation string) (<-chan Entry, func(), error) {
	b.mu.Lock()
	if b.open[conversation] >= b.perKey {
		b.mu.Unlock()
		return nil, nil, fmt.Errorf("subscribe: %w", ErrLimit)
	}
	b.open[conversation]++
	b.mu.Unlock()
	release := sync.OnceFunc(func() {
		b.mu.Lock()
		if b.open[conversation]--; b.open[conversation] <= 0 {
			delete(b.open, conversation)
		}
		b.mu.Unlock()
	})
	msgs, stop, err := b.bus.Subscribe(ctx, conversation)
	if err != nil {
		release()
		return nil, nil, unreachable("subscribe", err)
	}
	out := make(chan Entry, b.buffer)
	go func() {
		defer close(out)
		defer release()
		defer stop()
		for data := range msgs {
			var e Entry
			if json.Unmarshal(data, &e) != nil {
				continue
			}
			select {
			case out <- e:
			default:
				return // too slow: the client catches up on reconnect
			}
		}
	}()
	return out, stop, nil
}
