package main

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/postgres"
	"github.com/cityline/cityline/cases/sqlite"
	"github.com/cityline/cityline/channels/webchat"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/insights"
	"github.com/cityline/cityline/insights/admin"
	"github.com/cityline/cityline/insights/metrics"
	"github.com/cityline/cityline/knowledge"
)

// insightsParts are the insights of a running serve: the metrics, always;
// the events kept in the case database, the popular topics and the
// dashboard when that database is SQL (SQLite or PostgreSQL).
type insightsParts struct {
	metrics *metrics.Metrics
	store   *insights.Store // nil when the case store keeps no events
	sink    *insights.Sink
	popular *insights.Popular
}

// useInsights is newServer's hook, called just before the engine is
// built: the engine's events go to the metrics and to the events table,
// its quick starts come from what residents use, and its session store
// and case desk are watched for turns and errors (insights/metrics).
func (s *server) useInsights(ctx context.Context, ec *dialog.Config) {
	log := s.log.With("part", "insights")
	m := metrics.New(metrics.Config{Runtime: true})
	ins := &insightsParts{metrics: m}
	s.insights = ins
	if ec.Sessions == nil {
		ec.Sessions = dialog.NewMemoryStore(s.cfg.sessionTTL, ec.Now)
	}
	ec.Sessions = m.Sessions(ec.Sessions)
	ec.Cases = m.Cases(ec.Cases)
	sinks := []dialog.EventSink{m, ec.Events}
	ec.Events = insights.Tee(sinks...)
	st, err := openInsights(ctx, s.store, s.brain.pack, log)
	if err != nil {
		log.Warn("events are not kept: no dashboard, report or learned popular topics", "err", err)
		return
	}
	ins.store = st
	ins.sink = st.NewSink(insights.SinkConfig{OnError: func(error) { m.StoreError("events", "insert") }})
	s.closers = append(s.closers, ins.sink.Close) // before the store closes: what is queued is written
	m.Counter("cityline_events_dropped_total", "Events not kept because the writer's queue was full.",
		func() float64 { return float64(ins.sink.Dropped()) })
	m.Gauge("cityline_events_queued", "Events waiting to be written.", func() float64 { return float64(ins.sink.Queued()) })
	ec.Events = insights.Tee(append(sinks, ins.sink)...)
	if ec.Popular == nil {
		ins.popular = insights.NewPopular(st, s.brain.pack, insights.PopularConfig{})
		ec.Popular = ins.popular
	}
}

// sqlStore is a case store's SQL database, when it has one. A store that
// wraps another may say what it wraps with Unwrap.
func sqlStore(st cases.Store) (*sql.DB, cases.Dialect, bool) {
	for range 4 {
		switch x := st.(type) {
		case *sqlite.Store:
			return x.DB, x.Dialect, true
		case *postgres.Store:
			return x.DB, x.Dialect, true
		case *cases.SQLStore:
			return x.DB, x.Dialect, true
		case interface{ Unwrap() cases.Store }:
			st = x.Unwrap()
			continue
		}
		break
	}
	return nil, cases.Dialect{}, false
}

// openInsights opens the insights over the case store's database.
func openInsights(ctx context.Context, st cases.Store, pack *knowledge.Pack, log *slog.Logger) (*insights.Store, error) {
	db, dialect, ok := sqlStore(st)
	if !ok {
		return nil, fmt.Errorf("the case store (%T) is not a SQL database", st)
	}
	return insights.Open(ctx, insights.Config{DB: db, Dialect: dialect, Pack: pack, Logger: log})
}

// observe is newServer's hook around the whole handler: it counts the
// webhook requests the channels refuse (a bad Twilio or Slack signature,
// a malformed request) without touching them.
func (s *server) observe(h http.Handler) http.Handler {
	if s.insights == nil {
		return h
	}
	return s.insights.metrics.Webhooks(map[string]string{"/twilio/": "twilio", "/slack/": "slack"}, h)
}

