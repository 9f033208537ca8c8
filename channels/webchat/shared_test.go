package webchat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeKV is a hand-written KV: values in a map, expiring on the test's
// clock; down makes every call fail as an unreachable store would.
type fakeKV struct {
	mu   sync.Mutex
	now  func() time.Time
	m    map[string]kvEntry
	down bool
}

type kvEntry struct {
	val     []byte
	expires time.Time
}

var errKVDown = errors.New("connection refused")

func newFakeKV(now func() time.Time) *fakeKV { return &fakeKV{now: now, m: map[string]kvEntry{}} }

func (f *fakeKV) live(key string) (kvEntry, bool) {
	e, ok := f.m[key]
	if ok && !f.now().Before(e.expires) {
		delete(f.m, key)
		ok = false
	}
	return e, ok
}

func (f *fakeKV) Add(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, errKVDown
	}
	if _, ok := f.live(key); ok {
		return false, nil
	}
	f.m[key] = kvEntry{val: append([]byte(nil), value...), expires: f.now().Add(ttl)}
	return true, nil
}

func (f *fakeKV) Get(_ context.Context, key string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, false, errKVDown
	}
	e, ok := f.live(key)
	return append([]byte(nil), e.val...), ok, nil
}

func (f *fakeKV) Update(_ context.Context, key string, ttl time.Duration, fn func([]byte) ([]byte, error)) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, errKVDown
	}
	e, ok := f.live(key)
	if !ok {
		return false, nil
	}
	v, err := fn(append([]byte(nil), e.val...))
	if err != nil {
		return true, err
	}
	f.m[key] = kvEntry{val: v, expires: f.now().Add(ttl)}
	return true, nil
}

func TestSharedStore(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	kv := newFakeKV(clk.Now)
	s := NewSharedStore(kv, 30*time.Minute, clk.Now, MemoryLimits{Entries: 5, Bytes: 2000, Photos: 2})
	if err := s.Create(ctx, &Conversation{ID: "c0", TokenHash: hashToken("t"), Created: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, &Conversation{ID: "c0"}); err == nil {
		t.Error("a second conversation with the same id was created")
	}
	// The transcript keeps the newest entries, within count and size.
	for i := range 8 {
		out, err := s.Append(ctx, "c0", Entry{From: FromResident, Text: fmt.Sprint("message ", i+1)})
		if err != nil || len(out) != 1 || out[0].Seq != int64(i+1) {
			t.Fatalf("append %d: %+v, %v", i, out, err)
		}
	}
	c, err := s.Get(ctx, "c0")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Entries) != 5 || c.Entries[0].Text != "message 4" || c.Entries[4].Seq != 8 || c.Seq != 8 ||
		!tokenMatches("t", c.TokenHash) {
		t.Errorf("entries %+v, seq %d", c.Entries, c.Seq)
	}
	if _, err := s.Append(ctx, "c0", Entry{From: FromAssistant, Text: strings.Repeat("x", 1950)}); err != nil {
		t.Fatal(err)
	}
	if c, _ = s.Get(ctx, "c0"); len(c.Entries) != 1 || c.Entries[0].Seq != 9 {
		t.Errorf("after a large entry, %d entries; the newest must stay", len(c.Entries))
	}
	// Photos, within the limit.
	for range 2 {
		if err := s.AddPhoto(ctx, "c0", "p.jpg"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddPhoto(ctx, "c0", "p.jpg"); !errors.Is(err, ErrLimit) {
		t.Errorf("a photo over the limit: %v, want ErrLimit", err)
	}
	// Activity renews the time to live; idleness ends it.
	clk.Advance(20 * time.Minute)
	if err := s.Touch(ctx, "c0"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(20 * time.Minute)
	if c, err = s.Get(ctx, "c0"); err != nil || !c.Updated.Equal(clk.Now().Add(-20*time.Minute)) {
		t.Errorf("touched 20 minutes ago: %v, %v", c, err)
	}
	clk.Advance(11 * time.Minute)
	for name, err := range map[string]error{
		"get":    func() error { _, err := s.Get(ctx, "c0"); return err }(),
		"append": func() error { _, err := s.Append(ctx, "c0", Entry{}); return err }(),
		"touch":  s.Touch(ctx, "c0"),
		"photo":  s.AddPhoto(ctx, "c0", "p.jpg"),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of an expired conversation: %v, want ErrNotFound", name, err)
		}
	}
	kv.down = true
	if _, err := s.Get(ctx, "c0"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("get with the store down: %v, want ErrUnavailable", err)
	}
}

// fakeBus is a hand-written Bus in memory.
type fakeBus struct {
	mu   sync.Mutex
	subs map[string]map[chan []byte]bool
}

func (b *fakeBus) Publish(_ context.Context, topic string, msg []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[topic] {
		select {
		case ch <- msg:
		default:
			delete(b.subs[topic], ch)
			close(ch)
		}
	}
	return nil
}

func (b *fakeBus) Subscribe(_ context.Context, topic string) (<-chan []byte, func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[string]map[chan []byte]bool{}
	}
	if b.subs[topic] == nil {
		b.subs[topic] = map[chan []byte]bool{}
	}
	ch := make(chan []byte, 64)
	b.subs[topic][ch] = true
	return ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.subs[topic][ch] {
			delete(b.subs[topic], ch)
			close(ch)
		}
	}, nil
}

