// Package casetest is the contract every cases.Store must keep, written
// once and run against each implementation (cases/sqlite, cases/postgres),
// plus the benchmarks that compare them. It is imported only by tests.
//
// An implementation's test opens a fresh, empty store for each call of
// open, with reference prefix Prefix and the clock Clock(t).Now:
//
//	func TestContract(t *testing.T) {
//		casetest.Run(t, func(t *testing.T) cases.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cases.db"),
//				casetest.Prefix, casetest.Clock(t).Now)
//			...
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package casetest

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
)

// Prefix is the reference prefix the stores under test must be opened with.
const Prefix = "EX"

// Epoch is where every test clock starts: not UTC and not a whole
// microsecond, so the suite sees how stores keep times.
var Epoch = time.Date(2026, 3, 14, 9, 26, 53, 589793238, time.FixedZone("EST", -5*60*60))

// FakeClock is a clock that moves only when told to.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time; pass it as the store's clock.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewFakeClock returns a fake clock at t, for tests of any part that
// takes a clock.
func NewFakeClock(t time.Time) *FakeClock { return &FakeClock{now: t} }

// Set puts the clock at t.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d and returns the new time.
func (c *FakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

var clocks sync.Map // testing.TB -> *FakeClock

// Clock returns the fake clock of test tb, starting at Epoch. The open
// function gives Clock(t).Now to the store; the suite moves the same clock.
func Clock(tb testing.TB) *FakeClock {
	c := &FakeClock{now: Epoch}
	got, loaded := clocks.LoadOrStore(tb, c)
	if !loaded {
		tb.Cleanup(func() { clocks.Delete(tb) })
	}
	return got.(*FakeClock)
}

// Run runs the contract suite. Each subtest calls open once for a fresh
// empty store (see the package comment) and may run in parallel with the
// others; open registers the store's Close with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) cases.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s cases.Store)
	}{
		{"CreateAssigns", testCreateAssigns},
		{"CreateInvalid", testCreateInvalid},
		{"GetAnyForm", testGetAnyForm},
		{"RoundTrip", testRoundTrip},
		{"RoundTripMinimal", testRoundTripMinimal},
		{"IdempotencyKey", testIdempotencyKey},
		{"BatchToken", testBatchToken},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ConcurrentSameKey", testConcurrentSameKey},
		{"NotFound", testNotFound},
		{"Update", testUpdate},
		{"UpdateInvalid", testUpdateInvalid},
		{"UpdateRef", testUpdateRef},
		{"UpdateRefTaken", testUpdateRefTaken},
		{"ListFilters", testListFilters},
		{"ListPaging", testListPaging},
		{"PingClose", testPingClose},
		{"HandoffThreads", testThreads},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// newCase is a minimal valid case.
func newCase(code string) *cases.Case {
	return &cases.Case{ServiceCode: code, ServiceName: strings.ToLower(code)}
}

func mustCreate(t testing.TB, s cases.Store, c *cases.Case) *cases.Case {
	t.Helper()
	if err := s.Create(t.Context(), c); err != nil {
		t.Fatalf("Create(%s): %v", c.ServiceCode, err)
	}
	return c
}

func mustGet(t testing.TB, s cases.Store, ref string) *cases.Case {
	t.Helper()
	c, err := s.Get(t.Context(), ref)
	if err != nil {
		t.Fatalf("Get(%q): %v", ref, err)
	}
	return c
}

func micro(tm time.Time) time.Time { return tm.Truncate(time.Microsecond) }

// diffCase lists how got differs from want. Times compare as instants to
// the microsecond (stores keep no more); an empty list equals nil.
func diffCase(got, want *cases.Case) []string {
	var diffs []string
	times := []struct {
		name      string
		got, want time.Time
	}{
		{"Requested", got.Requested, want.Requested},
		{"Updated", got.Updated, want.Updated},
		{"Expected", got.Expected, want.Expected},
	}
	for _, tm := range times {
		if !tm.got.Equal(micro(tm.want)) {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", tm.name, tm.got, micro(tm.want)))
		}
	}
	g, w := *got, *want
	g.Requested, g.Updated, g.Expected = time.Time{}, time.Time{}, time.Time{}
	w.Requested, w.Updated, w.Expected = time.Time{}, time.Time{}, time.Time{}
	if len(g.MediaURLs) == 0 {
		g.MediaURLs = nil
	}
	if len(w.MediaURLs) == 0 {
		w.MediaURLs = nil
	}
	if len(g.Attributes) == 0 {
		g.Attributes = nil
	}
	if len(w.Attributes) == 0 {
		w.Attributes = nil
	}
	gv, wv := reflect.ValueOf(g), reflect.ValueOf(w)
	for i := range gv.NumField() {
		if f := gv.Field(i); !reflect.DeepEqual(f.Interface(), wv.Field(i).Interface()) {
			diffs = append(diffs, fmt.Sprintf("%s = %s, want %s", gv.Type().Field(i).Name,
				show(f.Interface()), show(wv.Field(i).Interface())))
		}
	}
	return diffs
}

func show(v any) string {
	if p, ok := v.(*cases.Point); ok && p != nil {
		return fmt.Sprintf("&%+v", *p)
	}
	return fmt.Sprintf("%#v", v)
}

func checkCase(t testing.TB, what string, got, want *cases.Case) {
	t.Helper()
	if d := diffCase(got, want); len(d) > 0 {
		t.Errorf("%s differs:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

func refs(list []*cases.Case) []string {
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = c.Ref
	}
	return out
}

func list(t testing.TB, s cases.Store, f cases.Filter) []*cases.Case {
	t.Helper()
	l, err := s.List(t.Context(), f)
	if err != nil {
		t.Fatalf("List(%+v): %v", f, err)
	}
	return l
}

func testCreateAssigns(t *testing.T, s cases.Store) {
	clock := Clock(t)
	first := mustCreate(t, s, newCase("POTHOLE"))
	now := clock.Advance(90 * time.Second)
	second := mustCreate(t, s, newCase("GRAFFITI"))

	for i, c := range []*cases.Case{first, second} {
		n := int64(i + 1)
		if c.ID != n {
			t.Errorf("case %d: ID = %d, want %d in a fresh store", n, c.ID, n)
		}
		if want := fmt.Sprintf("%s-%06d", Prefix, n); c.Ref != want {
			t.Errorf("case %d: Ref = %q, want %q", n, c.Ref, want)
		}
		if c.Status != cases.StatusOpen {
			t.Errorf("case %d: Status = %q, want %q", n, c.Status, cases.StatusOpen)
		}
	}
	if !first.Requested.Equal(Epoch) || !first.Updated.Equal(Epoch) {
		t.Errorf("first case: Requested %v, Updated %v, want both the clock's %v", first.Requested, first.Updated, Epoch)
	}
	if !second.Requested.Equal(now) || !second.Updated.Equal(now) {
		t.Errorf("second case: Requested %v, Updated %v, want both the clock's %v", second.Requested, second.Updated, now)
	}
	checkCase(t, "Get of the first case", mustGet(t, s, first.Ref), first)
	checkCase(t, "Get of the second case", mustGet(t, s, second.Ref), second)

	// Given times and status are kept, not replaced by the clock's.
	at := Epoch.Add(-48 * time.Hour)
	c := newCase("NOISE")
	c.Requested, c.Status = at, cases.StatusClosed
	mustCreate(t, s, c)
	if !c.Requested.Equal(at) || !c.Updated.Equal(at) || c.Status != cases.StatusClosed {
		t.Errorf("Create with Requested %v, status closed: got Requested %v, Updated %v, status %q",
			at, c.Requested, c.Updated, c.Status)
	}
	checkCase(t, "Get of a case with its own times", mustGet(t, s, c.Ref), c)
}

func testCreateInvalid(t *testing.T, s cases.Store) {
	err := s.Create(t.Context(), &cases.Case{Description: "no service code"})
	if !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("Create without a service code: error %v, want one wrapping ErrInvalid", err)
	}
	if got := list(t, s, cases.Filter{}); len(got) != 0 {
		t.Errorf("after a refused Create, List has %d cases, want 0", len(got))
	}
}

func testGetAnyForm(t *testing.T, s cases.Store) {
	c := mustCreate(t, s, newCase("POTHOLE"))
	if c.Ref != Prefix+"-000001" {
		t.Fatalf("Ref = %q, want %s-000001", c.Ref, Prefix)
	}
	for _, in := range []string{"EX-000001", "ex-000001", "Ex-000001", "ex 1", "EX1", "ex-1", " ex #1 ", "ex - 0001", "EX-000001\n"} {
		got, err := s.Get(t.Context(), in)
		if err != nil {
			t.Errorf("Get(%q): %v", in, err)
			continue
		}
		if got.ID != c.ID || got.Ref != c.Ref {
			t.Errorf("Get(%q) = %d %q, want %d %q", in, got.ID, got.Ref, c.ID, c.Ref)
		}
	}
}

// fullCase sets every field a store keeps.
func fullCase() *cases.Case {
	return &cases.Case{
		Key:         "sms:+15555550100:1f3a",
		ServiceCode: "POTHOLE",
		ServiceName: "Pothole",
		Status:      cases.StatusOpen,
		StatusNotes: "Crew assigned",
		Description: "Deep hole, près du trottoir — \"dangerous\" ✓\nsecond line",
		Agency:      "Streets & Sanitation",
		Notice:      "Usually repaired within 5 business days",
		Requested:   Epoch.Add(-3 * time.Hour),
		Updated:     Epoch.Add(-2*time.Hour + 123456789),
		Expected:    time.Date(2026, 3, 20, 17, 0, 0, 1500, time.FixedZone("PDT", -7*60*60)),
		Address:     "100 Main St",
		AddressID:   "ADDR-17",
		Zipcode:     "02134",
		Location:    &cases.Point{Lat: 43.653226123456, Long: -79.383184987654},
		MediaURLs:   []string{"https://example.org/a.jpg?x=1&y=2", "https://example.org/b.png"},
		Attributes: map[string][]string{
			"SIZE":    {"large"},
			"HAZARDS": {"water", "traffic", "cyclists"},
			"NOTE":    {`it's "deep"`},
			"EMPTY":   {""},
		},
		Channel: "sms",
		Lang:    "fr",
		Contact: cases.Contact{Phone: "+15555550100", Email: "ana@example.org", FirstName: "Ana",
			LastName: "Lé", DeviceID: "device-1", AccountID: "acct-9", Notify: true},
		Conversation: "web:4f1c",
	}
}

func testRoundTrip(t *testing.T, s cases.Store) {
	want := fullCase()
	c := fullCase()
	mustCreate(t, s, c)
	want.ID, want.Ref = c.ID, c.Ref
	checkCase(t, "Get", mustGet(t, s, c.Ref), want)
	l := list(t, s, cases.Filter{})
	if len(l) != 1 {
		t.Fatalf("List has %d cases, want 1", len(l))
	}
	checkCase(t, "List", l[0], want)
}

func testRoundTripMinimal(t *testing.T, s cases.Store) {
	c := mustCreate(t, s, &cases.Case{ServiceCode: "NOISE"})
	got := mustGet(t, s, c.Ref)
	checkCase(t, "Get", got, c)
	if got.Location != nil {
		t.Errorf("Location = %+v, want nil when only an address is known", *got.Location)
	}
	if !got.Expected.IsZero() {
		t.Errorf("Expected = %v, want the zero time when unknown", got.Expected)
	}
	if got.Contact != (cases.Contact{}) {
		t.Errorf("Contact = %+v, want none", got.Contact)
	}
	// A location at 0,0 is a location, not a missing one.
	z := &cases.Case{ServiceCode: "NOISE", Location: &cases.Point{}}
	mustCreate(t, s, z)
	if got := mustGet(t, s, z.Ref); got.Location == nil || *got.Location != (cases.Point{}) {
		t.Errorf("Location 0,0 came back as %s", show(got.Location))
	}
}

func testIdempotencyKey(t *testing.T, s cases.Store) {
	first := newCase("POTHOLE")
	first.Key, first.Description = "web:abc:1", "first submission"
	mustCreate(t, s, first)

	Clock(t).Advance(time.Minute)
	retry := newCase("GRAFFITI")
	retry.Key, retry.Description = "web:abc:1", "a retry with other content"
	err := s.Create(t.Context(), retry)
	if !errors.Is(err, cases.ErrConflict) {
		t.Fatalf("second Create with the same key: error %v, want one wrapping ErrConflict", err)
	}
	checkCase(t, "the retried case (filled with the first)", retry, first)
	if l := list(t, s, cases.Filter{}); len(l) != 1 {
		t.Errorf("List has %d cases %v, want exactly 1", len(l), refs(l))
	}

	// Other keys, and no key at all, file new cases.
	for _, key := range []string{"web:abc:2", "", ""} {
		c := newCase("POTHOLE")
		c.Key = key
		if err := s.Create(t.Context(), c); err != nil {
			t.Errorf("Create with key %q: %v", key, err)
		}
	}
	if l := list(t, s, cases.Filter{}); len(l) != 4 {
		t.Errorf("List has %d cases %v, want 4", len(l), refs(l))
	}
}

func testBatchToken(t *testing.T, s cases.Store) {
	c := newCase("TREE")
	c.Token = "tok-7f3a"
	mustCreate(t, s, c)
	if c.Ref != "" {
		t.Errorf("batch case (token, no reference): Ref = %q, want none yet", c.Ref)
	}
	if c.ID == 0 {
		t.Errorf("batch case: no ID assigned")
	}
	l := list(t, s, cases.Filter{})
	if len(l) != 1 {
		t.Fatalf("List has %d cases, want 1", len(l))
	}
	checkCase(t, "the listed batch case", l[0], c)
	// A second batch case is no clash over the missing reference.
	d := newCase("TREE")
	d.Token = "tok-7f3b"
	mustCreate(t, s, d)
	if d.Ref != "" {
		t.Errorf("second batch case: Ref = %q, want none yet", d.Ref)
	}
	if _, err := s.Get(t.Context(), ""); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf(`Get(""): error %v, want one wrapping ErrNotFound even with batch cases stored`, err)
	}
}

func testConcurrentCreates(t *testing.T, s cases.Store) {
	const n = 50
	made := make([]*cases.Case, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := newCase("POTHOLE")
			c.Description = fmt.Sprint("goroutine ", i)
			errs[i] = s.Create(t.Context(), c)
			made[i] = c
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for i, c := range made {
		if errs[i] != nil {
			t.Errorf("Create %d: %v", i, errs[i])
			continue
		}
		if want := cases.FormatRef(Prefix, c.ID); c.Ref != want {
			t.Errorf("Create %d: Ref %q for ID %d, want %q", i, c.Ref, c.ID, want)
		}
		if j, dup := seen[c.Ref]; dup {
			t.Errorf("Creates %d and %d both got %s", j, i, c.Ref)
		}
		seen[c.Ref] = i
	}
	l := list(t, s, cases.Filter{})
	if len(l) != n {
		t.Errorf("List has %d cases, want %d", len(l), n)
	}
	for _, c := range l {
		i, ok := seen[c.Ref]
		if !ok {
			t.Errorf("List has %s, which no Create returned", c.Ref)
			continue
		}
		if want := fmt.Sprint("goroutine ", i); c.Description != want {
			t.Errorf("%s: Description %q, want %q", c.Ref, c.Description, want)
		}
	}
}

func testConcurrentSameKey(t *testing.T, s cases.Store) {
	const n = 20
	made := make([]*cases.Case, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := newCase("POTHOLE")
			c.Key = "voice:CA123"
			errs[i] = s.Create(t.Context(), c)
			made[i] = c
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, cases.ErrConflict):
			t.Errorf("Create %d: %v, want nil or ErrConflict", i, err)
		}
		if made[i].Ref != made[0].Ref || made[i].ID != made[0].ID {
			t.Errorf("Create %d: case %d %q, Create 0: case %d %q; want the same case", i,
				made[i].ID, made[i].Ref, made[0].ID, made[0].Ref)
		}
	}
	if ok != 1 {
		t.Errorf("%d Creates succeeded, want exactly 1 (the rest ErrConflict)", ok)
	}
	if l := list(t, s, cases.Filter{}); len(l) != 1 {
		t.Errorf("List has %d cases %v, want exactly 1", len(l), refs(l))
	}
}

