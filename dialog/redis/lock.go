package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cityline/cityline/dialog"
)

// LockOptions tune a Locker. Zero values take the defaults.
type LockOptions struct {
	// Lease is how long a conversation stays held, or a place in its
	// queue kept, without a sign of life from the replica: a holder that
	// died is skipped after at most this long (5 s). Holders renew it
	// every third of it while their turn runs.
	Lease time.Duration
	// MaxWait bounds the wait for a conversation (30 s); the turn then
	// fails with ErrUnavailable and the resident is told to try again.
	MaxWait time.Duration
	// CounterTTL is how long a conversation's ticket counter outlives its
	// last turn (2 hours). Tickets double as fencing tokens, so it should
	// be longer than the session time to live.
	CounterTTL time.Duration
	// Poll is the longest pause between two looks at the queue while
	// waiting (200 ms): a release wakes the next in line by pub/sub, so
	// looking is only the fallback for a wake-up lost on the way.
	Poll time.Duration
}

// Locker orders the turns of each conversation across every replica that
// shares the Redis: a per-conversation ticket queue with leases and
// fencing (see the package documentation). It implements dialog.Locker.
type Locker struct {
	c    *Client
	opt  LockOptions
	log  *slog.Logger
	mu   sync.Mutex
	conv map[string]*localConv // conversations this process holds or waits for

	// abandon, in tests, makes a holder stop renewing, as if its replica
	// had died while holding the conversation.
	abandon atomic.Bool
	// queued, in tests, hears of each ticket taken.
	queued func(id string, ticket int64)
}

// localConv is one conversation as this process sees it. gate admits one
// holder at a time inside the process even if a lease was lost and the
// conversation granted again here, so that a turn that overran its lease
// and the one after it never run together, and the fencing check below
// always knows which of them is writing.
type localConv struct {
	gate   chan struct{} // holds a token while nobody in this process is past it
	refs   int
	holder *holding
}

// holding is a granted lock.
type holding struct {
	id     string
	token  string
	fence  int64
	lost   atomic.Bool
	stop   chan struct{}
	done   chan struct{}
	keys   lockKeys
	locker *Locker
}

var _ dialog.Locker = (*Locker)(nil)

// Locker returns the client's Locker.
func (c *Client) Locker(o LockOptions) *Locker {
	if o.Lease <= 0 {
		o.Lease = 5 * time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 30 * time.Second
	}
	if o.CounterTTL <= 0 {
		o.CounterTTL = 2 * time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	return &Locker{c: c, opt: o, log: c.log, conv: map[string]*localConv{}}
}

// acquireScript takes a ticket (when asked to and the caller has none),
// forgets members that stopped renewing, and grants the conversation to
// the caller when its ticket is the oldest left. It returns {granted,
// ticket}; ticket -1 when the caller's place was lost (it stopped
// renewing for longer than a lease) and it did not ask for a new one.
//
// KEYS: queue, alive, owner, counter. ARGV: token, lease ms, counter ttl
// ms, enqueue (1 or 0).
var acquireScript = script("acquire.lua")

// renewScript extends the holder's lease; 0 when it is no longer the
// holder. KEYS: queue, alive, owner. ARGV: token, lease ms.
var renewScript = script("renew.lua")

// releaseScript gives the conversation up (compare and delete: only the
// holder's own token is removed) or leaves the queue, and wakes the next
// in line. It returns 1 when the caller still held the conversation.
// KEYS: queue, alive, owner. ARGV: token, wake channel prefix.
var releaseScript = script("release.lua")

// Lock implements dialog.Locker: it takes a ticket at once (the arrival
// order), waits for the turns ahead of it, and returns when this turn
// holds the conversation. It fails with ErrUnavailable when Redis cannot
// be reached or the wait exceeds MaxWait, and with ctx's error when ctx
// ends first.
func (l *Locker) Lock(ctx context.Context, id string) (func(), error) {
	lc := l.ref(id)
	token := newToken()
	keys := l.c.lockKeys(id)
	fence, err := l.wait(ctx, id, token, keys)
	if err != nil {
		l.unref(id)
		return nil, err
	}
	h := &holding{id: id, token: token, fence: fence, stop: make(chan struct{}), done: make(chan struct{}),
		keys: keys, locker: l}
	go h.renew()
	select {
	case <-lc.gate:
	case <-ctx.Done():
		h.release()
		l.unref(id)
		return nil, fmt.Errorf("lock %s: %w", dialog.RedactID(id), ctx.Err())
	}
	l.mu.Lock()
	lc.holder = h
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			lc.holder = nil
			l.mu.Unlock()
			h.release()
			lc.gate <- struct{}{}
			l.unref(id)
		})
	}, nil
}

