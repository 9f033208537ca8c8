package open311_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/cases/open311"
	"github.com/cityline/cityline/cases/open311/open311test"
)

// logBuffer is a log sink several goroutines can share.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const upstreamKey = "upstream-secret-77"

// rig is a store in upstream mode, the stand-in for the city's CRM, and
// a relay between them, all on one fake clock.
type rig struct {
	t      *testing.T
	clock  *casetest.FakeClock
	store  store
	reopen func() store
	up     *open311test.Server
	client *open311.Client
	relay  *open311.Relay
	logs   *logBuffer
}

func newRig(t *testing.T, b backend, format string) *rig {
	t.Helper()
	clock := casetest.Clock(t)
	s, reopen := b.open(t, clock.Now)
	s.QueueUpstream(true)
	cat := catalog(t)
	up := open311test.New(t, upstreamKey, cat.List, cat.Definitions)
	up.Jurisdiction = "crm.example.city"
	up.Now = clock.Now
	up.Delay = 2 * time.Second
	client, err := open311.NewClient(open311.ClientConfig{URL: up.Endpoint(), APIKey: upstreamKey,
		Jurisdiction: "crm.example.city", Format: format, Timeout: 250 * time.Millisecond, Location: toronto(t)})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, clock: clock, store: s, reopen: reopen, up: up, client: client, logs: &logBuffer{}}
	r.relay = r.newRelay(s)
	return r
}

func (r *rig) newRelay(s store) *open311.Relay {
	r.t.Helper()
	cat := catalog(r.t)
	relay, err := open311.NewRelay(open311.RelayConfig{Client: r.client, Outbox: s, Store: s, Catalog: cat,
		MinBackoff: 10 * time.Second, MaxBackoff: 2 * time.Minute, PollEvery: 5 * time.Minute, Now: r.clock.Now,
		Logger: slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		r.t.Fatal(err)
	}
	return relay
}

// file stores a case as a conversation would.
func (r *rig) file(code string, notify bool) *cases.Case {
	r.t.Helper()
	c := &cases.Case{ServiceCode: code, ServiceName: code, Description: "Reported by a resident.",
		Address: "100 Queen St W", Location: &cases.Point{Lat: 43.6532, Long: -79.3832}, Channel: "sms",
		Contact: cases.Contact{Phone: "+15550104477", Notify: notify}}
	if code == "POTHOLE" {
		c.Attributes = map[string][]string{"SIZE": {"L"}, "HAZARDS": {"WATER"}}
	}
	if err := r.store.Create(r.t.Context(), c); err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *rig) dispatch(ref string) *cases.Dispatch {
	r.t.Helper()
	d, err := r.store.GetDispatch(r.t.Context(), ref)
	if err != nil {
		r.t.Fatalf("dispatch of %s: %v", ref, err)
	}
	return d
}

// pass runs one send pass, then moves the clock to when the next
// dispatch is due (at most max ahead).
func (r *rig) pass(ctx context.Context, max time.Duration) {
	r.t.Helper()
	if err := r.relay.Send(ctx); err != nil && ctx.Err() == nil {
		r.t.Fatalf("send: %v", err)
	}
	r.clock.Advance(max)
}

// TestUpstreamOutage: the upstream is down for a while — errors, dropped
// connections, answers that never come though the request arrived — and
// every queued request is delivered exactly once after it returns.
func TestUpstreamOutage(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			r := newRig(t, b, "json")
			var filed []*cases.Case
			for _, code := range []string{"POTHOLE", "GRAFFITI", "TREE"} {
				filed = append(filed, r.file(code, false))
			}
			// The upstream files these three but its answers never come.
			r.up.SetMode(open311test.Slow)
			r.pass(t.Context(), 3*time.Minute)
			if got := len(r.up.Requests()); got != 3 {
				t.Fatalf("the slow upstream filed %d requests, want 3", got)
			}
			// Then it is down for a while, and two more cases are filed.
			for _, code := range []string{"POTHOLE", "GRAFFITI"} {
				filed = append(filed, r.file(code, false))
			}
			for i, m := range []open311test.Mode{open311test.Down, open311test.Drop, open311test.Down, open311test.Slow,
				open311test.Down, open311test.Drop, open311test.Down} {
				r.up.SetMode(m)
				r.pass(t.Context(), 3*time.Minute)
				for _, c := range filed {
					d := r.dispatch(c.Ref)
					if d.State != cases.DispatchSending {
						t.Fatalf("pass %d (%v): %s is %s while the upstream is down, want sending", i, m, c.Ref, d.State)
					}
					if wait := d.NextAt.Sub(r.clock.Now()); wait > 2*time.Minute {
						t.Errorf("pass %d: %s waits %v, more than the 2m cap", i, c.Ref, wait)
					}
				}
			}
			if got := len(r.up.Requests()); got != 3 {
				t.Fatalf("the upstream filed %d requests while down, want still 3", got)
			}
			// It comes back (and its nightly batch run has numbered the tree).
			r.up.NumberTokens()
			r.up.SetMode(open311test.Up)
			for range 3 {
				r.pass(t.Context(), 3*time.Minute)
			}
			for _, c := range filed {
				d := r.dispatch(c.Ref)
				if n := r.up.Count(open311.Marker(c.Ref)); n != 1 {
					t.Errorf("%s arrived upstream %d times, want once", c.Ref, n)
				}
				if d.State != cases.DispatchSent || (d.UpstreamID == "" && d.UpstreamToken == "") || d.LastError != "" {
					t.Errorf("%s: %+v, want sent with the upstream's id or token", c.Ref, d)
				}
			}
			if got := len(r.up.Requests()); got != len(filed) {
				t.Errorf("the upstream has %d requests, want %d", got, len(filed))
			}
			// The pothole's attributes went as the standard writes them.
			for _, rq := range r.up.Requests() {
				if rq.ServiceCode == "POTHOLE" {
					if got := rq.Form["attribute[HAZARDS][]"]; !slices.Equal(got, []string{"WATER"}) || rq.Form.Get("attribute[SIZE]") != "L" {
						t.Errorf("pothole attributes sent as %v", rq.Form)
					}
					if rq.Form.Get("phone") != "+15550104477" || rq.IdempotencyKey == "" {
						t.Errorf("contact or idempotency key not sent: %v %q", rq.Form, rq.IdempotencyKey)
					}
				}
			}
			if p := r.up.Problems(); len(p) > 0 {
				t.Errorf("the stand-in saw bad requests: %v", p)
			}
			if log := r.logs.String(); strings.Count(log, "an earlier attempt had arrived") != 3 {
				t.Errorf("want three requests found upstream rather than sent again; log:\n%s", log)
			}
		})
	}
}

