package sms_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases/sqlite"
	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/sessiontest"
)

// firstN allows each key's first n messages; err makes it unreachable.
type firstN struct {
	mu   sync.Mutex
	n    int
	seen map[string]int
	err  error
}

func (l *firstN) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return false, 0, l.err
	}
	l.seen[key]++
	return l.seen[key] <= l.n, time.Minute, nil
}

// TestRateLimit: past a resident's limit a text gets the catalogue's
// polite reply and no turn; HELP and STOP are still answered; a limiter
// that cannot be reached lets texts through.
func TestRateLimit(t *testing.T) {
	p, ix, cat := sessiontest.Example(t)
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cases.db"), p.City.ReferencePrefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ev := &sessiontest.Events{}
	eng, err := dialog.New(dialog.Config{Pack: p, Router: dialog.NewRouter(p, ix, cat), Catalog: cat, Cases: store, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	lim := &firstN{n: 2, seen: map[string]int{}}
	h, err := sms.New(sms.Config{Engine: eng, OptOuts: store, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux, twilio.NewVerifier(twilio.VerifierConfig{AuthToken: authToken, PublicURL: publicURL}).Wrap)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := &server{Client: &twiliotest.Client{Base: srv.URL, PublicURL: publicURL, AuthToken: authToken}, store: store, events: ev}

	s.text(t, resident, "hello")
	s.text(t, resident, "when is garbage day")
	turns := ev.N.Load()
	want := eng.Say("en", "rate_limited")
	if got := s.text(t, resident, "hello again"); len(got) != 1 || got[0] != want {
		t.Errorf("over the limit: %q, want %q", got, want)
	}
	if ev.N.Load() != turns {
		t.Error("a text over the limit was processed")
	}
	if got := s.text(t, resident, "HELP"); len(got) != 1 || got[0] == want {
		t.Errorf("HELP over the limit: %q", got)
	}
	if got := s.text(t, "+15559870000", "hello"); len(got) == 0 || got[0] == want {
		t.Errorf("another resident: %q", got)
	}
	lim.err = errors.New("unreachable")
	if got := s.text(t, resident, "hello"); len(got) == 0 || got[0] == want {
		t.Errorf("with the limiter unreachable: %q", got)
	}
}
