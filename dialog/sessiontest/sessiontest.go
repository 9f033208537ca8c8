// Package sessiontest is the contract every implementation of the
// engine's session interfaces must keep (dialog.SessionStore,
// dialog.Locker, dialog.Replays), run the same against the in-memory ones
// and the Redis ones, and a full-report driver for benchmarks over any of
// them.
package sessiontest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// NewStore returns an empty store whose sessions expire after ttl.
type NewStore func(t *testing.T, ttl time.Duration) dialog.SessionStore

// RunStore runs the SessionStore contract against the stores newStore
// makes. The time to live is checked on the real clock (a fraction of a
// second).
func RunStore(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	t.Run("Missing", func(t *testing.T) {
		s := newStore(t, time.Minute)
		if _, err := s.Load(ctx, "nobody"); !errors.Is(err, dialog.ErrNoSession) {
			t.Errorf("Load of an unknown conversation: %v, want ErrNoSession", err) // for developers
		}
		if err := s.Delete(ctx, "nobody"); err != nil {
			t.Errorf("Delete of an unknown conversation: %v", err) // for developers
		}
	})
	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t, time.Minute)
		want := Typical("sms:+15551230000")
		if err := s.Save(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := mustJSON(t, got), mustJSON(t, want); a != b {
			t.Errorf("loaded\n%s\nsaved\n%s", a, b)
		}
		// The caller's copy is its own: changing it changes nothing stored.
		got.State = "changed"
		got.Draft.Attrs["SIZE"][0] = "changed"
		again, _ := s.Load(ctx, want.ID)
		if again.State != want.State || again.Draft.Attrs["SIZE"][0] != "large" {
			t.Errorf("a loaded session shares memory with the store: %+v", again) // for developers
		}
	})
	t.Run("Overwrite", func(t *testing.T) {
		s := newStore(t, time.Minute)
		a := Typical("web:a")
		if err := s.Save(ctx, a); err != nil {
			t.Fatal(err)
		}
		b := &dialog.Session{ID: "web:a", State: dialog.StateIdle, Turns: 9}
		if err := s.Save(ctx, b); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, "web:a")
		if err != nil {
			t.Fatal(err)
		}
		if got.Turns != 9 || got.Draft != nil || len(got.Recent) != 0 {
			t.Errorf("a save must replace the whole session, got %+v", got) // for developers
		}
	})
	t.Run("Delete", func(t *testing.T) {
		s := newStore(t, time.Minute)
		for _, id := range []string{"web:x", "web:y"} {
			if err := s.Save(ctx, &dialog.Session{ID: id, State: dialog.StateIdle}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Delete(ctx, "web:x"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(ctx, "web:x"); !errors.Is(err, dialog.ErrNoSession) {
			t.Errorf("Load after Delete: %v, want ErrNoSession", err)
		}
		if _, err := s.Load(ctx, "web:y"); err != nil {
			t.Errorf("Delete removed another conversation: %v", err)
		}
	})
	t.Run("Expiry", func(t *testing.T) {
		const ttl = 400 * time.Millisecond
		s := newStore(t, ttl)
		if err := s.Save(ctx, &dialog.Session{ID: "sms:+1555", State: dialog.StateIdle}); err != nil {
			t.Fatal(err)
		}
		// Saving again renews the time to live.
		time.Sleep(ttl / 2)
		if err := s.Save(ctx, &dialog.Session{ID: "sms:+1555", State: dialog.StateCollecting}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ttl * 3 / 4)
		if got, err := s.Load(ctx, "sms:+1555"); err != nil || got.State != dialog.StateCollecting {
			t.Fatalf("a session saved %v ago: %v, %v", ttl*3/4, got, err)
		}
		time.Sleep(ttl * 3 / 4)
		if _, err := s.Load(ctx, "sms:+1555"); !errors.Is(err, dialog.ErrNoSession) {
			t.Errorf("a session idle past its time to live: %v, want ErrNoSession", err) // for developers
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		s := newStore(t, time.Minute)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				id := "web:c" + strconv.Itoa(i%5)
				for n := range 10 {
					sess := Typical(id)
					sess.Turns = n
					if err := s.Save(ctx, sess); err != nil {
						t.Error(err)
						return
					}
					if got, err := s.Load(ctx, id); err != nil || got.ID != id || got.Draft == nil {
						t.Errorf("Load(%s) = %+v, %v", id, got, err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

// RunLocker runs the Locker contract every implementation keeps: one turn
// at a time per conversation, and a conversation free again after unlock.
// (Arrival order and bounded waits are the Redis Locker's own tests: the
// in-process one relies on sync.Mutex, which promises neither.)
func RunLocker(t *testing.T, newLocker func(t *testing.T) []dialog.Locker) {
	ctx := context.Background()
	t.Run("MutualExclusion", func(t *testing.T) {
		lockers := newLocker(t)
		var inside, most atomic.Int32
		counter := 0 // guarded by the lock under test, not by Go
		var wg sync.WaitGroup
		const workers, rounds = 16, 10
		for i := range workers {
			l := lockers[i%len(lockers)]
			wg.Go(func() {
				for range rounds {
					unlock, err := l.Lock(ctx, "web:shared")
					if err != nil {
						t.Error(err)
						return
					}
					n := inside.Add(1)
					if n > most.Load() {
						most.Store(n)
					}
					c := counter
					time.Sleep(100 * time.Microsecond)
					counter = c + 1
					inside.Add(-1)
					unlock()
				}
			})
		}
		wg.Wait()
		if most.Load() != 1 || counter != workers*rounds {
			t.Errorf("%d turns at once at most (want 1); counter %d, want %d", most.Load(), counter, workers*rounds)
		}
	})
	t.Run("Reusable", func(t *testing.T) {
		l := newLocker(t)[0]
		for range 3 {
			unlock, err := l.Lock(ctx, "sms:+1555")
			if err != nil {
				t.Fatal(err)
			}
			unlock()
		}
	})
}

// RunReplays runs the Replays contract.
func RunReplays(t *testing.T, newReplays func(t *testing.T) dialog.Replays) {
	ctx := context.Background()
	r := newReplays(t)
	if _, ok, err := r.Seen(ctx, "SM-new"); ok || err != nil {
		t.Errorf("Seen of a new id: %v, %v", ok, err) // for developers
	}
	want := dialog.Reply{State: dialog.StateCollecting, Lang: "en", Expect: dialog.ExpectChoice,
		Messages: []dialog.Message{{Text: "What size is it?"}}, // for developers
		Choices:  []dialog.Choice{{ID: "1", Label: "Small"}, {ID: "2", Label: "Large"}},
		Case:     &dialog.CaseInfo{Ref: "EX-000042", ServiceCode: "RD-01", Status: "open", Requested: time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)},
		Decision: &dialog.Decision{Kind: dialog.KindService, ID: "RD-01"}}
	if err := r.Remember(ctx, "SM-1", want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := r.Seen(ctx, "SM-1")
	if !ok || err != nil {
		t.Fatalf("Seen after Remember: %v, %v", ok, err)
	}
	want.Decision = nil // not kept: a retry needs no router reading
	if a, b := mustJSON(t, got), mustJSON(t, want); a != b {
		t.Errorf("replayed\n%s\nremembered\n%s", a, b)
	}
	if _, ok, _ := r.Seen(ctx, "SM-2"); ok {
		t.Error("another id is seen")
	}
}

// Typical is a session in the middle of a report: a draft with a place,
// details and a description, recent messages and choices on offer.
func Typical(id string) *dialog.Session {
	lat, lng := 43.6487, -79.3854
	now := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	return &dialog.Session{ID: id, Channel: dialog.ChannelSMS, Contact: "+15551230000", Lang: "en",
		State: dialog.StateCollecting, Started: now, Updated: now.Add(2 * time.Minute), Turns: 5,
		Draft: &dialog.Draft{Service: "RD-01", Key: id + "#1", Step: "attr:DEPTH", Address: "12 King St W",
			Lat: &lat, Long: &lng, Attrs: map[string][]string{"SIZE": {"large"}, "LANE": {"bike lane"}},
			Desc: "There is a big pothole at 12 King St W", Contact: "+15551230000", Notify: true}, // for developers
		Offered: []string{"1", "2"}, Asked: "",
		Recent: []string{"There is a big pothole at 12 King St W", "2", "1"}, Cases: []string{"EX-004200"}, Seq: 1} // for developers
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Desk is a case desk in memory, for engines under test: it files, finds
// and lists cases like the real stores (by phone, service, status and
// place), keeps followers, and fails on demand.
type Desk struct {
	mu    sync.Mutex
	cases []*cases.Case
	// Err, when set, is what Create returns: a store that is down.
	Err error
	// Followers records "REF conversation" for each Follow.
	Followers []string
}

// Create implements dialog.CaseDesk; a repeated key is a conflict, as in
// the real stores.
func (d *Desk) Create(_ context.Context, c *cases.Case) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Err != nil {
		return d.Err
	}
	for _, o := range d.cases {
		if c.Key != "" && o.Key == c.Key {
			*c = *o
			return fmt.Errorf("create: %w", cases.ErrConflict)
		}
	}
	cp := *c
	cp.ID = int64(len(d.cases) + 4200)
	cp.Ref = cases.FormatRef("EX", cp.ID)
	d.cases = append(d.cases, &cp)
	*c = cp
	return nil
}

// Get implements dialog.CaseDesk.
func (d *Desk) Get(_ context.Context, ref string) (*cases.Case, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.cases {
		if c.Ref == cases.NormalizeRef(ref) {
			cp := *c
			return &cp, nil
		}
	}
	return nil, fmt.Errorf("get %s: %w", ref, cases.ErrNotFound)
}

// List implements dialog.CaseDesk, newest first.
func (d *Desk) List(_ context.Context, f cases.Filter) ([]*cases.Case, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*cases.Case
	for i := len(d.cases) - 1; i >= 0; i-- {
		c := d.cases[i]
		switch {
		case f.Phone != "" && c.Contact.Phone != f.Phone:
		case len(f.ServiceCodes) > 0 && !slices.Contains(f.ServiceCodes, c.ServiceCode):
		case f.Status != "" && c.Status != f.Status:
		case f.Near != nil && (c.Location == nil || cases.DistanceM(*f.Near, *c.Location) > f.RadiusM):
		default:
			cp := *c
			out = append(out, &cp)
		}
	}
	return out, nil
}

// Follow adds a follower to a case.
func (d *Desk) Follow(_ context.Context, ref string, f cases.Follower) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Followers = append(d.Followers, ref+" "+f.Conversation)
	return nil
}

// All returns the cases filed, oldest first; tests may change them as
// staff would.
func (d *Desk) All() []*cases.Case {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.cases)
}

// Filed is how many cases were filed.
func (d *Desk) Filed() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.cases)
}

// Events counts what an engine records. A turn of a new conversation
// always records "started", so a count that does not move means no turn
// was taken.
type Events struct{ N atomic.Int64 }

// Record implements dialog.EventSink.
func (e *Events) Record(context.Context, dialog.Event) { e.N.Add(1) }
