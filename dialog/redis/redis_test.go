package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/sessiontest"
)

// The tests use the Redis at CITYLINE_TEST_REDIS_URL, or 127.0.0.1:6379,
// each under a random key prefix of its own (so they run in parallel with
// each other and with other packages' tests), and delete their keys when
// they end. Without a Redis they skip.

const defaultTestURL = "redis://127.0.0.1:6379/0"

func testURL() string {
	if u := os.Getenv("CITYLINE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return defaultTestURL
}

// testPrefix is a fresh key prefix.
func testPrefix() string { return "citylinetest:" + strings.ToLower(rand.Text()[:10]) + ":" }

// connect returns a client on the test Redis under prefix, closed when
// tb ends; it skips tb when Redis does not answer.
func connect(tb testing.TB, prefix string) *Client {
	tb.Helper()
	c, err := Open(testURL(), Options{Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		c.Close()
		tb.Skipf("Redis is not reachable at %s: %v\n"+
			"Start one (for example: redis-server, or docker run -d -p 6379:6379 redis:7), "+
			"or point CITYLINE_TEST_REDIS_URL at one.", testURL(), err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// pair returns two clients sharing one fresh prefix, as two replicas
// would, and purges the prefix when tb ends.
func pair(tb testing.TB) (*Client, *Client) {
	tb.Helper()
	prefix := testPrefix()
	a := connect(tb, prefix)
	b := connect(tb, prefix)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Purge(ctx); err != nil {
			tb.Errorf("purge %s: %v", prefix, err)
		}
	})
	return a, b
}

func TestSessionsContract(t *testing.T) {
	t.Parallel()
	sessiontest.RunStore(t, func(t *testing.T, ttl time.Duration) dialog.SessionStore {
		a, _ := pair(t)
		return a.Sessions(ttl, a.Locker(LockOptions{}))
	})
}

func TestLockerContract(t *testing.T) {
	t.Parallel()
	sessiontest.RunLocker(t, func(t *testing.T) []dialog.Locker {
		a, b := pair(t)
		return []dialog.Locker{a.Locker(LockOptions{}), b.Locker(LockOptions{})}
	})
}

func TestReplaysContract(t *testing.T) {
	t.Parallel()
	sessiontest.RunReplays(t, func(t *testing.T) dialog.Replays {
		a, _ := pair(t)
		return a.Replays(0)
	})
}

// TestLockArrivalOrder: while one turn holds a conversation, forty more
// arrive one after the other at two replicas; they are granted in the
// order they arrived, one at a time.
func TestLockArrivalOrder(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	lockers := []*Locker{a.Locker(LockOptions{}), b.Locker(LockOptions{})}
	queued := make(chan int64, 1)
	for _, l := range lockers {
		l.queued = func(_ string, ticket int64) { queued <- ticket }
	}
	ctx := context.Background()
	const id = "sms:+15550000001"
	unlock, err := lockers[0].Lock(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	<-queued

	const n = 40
	var mu sync.Mutex
	var order []int
	inside := 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			u, err := lockers[i%2].Lock(ctx, id)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			if inside > 1 {
				t.Errorf("turn %d runs alongside another", i)
			}
			order = append(order, i)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			u()
		})
		<-queued // the next one arrives only once this one has its ticket
	}
	unlock()
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("turns ran in the order %v, want arrival order", order)
		}
	}
	if len(order) != n {
		t.Errorf("%d of %d turns ran", len(order), n)
	}
}

// TestLockContention: a hundred goroutines on two replicas increment a
// counter in Redis with a plain read and write, under the lock; none of
// the increments is lost.
func TestLockContention(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	lockers := []*Locker{a.Locker(LockOptions{}), b.Locker(LockOptions{})}
	ctx := context.Background()
	key := a.prefix + "counter"
	const workers, rounds = 100, 5
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			l := lockers[i%2]
			for range rounds {
				unlock, err := l.Lock(ctx, "web:contended")
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := l.c.rdb.Get(ctx, key).Int()
				l.c.rdb.Set(ctx, key, n+1, time.Minute)
				unlock()
			}
		})
	}
	wg.Wait()
	if n, _ := a.rdb.Get(ctx, key).Int(); n != workers*rounds {
		t.Errorf("counter %d, want %d", n, workers*rounds)
	}
}