// TestBusBroker: two brokers (two replicas) on one bus: an entry
// published on one reaches streams on the other.
func TestBusBroker(t *testing.T) {
	ctx := context.Background()
	bus := &fakeBus{}
	a, b := NewBusBroker(bus, 2), NewBusBroker(bus, 2)
	sub, cancel, err := b.Subscribe(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, "c1", Entry{Seq: 7, From: FromStaff, Text: "on our way"}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-sub:
		if e.Seq != 7 || e.Text != "on our way" {
			t.Errorf("got %+v", e)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("nothing arrived")
	}
	// Streams per conversation are limited at each replica.
	_, cancel2, err := b.Subscribe(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Subscribe(ctx, "c1"); !errors.Is(err, ErrLimit) {
		t.Errorf("a third stream: %v, want ErrLimit", err)
	}
	cancel2()
	cancel()
	if _, ok := <-sub; ok {
		t.Error("a cancelled stream is still open")
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, c, err := b.Subscribe(ctx, "c1")
		if err == nil {
			c()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("streams are not given back: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A stream that does not read is ended, not left behind.
	slow, cancelSlow, err := a.Subscribe(ctx, "c2")
	if err != nil {
		t.Fatal(err)
	}
	defer cancelSlow()
	for i := range 100 {
		b.Publish(ctx, "c2", Entry{Seq: int64(i)})
	}
	n := 0
	for range slow {
		n++
	}
	if n > 100 {
		t.Errorf("%d entries on a stream that fell behind", n)
	}
}

// countLimiter allows the first n requests of each key.
type countLimiter struct {
	mu   sync.Mutex
	n    int
	seen map[string]int
	err  error
}

func (l *countLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return false, 0, l.err
	}
	if l.seen == nil {
		l.seen = map[string]int{}
	}
	l.seen[key]++
	return l.seen[key] <= l.n, 30 * time.Second, nil
}

// TestMessageLimit: past the conversation's limit a message gets a
// polite reply from the catalogue (429, Retry-After), and the engine is
// not called; a limiter that cannot be reached lets messages through.
func TestMessageLimit(t *testing.T) {
	eng := &fakeEngine{}
	lim := &countLimiter{n: 2}
	hs := newHarness(t, eng, func(c *Config) { c.MessageLimiter = lim })
	id, token := hs.start()
	for range 2 {
		decode(t, hs.send(id, token, `{"text":"hi"}`), http.StatusOK, nil)
	}
	res := hs.send(id, token, `{"text":"hi again"}`)
	var turn Turn
	decode(t, res, http.StatusTooManyRequests, &turn)
	if want := hs.h.say("en", "rate_limited"); turn.Reply != want || res.Header.Get("Retry-After") != "30" {
		t.Errorf("over the limit: %q (Retry-After %q); want %q", turn.Reply, res.Header.Get("Retry-After"), want)
	}
	if eng.calls() != 2 {
		t.Errorf("the engine ran %d turns, want 2", eng.calls())
	}
	lim.err = errors.New("unreachable")
	decode(t, hs.send(id, token, `{"text":"hi"}`), http.StatusOK, nil)
}

// TestCreateLimiter: a configured limiter replaces the built-in one.
func TestCreateLimiter(t *testing.T) {
	hs := newHarness(t, nil, func(c *Config) { c.CreateLimiter = &countLimiter{n: 1} })
	hs.start()
	res := hs.request("POST", "/api/v1/conversations", nil)
	if code := errorCode(t, res, http.StatusTooManyRequests); code != "too_many_conversations" {
		t.Errorf("second conversation: %s", code)
	}
}

// TestStoreDown: when the conversation store cannot be reached, a
// message is answered with the engine's "we're having trouble" reply (as
// a 503 the widget shows in the chat), never an error page.
func TestStoreDown(t *testing.T) {
	clk := newClock()
	kv := newFakeKV(clk.Now)
	eng := &fakeEngine{}
	hs := newHarness(t, eng, func(c *Config) { c.Store = NewSharedStore(kv, 0, clk.Now, MemoryLimits{}) })
	id, token := hs.start()
	kv.mu.Lock()
	kv.down = true
	kv.mu.Unlock()
	var turn Turn
	decode(t, hs.send(id, token, `{"text":"hello"}`), http.StatusServiceUnavailable, &turn)
	if turn.Reply != eng.Trouble("en").Text() {
		t.Errorf("with the store down: %q", turn.Reply)
	}
	if eng.calls() != 0 {
		t.Error("the engine ran a turn for a conversation that could not be read")
	}
}
