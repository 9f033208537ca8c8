package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// hub shares one pub/sub connection among every subscriber of a Client:
// the web chat's event streams and the lock's wake-ups. Each channel is
// subscribed in Redis while at least one local subscriber wants it.
//
// Redis pub/sub delivers at most once: what is published while the
// connection is down is lost. So when the connection fails the hub ends
// every subscription (closes their channels) and starts afresh on the
// next Subscribe; a subscriber that must not miss anything catches up
// from its own record then (the web chat from the transcript, a lock
// waiter by asking again).
type hub struct {
	rdb    goredis.UniversalClient
	buffer int

	// cmd orders SUBSCRIBE and UNSUBSCRIBE commands, so an unsubscribe
	// decided on never overtakes a fresh subscribe to the same channel.
	cmd      sync.Mutex
	mu       sync.Mutex
	ps       *goredis.PubSub // nil until needed, and after a failure
	topics   map[string]*topic
	inflight map[string]int // SUBSCRIBE commands sent and not yet confirmed
	closed   bool
}

type topic struct {
	subs  map[*sub]struct{}
	ready chan struct{} // closed once Redis confirmed every SUBSCRIBE sent for it
	conf  bool
}

type sub struct {
	ch   chan []byte
	done chan struct{}
	once sync.Once
}

func (s *sub) end() { s.once.Do(func() { close(s.ch); close(s.done) }) }

func (c *Client) getHub() *hub {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hub == nil {
		c.hub = &hub{rdb: c.rdb, buffer: 16, topics: map[string]*topic{}, inflight: map[string]int{}}
	}
	return c.hub
}

// errHubClosed: the Client was closed.
var errHubClosed = errors.New("closed")

// subscribe returns the messages published on channel from now on. With
// confirm it returns only once Redis has confirmed the subscription, so
// nothing published after it returns is missed; without, it returns at
// once (for wake-ups that are also polled for). The channel is closed by
// cancel, when the subscriber falls behind by the hub's buffer, and when
// the connection fails.
func (h *hub) subscribe(ctx context.Context, channel string, confirm bool) (<-chan []byte, func(), error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, errHubClosed
	}
	if h.ps == nil {
		h.ps = h.rdb.Subscribe(context.WithoutCancel(ctx))
		go h.receive(h.ps)
	}
	ps := h.ps
	t := h.topics[channel]
	fresh := t == nil
	if fresh {
		t = &topic{subs: map[*sub]struct{}{}, ready: make(chan struct{})}
		h.topics[channel] = t
	}
	s := &sub{ch: make(chan []byte, h.buffer), done: make(chan struct{})}
	t.subs[s] = struct{}{}
	h.mu.Unlock()

	cancel := func() { h.drop(channel, s) }
	if fresh {
		h.cmd.Lock()
		h.mu.Lock()
		h.inflight[channel]++
		h.mu.Unlock()
		err := ps.Subscribe(ctx, channel)
		h.cmd.Unlock()
		if err != nil {
			h.mu.Lock()
			if h.inflight[channel]--; h.inflight[channel] <= 0 {
				delete(h.inflight, channel)
			}
			h.mu.Unlock()
			cancel()
			return nil, nil, err
		}
	}
	if confirm {
		timer := time.NewTimer(5 * time.Second)
		defer timer.Stop()
		select {
		case <-t.ready:
		case <-s.done:
			return nil, nil, errors.New("subscription ended before it was confirmed")
		case <-ctx.Done():
			cancel()
			return nil, nil, ctx.Err()
		case <-timer.C:
			cancel()
			return nil, nil, errors.New("subscription not confirmed in time")
		}
	}
	return s.ch, cancel, nil
}

