package casetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
)

// threadStore is what a store keeps of staff handoff threads
// (cases.SQLStore has it).
type threadStore interface {
	OpenThread(ctx context.Context, t cases.Thread) error
	Thread(ctx context.Context, id string) (cases.Thread, error)
	TakeThread(ctx context.Context, id, by string) (cases.Thread, error)
	AnswerThread(ctx context.Context, id string) error
	CloseThread(ctx context.Context, id string, at time.Time) (bool, error)
	DueThreads(ctx context.Context, now time.Time) ([]cases.Thread, error)
}

func testThreads(t *testing.T, s cases.Store) {
	ts, ok := s.(threadStore)
	if !ok {
		t.Skipf("%T keeps no handoff threads", s)
	}
	ctx := t.Context()
	now := Clock(t).Now()
	a := cases.Thread{ID: "C1/100.1", Conversation: "sms:+15551230000", Channel: "sms", Contact: "+15551230000",
		Lang: "en", Opened: now, Due: now.Add(5 * time.Minute)}
	b := cases.Thread{ID: "C1/100.2", Conversation: "web:abc", Channel: "web", Lang: "fr", Opened: now,
		Due: now.Add(10 * time.Minute)}
	v := cases.Thread{ID: "C1/100.3", Conversation: "voice:CA1", Channel: "voice", Opened: now} // nothing due
	for _, th := range []cases.Thread{a, b, v} {
		if err := ts.OpenThread(ctx, th); err != nil {
			t.Fatalf("OpenThread(%s): %v", th.ID, err)
		}
	}
	if err := ts.OpenThread(ctx, a); !errors.Is(err, cases.ErrConflict) {
		t.Errorf("OpenThread twice: %v, want ErrConflict", err)
	}
	if err := ts.OpenThread(ctx, cases.Thread{ID: "x"}); !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("OpenThread without a conversation: %v, want ErrInvalid", err)
	}
	got, err := ts.Thread(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Conversation != a.Conversation || got.Contact != a.Contact || got.Channel != "sms" || got.Lang != "en" ||
		!got.Opened.Equal(micro(now)) || !got.Due.Equal(micro(a.Due)) || got.TakenBy != "" || !got.Closed.IsZero() {
		t.Errorf("Thread = %+v, want %+v", got, a)
	}
	if _, err := ts.Thread(ctx, "C1/nope"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("Thread(unknown): %v, want ErrNotFound", err)
	}

	// The first to take it keeps it.
	if got, err := ts.TakeThread(ctx, a.ID, "U1 (sam)"); err != nil || got.TakenBy != "U1 (sam)" {
		t.Errorf("TakeThread = %+v, %v", got, err)
	}
	if got, err := ts.TakeThread(ctx, a.ID, "U2"); err != nil || got.TakenBy != "U1 (sam)" {
		t.Errorf("TakeThread by a second person = %+v, %v; want it kept by the first", got, err)
	}
	if _, err := ts.TakeThread(ctx, "C1/nope", "U2"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("TakeThread(unknown): %v, want ErrNotFound", err)
	}

	// Nothing is due yet; at +6 minutes a is, once, to one of many callers.
	if due, err := ts.DueThreads(ctx, now.Add(time.Minute)); err != nil || len(due) != 0 {
		t.Errorf("DueThreads before time = %+v, %v", due, err)
	}
	var mu sync.Mutex
	var claimed []cases.Thread
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			due, err := ts.DueThreads(ctx, now.Add(6*time.Minute))
			if err != nil {
				t.Errorf("DueThreads: %v", err)
			}
			mu.Lock()
			claimed = append(claimed, due...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(claimed) != 1 || claimed[0].ID != a.ID || claimed[0].Contact != a.Contact {
		t.Errorf("DueThreads claimed %+v, want a once", claimed)
	}
	// A staff reply settles b before it is due; a closed thread is never due.
	if err := ts.AnswerThread(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := ts.AnswerThread(ctx, "C1/nope"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("AnswerThread(unknown): %v, want ErrNotFound", err)
	}
	if due, err := ts.DueThreads(ctx, now.Add(time.Hour)); err != nil || len(due) != 0 {
		t.Errorf("DueThreads after the reply = %+v, %v", due, err)
	}
	c := cases.Thread{ID: "C1/100.4", Conversation: "web:def", Channel: "web", Opened: now, Due: now.Add(time.Minute)}
	if err := ts.OpenThread(ctx, c); err != nil {
		t.Fatal(err)
	}
	closedAt := now.Add(30 * time.Second)
	if first, err := ts.CloseThread(ctx, c.ID, closedAt); err != nil || !first {
		t.Errorf("CloseThread = %v, %v; want true", first, err)
	}
	if first, err := ts.CloseThread(ctx, c.ID, closedAt); err != nil || first {
		t.Errorf("CloseThread again = %v, %v; want false", first, err)
	}
	if _, err := ts.CloseThread(ctx, "C1/nope", closedAt); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("CloseThread(unknown): %v, want ErrNotFound", err)
	}
	if got, _ := ts.Thread(ctx, c.ID); !got.Closed.Equal(micro(closedAt)) || !got.Due.IsZero() {
		t.Errorf("closed thread = %+v", got)
	}
	if due, err := ts.DueThreads(ctx, now.Add(time.Hour)); err != nil || len(due) != 0 {
		t.Errorf("DueThreads with a closed thread = %+v, %v", due, err)
	}
}
