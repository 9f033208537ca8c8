// Package admin is the staff dashboard at /admin: the insights figures as
// server-rendered pages (html/template, embedded) with SVG charts drawn in
// Go, each with a table and a CSV download; the knowledge gaps with a
// draft article for each; the cases, which staff can update (and the
// resident is told). Everything is behind the admin token (auth.go), and
// nothing on it carries a resident's contact details: no phone number,
// e-mail or name, and the resident's own words are scrubbed.
package admin

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/insights"
	"github.com/cityline/cityline/knowledge"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/admin.css
var stylesheet []byte

// Figures computes the report; *insights.Store implements it.
type Figures interface {
	Report(ctx context.Context, since, until time.Time) (*insights.Report, error)
	Period(now time.Time, d time.Duration) (since, until time.Time)
}

// Cases is what the dashboard needs of the case store; cases.Store
// implements it.
type Cases interface {
	Get(ctx context.Context, ref string) (*cases.Case, error)
	List(ctx context.Context, f cases.Filter) ([]*cases.Case, error)
	Update(ctx context.Context, ref string, ch cases.Change) (*cases.Case, error)
}

// ErrUnreachable is what a Notify returns when the resident cannot be
// told: they did not ask for updates, or left no way to reach them.
var ErrUnreachable = errors.New("resident cannot be reached")

// Config are the dashboard's dependencies. Figures, Cases, Pack and Token
// are required.
type Config struct {
	Figures Figures
	Cases   Cases
	Pack    *knowledge.Pack // the city's name and time zone
	// Token is the admin token (CITYLINE_ADMIN_TOKEN).
	Token string
	// Notify tells the resident that staff changed their case (status or
	// notes), now or through a queue of its own. ErrUnreachable means
	// there was no way to (they did not ask for updates); nil Notify
	// tells no one.
	Notify func(ctx context.Context, c *cases.Case) error
	// SecureCookies marks the session cookie Secure on every response (the
	// public address is https), not only on requests that arrived over
	// https or with X-Forwarded-Proto: https.
	SecureCookies bool
	// OnCaseError is told of a failed case store operation (the metrics).
	OnCaseError func(op string, err error)
	Now         func() time.Time
	Logger      *slog.Logger
}

// Handler serves the dashboard.
type Handler struct {
	figures Figures
	cases   Cases
	pack    *knowledge.Pack
	notify  func(context.Context, *cases.Case) error
	onErr   func(string, error)
	auth    *auth
	tmpl    *template.Template
	now     func() time.Time
	log     *slog.Logger
}

// New returns the dashboard.
func New(cfg Config) (*Handler, error) {
	if cfg.Figures == nil || cfg.Cases == nil || cfg.Pack == nil {
		return nil, errors.New("admin: Figures, Cases and Pack are required")
	}
	if len(cfg.Token) < 8 {
		return nil, errors.New("admin: the admin token must be at least 8 characters")
	}
	h := &Handler{figures: cfg.Figures, cases: cfg.Cases, pack: cfg.Pack, notify: cfg.Notify, onErr: cfg.OnCaseError,
		now: cfg.Now, log: cfg.Logger}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.auth = newAuth(cfg.Token, cfg.SecureCookies, h.now)
	tmpl, err := template.New("admin").Funcs(template.FuncMap{
		"pct":      func(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) },
		"percent":  percent,
		"duration": duration,
		"date":     func(t time.Time) string { return t.In(h.pack.City.Location()).Format("2006-01-02 15:04") },
		"day":      func(t time.Time) string { return t.In(h.pack.City.Location()).Format("Mon 2 Jan 2006") },
		"age":      func(t time.Time) string { return duration(h.now().Sub(t)) },
		"join":     strings.Join,
		"get":      func(m map[string]int, k string) int { return m[k] },
		"add":      func(a, b int) int { return a + b },
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	h.tmpl = tmpl
	return h, nil
}

// Register adds the dashboard's routes to mux, all under /admin.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin", h.private(h.dashboard))
	mux.HandleFunc("GET /admin/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /admin/login", h.loginForm)
	mux.HandleFunc("POST /admin/login", h.login)
	mux.HandleFunc("POST /admin/logout", h.private(h.logout))
	mux.HandleFunc("GET /admin/admin.css", h.css)
	mux.HandleFunc("GET /admin/csv/{name}", h.private(h.csv))
	mux.HandleFunc("GET /admin/draft/{n}", h.private(h.draft))
	mux.HandleFunc("GET /admin/cases", h.private(h.findCase))
	mux.HandleFunc("GET /admin/cases/{ref}", h.private(h.casePage))
	mux.HandleFunc("POST /admin/cases/{ref}", h.private(h.updateCase))
}