func testNotFound(t *testing.T, s cases.Store) {
	mustCreate(t, s, newCase("POTHOLE")) // EX-000001 exists; the others do not
	notes := "hello"
	for _, ref := range []string{"EX-000002", "ex 999999", "XY-000001", "", "nonsense", "000001"} {
		if c, err := s.Get(t.Context(), ref); !errors.Is(err, cases.ErrNotFound) || c != nil {
			t.Errorf("Get(%q) = %v, %v; want nil and an error wrapping ErrNotFound", ref, c, err)
		}
		if c, err := s.Update(t.Context(), ref, cases.Change{Notes: &notes}); !errors.Is(err, cases.ErrNotFound) || c != nil {
			t.Errorf("Update(%q) = %v, %v; want nil and an error wrapping ErrNotFound", ref, c, err)
		}
	}
	if got := mustGet(t, s, "EX-000001"); got.StatusNotes != "" {
		t.Errorf("EX-000001 notes %q: an Update of another reference touched it", got.StatusNotes)
	}
}

func ptr[T any](v T) *T { return &v }

func testUpdate(t *testing.T, s cases.Store) {
	clock := Clock(t)
	expected := time.Date(2026, 3, 21, 12, 30, 0, 999, time.FixedZone("CET", 60*60))
	tests := []struct {
		name string
		ch   cases.Change
		want func(c *cases.Case) // applies the change to a copy of the case
	}{
		{"close with notes", cases.Change{Status: ptr(cases.StatusClosed), Notes: ptr("Filled with asphalt")},
			func(c *cases.Case) { c.Status, c.StatusNotes = cases.StatusClosed, "Filled with asphalt" }},
		{"status in any case", cases.Change{Status: ptr(cases.Status(" Closed"))},
			func(c *cases.Case) { c.Status = cases.StatusClosed }},
		{"reopen", cases.Change{Status: ptr(cases.StatusOpen)},
			func(c *cases.Case) { c.Status = cases.StatusOpen }},
		{"notes only", cases.Change{Notes: ptr("Crew on site")},
			func(c *cases.Case) { c.StatusNotes = "Crew on site" }},
		{"clear notes", cases.Change{Notes: ptr("")},
			func(c *cases.Case) { c.StatusNotes = "" }},
		{"expected", cases.Change{Expected: &expected},
			func(c *cases.Case) { c.Expected = expected }},
		{"clear expected", cases.Change{Expected: &time.Time{}},
			func(c *cases.Case) { c.Expected = time.Time{} }},
		{"nothing but a touch", cases.Change{},
			func(c *cases.Case) {}},
	}
	for _, tt := range tests {
		// Each change starts from its own full case.
		c := fullCase()
		c.Key, c.Requested, c.Updated = "", time.Time{}, time.Time{}
		c.StatusNotes = "Received"
		mustCreate(t, s, c)
		want := *c
		tt.want(&want)
		want.Updated = clock.Advance(time.Hour + 1500) // not a whole microsecond
		got, err := s.Update(t.Context(), strings.ToLower(c.Ref), tt.ch)
		if err != nil {
			t.Errorf("%s: Update: %v", tt.name, err)
			continue
		}
		if !got.Updated.After(c.Updated) {
			t.Errorf("%s: Updated %v did not move forward from %v", tt.name, got.Updated, c.Updated)
		}
		checkCase(t, tt.name+": the updated case", got, &want)
		checkCase(t, tt.name+": Get after Update", mustGet(t, s, c.Ref), &want)
	}
	// The first case was closed, the second closed as " Closed".
	if got, want := refs(list(t, s, cases.Filter{Status: cases.StatusClosed})), []string{"EX-000002", "EX-000001"}; !slices.Equal(got, want) {
		t.Errorf("List(status closed) = %v, want %v", got, want)
	}
}