// wait queues for the conversation and returns the ticket it was granted
// with, the fencing token.
func (l *Locker) wait(ctx context.Context, id, token string, keys lockKeys) (int64, error) {
	deadline := time.NewTimer(l.opt.MaxWait)
	defer deadline.Stop()
	var wake <-chan []byte
	pause := 10 * time.Millisecond
	enqueue := true
	for {
		granted, ticket, err := l.attempt(ctx, token, keys, enqueue)
		if err != nil {
			l.leave(token, keys)
			return 0, fmt.Errorf("lock %s: %w", dialog.RedactID(id), err)
		}
		if enqueue && ticket > 0 {
			l.log.Debug("lock: ticket taken", "conversation", dialog.RedactID(id), "ticket", ticket, "granted", granted)
			if l.queued != nil {
				l.queued(id, ticket)
			}
		}
		if granted {
			return ticket, nil
		}
		if ticket < 0 {
			// This waiter stopped renewing for longer than a lease (a very
			// long pause) and was skipped: it queues again, at the back.
			l.log.Warn("lock: place in the queue lost; queueing again", "conversation", dialog.RedactID(id))
			enqueue = true
			continue
		}
		enqueue = false
		if wake == nil {
			// Listen for releases, then look once more so that none is
			// missed between the two.
			ch, cancel, err := l.c.getHub().subscribe(ctx, keys.wake+token, false)
			if err == nil {
				wake = ch
				defer cancel()
				continue
			}
			wake = make(chan []byte) // never ready: polling only
		}
		timer := time.NewTimer(pause)
		select {
		case _, ok := <-wake:
			if !ok {
				wake = make(chan []byte) // the subscription ended: polling only
			}
		case <-timer.C:
			pause = min(pause*2, l.opt.Poll, l.opt.Lease/3) // a waiter renews its place as it looks
		case <-ctx.Done():
			timer.Stop()
			l.leave(token, keys)
			return 0, fmt.Errorf("lock %s: %w", dialog.RedactID(id), ctx.Err())
		case <-deadline.C:
			timer.Stop()
			l.leave(token, keys)
			return 0, fmt.Errorf("lock %s: %w: waited %s for the turns ahead", dialog.RedactID(id), ErrUnavailable, l.opt.MaxWait)
		}
		timer.Stop()
	}
}

func (l *Locker) attempt(ctx context.Context, token string, keys lockKeys, enqueue bool) (bool, int64, error) {
	e := "0"
	if enqueue {
		e = "1"
	}
	res, err := acquireScript.Run(ctx, l.c.rdb, []string{keys.queue, keys.alive, keys.owner, keys.counter},
		token, l.opt.Lease.Milliseconds(), l.opt.CounterTTL.Milliseconds(), e).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("%w: acquire answered %v", ErrUnavailable, res)
	}
	return res[0] == 1, res[1], nil
}

// leave gives up a place in the queue (best effort: a place not given up
// expires after a lease).
func (l *Locker) leave(token string, keys lockKeys) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	releaseScript.Run(ctx, l.c.rdb, []string{keys.queue, keys.alive, keys.owner}, token, keys.wake)
}

// renew keeps the lease while the turn runs. A lease that cannot be
// renewed for its whole length is lost: the holder's writes are refused
// from then on.
func (h *holding) renew() {
	defer close(h.done)
	l := h.locker
	every := l.opt.Lease / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		if l.abandon.Load() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		n, err := renewScript.Run(ctx, l.c.rdb, []string{h.keys.queue, h.keys.alive, h.keys.owner},
			h.token, l.opt.Lease.Milliseconds()).Int()
		cancel()
		switch {
		case err == nil && n == 1:
			last = time.Now()
		case err == nil:
			h.lost.Store(true)
			l.log.Warn("lock: lease lost while the turn ran; its writes will be refused",
				"conversation", dialog.RedactID(h.id))
			return
		case time.Since(last) >= l.opt.Lease:
			h.lost.Store(true)
			l.log.Warn("lock: lease could not be renewed", "conversation", dialog.RedactID(h.id), "err", err)
			return
		}
	}
}

// release stops renewing and gives the conversation up.
func (h *holding) release() {
	close(h.stop)
	<-h.done
	if h.locker.abandon.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	held, err := releaseScript.Run(ctx, h.locker.c.rdb, []string{h.keys.queue, h.keys.alive, h.keys.owner},
		h.token, h.keys.wake).Int()
	switch {
	case err != nil:
		h.locker.log.Warn("lock: release failed; the lease will expire", "conversation", dialog.RedactID(h.id), "err", err)
	case held == 0 && !h.lost.Load():
		h.locker.log.Warn("lock: the lease had expired before the turn ended", "conversation", dialog.RedactID(h.id))
	}
}

func (l *Locker) ref(id string) *localConv {
	l.mu.Lock()
	defer l.mu.Unlock()
	lc := l.conv[id]
	if lc == nil {
		lc = &localConv{gate: make(chan struct{}, 1)}
		lc.gate <- struct{}{}
		l.conv[id] = lc
	}
	lc.refs++
	return lc
}

func (l *Locker) unref(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lc := l.conv[id]; lc != nil {
		if lc.refs--; lc.refs <= 0 {
			delete(l.conv, id)
		}
	}
}

// held returns the lock this process holds on a conversation, for the
// fencing check of a write: ok is false when it holds none.
func (l *Locker) held(id string) (token string, fence int64, lost, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lc := l.conv[id]
	if lc == nil || lc.holder == nil {
		return "", 0, false, false
	}
	h := lc.holder
	return h.token, h.fence, h.lost.Load(), true
}