type privateHandler func(w http.ResponseWriter, r *http.Request, s session)

// private admits signed-in requests only. Others get 401 and, when they
// asked for a page, the sign-in form: nothing private.
func (h *Handler) private(next privateHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		s, ok := h.auth.check(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="Cityline admin"`)
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/admin/csv/") && !strings.HasPrefix(r.URL.Path, "/admin/draft/") {
				h.render(w, http.StatusUnauthorized, "login.html", loginPage{City: h.pack.City.Name, Next: r.URL.RequestURI()})
				return
			}
			http.Error(w, "sign in first, or send Authorization: Bearer <CITYLINE_ADMIN_TOKEN>\n", http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "malformed form\n", http.StatusBadRequest)
				return
			}
			if !h.auth.csrfOK(s, r) {
				http.Error(w, "the form is out of date or did not come from this dashboard: reload the page and try again\n", http.StatusForbidden)
				return
			}
		}
		next(w, r, s)
	}
}

// headers are set on every admin response: never cached, never framed,
// no script, only this server's style sheet.
func headers(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		h.log.Error("admin: render", "template", name, "err", err)
		http.Error(w, "internal error\n", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (h *Handler) css(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(stylesheet)
}

// loginPage is the sign-in form.
type loginPage struct {
	City  string
	Next  string
	Error string
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	headers(w)
	if _, ok := h.auth.check(r); ok {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
		return
	}
	h.render(w, http.StatusOK, "login.html", loginPage{City: h.pack.City.Name, Next: safeNext(r.URL.Query().Get("next"))})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	headers(w)
	if h.auth.blocked(r) {
		w.Header().Set("Retry-After", fmt.Sprint(int(failureWindow.Seconds())))
		h.render(w, http.StatusTooManyRequests, "login.html", loginPage{City: h.pack.City.Name,
			Error: "Too many wrong tokens from this address. Wait ten minutes and try again."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed form\n", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if !h.auth.validToken(r.PostFormValue("token")) {
		h.auth.failed(r)
		h.log.Warn("admin: wrong token", "from", clientIP(r))
		h.render(w, http.StatusUnauthorized, "login.html", loginPage{City: h.pack.City.Name, Next: next,
			Error: "That is not the admin token. Check CITYLINE_ADMIN_TOKEN and try again."})
		return
	}
	h.auth.signIn(w, r)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext keeps a return address within the dashboard.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) ||
		u.Path != path.Clean(u.Path) || !strings.HasPrefix(u.Path, "/admin") || strings.HasPrefix(u.Path, "/admin/login") {
		return "/admin"
	}
	return u.RequestURI()
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, _ session) {
	h.auth.signOut(w, r)
	http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
}

// periods are the periods the dashboard offers.
var periods = []struct{ Value, Label string }{
	{"1d", "Today"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"}, {"90d", "Last 90 days"}, {"365d", "Last year"},
}

// period reads ?period=, 7 days by default, at most two years.
func (h *Handler) period(r *http.Request) (string, time.Time, time.Time) {
	p := r.URL.Query().Get("period")
	d, err := insights.ParsePeriod(p)
	if err != nil || d > 730*insights.Day {
		p, d = "7d", 7*insights.Day
	}
	since, until := h.figures.Period(h.now(), d)
	return insights.FormatPeriod(d), since, until
}

func (h *Handler) report(w http.ResponseWriter, r *http.Request) (*insights.Report, string, bool) {
	p, since, until := h.period(r)
	rep, err := h.figures.Report(r.Context(), since, until)
	if err != nil {
		h.log.Error("admin: report", "err", err)
		http.Error(w, "the figures could not be read; the log says why\n", http.StatusServiceUnavailable)
		return nil, "", false
	}
	return rep, p, true
}

// Protect admits to next only what the dashboard admits: the bearer token,
// or a signed-in session (for /metrics, when an admin token is set).
func (h *Handler) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.auth.check(r); !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="Cityline admin"`)
			http.Error(w, "send Authorization: Bearer <CITYLINE_ADMIN_TOKEN>\n", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
