// Package metrics is Cityline's Prometheus metrics, and the only package
// that imports client_golang. Every series starts with cityline_ and is
// registered on the Metrics' own registry, never the global one.
//
// It observes without touching the channels:
//
//   - turns, by channel and kind, and their latency: Sessions wraps the
//     engine's SessionStore, whose Load starts a turn and whose Save (with
//     one more turn counted on the session) ends it; Record, an
//     EventSink, notes the router's decision in between, which is the
//     turn's kind ("continue" when the turn answered a question without
//     being routed). The latency is the engine's: from loading the
//     conversation to saving it, the case filed in between included;
//   - cases opened and handoffs, from the events (Record);
//   - webhook rejections: Webhooks wraps the HTTP handler and counts the
//     refusals (403 for a bad or missing signature, 400/413/415 for a
//     malformed request) of the webhook paths it is given, such as
//     /twilio/, which the Twilio signature check answers;
//   - store errors: Sessions and Cases count failures of the session and
//     case stores (not "not found" or "conflict", which are answers), and
//     StoreError is called by other stores (the events writer).
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// Metrics holds the series. It is safe for concurrent use.
type Metrics struct {
	reg         *prometheus.Registry
	turns       *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	started     *prometheus.CounterVec
	casesOpened *prometheus.CounterVec
	handoffs    *prometheus.CounterVec
	rejections  *prometheus.CounterVec
	storeErrors *prometheus.CounterVec
	now         func() time.Time

	mu      sync.Mutex
	pending map[string]*turn // by conversation id, between Load and Save
}

// turn is a turn in progress.
type turn struct {
	start time.Time
	turns int // the session's turn count when loaded
	kind  string
}

// Config tunes Metrics.
type Config struct {
	Now func() time.Time // the clock latency is measured with (time.Now)
	// Runtime adds the Go runtime and process series (go_*, process_*).
	Runtime bool
}

// New returns the metrics, registered on a registry of their own.
func New(cfg Config) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), now: cfg.Now, pending: map[string]*turn{}}
	if m.now == nil {
		m.now = time.Now
	}
	m.turns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cityline_turns_total",
		Help: "Conversation turns handled, by channel and kind (the router's decision; continue when the turn answered a question)."},
		[]string{"channel", "kind"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cityline_turn_duration_seconds",
		Help:    "Time the engine took for a turn, from loading the conversation to saving it.",
		Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
		[]string{"channel"})
	m.started = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cityline_conversations_started_total",
		Help: "Conversations started, by channel."}, []string{"channel"})
	m.casesOpened = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cityline_cases_opened_total",
		Help: "Cases filed by residents, by channel."}, []string{"channel"})
	m.handoffs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cityline_handoffs_total",
		Help: "Conversations handed to staff, by channel and reason (asked, fallback)."}, []string{"channel", "reason"})
	m.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cityline_webhook_rejections_total",
		Help: "Webhook requests refused, by source and reason (signature, malformed)."}, []string{"source", "reason"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cityline_store_errors_total",
		Help: "Failed store operations, by store (sessions, cases, events) and operation."}, []string{"store", "op"})
	m.reg.MustRegister(m.turns, m.latency, m.started, m.casesOpened, m.handoffs, m.rejections, m.storeErrors)
	if cfg.Runtime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	// Every channel and store shows from the start, at zero.
	for _, ch := range []string{dialog.ChannelWeb, dialog.ChannelSMS, dialog.ChannelWhatsApp, dialog.ChannelVoice} {
		m.started.WithLabelValues(ch)
		m.casesOpened.WithLabelValues(ch)
		m.latency.WithLabelValues(ch)
	}
	for store, ops := range map[string][]string{"sessions": {"load", "save"}, "cases": {"create", "get", "list", "update"},
		"events": {"insert"}} {
		for _, op := range ops {
			m.storeErrors.WithLabelValues(store, op)
		}
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the metrics' own registry, for adding series.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Gauge registers a gauge read from f when scraped (a queue's length).
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Counter registers a counter read from f when scraped (events dropped).
func (m *Metrics) Counter(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// label keeps label values few and tidy: a short lower-case word, or
// "other".
func label(s string) string {
	if s == "" {
		return "none"
	}
	if len(s) > 24 || strings.IndexFunc(s, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' && r != '-' }) >= 0 {
		return "other"
	}
	return s
}

// Record implements dialog.EventSink.
func (m *Metrics) Record(_ context.Context, ev dialog.Event) {
	ch := label(ev.Channel)
	switch ev.Type {
	case dialog.EventStarted:
		m.started.WithLabelValues(ch).Inc()
	case dialog.EventCase:
		m.casesOpened.WithLabelValues(ch).Inc()
	case dialog.EventHandoff:
		m.handoffs.WithLabelValues(ch, label(ev.Text)).Inc()
	case dialog.EventDecision:
		m.mu.Lock()
		if t := m.pending[ev.Conversation]; t != nil {
			t.kind = string(ev.Kind)
		}
		m.mu.Unlock()
	}
}

// StoreError counts a failed store operation.
func (m *Metrics) StoreError(store, op string) {
	m.storeErrors.WithLabelValues(label(store), label(op)).Inc()
}

// begin notes that a turn of conversation id may be starting.
func (m *Metrics) begin(id string, turns int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) > 4096 {
		// Turns that never ended (a failed load): forget the stale ones.
		cut := m.now().Add(-5 * time.Minute)
		for k, t := range m.pending {
			if t.start.Before(cut) {
				delete(m.pending, k)
			}
		}
	}
	m.pending[id] = &turn{start: m.now(), turns: turns}
}

