package open311_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
)

// TestStoreOutbox: what the relay relies on in the store, on both
// databases: a case is queued in the transaction that stores it (once,
// even when a submission is retried), a save from a stale read is
// refused, and a dispatch is never recorded as sent without the
// upstream's id or token.
func TestStoreOutbox(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			clock := casetest.Clock(t)
			s, _ := b.open(t, clock.Now)
			before := &cases.Case{ServiceCode: "POTHOLE"}
			if err := s.Create(t.Context(), before); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetDispatch(t.Context(), before.Ref); !errors.Is(err, cases.ErrNotFound) {
				t.Errorf("a case filed before upstream mode: %v, want no dispatch", err)
			}
			s.QueueUpstream(true)
			c := &cases.Case{ServiceCode: "POTHOLE", Key: "sms:1"}
			if err := s.Create(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			retry := &cases.Case{ServiceCode: "POTHOLE", Key: "sms:1"}
			if err := s.Create(t.Context(), retry); !errors.Is(err, cases.ErrConflict) {
				t.Fatalf("retried submission: %v", err)
			}
			due, err := s.DueDispatches(t.Context(), []cases.DispatchState{cases.DispatchPending}, clock.Now(), 10)
			if err != nil || len(due) != 1 || due[0].Case.Ref != c.Ref || due[0].State != cases.DispatchPending {
				t.Fatalf("due dispatches: %+v, %v; want %s once", due, err, c.Ref)
			}
			if later, _ := s.DueDispatches(t.Context(), []cases.DispatchState{cases.DispatchSent}, clock.Now(), 10); len(later) != 0 {
				t.Errorf("due in another state: %+v", later)
			}
			a, b := due[0], *due[0]
			a.State, a.Attempt = cases.DispatchSending, "attempt-1"
			if err := s.SaveDispatch(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			b.State = cases.DispatchSending
			if err := s.SaveDispatch(t.Context(), &b); !errors.Is(err, cases.ErrConflict) {
				t.Errorf("a save from a stale read: %v, want ErrConflict", err)
			}
			a.State = cases.DispatchSent
			if err := s.SaveDispatch(t.Context(), a); !errors.Is(err, cases.ErrInvalid) {
				t.Errorf("sent without an id or token: %v, want ErrInvalid", err)
			}
			a.UpstreamToken = "tok-1"
			if err := s.SaveDispatch(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetDispatch(t.Context(), c.Ref)
			if err != nil || got.State != cases.DispatchSent || got.UpstreamToken != "tok-1" || got.Attempt != "attempt-1" {
				t.Errorf("read back: %+v, %v", got, err)
			}
		})
	}
}

// TestStoreNotifications: a change of status or notes is recorded with
// the change, only when something changed, and each is claimed once
// however many processes claim at the same time.
func TestStoreNotifications(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			clock := casetest.Clock(t)
			s, reopen := b.open(t, clock.Now)
			other := reopen() // a second process on the same database
			told := &cases.Case{ServiceCode: "POTHOLE", Contact: cases.Contact{Phone: "+15550100", Notify: true}}
			quiet := &cases.Case{ServiceCode: "POTHOLE", Contact: cases.Contact{Phone: "+15550101"}}
			for _, c := range []*cases.Case{told, quiet} {
				if err := s.Create(t.Context(), c); err != nil {
					t.Fatal(err)
				}
			}
			closed, open, notes, same := cases.StatusClosed, cases.Status("Open"), "Crew assigned", "Crew assigned"
			expected := clock.Now().Add(48 * time.Hour)
			steps := []struct {
				ref  string
				ch   cases.Change
				want int // notifications recorded
			}{
				{told.Ref, cases.Change{Status: &closed}, 1},
				{told.Ref, cases.Change{Status: &closed}, 0}, // no change
				{told.Ref, cases.Change{Status: &open, Notes: &notes}, 1},
				{told.Ref, cases.Change{Notes: &same}, 0},
				{told.Ref, cases.Change{Expected: &expected}, 0}, // not status or notes
				{quiet.Ref, cases.Change{Status: &closed}, 1},    // recorded: followers may have asked
			}
			for i, st := range steps {
				clock.Advance(time.Minute)
				if _, err := s.Update(t.Context(), st.ref, st.ch); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				n, err := s.ClaimNotifications(t.Context(), 10)
				if err != nil || len(n) != st.want {
					t.Errorf("step %d: %d notifications, %v; want %d", i, len(n), err, st.want)
				}
				for _, x := range n {
					if x.Case.Ref != st.ref {
						t.Errorf("step %d: notification for %+v", i, x.Case)
					}
					if err := s.FinishNotification(t.Context(), x.ID, cases.NotifySent); err != nil {
						t.Error(err)
					}
					if err := s.FinishNotification(t.Context(), x.ID, cases.NotifySent); !errors.Is(err, cases.ErrNotFound) {
						t.Errorf("finishing twice: %v", err)
					}
				}
			}

			// Many changes, two processes claiming at once: each once.
			for i := range 40 {
				st := closed
				if i%2 == 1 {
					st = cases.StatusOpen
				}
				if _, err := s.Update(t.Context(), told.Ref, cases.Change{Status: &st}); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			var ids []int64
			var wg sync.WaitGroup
			for _, claimer := range []store{s, other, s, other} {
				wg.Go(func() {
					for {
						n, err := claimer.ClaimNotifications(t.Context(), 3)
						if err != nil {
							t.Error(err)
							return
						}
						if len(n) == 0 {
							return
						}
						mu.Lock()
						for _, x := range n {
							ids = append(ids, x.ID)
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			slices.Sort(ids)
			if len(ids) != 40 || len(slices.Compact(slices.Clone(ids))) != 40 {
				t.Errorf("claimed %d notifications (%d distinct), want each of 40 once", len(ids), len(slices.Compact(ids)))
			}
		})
	}
}