// mountInsights adds /metrics and the /admin dashboard, gives the web
// chat the learned popular topics, and starts the daily retention purge.
//
// /metrics is open when no CITYLINE_ADMIN_TOKEN is set; with one it wants
// the token (Prometheus: authorization: credentials: <token>) or a
// dashboard session. /admin is on only with the token.
func (s *server) mountInsights(ctx context.Context, mux *http.ServeMux) error {
	ins := s.insights
	if ins == nil {
		return nil
	}
	log := s.log.With("part", "insights")
	if s.web != nil && ins.popular != nil {
		s.web.UsePopular(ins.popular)
	}
	if ins.store != nil {
		keep := retention(log)
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { ins.store.KeepPurging(ctx, keep) })
		s.closers = append(s.closers, func() error {
			cancel()
			wg.Wait()
			return nil
		})
	}
	if s.cfg.adminToken == "" {
		mux.Handle("GET /metrics", ins.metrics.Handler())
		log.Info("/admin is off: set CITYLINE_ADMIN_TOKEN to turn on the dashboard; /metrics is open")
		return nil
	}
	if ins.store == nil {
		mux.Handle("GET /metrics", ins.metrics.Handler())
		log.Warn("/admin is off: the case store keeps no events")
		return nil
	}
	h, err := admin.New(admin.Config{Figures: ins.store, Cases: s.store, Pack: s.brain.pack, Token: s.cfg.adminToken,
		Notify: s.notifyCaseUpdate, SecureCookies: strings.HasPrefix(s.cfg.publicURL, "https://"),
		OnCaseError: ins.metrics.CaseError, Logger: log})
	if err != nil {
		return fmt.Errorf("CITYLINE_ADMIN_TOKEN: %w", err)
	}
	h.Register(mux)
	mux.Handle("GET /metrics", h.Protect(ins.metrics.Handler()))
	log.Info("dashboard at /admin; /metrics wants the admin token")
	return nil
}

// retention is CITYLINE_RETENTION: how long personal information is kept,
// in days ("400" or "400d") or weeks ("60w"); 365 days unless set.
func retention(log *slog.Logger) time.Duration {
	v := env("CITYLINE_RETENTION", "")
	if v == "" {
		return insights.DefaultRetention
	}
	d, err := insights.ParsePeriod(v)
	if err != nil {
		log.Warn("CITYLINE_RETENTION is not a number of days: keeping 365", "value", v, "err", err)
		return insights.DefaultRetention
	}
	if d < insights.DefaultRetention {
		log.Warn("CITYLINE_RETENTION is under a year, less than Ontario's MFIPPA regulation expects for personal information",
			"days", int(d/insights.Day))
	}
	return d
}

// notifyCaseUpdate is how the dashboard tells a resident that staff
// changed their case. It is the one place that decides, so it can follow
// the status-notification path (open311.go) as that grows:
//
//   - the resident did not ask for updates: nobody is told
//     (admin.ErrUnreachable);
//   - the case store keeps the notification outbox (its Update records
//     the change, and serve's notification loop tells the resident
//     exactly once): nothing more is sent here;
//   - otherwise the resident is told now, in their web chat or by text,
//     with server.tell.
func (s *server) notifyCaseUpdate(ctx context.Context, c *cases.Case) error {
	if !c.Contact.Notify {
		return admin.ErrUnreachable
	}
	if _, ok := s.store.(interface {
		StaleNotifications(context.Context, time.Time) (int, error)
	}); ok {
		return nil
	}
	lang := cmp.Or(c.Lang, s.brain.pack.City.DefaultLang())
	reply := dialog.Reply{Lang: lang, Messages: []dialog.Message{{Text: s.engine.Say(lang, "insights_case_update",
		"status", s.engine.DescribeCase(lang, c))}}}
	var routes [][2]string // conversation, contact
	if c.Channel == dialog.ChannelWeb && c.Conversation != "" {
		routes = append(routes, [2]string{c.Conversation, ""})
	}
	if p := c.Contact.Phone; p != "" {
		ch := c.Channel
		if ch == dialog.ChannelWeb || ch == dialog.ChannelVoice || ch == "" {
			ch = dialog.ChannelSMS
		}
		routes = append(routes, [2]string{ch + ":" + p, p})
	}
	var errs []error
	for _, r := range routes {
		err := s.tell(ctx, r[0], r[1], webchat.FromUpdate, reply)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 || allUnreachable(errs) {
		return fmt.Errorf("tell %s: %w", c.Ref, admin.ErrUnreachable)
	}
	return errors.Join(errs...)
}

func allUnreachable(errs []error) bool {
	for _, err := range errs {
		if !errors.Is(err, errNoRoute) && !errors.Is(err, webchat.ErrNotFound) {
			return false
		}
	}
	return true
}