func testUpdateInvalid(t *testing.T, s cases.Store) {
	c := mustCreate(t, s, newCase("POTHOLE"))
	Clock(t).Advance(time.Hour)
	for _, st := range []cases.Status{"fixed", "", "opened", "in progress"} {
		got, err := s.Update(t.Context(), c.Ref, cases.Change{Status: &st, Notes: ptr("should not be kept")})
		if !errors.Is(err, cases.ErrInvalid) || got != nil {
			t.Errorf("Update to status %q = %v, %v; want nil and an error wrapping ErrInvalid", st, got, err)
		}
	}
	checkCase(t, "the case after refused updates", mustGet(t, s, c.Ref), c)
}

func testUpdateRef(t *testing.T, s cases.Store) {
	for i, tt := range []struct {
		newRef string
		lookup []string // forms Get must find the case by
	}{
		{"UP-000777", []string{"UP-000777", "up 777", "up-777"}},
		{"SR-1234", []string{"SR-1234", "sr-1234", "sr 1234"}},
		{"ABC-2026-0042", []string{"ABC-2026-0042", "abc-2026-0042"}},
		{"4f1c9a", []string{"4f1c9a", "4F1C9A"}},
	} {
		c := mustCreate(t, s, newCase("POTHOLE"))
		old := c.Ref
		got, err := s.Update(t.Context(), old, cases.Change{Ref: ptr(tt.newRef)})
		if err != nil {
			t.Errorf("Update(%s, Ref %q): %v", old, tt.newRef, err)
			continue
		}
		if got.ID != c.ID || !strings.EqualFold(cases.NormalizeRef(got.Ref), cases.NormalizeRef(tt.newRef)) {
			t.Errorf("Update(%s, Ref %q) returned case %d %q", old, tt.newRef, got.ID, got.Ref)
		}
		for _, in := range tt.lookup {
			if g, err := s.Get(t.Context(), in); err != nil || g.ID != c.ID {
				t.Errorf("after Ref %q: Get(%q) = %v, %v; want case %d", tt.newRef, in, g, err, c.ID)
			}
		}
		if _, err := s.Get(t.Context(), old); !errors.Is(err, cases.ErrNotFound) {
			t.Errorf("after Ref %q: Get(old %s): %v, want ErrNotFound", tt.newRef, old, err)
		}
		if l := list(t, s, cases.Filter{Refs: []string{tt.lookup[len(tt.lookup)-1]}}); len(l) != 1 || l[0].ID != c.ID {
			t.Errorf("after Ref %q: List(Refs %q) = %v, want case %d", tt.newRef, tt.lookup[len(tt.lookup)-1], refs(l), c.ID)
		}
		notes := fmt.Sprint("note ", i)
		if g, err := s.Update(t.Context(), tt.lookup[len(tt.lookup)-1], cases.Change{Notes: &notes}); err != nil || g.StatusNotes != notes {
			t.Errorf("after Ref %q: Update by %q = %v, %v", tt.newRef, tt.lookup[len(tt.lookup)-1], g, err)
		}
	}
}