// drop removes a subscriber; the last one of a channel unsubscribes it.
func (h *hub) drop(channel string, s *sub) {
	h.mu.Lock()
	t := h.topics[channel]
	last := false
	if t != nil {
		if _, ok := t.subs[s]; ok {
			delete(t.subs, s)
			if len(t.subs) == 0 {
				delete(h.topics, channel)
				last = true
			}
		}
	}
	h.mu.Unlock()
	s.end()
	if !last {
		return
	}
	h.cmd.Lock()
	defer h.cmd.Unlock()
	h.mu.Lock()
	ps, again := h.ps, h.topics[channel] != nil
	h.mu.Unlock()
	if ps != nil && !again {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ps.Unsubscribe(ctx, channel) // a failure shows in the receive loop
	}
}

// receive reads one connection's messages until it fails or is closed.
func (h *hub) receive(ps *goredis.PubSub) {
	ctx := context.Background()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, 15*time.Second)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				// Quiet for a while: make sure the connection still works.
				pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err = ps.Ping(pctx)
				cancel()
				if err == nil {
					pinged = true
					continue
				}
			}
			h.fail(ps)
			return
		}
		pinged = false
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				h.mu.Lock()
				if h.inflight[m.Channel]--; h.inflight[m.Channel] <= 0 {
					delete(h.inflight, m.Channel)
					if t := h.topics[m.Channel]; t != nil && !t.conf {
						t.conf = true
						close(t.ready)
					}
				}
				h.mu.Unlock()
			}
		case *goredis.Message:
			h.deliver(m.Channel, []byte(m.Payload))
		}
	}
}

// deliver passes a message on; a subscriber whose buffer is full is
// dropped (it catches up from its own record).
func (h *hub) deliver(channel string, payload []byte) {
	var slow []*sub
	h.mu.Lock()
	if t := h.topics[channel]; t != nil {
		for s := range t.subs {
			select {
			case s.ch <- payload:
			default:
				slow = append(slow, s)
			}
		}
	}
	h.mu.Unlock()
	for _, s := range slow {
		h.drop(channel, s)
	}
}

// fail forgets a broken connection and ends every subscription on it.
func (h *hub) fail(ps *goredis.PubSub) {
	h.mu.Lock()
	var ended []*sub
	if h.ps == ps {
		h.ps = nil
		for _, t := range h.topics {
			for s := range t.subs {
				ended = append(ended, s)
			}
		}
		clear(h.topics)
		clear(h.inflight)
	}
	h.mu.Unlock()
	ps.Close()
	for _, s := range ended {
		s.end()
	}
}

func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	ps := h.ps
	h.mu.Unlock()
	if ps != nil {
		h.fail(ps)
	}
}

// Bus carries messages between replicas on Redis pub/sub, one channel per
// topic: the web chat's broker runs on it (webchat.Bus). Delivery is at
// most once; a subscriber is ended, never silently left behind, when its
// connection fails or it falls behind.
type Bus struct {
	c *Client
}

// Bus returns the client's Bus.
func (c *Client) Bus() *Bus { return &Bus{c: c} }

func (b *Bus) channel(topic string) string { return b.c.prefix + "bus:" + topic }

// Publish sends msg to the topic's subscribers on every replica.
func (b *Bus) Publish(ctx context.Context, topic string, msg []byte) error {
	if err := b.c.rdb.Publish(ctx, b.channel(topic), msg).Err(); err != nil {
		return unavailable("publish", err)
	}
	return nil
}

// Subscribe returns the topic's messages published from the moment it
// returns, until cancel is called or ctx ends; then the channel is
// closed. It is closed as well when the subscriber falls 16 messages
// behind or the connection to Redis fails: the subscriber catches up from
// its own record.
func (b *Bus) Subscribe(ctx context.Context, topic string) (<-chan []byte, func(), error) {
	ch, cancel, err := b.c.getHub().subscribe(ctx, b.channel(topic), true)
	if err != nil {
		return nil, nil, fmt.Errorf("subscribe: %w: %v", ErrUnavailable, err)
	}
	stop := context.AfterFunc(ctx, cancel)
	return ch, func() { stop(); cancel() }, nil
}
