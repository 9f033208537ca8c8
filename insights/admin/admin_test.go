package admin_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/insights/admin"
	"github.com/cityline/cityline/insights/insightstest"
)

const token = "test-admin-token-0123456789"

// site is the dashboard over a generated day.
type site struct {
	srv      *httptest.Server
	env      *insightstest.Env
	played   []insightstest.Played
	mu       sync.Mutex
	notified []*cases.Case
	notify   error
}

var shared struct {
	once sync.Once
	s    *site
}

// keep is a testing.TB whose clean-ups wait for TestMain: the day is
// shared by the tests.
type keep struct{ testing.TB }

var cleanups []func()

func (k *keep) Cleanup(f func()) { cleanups = append(cleanups, f) }
func (k *keep) TempDir() string {
	d, err := os.MkdirTemp("", "cityline-admin-")
	if err != nil {
		k.Fatal(err)
	}
	cleanups = append(cleanups, func() { os.RemoveAll(d) })
	return d
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

// theSite plays 500 conversations on the generated day and serves the
// dashboard at the end of it.
func theSite(t *testing.T) *site {
	t.Helper()
	shared.once.Do(func() {
		k := &keep{TB: t}
		env := insightstest.New(k, "", insightstest.Epoch, nil)
		s := &site{env: env, played: env.PlayDay(t, insightstest.Epoch, 500, 1)}
		env.Clock.Set(insightstest.Epoch.Add(23*time.Hour + 59*time.Minute))
		// A case closed with notes, for the table and the CSV.
		closed := cases.StatusClosed
		if _, err := env.Cases.Update(context.Background(), "EX-000001", cases.Change{Status: &closed}); err != nil {
			t.Fatal(err)
		}
		h, err := admin.New(admin.Config{Figures: env.Insights, Cases: env.Cases, Pack: env.Pack, Token: token, Now: env.Clock.Now,
			Notify: func(_ context.Context, c *cases.Case) error {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.notified = append(s.notified, c)
				return s.notify
			}})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		h.Register(mux)
		s.srv = httptest.NewServer(mux)
		cleanups = append(cleanups, s.srv.Close)
		shared.s = s
	})
	if shared.s == nil {
		t.Fatal("the dashboard could not be set up")
	}
	return shared.s
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type resp struct {
	code   int
	body   string
	header http.Header
}

func (s *site) do(t *testing.T, method, path string, form url.Values, edit func(*http.Request)) resp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if edit != nil {
		edit(req)
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{code: res.StatusCode, body: string(b), header: res.Header}
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func withCookie(c *http.Cookie) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(c) }
}

// login signs in through the form and returns the session cookie.
func (s *site) login(t *testing.T, edit func(*http.Request)) *http.Cookie {
	t.Helper()
	r := s.do(t, "POST", "/admin/login", url.Values{"token": {token}, "next": {"/admin?period=30d"}}, edit)
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/admin?period=30d" {
		t.Fatalf("login: %d %s", r.code, r.header.Get("Location"))
	}
	res := http.Response{Header: r.header}
	for _, c := range res.Cookies() {
		if c.Name == "cityline_admin" {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

var nextRE = regexp.MustCompile(`name="next" value="[^"]*"`)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// private is what must never show without the token.
func (s *site) private(t *testing.T, body string) {
	t.Helper()
	// The sign-in form carries the address asked for, to return to it.
	body = nextRE.ReplaceAllString(body, "")
	for _, leak := range []string{"<svg", "EX-0", "Conversations by day", "Knowledge gaps", "weather", "Pothole", "resolved"} {
		if strings.Contains(body, leak) {
			t.Errorf("without the token the response shows %q:\n%.400s", leak, body)
		}
	}
}

// TestNothingPrivateWithoutTheToken: no token, a wrong bearer token, a
// forged or stale cookie: 401 and a sign-in form, never a figure or a case.
func TestNothingPrivateWithoutTheToken(t *testing.T) {
	s := theSite(t)
	forged := &http.Cookie{Name: "cityline_admin", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.AAAA"}
	for name, edit := range map[string]func(*http.Request){
		"nothing":      nil,
		"wrong bearer": bearer("not-the-token"),
		"empty bearer": func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") },
		"basic":        func(r *http.Request) { r.SetBasicAuth("admin", token) },
		"forged":       withCookie(forged),
	} {
		for _, path := range []string{"/admin", "/admin?period=30d", "/admin/csv/volume.csv", "/admin/csv/gaps.csv",
			"/admin/draft/1", "/admin/cases/EX-000002", "/admin/cases?ref=EX-000002"} {
			r := s.do(t, "GET", path, nil, edit)
			if r.code != http.StatusUnauthorized {
				t.Errorf("%s, GET %s: %d, want 401", name, path, r.code)
			}
			s.private(t, r.body)
		}
		r := s.do(t, "POST", "/admin/cases/EX-000002", url.Values{"status": {"closed"}, "notes": {"hacked"}}, edit)
		if r.code != http.StatusUnauthorized {
			t.Errorf("%s, POST case: %d", name, r.code)
		}
	}
	if c, _ := s.env.Cases.Get(t.Context(), "EX-000002"); c.Status != cases.StatusOpen || c.StatusNotes != "" {
		t.Errorf("a case changed without the token: %+v", c)
	}
	r := s.do(t, "GET", "/admin", nil, nil)
	if !strings.Contains(r.body, `<form method="post" action="/admin/login">`) || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no sign-in form on 401:\n%s", r.body)
	}
	// A cookie signed for another token is refused too.
	other, err := admin.New(admin.Config{Figures: s.env.Insights, Cases: s.env.Cases, Pack: s.env.Pack, Token: "another-token-entirely"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	other.Register(mux)
	req := httptest.NewRequest("POST", "/admin/login", strings.NewReader("token=another-token-entirely"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	var theirs *http.Cookie
	for _, c := range rec.Result().Cookies() {
		theirs = c
	}
	if theirs == nil {
		t.Fatal("the other dashboard set no cookie")
	}
	if r := s.do(t, "GET", "/admin", nil, withCookie(theirs)); r.code != http.StatusUnauthorized {
		t.Errorf("a cookie of another token: %d", r.code)
	}
}

// TestDashboard: with the token, the figures as SVG charts, each with a
// table and a CSV link, the counts those of the events table.
func TestDashboard(t *testing.T) {
	s := theSite(t)
	r := s.do(t, "GET", "/admin", nil, bearer(token))
	if r.code != 200 {
		t.Fatalf("GET /admin with the token: %d\n%s", r.code, r.body)
	}
	if n := strings.Count(r.body, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"`); n != 7 {
		t.Errorf("%d charts, want 7", n)
	}
	for _, want := range []string{"volume", "containment", "topics", "requests", "gaps", "cases", "handoffs"} {
		if !strings.Contains(r.body, `href="/admin/csv/`+want+`.csv?period=7d"`) {
			t.Errorf("no CSV link for %s", want)
		}
	}
	if n := strings.Count(r.body, "<details>\n<summary>Table of"); n != 6 {
		t.Errorf("%d table alternatives", n)
	}
	var conversations, fallbacks int
	s.env.DB.QueryRow(`SELECT COUNT(DISTINCT conversation) FROM events WHERE type = 'started'`).Scan(&conversations)
	s.env.DB.QueryRow(`SELECT COUNT(*) FROM events WHERE type = 'fallback'`).Scan(&fallbacks)
	for _, want := range []string{
		"<dt>Conversations</dt><dd>" + strconv.Itoa(conversations) + "</dd>",
		"<dt>Messages not understood</dt><dd>" + strconv.Itoa(fallbacks) + "</dd>",
		"Draft an article for",
		"Weather forecast",
		`<th scope="row"><a href="/admin/cases/EX-000`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if r.header.Get("Cache-Control") != "no-store" || !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("headers: %v", r.header)
	}
	if conversations != 500 {
		t.Errorf("%d conversations in the events", conversations)
	}
}

// TestCSV: each download is CSV of the same figures.
func TestCSV(t *testing.T) {
	s := theSite(t)
	for _, name := range []string{"summary", "volume", "containment", "topics", "guesses", "requests", "gaps", "cases", "handoffs"} {
		r := s.do(t, "GET", "/admin/csv/"+name+".csv", nil, bearer(token))
		if r.code != 200 || r.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.HasPrefix(r.header.Get("Content-Disposition"), `attachment; filename="cityline-`+name+"-") {
			t.Errorf("%s.csv: %d %v", name, r.code, r.header)
			continue
		}
		recs, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Errorf("%s.csv: %v\n%s", name, err, r.body)
			continue
		}
		if name == "volume" {
			row := recs[len(recs)-1]
			last := row[len(row)-1]
			if last != "500" {
				t.Errorf("volume.csv total %s, want 500:\n%s", last, r.body)
			}
		}
	}
	if r := s.do(t, "GET", "/admin/csv/secrets.csv", nil, bearer(token)); r.code != 404 {
		t.Errorf("unknown CSV: %d", r.code)
	}
	r := s.do(t, "GET", "/admin/draft/1", nil, bearer(token))
	if r.code != 200 || !strings.HasPrefix(r.body, "---\nid: ") || !strings.Contains(r.header.Get("Content-Disposition"), ".md") {
		t.Errorf("draft: %d %v\n%s", r.code, r.header, r.body)
	}
}

// TestNoContactDetails: not one phone number or e-mail address of the day
// in the dashboard, a case page or any CSV.
func TestNoContactDetails(t *testing.T) {
	s := theSite(t)
	var all bytes.Buffer
	get := func(path string) {
		r := s.do(t, "GET", path, nil, bearer(token))
		if r.code != 200 {
			t.Fatalf("GET %s: %d", path, r.code)
		}
		all.WriteString(r.body)
	}
	for _, p := range []string{"", "?period=1d", "?period=30d"} {
		get("/admin" + p)
	}
	for _, name := range []string{"summary", "volume", "containment", "topics", "guesses", "requests", "gaps", "cases", "handoffs"} {
		get("/admin/csv/" + name + ".csv")
	}
	get("/admin/draft/1")
	refs := 0
	for _, p := range s.played {
		for _, ref := range p.Refs {
			get("/admin/cases/" + ref)
			refs++
		}
	}
	if refs == 0 {
		t.Fatal("no cases filed in the day")
	}
	b := all.Bytes()
	for _, p := range s.played {
		for _, secret := range []string{p.Contact, p.Email, strings.TrimPrefix(p.Contact, "+1")} {
			if secret != "" && bytes.Contains(b, []byte(secret)) {
				t.Fatalf("the dashboard shows %q", secret)
			}
		}
	}
	for _, secret := range []string{"555-867-5309", "neighbour@example.net", "@example.org", "+1555"} {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("the dashboard shows %q", secret)
		}
	}
	// The cases do hold them: the check is not vacuous.
	c, err := s.env.Cases.Get(t.Context(), s.played[firstReport(s.played)].Refs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Description, "555-867-5309") && c.Contact.IsZero() {
		t.Errorf("the case has no contact details to hide: %+v", c)
	}
}

func firstReport(ps []insightstest.Played) int {
	for i, p := range ps {
		if len(p.Refs) > 0 && p.Channel != "web" {
			return i
		}
	}
	return 0
}

// TestLoginCookie: the form's cookie is HttpOnly, SameSite=Strict, scoped
// to /admin, Secure over https (or behind a proxy saying so); too many
// wrong tokens are refused for a while.
func TestLoginCookie(t *testing.T) {
	s := theSite(t)
	r := s.do(t, "POST", "/admin/login", url.Values{"token": {token}}, nil)
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"cityline_admin=", "Path=/admin", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("Secure over plain http on loopback: %q", cookie)
	}
	r = s.do(t, "POST", "/admin/login", url.Values{"token": {token}}, func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") })
	if !strings.Contains(r.header.Get("Set-Cookie"), "Secure") {
		t.Errorf("not Secure behind an https proxy: %q", r.header.Get("Set-Cookie"))
	}
	c := s.login(t, nil)
	if r := s.do(t, "GET", "/admin?period=30d", nil, withCookie(c)); r.code != 200 || !csrfRE.MatchString(r.body) {
		t.Errorf("dashboard with the cookie: %d", r.code)
	}
	// The next address stays within the dashboard.
	r = s.do(t, "POST", "/admin/login", url.Values{"token": {token}, "next": {"https://evil.example/admin"}}, nil)
	if r.header.Get("Location") != "/admin" {
		t.Errorf("open redirect: %s", r.header.Get("Location"))
	}
	// Wrong tokens, on a dashboard of their own (the limit is by address).
	h, err := admin.New(admin.Config{Figures: s.env.Insights, Cases: s.env.Cases, Pack: s.env.Pack, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	try := func(tok, addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/admin/login", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	codes := map[int]int{}
	for range 12 {
		rec := try("guess", "192.0.2.7:1234")
		codes[rec.Code]++
		s.private(t, rec.Body.String())
	}
	if codes[http.StatusUnauthorized] != 10 || codes[http.StatusTooManyRequests] != 2 {
		t.Errorf("wrong tokens: %v, want 10 refused then 429", codes)
	}
	if rec := try(token, "192.0.2.7:1234"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("even the right token waits after too many wrong ones: %d", rec.Code)
	}
	if rec := try(token, "192.0.2.8:1234"); rec.Code != http.StatusSeeOther {
		t.Errorf("another address is not blocked: %d", rec.Code)
	}
}

// TestCaseUpdateAndCSRF: a form without the session's CSRF token is
// refused; with it the case changes and the resident is told.
func TestCaseUpdateAndCSRF(t *testing.T) {
	s := theSite(t)
	c := s.login(t, nil)
	page := s.do(t, "GET", "/admin/cases/EX-000003", nil, withCookie(c))
	if page.code != 200 {
		t.Fatalf("case page: %d", page.code)
	}
	m := csrfRE.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatal("no CSRF token in the form")
	}
	form := url.Values{"status": {"closed"}, "notes": {"Crew patched it on Tuesday."}}
	if r := s.do(t, "POST", "/admin/cases/EX-000003", form, withCookie(c)); r.code != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", r.code)
	}
	form.Set("csrf", "x"+m[1][1:])
	if r := s.do(t, "POST", "/admin/cases/EX-000003", form, withCookie(c)); r.code != http.StatusForbidden {
		t.Errorf("wrong CSRF token: %d", r.code)
	}
	if got, _ := s.env.Cases.Get(t.Context(), "EX-000003"); got.Status != cases.StatusOpen {
		t.Fatalf("the case changed without a CSRF token: %+v", got)
	}
	if r := s.do(t, "POST", "/admin/logout", url.Values{}, withCookie(c)); r.code != http.StatusForbidden {
		t.Errorf("sign out without a CSRF token: %d", r.code)
	}
	s.mu.Lock()
	before := len(s.notified)
	s.mu.Unlock()
	form.Set("csrf", m[1])
	r := s.do(t, "POST", "/admin/cases/EX-000003", form, withCookie(c))
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/admin/cases/EX-000003?saved=told" {
		t.Fatalf("update: %d %s\n%s", r.code, r.header.Get("Location"), r.body)
	}
	got, _ := s.env.Cases.Get(t.Context(), "EX-000003")
	if got.Status != cases.StatusClosed || got.StatusNotes != "Crew patched it on Tuesday." {
		t.Errorf("case after the update: %+v", got)
	}
	s.mu.Lock()
	if len(s.notified) != before+1 || s.notified[len(s.notified)-1].Ref != "EX-000003" || s.notified[len(s.notified)-1].Status != cases.StatusClosed {
		t.Errorf("the resident was not told: %d notices", len(s.notified)-before)
	}
	s.notify = admin.ErrUnreachable
	s.mu.Unlock()
	if r := s.do(t, "GET", "/admin/cases/EX-000003?saved=told", nil, withCookie(c)); !strings.Contains(r.body, "The resident is being told") {
		t.Errorf("no confirmation:\n%s", r.body)
	}
	// A script with the bearer token needs no CSRF token.
	r = s.do(t, "POST", "/admin/cases/EX-000003", url.Values{"status": {"open"}, "notes": {"Reopened: it came back."}}, bearer(token))
	if r.code != http.StatusSeeOther || !strings.HasSuffix(r.header.Get("Location"), "saved=untold") {
		t.Errorf("bearer update: %d %s", r.code, r.header.Get("Location"))
	}
	s.mu.Lock()
	s.notify = nil
	s.mu.Unlock()
	if r := s.do(t, "POST", "/admin/cases/EX-000003", url.Values{"status": {"maybe"}}, bearer(token)); r.code != http.StatusBadRequest {
		t.Errorf("a bad status: %d", r.code)
	}
	if r := s.do(t, "POST", "/admin/cases/EX-999999", url.Values{"status": {"closed"}}, bearer(token)); r.code != http.StatusNotFound {
		t.Errorf("an unknown case: %d", r.code)
	}
	if r := s.do(t, "POST", "/admin/logout", url.Values{"csrf": {m[1]}}, withCookie(c)); r.code != http.StatusSeeOther ||
		!strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign out: %d %v", r.code, r.header)
	}
}