// end observes the turn when the session saved has one more turn than
// when it was loaded.
func (m *Metrics) end(s *dialog.Session) {
	m.mu.Lock()
	t := m.pending[s.ID]
	delete(m.pending, s.ID)
	m.mu.Unlock()
	if t == nil || s.Turns <= t.turns {
		return
	}
	kind := t.kind
	if kind == "" {
		kind = "continue"
	}
	ch := label(s.Channel)
	m.turns.WithLabelValues(ch, label(kind)).Inc()
	m.latency.WithLabelValues(ch).Observe(m.now().Sub(t.start).Seconds())
}

// Sessions wraps the engine's session store to observe turns and count
// its errors.
func (m *Metrics) Sessions(next dialog.SessionStore) dialog.SessionStore {
	return &sessions{next: next, m: m}
}

type sessions struct {
	next dialog.SessionStore
	m    *Metrics
}

func (s *sessions) Load(ctx context.Context, id string) (*dialog.Session, error) {
	sess, err := s.next.Load(ctx, id)
	switch {
	case err == nil:
		s.m.begin(id, sess.Turns)
	case errors.Is(err, dialog.ErrNoSession):
		s.m.begin(id, 0)
	default:
		s.m.StoreError("sessions", "load")
	}
	return sess, err
}

func (s *sessions) Save(ctx context.Context, sess *dialog.Session) error {
	err := s.next.Save(ctx, sess)
	if err != nil {
		s.m.StoreError("sessions", "save")
	}
	s.m.end(sess)
	return err
}

func (s *sessions) Delete(ctx context.Context, id string) error {
	err := s.next.Delete(ctx, id)
	if err != nil {
		s.m.StoreError("sessions", "delete")
	}
	return err
}

// Cases wraps the engine's case desk to count its errors. Not found,
// conflict and invalid are answers, not failures.
func (m *Metrics) Cases(next dialog.CaseDesk) dialog.CaseDesk {
	return &desk{next: next, m: m}
}

type desk struct {
	next dialog.CaseDesk
	m    *Metrics
}

func (d *desk) count(op string, err error) {
	if err != nil && !errors.Is(err, cases.ErrNotFound) && !errors.Is(err, cases.ErrConflict) && !errors.Is(err, cases.ErrInvalid) {
		d.m.StoreError("cases", op)
	}
}

func (d *desk) Create(ctx context.Context, c *cases.Case) error {
	err := d.next.Create(ctx, c)
	d.count("create", err)
	return err
}

func (d *desk) Get(ctx context.Context, ref string) (*cases.Case, error) {
	c, err := d.next.Get(ctx, ref)
	d.count("get", err)
	return c, err
}

func (d *desk) List(ctx context.Context, f cases.Filter) ([]*cases.Case, error) {
	list, err := d.next.List(ctx, f)
	d.count("list", err)
	return list, err
}

// CaseError counts a case store failure seen elsewhere (a staff update).
func (m *Metrics) CaseError(op string, err error) {
	(&desk{m: m}).count(op, err)
}

// Webhooks wraps h to count refused webhook requests. sources maps a
// path prefix ("/twilio/") to the source it is counted as ("twilio").
func (m *Metrics) Webhooks(sources map[string]string, h http.Handler) http.Handler {
	for _, src := range sources {
		for _, reason := range []string{"signature", "malformed"} {
			m.rejections.WithLabelValues(label(src), reason)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src := ""
		for prefix, s := range sources {
			if strings.HasPrefix(r.URL.Path, prefix) {
				src = s
				break
			}
		}
		if src == "" {
			h.ServeHTTP(w, r)
			return
		}
		sw := &StatusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		switch sw.Status {
		case http.StatusUnauthorized, http.StatusForbidden:
			m.rejections.WithLabelValues(label(src), "signature").Inc()
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			m.rejections.WithLabelValues(label(src), "malformed").Inc()
		}
	})
}

// StatusWriter records the status of the response written through it,
// for a handler wrapper that counts or logs answers (these metrics, and
// the server's access log). Status is 0 until something is written.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streams (server-sent events) flush through the wrapper.
func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
