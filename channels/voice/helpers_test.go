package voice

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/cases/sqlite"
	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/sessiontest"
)

const (
	authToken = "c0ffee00c0ffee00c0ffee00c0ffee00"
	publicURL = "https://311.example.city"
	caller    = "+15551230000"
	agentLine = "+15550009999"
)

// Times in Example City (America/Toronto): a Wednesday morning, when
// staff are in, and the evening before, when they are not.
var (
	officeHours = time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC) // 10:00 in Toronto
	afterHours  = time.Date(2026, 3, 4, 3, 0, 0, 0, time.UTC)  // 22:00 the day before
)

// server is the voice channel on a real HTTP server, over a real engine
// and a SQLite case file.
type server struct {
	*twiliotest.Client
	h      *Handler
	store  *sqlite.Store
	clock  *casetest.FakeClock
	events *sessiontest.Events
}

func newServer(t *testing.T, agent string) *server {
	t.Helper()
	p, ix, cat := sessiontest.Example(t)
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cases.db"), p.City.ReferencePrefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := casetest.NewFakeClock(officeHours)
	ev := &sessiontest.Events{}
	eng, err := dialog.New(dialog.Config{Pack: p, Router: dialog.NewRouter(p, ix, cat), Catalog: cat, Cases: store,
		Events: ev, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Engine: eng, AgentNumber: agent, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux, twilio.NewVerifier(twilio.VerifierConfig{AuthToken: authToken, PublicURL: publicURL}).Wrap)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &server{Client: &twiliotest.Client{Base: srv.URL, PublicURL: publicURL, AuthToken: authToken},
		h: h, store: store, clock: clk, events: ev}
}

func (s *server) cases(t *testing.T) []*cases.Case {
	t.Helper()
	list, err := s.store.List(t.Context(), cases.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// call plays Twilio's part in one phone call: it posts to the URLs the
// TwiML names, as Twilio would.
type phoneCall struct {
	s    *server
	sid  string
	last *twiliotest.Node
	doc  string
}

func (s *server) call(sid string) *phoneCall { return &phoneCall{s: s, sid: sid} }

func (c *phoneCall) post(t *testing.T, path string, extra url.Values) *twiliotest.Node {
	t.Helper()
	form := url.Values{"CallSid": {c.sid}, "From": {caller}, "To": {"+15550001111"},
		"AccountSid": {"AC00000000000000000000000000000000"}, "CallStatus": {"in-progress"}, "Direction": {"inbound"}}
	for k, v := range extra {
		form[k] = v
	}
	status, doc := c.s.Post(t, path, form)
	if status != http.StatusOK {
		t.Fatalf("POST %s: status %d: %s", path, status, doc)
	}
	c.doc = doc
	c.last = twiliotest.Parse(t, doc, twiliotest.VoiceVerbs)
	return c.last
}

// answer is the call coming in.
func (c *phoneCall) answer(t *testing.T) *twiliotest.Node {
	t.Helper()
	return c.post(t, Path, nil)
}

// action is where the current Gather sends what it hears.
func (c *phoneCall) action(t *testing.T) string {
	t.Helper()
	gathers := c.last.All("Gather")
	if len(gathers) == 0 {
		t.Fatalf("no <Gather> to answer:\n%s", c.doc)
	}
	return gathers[0].Attr("action")
}

// say answers the current Gather with speech.
func (c *phoneCall) say(t *testing.T, speech string) *twiliotest.Node {
	t.Helper()
	return c.post(t, c.action(t), url.Values{"SpeechResult": {speech}, "Confidence": {"0.92"}})
}

// press answers the current Gather with keys.
func (c *phoneCall) press(t *testing.T, digits string) *twiliotest.Node {
	t.Helper()
	return c.post(t, c.action(t), url.Values{"Digits": {digits}})
}

// heard is what the caller hears first: the prompts of the first Gather,
// or the top-level Say verbs when there is no Gather.
func heard(n *twiliotest.Node) string {
	if g := n.All("Gather"); len(g) > 0 {
		return strings.Join(g[0].Texts("Say"), " ")
	}
	var out []string
	for _, c := range n.Children {
		if c.Name == "Say" {
			out = append(out, c.Text)
		}
	}
	return strings.Join(out, " ")
}

// script reads a call fixture: one "say TEXT" or "press DIGITS" a line.
func script(t *testing.T, name string) [][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		verb, arg, _ := strings.Cut(line, " ")
		if verb != "say" && verb != "press" {
			t.Fatalf("%s: %q: want say or press", name, line)
		}
		out = append(out, [2]string{verb, arg})
	}
	return out
}

// play runs a script until the caller hears a reference number.
func (c *phoneCall) play(t *testing.T, steps [][2]string) []string {
	t.Helper()
	var said []string
	for _, st := range steps {
		var n *twiliotest.Node
		if st[0] == "say" {
			n = c.say(t, st[1])
		} else {
			n = c.press(t, st[1])
		}
		said = append(said, heard(n))
		if spokenRef.MatchString(heard(n)) {
			return said
		}
	}
	t.Fatalf("no reference heard; the caller heard:\n%s", strings.Join(said, "\n---\n"))
	return nil
}