func testUpdateRefTaken(t *testing.T, s cases.Store) {
	a := mustCreate(t, s, newCase("POTHOLE"))
	b := mustCreate(t, s, newCase("GRAFFITI"))
	if _, err := s.Update(t.Context(), b.Ref, cases.Change{Ref: ptr(a.Ref), Notes: ptr("x")}); err == nil {
		t.Errorf("Update(%s, Ref %s) of another case's reference succeeded", b.Ref, a.Ref)
	}
	checkCase(t, "the case whose reference was asked for", mustGet(t, s, a.Ref), a)
	checkCase(t, "the case that asked", mustGet(t, s, b.Ref), b)
}

// offset moves p north and east by metres, on the sphere DistanceM uses.
func offset(p cases.Point, northM, eastM float64) cases.Point {
	const mPerDeg = 6371000.0 * math.Pi / 180
	return cases.Point{
		Lat:  p.Lat + northM/mPerDeg,
		Long: p.Long + eastM/(mPerDeg*math.Cos(p.Lat*math.Pi/180)),
	}
}

func testListFilters(t *testing.T, s cases.Store) {
	center := cases.Point{Lat: 43.6532, Long: -79.3832}
	near, far := offset(center, 30, 0), offset(center, 0, 2000)
	t0 := Epoch.Truncate(time.Second)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	seed := []struct {
		code   string
		hour   int
		phone  string
		loc    *cases.Point
		status cases.Status
	}{
		{"POTHOLE", 0, "+15555550001", &center, ""},          // EX-000001
		{"GRAFFITI", 1, "+15555550002", &near, ""},           // EX-000002
		{"POTHOLE", 2, "+15555550001", &far, "closed"},       // EX-000003
		{"NOISE", 3, "", nil, ""},                            // EX-000004
		{"POTHOLE", 3, "+15555550003", &center, ""},          // EX-000005: same time as 4, later id
		{"TREE", -1, "+15555550002", &cases.Point{}, "open"}, // EX-000006: at 0,0, requested first
	}
	for _, c := range seed {
		mustCreate(t, s, &cases.Case{ServiceCode: c.code, Requested: at(c.hour), Status: c.status,
			Location: c.loc, Contact: cases.Contact{Phone: c.phone}})
	}
	r := func(ns ...int) []string {
		out := []string{}
		for _, n := range ns {
			out = append(out, cases.FormatRef(Prefix, int64(n)))
		}
		return out
	}
	tests := []struct {
		name string
		f    cases.Filter
		want []string
	}{
		{"all, newest first", cases.Filter{}, r(5, 4, 3, 2, 1, 6)},
		{"one service", cases.Filter{ServiceCodes: []string{"POTHOLE"}}, r(5, 3, 1)},
		{"two services", cases.Filter{ServiceCodes: []string{"NOISE", "GRAFFITI"}}, r(4, 2)},
		{"unknown service", cases.Filter{ServiceCodes: []string{"NOPE"}}, r()},
		{"open", cases.Filter{Status: cases.StatusOpen}, r(5, 4, 2, 1, 6)},
		{"closed", cases.Filter{Status: cases.StatusClosed}, r(3)},
		{"start inclusive", cases.Filter{Start: at(2)}, r(5, 4, 3)},
		{"end exclusive", cases.Filter{End: at(2)}, r(2, 1, 6)},
		{"start and end", cases.Filter{Start: at(1), End: at(3)}, r(3, 2)},
		{"start in another zone", cases.Filter{Start: at(2).In(time.FixedZone("JST", 9*60*60))}, r(5, 4, 3)},
		{"phone", cases.Filter{Phone: "+15555550001"}, r(3, 1)},
		{"unknown phone", cases.Filter{Phone: "+15555559999"}, r()},
		{"within 100 m", cases.Filter{Near: &center, RadiusM: 100}, r(5, 2, 1)},
		{"within 29 m", cases.Filter{Near: &center, RadiusM: 29}, r(5, 1)},
		{"within 30.01 m", cases.Filter{Near: &center, RadiusM: 30.01}, r(5, 2, 1)},
		{"within 3 km", cases.Filter{Near: &center, RadiusM: 3000}, r(5, 3, 2, 1)},
		{"within 3 km, closed", cases.Filter{Near: &center, RadiusM: 3000, Status: cases.StatusClosed}, r(3)},
		{"within 100 m, limit 2", cases.Filter{Near: &center, RadiusM: 100, Limit: 2}, r(5, 2)},
		{"within 100 m, offset 1", cases.Filter{Near: &center, RadiusM: 100, Offset: 1}, r(2, 1)},
		{"within 100 m, offset past the end", cases.Filter{Near: &center, RadiusM: 100, Offset: 9}, r()},
		{"near the far case", cases.Filter{Near: &far, RadiusM: 50}, r(3)},
		{"near 0,0", cases.Filter{Near: &cases.Point{}, RadiusM: 10}, r(6)},
		{"near without radius does not filter", cases.Filter{Near: &center}, r(5, 4, 3, 2, 1, 6)},
		{"service, status, phone", cases.Filter{ServiceCodes: []string{"POTHOLE"}, Status: cases.StatusOpen, Phone: "+15555550001"}, r(1)},
		{"refs override the rest", cases.Filter{Refs: []string{"ex 3", "EX-000001", "ex-000004"},
			ServiceCodes: []string{"GRAFFITI"}, Status: cases.StatusOpen, Phone: "+1", Start: at(9)}, r(4, 3, 1)},
		{"unknown ref", cases.Filter{Refs: []string{"EX-000099"}}, r()},
		{"limit", cases.Filter{Limit: 2}, r(5, 4)},
		{"offset and limit", cases.Filter{Offset: 1, Limit: 3}, r(4, 3, 2)},
		{"offset past the end", cases.Filter{Offset: 6}, r()},
	}
	for _, tt := range tests {
		got := refs(list(t, s, tt.f))
		if len(got) == 0 && len(tt.want) == 0 {
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: List = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func testListPaging(t *testing.T, s cases.Store) {
	if testing.Short() {
		t.Skip("2,500 cases: skipped in -short mode")
	}
	const n = 2500
	// Two cases a second, so the order within a second is by ID, filed
	// from several goroutines so IDs do not follow times.
	t0 := Epoch.Truncate(time.Second)
	made := make([]*cases.Case, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				c := &cases.Case{ServiceCode: "POTHOLE", Requested: t0.Add(time.Duration(i/2) * time.Second)}
				if err := s.Create(t.Context(), c); err != nil {
					t.Errorf("Create %d: %v", i, err)
					return
				}
				made[i] = c
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	slices.SortFunc(made, func(a, b *cases.Case) int {
		if c := b.Requested.Compare(a.Requested); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	want := refs(made)

	if got := refs(list(t, s, cases.Filter{})); !slices.Equal(got, want[:1000]) {
		t.Errorf("List with no limit: %d cases, want the newest 1,000", len(got))
	}
	for _, size := range []int{0, 1000, 333} {
		var got []string
		step := size
		if step == 0 {
			step = 1000
		}
		for off := 0; ; off += step {
			page := refs(list(t, s, cases.Filter{Offset: off, Limit: size}))
			if len(page) > step {
				t.Fatalf("page size %d: %d cases at offset %d", size, len(page), off)
			}
			got = append(got, page...)
			if len(page) < step {
				break
			}
		}
		if !slices.Equal(got, want) {
			seen := map[string]int{}
			for _, r := range got {
				seen[r]++
			}
			t.Errorf("page size %d: %d cases (%d distinct), want each of %d once, newest first",
				size, len(got), len(seen), n)
		}
	}
	if got := refs(list(t, s, cases.Filter{Limit: 5000})); !slices.Equal(got, want) {
		t.Errorf("List with limit 5,000: %d cases, want all %d in order", len(got), n)
	}
}

func testPingClose(t *testing.T, s cases.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	c := mustCreate(t, s, newCase("POTHOLE"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Errorf("Ping after Close: no error")
	}
	if _, err := s.Get(t.Context(), c.Ref); err == nil {
		t.Errorf("Get after Close: no error")
	}
}

// Bench runs the store benchmarks: Create (one case a loop), Create64
// (64 residents filing at once, as on a busy morning: the store's own
// concurrency, group commit on SQLite, is what it measures) and Get (by
// reference, among 1,000 cases). open returns a fresh empty store and
// closes it with b.Cleanup.
func Bench(b *testing.B, open func(b *testing.B) cases.Store) {
	b.Run("Create", func(b *testing.B) {
		s := open(b)
		b.ReportAllocs()
		for b.Loop() {
			c := fullCase()
			c.Key = ""
			if err := s.Create(b.Context(), c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Create64", func(b *testing.B) {
		s := open(b)
		b.ReportAllocs()
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0))) // 64 goroutines
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c := fullCase()
				c.Key = ""
				if err := s.Create(b.Context(), c); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("Get", func(b *testing.B) {
		s := open(b)
		const n = 1000
		for range n {
			c := fullCase()
			c.Key = ""
			if err := s.Create(b.Context(), c); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			ref := cases.FormatRef(Prefix, int64(i%n+1))
			if _, err := s.Get(b.Context(), ref); err != nil {
				b.Fatal(err)
			}
		}
	})
}
