package sms_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/sqlite"
	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/sessiontest"
)

const (
	authToken = "c0ffee00c0ffee00c0ffee00c0ffee00"
	publicURL = "https://311.example.city" // what Twilio calls: the signatures cover it
	resident  = "+15551230000"
	cityNum   = "+15550001111"
)

// refRE finds a reference number in a reply.
var refRE = regexp.MustCompile(`\bEX-\d{6}\b`)

// liveDesk is a staff desk that is always there: a handed-over
// conversation then belongs to staff, and the assistant stays silent.
type liveDesk struct{ relayed atomic.Int64 }

func (*liveDesk) Open(context.Context, dialog.Handoff) (string, bool, error) { return "T1", true, nil }
func (d *liveDesk) Relay(context.Context, string, *dialog.Session, string) error {
	d.relayed.Add(1)
	return nil
}

// server is the SMS channel on a real HTTP server over a real engine and
// a SQLite case file in dir.
type server struct {
	*twiliotest.Client
	store  *sqlite.Store
	events *sessiontest.Events
	desk   *liveDesk
	seq    int
}

type option func(*dialog.Config)

func withStaff(d *liveDesk) option { return func(c *dialog.Config) { c.Handoff = d } }

func newServer(t *testing.T, dir string, opts ...option) *server {
	t.Helper()
	p, ix, cat := sessiontest.Example(t)
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "cases.db"), p.City.ReferencePrefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ev := &sessiontest.Events{}
	// Each test reports afresh; finding the same pothole reported before
	// is the dialog's own test.
	cfg := dialog.Config{Pack: p, Router: dialog.NewRouter(p, ix, cat), Catalog: cat, Cases: store, Events: ev, DuplicateRadius: -1,
		// Office hours do not matter to texts; a fixed weekday keeps replies stable.
		Now: func() time.Time { return time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC) }}
	for _, o := range opts {
		o(&cfg)
	}
	eng, err := dialog.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := sms.New(sms.Config{Engine: eng, OptOuts: store})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux, twilio.NewVerifier(twilio.VerifierConfig{AuthToken: authToken, PublicURL: publicURL}).Wrap)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := &server{Client: &twiliotest.Client{Base: srv.URL, PublicURL: publicURL, AuthToken: authToken},
		store: store, events: ev}
	if cfg.Handoff != nil {
		s.desk, _ = cfg.Handoff.(*liveDesk)
	}
	return s
}

// text sends a signed message from a number and returns the messages of
// the reply (none for an empty <Response/>).
func (s *server) text(t *testing.T, from, body string) []string {
	t.Helper()
	s.seq++
	return s.textSid(t, from, body, fmt.Sprintf("SM%032d", s.seq))
}

func (s *server) textSid(t *testing.T, from, body, sid string) []string {
	t.Helper()
	return s.send(t, url.Values{"From": {from}, "To": {cityNum}, "Body": {body}, "MessageSid": {sid},
		"AccountSid": {"AC00000000000000000000000000000000"}, "NumMedia": {"0"}})
}

func (s *server) send(t *testing.T, form url.Values) []string {
	t.Helper()
	status, doc := s.Post(t, sms.Path, form)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, doc)
	}
	return twiliotest.Parse(t, doc, twiliotest.MessagingVerbs).Texts("Message")
}

func (s *server) cases(t *testing.T) []*cases.Case {
	t.Helper()
	list, err := s.store.List(t.Context(), cases.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// script reads a conversation fixture: one message a line, # comments.
func script(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// report runs a script until a reply carries a reference and returns
// every reply, joined per turn.
func (s *server) report(t *testing.T, from string, lines []string) []string {
	t.Helper()
	var replies []string
	for _, line := range lines {
		reply := strings.Join(s.text(t, from, line), "\n")
		replies = append(replies, reply)
		if refRE.MatchString(reply) {
			return replies
		}
	}
	t.Fatalf("no reference after the whole script; replies:\n%s", strings.Join(replies, "\n---\n"))
	return nil
}