// TestDeadHolder: a replica dies holding a conversation; the next turn
// gets it once the lease runs out, not later.
func TestDeadHolder(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	const lease = 300 * time.Millisecond
	dead := a.Locker(LockOptions{Lease: lease})
	live := b.Locker(LockOptions{Lease: lease})
	ctx := context.Background()
	if _, err := dead.Lock(ctx, "sms:+1555"); err != nil {
		t.Fatal(err)
	}
	dead.abandon.Store(true) // no more renewals, and never a release
	start := time.Now()
	unlock, err := live.Lock(ctx, "sms:+1555")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if d := time.Since(start); d > lease*3 {
		t.Errorf("the next turn waited %v for a dead holder; the lease is %v", d, lease)
	}
}

// TestDeadWaiter: a replica dies waiting in line; the turns behind it are
// not held up beyond one lease.
func TestDeadWaiter(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	const lease = 300 * time.Millisecond
	l := a.Locker(LockOptions{Lease: lease})
	ctx := context.Background()
	const id = "web:deadwaiter"
	unlock, err := l.Lock(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// A waiter that queues and is never heard of again.
	if _, _, err := b.Locker(LockOptions{Lease: lease}).attempt(ctx, "ghost", b.lockKeys(id), true); err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		u, err := l.Lock(ctx, id)
		if err != nil {
			t.Error(err)
			got <- 0
			return
		}
		got <- time.Since(start)
		u()
	}()
	time.Sleep(50 * time.Millisecond)
	unlock()
	if d := <-got; d > lease*3 {
		t.Errorf("the turn behind a dead waiter waited %v; the lease is %v", d, lease)
	}
}