// failingOutbox is an outbox whose commit of a "sent" state fails, as
// when the process dies between the upstream's answer and the commit.
type failingOutbox struct {
	open311.Outbox
}

func (f failingOutbox) SaveDispatch(ctx context.Context, d *cases.Dispatch) error {
	if d.State == cases.DispatchSent {
		return errors.New("killed before the commit")
	}
	return f.Outbox.SaveDispatch(ctx, d)
}

// TestCrashBetweenSendAndCommit: the process stops after the upstream
// filed the request and before Cityline recorded it. The next process
// finds the request upstream instead of filing it again.
func TestCrashBetweenSendAndCommit(t *testing.T) {
	for _, b := range backends() {
		for _, how := range []string{"killed mid-request", "commit lost"} {
			t.Run(b.name+"/"+how, func(t *testing.T) {
				r := newRig(t, b, "xml")
				c := r.file("POTHOLE", false)
				ctx, kill := context.WithCancel(t.Context())
				switch how {
				case "killed mid-request":
					// The process dies the moment the upstream has filed it.
					r.up.AfterCreate(func(open311test.Request) { kill() })
				case "commit lost":
					crashing, err := open311.NewRelay(open311.RelayConfig{Client: r.client, Outbox: failingOutbox{r.store},
						Store: r.store, Now: r.clock.Now})
					if err != nil {
						t.Fatal(err)
					}
					r.relay = crashing
				}
				r.relay.Send(ctx)
				kill()
				r.up.AfterCreate(nil)
				if n := r.up.Count(open311.Marker(c.Ref)); n != 1 {
					t.Fatalf("before the restart the upstream has %d copies, want 1", n)
				}
				if d := r.dispatch(c.Ref); d.State != cases.DispatchSending {
					t.Fatalf("after the crash the dispatch is %s, want sending (outcome unknown)", d.State)
				}
				// The process is gone; a new one opens the same database.
				r.store.Close()
				r.store = r.reopen()
				r.relay = r.newRelay(r.store)
				// Restarted at once: the attempt's lease still holds.
				r.relay.Send(t.Context())
				if posts := r.up.Posts(); posts != 1 {
					t.Errorf("a restart within the lease posted again (%d posts)", posts)
				}
				// After the lease, the request is looked for, and found.
				r.clock.Advance(5 * time.Minute)
				r.relay.Send(t.Context())
				d := r.dispatch(c.Ref)
				up := r.up.Requests()
				if d.State != cases.DispatchSent || len(up) != 1 || d.UpstreamID != up[0].ID {
					t.Errorf("after the restart: %+v; upstream has %d", d, len(up))
				}
				if posts := r.up.Posts(); posts != 1 {
					t.Errorf("the upstream got %d POSTs, want 1", posts)
				}
				r.clock.Advance(time.Hour)
				r.relay.Send(t.Context())
				if n := r.up.Count(open311.Marker(c.Ref)); n != 1 {
					t.Errorf("the upstream has %d copies, want 1", n)
				}
			})
		}
	}
}

