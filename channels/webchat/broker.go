package webchat

import (
	"context"
	"fmt"
	"sync"
)

// Broker carries transcript entries that arrive outside a turn (a staff
// reply, a status update) to the event streams open on a conversation.
// The in-memory broker serves one process; a Redis one (PUBLISH and
// SUBSCRIBE on a channel per conversation) would carry them between
// replicas, since the stream may be open on another one.
type Broker interface {
	// Publish sends e to the conversation's subscribers, if any. It does
	// not wait for them to read it.
	Publish(ctx context.Context, conversation string, e Entry) error
	// Subscribe returns the conversation's entries from now on, until
	// cancel is called or ctx ends; then the channel is closed. The
	// channel is also closed when the subscriber falls too far behind: it
	// reconnects and catches up from the transcript. ErrLimit when the
	// conversation has as many streams open as it may.
	Subscribe(ctx context.Context, conversation string) (entries <-chan Entry, cancel func(), err error)
}

// MemoryBroker is the embedded Broker, for one process.
type MemoryBroker struct {
	mu     sync.Mutex
	subs   map[string]map[*memSub]struct{}
	perKey int
	buffer int
}

type memSub struct {
	ch   chan Entry
	once sync.Once
}

func (s *memSub) close() { s.once.Do(func() { close(s.ch) }) }

// NewMemoryBroker returns a broker allowing perConversation open streams
// on one conversation (4 when zero).
func NewMemoryBroker(perConversation int) *MemoryBroker {
	if perConversation <= 0 {
		perConversation = 4
	}
	return &MemoryBroker{subs: map[string]map[*memSub]struct{}{}, perKey: perConversation, buffer: 16}
}

var _ Broker = (*MemoryBroker)(nil)

// Publish implements Broker.
func (b *MemoryBroker) Publish(_ context.Context, conversation string, e Entry) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs[conversation] {
		select {
		case s.ch <- e:
		default:
			// Too slow: drop the stream; the client catches up on reconnect.
			delete(b.subs[conversation], s)
			s.close()
		}
	}
	return nil
}

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(ctx context.Context, conversation string) (<-chan Entry, func(), error) {
	b.mu.Lock()
	if len(b.subs[conversation]) >= b.perKey {
		b.mu.Unlock()
		return nil, nil, fmt.Errorf("subscribe: %w", ErrLimit)
	}
	s := &memSub{ch: make(chan Entry, b.buffer)}
	if b.subs[conversation] == nil {
		b.subs[conversation] = map[*memSub]struct{}{}
	}
	b.subs[conversation][s] = struct{}{}
	b.mu.Unlock()

	cancel := func() {
		b.mu.Lock()
		if set := b.subs[conversation]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(b.subs, conversation)
			}
		}
		b.mu.Unlock()
		s.close()
	}
	stop := context.AfterFunc(ctx, cancel)
	return s.ch, func() { stop(); cancel() }, nil
}

// Subscribers is how many streams are open on a conversation.
func (b *MemoryBroker) Subscribers(conversation string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs[conversation])
}