// TestFencing: a holder that overran its lease, and whose conversation
// was taken over, can no longer save the session; the new holder can.
func TestFencing(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	const lease = 300 * time.Millisecond
	la, lb := a.Locker(LockOptions{Lease: lease}), b.Locker(LockOptions{Lease: lease})
	sa, sb := a.Sessions(time.Minute, la), b.Sessions(time.Minute, lb)
	ctx := context.Background()
	const id = "sms:+15550000002"
	unlockA, err := la.Lock(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Save(ctx, &dialog.Session{ID: id, State: dialog.StateIdle, Turns: 1}); err != nil {
		t.Fatalf("the holder's save: %v", err)
	}
	la.abandon.Store(true) // A pauses: it stops renewing
	unlockB, err := lb.Lock(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Save(ctx, &dialog.Session{ID: id, State: dialog.StateIdle, Turns: 99}); !errors.Is(err, ErrConflict) {
		t.Errorf("a save by the holder whose lease ran out, while another holds: %v, want ErrConflict", err)
	}
	if err := sb.Save(ctx, &dialog.Session{ID: id, State: dialog.StateCollecting, Turns: 2}); err != nil {
		t.Errorf("the new holder's save: %v", err)
	}
	unlockB()
	if err := sa.Save(ctx, &dialog.Session{ID: id, State: dialog.StateIdle, Turns: 99}); !errors.Is(err, ErrConflict) {
		t.Errorf("a save by the old holder after a later turn saved: %v, want ErrConflict", err)
	}
	unlockA()
	got, err := sb.Load(ctx, id)
	if err != nil || got.Turns != 2 {
		t.Errorf("the session is %+v, %v; want the new holder's", got, err)
	}
	// A save outside any lock (no fencing) still works and keeps the fence.
	if err := b.Sessions(time.Minute, nil).Save(ctx, &dialog.Session{ID: id, State: dialog.StateIdle, Turns: 3}); err != nil {
		t.Error(err)
	}
}

// TestLockWaitBounded: a wait ends at MaxWait or with its context, and
// gives its place up.
func TestLockWaitBounded(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	holder := a.Locker(LockOptions{})
	waiter := b.Locker(LockOptions{MaxWait: 300 * time.Millisecond})
	ctx := context.Background()
	const id = "web:bounded"
	unlock, err := holder.Lock(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	start := time.Now()
	if _, err := waiter.Lock(ctx, id); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a wait past MaxWait: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the wait took %v", d)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := waiter.Lock(cctx, id); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a wait whose context ends: %v", err)
	}
	if n := a.rdb.ZCard(ctx, a.lockKeys(id).queue).Val(); n != 1 {
		t.Errorf("%d tickets in the queue after the waiters gave up, want the holder's alone", n)
	}
}

// TestNothingLeftBehind: after turns, every key has a time to live, and
// the lock's own keys are gone.
func TestNothingLeftBehind(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	eng, _ := sessiontest.Engine(t, func(c *dialog.Config) {
		l := a.Locker(LockOptions{})
		c.Sessions, c.Locker, c.Replays = a.Sessions(0, l), l, a.Replays(0)
	})
	ctx := context.Background()
	if err := sessiontest.FullReport(ctx, eng, "web:left", true); err != nil {
		t.Fatal(err)
	}
	keys, err := a.rdb.Keys(ctx, a.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if ttl := a.rdb.PTTL(ctx, k).Val(); ttl < 0 {
			t.Errorf("%s has no time to live (%v)", k, ttl)
		}
		if strings.HasSuffix(k, ":q") || strings.HasSuffix(k, ":a") || strings.HasSuffix(k, ":o") {
			t.Errorf("lock key %s left after the last turn", k)
		}
	}
}

// TestReplaysAcrossReplicas: the same message delivered to two replicas
// at once is processed once and answered the same by both.
func TestReplaysAcrossReplicas(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	desk := &sessiontest.Desk{}
	engine := func(c *Client) *dialog.Engine {
		eng, _ := sessiontest.Engine(t, func(cfg *dialog.Config) {
			l := c.Locker(LockOptions{})
			cfg.Sessions, cfg.Locker, cfg.Replays, cfg.Cases = c.Sessions(0, l), l, c.Replays(0), desk
		})
		return eng
	}
	engines := []*dialog.Engine{engine(a), engine(b)}
	ctx := context.Background()
	const id = "sms:+15550000003"
	for i, text := range sessiontest.Report {
		in := dialog.Inbound{Channel: dialog.ChannelSMS, ConversationID: id, Contact: "+15550000003", Text: text,
			MessageID: "SM" + string(rune('a'+i))}
		var replies [2]dialog.Reply
		var wg sync.WaitGroup
		for k, eng := range engines {
			wg.Go(func() {
				r, err := eng.Handle(ctx, in)
				if err != nil {
					t.Error(err)
				}
				replies[k] = r
			})
		}
		wg.Wait()
		if replies[0].Text() != replies[1].Text() || replies[0].State != replies[1].State {
			t.Fatalf("turn %d (%q) answered differently:\n%q\n%q", i, text, replies[0].Text(), replies[1].Text())
		}
	}
	if n := desk.Filed(); n != 1 {
		t.Errorf("%d cases filed, want 1", n)
	}
	s, err := a.Sessions(0, nil).Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if s.Turns != len(sessiontest.Report) {
		t.Errorf("the session counts %d turns, want %d: a duplicate was processed", s.Turns, len(sessiontest.Report))
	}
}

// TestBusFanOut: a message published through one replica reaches
// subscribers on another; a cancelled subscriber hears nothing more.
func TestBusFanOut(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	ctx := context.Background()
	ch1, cancel1, err := b.Bus().Subscribe(ctx, "conv1")
	if err != nil {
		t.Fatal(err)
	}
	ch2, cancel2, err := a.Bus().Subscribe(ctx, "conv1")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel2()
	other, cancelOther, err := b.Bus().Subscribe(ctx, "conv2")
	if err != nil {
		t.Fatal(err)
	}
	defer cancelOther()
	if err := a.Bus().Publish(ctx, "conv1", []byte(`{"seq":1}`)); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []<-chan []byte{ch1, ch2} {
		select {
		case m := <-ch:
			if string(m) != `{"seq":1}` {
				t.Errorf("subscriber %d got %q", i, m)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("subscriber %d got nothing", i)
		}
	}
	select {
	case m := <-other:
		t.Errorf("a subscriber of another topic got %q", m)
	case <-time.After(100 * time.Millisecond):
	}
	cancel1()
	if _, ok := <-ch1; ok {
		t.Error("a cancelled subscription's channel is still open")
	}
	// A subscriber that does not read is ended, not left behind.
	slow, cancelSlow, err := b.Bus().Subscribe(ctx, "conv3")
	if err != nil {
		t.Fatal(err)
	}
	defer cancelSlow()
	for range 40 {
		a.Bus().Publish(ctx, "conv3", []byte("x"))
	}
	time.Sleep(500 * time.Millisecond) // the messages reach the hub; nobody reads
	deadline := time.After(3 * time.Second)
	for n := 0; ; n++ {
		select {
		case _, ok := <-slow:
			if !ok {
				if n > 16 {
					t.Errorf("%d messages before the slow subscriber was ended", n)
				}
				return
			}
		case <-deadline:
			t.Fatal("a slow subscriber was not ended")
		}
	}
}

// TestLimiterShared: one limit across two replicas.
func TestLimiterShared(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	la, lb := a.Limiter("sms", 3, time.Minute), b.Limiter("sms", 3, time.Minute)
	ctx := context.Background()
	for i, l := range []*Limiter{la, lb, la} {
		if ok, _, err := l.Allow(ctx, "+15551230000"); !ok || err != nil {
			t.Fatalf("request %d refused: %v", i, err)
		}
	}
	ok, wait, err := lb.Allow(ctx, "+15551230000")
	if ok || err != nil || wait < 50*time.Second || wait > time.Minute {
		t.Errorf("the fourth request: ok %v, retry after %v, %v; want refused for about a minute", ok, wait, err)
	}
	if ok, _, _ := lb.Allow(ctx, "+15559999999"); !ok {
		t.Error("another resident was refused")
	}
	if ok, _, _ := b.Limiter("web", 3, time.Minute).Allow(ctx, "+15551230000"); !ok {
		t.Error("another limit was refused")
	}
}

// TestRecordsUpdate: concurrent updates from two replicas are none of
// them lost.
func TestRecordsUpdate(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	ctx := context.Background()
	ra, rb := a.Records("web"), b.Records("web")
	if ok, err := ra.Add(ctx, "c1", []byte(""), time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, _ := rb.Add(ctx, "c1", []byte("again"), time.Minute); ok {
		t.Error("Add over an existing record succeeded")
	}
	var wg sync.WaitGroup
	for i := range 40 {
		r := []*Records{ra, rb}[i%2]
		wg.Go(func() {
			ok, err := r.Update(ctx, "c1", time.Minute, func(old []byte) ([]byte, error) {
				return append(old, 'x'), nil
			})
			if !ok || err != nil {
				t.Error(ok, err)
			}
		})
	}
	wg.Wait()
	v, ok, err := rb.Get(ctx, "c1")
	if !ok || err != nil || len(v) != 40 {
		t.Errorf("after 40 updates: %q, %v, %v", v, ok, err)
	}
	if ok, _ := ra.Update(ctx, "missing", time.Minute, func([]byte) ([]byte, error) { t.Error("f called"); return nil, nil }); ok {
		t.Error("Update of a missing record reported ok")
	}
	boom := errors.New("boom")
	if _, err := ra.Update(ctx, "c1", time.Minute, func([]byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("an error from f: %v", err)
	}
}

// TestDedup: of two replicas seeing one event id, one handles it.
func TestDedup(t *testing.T) {
	t.Parallel()
	a, b := pair(t)
	ctx := context.Background()
	da, db := a.Dedup("slack", 0), b.Dedup("slack", 0)
	var firsts int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 10 {
		d := []*Dedup{da, db}[i%2]
		wg.Go(func() {
			ok, err := d.First(ctx, "Ev123")
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				firsts++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firsts != 1 {
		t.Errorf("%d callers were first, want 1", firsts)
	}
	if ttl := a.rdb.TTL(ctx, da.key("Ev123")).Val(); ttl < 23*time.Hour {
		t.Errorf("an event id is remembered for %v, want 24 hours", ttl)
	}
	db.Forget(ctx, "Ev123")
	if ok, _ := da.First(ctx, "Ev123"); !ok {
		t.Error("a forgotten id is still seen")
	}
}

func TestOpenURL(t *testing.T) {
	for _, tt := range []struct {
		url, kind, prefix string
	}{
		{"redis://127.0.0.1:6379/0", "single", DefaultPrefix},
		{"rediss://user:pw@redis.example.city:6380/2?key_prefix=toronto:", "single", "toronto:"},
		{"unix:///run/redis.sock?db=1", "single", DefaultPrefix},
		{"redis://10.0.0.1:6379?cluster=true&addr=10.0.0.2:6379&addr=10.0.0.3:6379", "cluster", DefaultPrefix},
		{"redis://s1:26379/0?master_name=cityline&addr=s2:26379&password=secret", "sentinel", DefaultPrefix},
	} {
		c, err := Open(tt.url, Options{})
		if err != nil {
			t.Errorf("Open(%s): %v", tt.url, err)
			continue
		}
		kind := "single"
		switch cl := c.rdb.(type) {
		case *goredis.ClusterClient:
			kind = "cluster"
		case *goredis.Client:
			if strings.Contains(cl.String(), "FailoverClient") || strings.Contains(tt.url, "master_name") {
				kind = "sentinel"
			}
		}
		if kind != tt.kind || c.Prefix() != tt.prefix {
			t.Errorf("Open(%s): %s client, prefix %q; want %s, %q", tt.url, kind, c.Prefix(), tt.kind, tt.prefix)
		}
		c.Close()
	}
	for _, bad := range []string{"http://localhost:6379", "redis://h:6379?cluster=maybe", "redis://h:6379?nonsense=1",
		"redis://h:6379?key_prefix=a{b}"} {
		if _, err := Open(bad, Options{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%s): %v, want ErrInvalid", bad, err)
		}
	}
}

// TestUnreachable: without Redis every operation fails quickly with
// ErrUnavailable (the engine then says "we're having trouble").
func TestUnreachable(t *testing.T) {
	t.Parallel()
	c, err := Open("redis://127.0.0.1:1/0", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	start := time.Now()
	if err := c.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping: %v", err)
	}
	l := c.Locker(LockOptions{})
	if _, err := l.Lock(ctx, "sms:+1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Lock: %v", err)
	}
	if _, err := c.Sessions(0, l).Load(ctx, "sms:+1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Load: %v", err)
	}
	if err := c.Sessions(0, l).Save(ctx, &dialog.Session{ID: "sms:+1"}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Save: %v", err)
	}
	if _, _, err := c.Replays(0).Seen(ctx, "SM1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Seen: %v", err)
	}
	if ok, _, err := c.Limiter("x", 1, time.Second).Allow(ctx, "k"); !ok || !errors.Is(err, ErrUnavailable) {
		t.Errorf("Allow: %v, %v; want allowed with ErrUnavailable", ok, err)
	}
	if _, _, err := c.Bus().Subscribe(ctx, "t"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Subscribe: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("failing took %v", d)
	}
}

// TestMemoryPerConversation measures what one conversation costs in
// Redis: the session of a report in progress, and everything a finished
// SMS report leaves (session, ticket counter, one remembered reply per
// message). Run with -v to see the figures.
func TestMemoryPerConversation(t *testing.T) {
	t.Parallel()
	a, _ := pair(t)
	ctx := context.Background()
	sessions := a.Sessions(0, nil)
	typical := sessiontest.Typical("sms:+15551230000")
	if err := sessions.Save(ctx, typical); err != nil {
		t.Fatal(err)
	}
	mid, err := a.MemoryUsage(ctx, a.SessionKey(typical.ID))
	if err != nil {
		t.Fatal(err)
	}
	eng, _ := sessiontest.Engine(t, func(c *dialog.Config) {
		l := a.Locker(LockOptions{})
		c.Sessions, c.Locker, c.Replays = a.Sessions(0, l), l, a.Replays(0)
	})
	const id = "sms:+15557654321"
	if err := sessiontest.FullReport(ctx, eng, id, true); err != nil {
		t.Fatal(err)
	}
	keys, err := a.rdb.Keys(ctx, a.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var total, session, counter, replies int64
	for _, k := range keys {
		if !strings.Contains(k, id) {
			continue
		}
		n, _ := a.MemoryUsage(ctx, k)
		total += n
		switch {
		case k == a.SessionKey(id):
			session = n
		case strings.HasSuffix(k, ":n"):
			counter = n
		case strings.HasPrefix(k, a.prefix+"r:"):
			replies += n
		}
	}
	t.Logf("MEMORY USAGE: session mid-report %d bytes; after a full %d-message report: session %d, ticket counter %d, "+
		"remembered replies %d (24 h); %d bytes in all", mid, len(sessiontest.Report), session, counter, replies, total)
	if mid == 0 || session == 0 || total > 64<<10 {
		t.Errorf("implausible sizes: mid-report %d, total %d", mid, total)
	}
}

// BenchmarkFullReport is dialog/bench_test.go's BenchmarkFullReport, an
// eight-turn pothole report, on the memory store and on Redis in one run;
// "+ids" turns carry platform message ids, so replies are remembered too
// (as every SMS and voice turn does).
func BenchmarkFullReport(b *testing.B) {
	b.Run("memory", func(b *testing.B) { sessiontest.BenchFullReport(b, nil, false) })
	b.Run("memory+ids", func(b *testing.B) { sessiontest.BenchFullReport(b, nil, true) })
	for _, ids := range []bool{false, true} {
		name := "redis"
		if ids {
			name += "+ids"
		}
		b.Run(name, func(b *testing.B) {
			a, _ := pair(b)
			sessiontest.BenchFullReport(b, func(c *dialog.Config) {
				l := a.Locker(LockOptions{})
				c.Sessions, c.Locker, c.Replays = a.Sessions(0, l), l, a.Replays(0)
			}, ids)
		})
	}
}

// BenchmarkTurnStorage is what one SMS turn asks of the session parts,
// without the engine's own work: lock, replay check, load, save,
// remember the reply, unlock; in memory and on Redis.
func BenchmarkTurnStorage(b *testing.B) {
	run := func(b *testing.B, l dialog.Locker, s dialog.SessionStore, r dialog.Replays) {
		ctx := context.Background()
		sess := sessiontest.Typical("sms:+15551230000")
		reply := dialog.Reply{Messages: []dialog.Message{{Text: "Where is it on the road?"}}}
		s.Save(ctx, sess)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			unlock, err := l.Lock(ctx, sess.ID)
			if err != nil {
				b.Fatal(err)
			}
			id := "SM" + strconv.Itoa(n)
			if _, _, err := r.Seen(ctx, id); err != nil {
				b.Fatal(err)
			}
			got, err := s.Load(ctx, sess.ID)
			if err != nil {
				b.Fatal(err)
			}
			got.Turns++
			if err := s.Save(ctx, got); err != nil {
				b.Fatal(err)
			}
			if err := r.Remember(ctx, id, reply); err != nil {
				b.Fatal(err)
			}
			unlock()
			n++
		}
	}
	b.Run("memory", func(b *testing.B) {
		run(b, dialog.NewLocalLocker(), dialog.NewMemoryStore(0, nil), dialog.NewMemoryReplays(0, 0, nil))
	})
	b.Run("redis", func(b *testing.B) {
		a, _ := pair(b)
		l := a.Locker(LockOptions{})
		run(b, l, a.Sessions(0, l), a.Replays(0))
	})
}