// TestUpstreamRefuses: a 400 is tried a few times (some servers answer
// 400 while their CRM is down), then the case is failed for staff, with
// the upstream's words kept and logged; it is never sent again. A refused
// api_key fails nothing: the queue waits for the configuration.
func TestUpstreamRefuses(t *testing.T) {
	r := newRig(t, backends()[0], "json")
	c := r.file("GRAFFITI", false)
	r.up.SetMode(open311test.Refuse)
	for range 10 {
		r.pass(t.Context(), time.Hour)
	}
	d := r.dispatch(c.Ref)
	if d.State != cases.DispatchFailed || d.Rejections != 3 || !strings.Contains(d.LastError, "Duplicate request") {
		t.Errorf("after refusals: %+v, want failed after 3 with the upstream's words", d)
	}
	if posts := r.up.Posts(); posts != 3 {
		t.Errorf("%d POSTs, want 3 and no more", posts)
	}
	if log := r.logs.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, c.Ref) ||
		!strings.Contains(log, "staff") {
		t.Errorf("the failure is not logged for staff:\n%s", log)
	}

	// A wrong api_key: logged, nothing failed, retried slowly.
	r.up.SetMode(open311test.Up)
	bad, err := open311.NewClient(open311.ClientConfig{URL: r.up.Endpoint(), APIKey: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	relay, err := open311.NewRelay(open311.RelayConfig{Client: bad, Outbox: r.store, Store: r.store, Now: r.clock.Now,
		MaxBackoff: time.Hour, Logger: slog.New(slog.NewTextHandler(r.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e := r.file("GRAFFITI", false)
	for range 5 {
		relay.Send(t.Context())
		r.clock.Advance(time.Hour)
	}
	if d := r.dispatch(e.Ref); d.State != cases.DispatchPending || !strings.Contains(d.LastError, "403") {
		t.Errorf("with a refused key: %+v, want pending with the 403 noted", d)
	}
	if !strings.Contains(r.logs.String(), "CITYLINE_OPEN311_UPSTREAM_KEY") {
		t.Errorf("the log does not point at the key setting")
	}
}

// TestUpstreamStatusComesBack: what the city changes upstream is copied to
// the case, once; it records a notification for a resident who asked; a
// blackbox request's id is found.
func TestUpstreamStatusComesBack(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			r := newRig(t, b, "json")
			c := r.file("POTHOLE", true)
			noise := r.file("NOISE", false)
			r.relay.Send(t.Context())
			d := r.dispatch(c.Ref)
			if d.State != cases.DispatchSent {
				t.Fatalf("not sent: %+v", d)
			}
			if nd := r.dispatch(noise.Ref); nd.State != cases.DispatchAccepted || nd.UpstreamID != "" {
				t.Fatalf("blackbox: %+v, want accepted without an id", nd)
			}
			poll := func() {
				t.Helper()
				r.clock.Advance(6 * time.Minute)
				if err := r.relay.Poll(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			poll()
			if n, _ := r.store.ClaimNotifications(t.Context(), 10); len(n) != 0 {
				t.Errorf("an unchanged upstream made %d notifications", len(n))
			}
			if nd := r.dispatch(noise.Ref); nd.State != cases.DispatchSent || nd.UpstreamID == "" {
				t.Errorf("blackbox after a poll: %+v, want its id found", nd)
			}

			expected := time.Date(2026, 3, 20, 17, 0, 0, 0, toronto(t))
			r.up.Update(d.UpstreamID, "closed", "Filled with asphalt.", expected)
			poll()
			got, _ := r.store.Get(t.Context(), c.Ref)
			if got.Status != cases.StatusClosed || got.StatusNotes != "Filled with asphalt." || !got.Expected.Equal(expected) {
				t.Errorf("after the city closed it: %s %q %v", got.Status, got.StatusNotes, got.Expected)
			}
			n, err := r.store.ClaimNotifications(t.Context(), 10)
			if err != nil || len(n) != 1 || n[0].Case.Ref != c.Ref {
				t.Fatalf("notifications after the change: %+v, %v; want one for %s", n, err, c.Ref)
			}

			// Local staff add a note; the upstream says nothing new: kept.
			notes := "Staff: the crew will come back to level it."
			if _, err := r.store.Update(t.Context(), c.Ref, cases.Change{Notes: &notes}); err != nil {
				t.Fatal(err)
			}
			r.store.ClaimNotifications(t.Context(), 10)
			poll()
			poll()
			if got, _ := r.store.Get(t.Context(), c.Ref); got.StatusNotes != notes {
				t.Errorf("a poll overwrote local notes with the upstream's old ones: %q", got.StatusNotes)
			}
			if n, _ := r.store.ClaimNotifications(t.Context(), 10); len(n) != 0 {
				t.Errorf("polls of an unchanged upstream made %d notifications", len(n))
			}
			// A batch request: a token first, its id once the CRM numbers it.
			tree := r.file("TREE", false)
			r.relay.Send(t.Context())
			if d := r.dispatch(tree.Ref); d.State != cases.DispatchSent || d.UpstreamToken == "" || d.UpstreamID != "" {
				t.Fatalf("batch request: %+v, want sent with a token and no id yet", d)
			}
			poll()
			r.up.NumberTokens()
			poll()
			if d := r.dispatch(tree.Ref); d.UpstreamID == "" {
				t.Errorf("batch request after the CRM numbered it: %+v, want its id", d)
			}

			// Reopened upstream: copied.
			r.up.Update(d.UpstreamID, "open", "Reopened: the patch sank.", expected)
			r.clock.Advance(25 * time.Hour) // closed cases are read back daily
			r.relay.Poll(t.Context())
			if got, _ := r.store.Get(t.Context(), c.Ref); got.Status != cases.StatusOpen || got.StatusNotes != "Reopened: the patch sank." {
				t.Errorf("after the city reopened it: %s %q", got.Status, got.StatusNotes)
			}
		})
	}
}

// TestClient: the client reads and writes both formats of a server
// written from the specification.
func TestClient(t *testing.T) {
	cat := catalog(t)
	up := open311test.New(t, upstreamKey, cat.List, cat.Definitions)
	for _, format := range []string{"json", "xml"} {
		c, err := open311.NewClient(open311.ClientConfig{URL: up.Endpoint() + "/", APIKey: upstreamKey, Format: format})
		if err != nil {
			t.Fatal(err)
		}
		list, err := c.Services(t.Context())
		if err != nil || !reflect.DeepEqual(list, cat.List) {
			t.Errorf("%s: services %+v, %v", format, list, err)
		}
		def, err := c.Definition(t.Context(), "TREE")
		if err != nil || !reflect.DeepEqual(def, cat.Definitions["TREE"]) {
			t.Errorf("%s: definition %+v, %v; want %+v", format, def, err, cat.Definitions["TREE"])
		}
		if _, err := c.Definition(t.Context(), "GRAFFITI"); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("%s: definition of a service without one: %v, want ErrNotFound", format, err)
		}
		rc, err := c.Post(t.Context(), open311.PostRequest{ServiceCode: "POTHOLE", Address: "1 Main St",
			Description: "via " + format, Attributes: map[string][]string{"HAZARDS": {"WATER", "TRAFFIC"}, "SIZE": {"S"}}})
		if err != nil || rc.ID == "" {
			t.Fatalf("%s: post: %+v, %v", format, rc, err)
		}
		got, err := c.Requests(t.Context(), open311.Query{IDs: []string{rc.ID}})
		if err != nil || len(got) != 1 || got[0].ID != rc.ID || got[0].Description != "via "+format || got[0].Status != "open" ||
			got[0].Requested.IsZero() {
			t.Errorf("%s: requests: %+v, %v", format, got, err)
		}
		rc, err = c.Post(t.Context(), open311.PostRequest{ServiceCode: "TREE", AddressID: "A1"})
		if err != nil || rc.Token == "" || rc.ID != "" {
			t.Errorf("%s: post of a batch request: %+v, %v", format, rc, err)
		}
		if tk, err := c.Token(t.Context(), rc.Token); err != nil || tk.Token != rc.Token {
			t.Errorf("%s: token: %+v, %v", format, tk, err)
		}
		_, err = c.Post(t.Context(), open311.PostRequest{ServiceCode: "NOPE", Address: "x"})
		var se *open311.StatusError
		if !errors.As(err, &se) || se.Status != 404 || len(se.Errors) != 1 || !open311.Rejected(err) {
			t.Errorf("%s: post of an unknown service: %v", format, err)
		}
	}
	for _, r := range up.Requests() {
		if r.ServiceCode == "POTHOLE" && !slices.Equal(r.Form["attribute[HAZARDS][]"], []string{"WATER", "TRAFFIC"}) {
			t.Errorf("a multivaluelist was sent as %v", r.Form)
		}
	}
	if p := up.Problems(); len(p) > 0 {
		t.Errorf("the stand-in saw bad requests: %v", p)
	}
}

// TestCacheKeepsTheLastGoodCopy: the fallback serves until the upstream
// is read; when it is down, the last copy stays.
func TestCacheKeepsTheLastGoodCopy(t *testing.T) {
	cat := catalog(t)
	up := open311test.New(t, upstreamKey, cat.List[:2], map[string]cases.Definition{"POTHOLE": cat.Definitions["POTHOLE"]})
	client, err := open311.NewClient(open311.ClientConfig{URL: up.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := open311.NewCache(open311.CacheConfig{Client: client, Fallback: cat})
	if err != nil {
		t.Fatal(err)
	}
	codes := func() []string {
		list, err := cache.Services(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range list {
			out = append(out, s.Code)
		}
		return out
	}
	if got := codes(); len(got) != len(cat.List) {
		t.Errorf("before the first read: %v, want the fallback's", got)
	}
	if err := cache.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := codes(); !slices.Equal(got, []string{"POTHOLE", "GRAFFITI"}) {
		t.Errorf("after a read: %v", got)
	}
	up.SetMode(open311test.Down)
	if err := cache.Refresh(t.Context()); err == nil {
		t.Errorf("a refresh from a server that is down succeeded")
	}
	if got := codes(); !slices.Equal(got, []string{"POTHOLE", "GRAFFITI"}) {
		t.Errorf("while the upstream is down: %v, want the last good copy", got)
	}
	if d, err := cache.Definition(t.Context(), "POTHOLE"); err != nil || len(d.Attributes) != 6 {
		t.Errorf("definition while down: %+v, %v", d, err)
	}
	if _, err := cache.Definition(t.Context(), "TREE"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("a definition the upstream does not have: %v", err)
	}
	// Up again, with a definition that cannot be read: its last copy stays.
	up.SetMode(open311test.Up)
	up.SetServices(cat.List[:2], map[string]cases.Definition{})
	if err := cache.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Definition(t.Context(), "POTHOLE"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("a definition the upstream withdrew is still served: %v", err)
	}
}

// TestLoopsStop: Run returns promptly when its context ends, even with a
// request to the upstream in flight.
func TestLoopsStop(t *testing.T) {
	r := newRig(t, backends()[0], "json")
	r.up.Delay = time.Minute
	r.up.SetMode(open311test.Slow)
	r.file("POTHOLE", false)
	cache, err := open311.NewCache(open311.CacheConfig{Client: r.client})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { r.relay.Run(ctx, 10*time.Millisecond) })
	wg.Go(func() { cache.Run(ctx, 10*time.Millisecond) })
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the loops did not stop")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the loops took %v to stop", d)
	}
}

// TestUpstreamUnreachable: when the connection cannot even be made,
// nothing reached the upstream: the case stays pending, to be sent again
// after the back-off without being looked for first.
func TestUpstreamUnreachable(t *testing.T) {
	r := newRig(t, backends()[0], "json")
	c := r.file("GRAFFITI", false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/open311/v2"
	ln.Close()
	dead, err := open311.NewClient(open311.ClientConfig{URL: closed, APIKey: upstreamKey})
	if err != nil {
		t.Fatal(err)
	}
	relay, err := open311.NewRelay(open311.RelayConfig{Client: dead, Outbox: r.store, Store: r.store, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	relay.Send(t.Context())
	d := r.dispatch(c.Ref)
	if d.State != cases.DispatchPending || d.Attempts != 1 || !d.NextAt.After(r.clock.Now()) {
		t.Fatalf("after a refused connection: %+v, want pending, one attempt, a later try", d)
	}
	r.clock.Advance(time.Minute)
	r.relay.Send(t.Context())
	if d := r.dispatch(c.Ref); d.State != cases.DispatchSent || r.up.Posts() != 1 {
		t.Errorf("once reachable: %+v, %d POSTs", d, r.up.Posts())
	}
}
