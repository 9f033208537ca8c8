package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/channels/slack"
	"github.com/cityline/cityline/channels/webchat"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/insights/metrics"
)

// serveConfig is everything `cityline serve` can be told, from flags and
// the environment. Secrets come only from the environment.
type serveConfig struct {
	addr        string
	content     string
	store       storeFlags
	redisURL    string
	dev         bool
	publicURL   string
	logFormat   string
	logLevel    string
	sessionTTL  time.Duration
	shutdownMax time.Duration

	twilioSID      string
	twilioToken    string // secret: TWILIO_AUTH_TOKEN only
	twilioFrom     string
	twilioAPIURL   string
	agentNumber    string
	allowedOrigins []string
	adminToken     string // secret: CITYLINE_ADMIN_TOKEN only
	slack          *slackSettings
}

func serveFlags(args []string, stderr io.Writer) (*serveConfig, error) {
	fs := newFlags("serve", stderr)
	c := &serveConfig{}
	fs.StringVar(&c.addr, "addr", env("CITYLINE_ADDR", ":8311"), "address to listen on [CITYLINE_ADDR]")
	content := contentFlag(fs)
	c.store = addStoreFlags(fs)
	fs.StringVar(&c.redisURL, "redis", env("CITYLINE_REDIS_URL", ""), "Redis URL for shared sessions across replicas [CITYLINE_REDIS_URL]")
	fs.BoolVar(&c.dev, "dev", env("CITYLINE_DEV", "") == "1", "development mode: accept unsigned webhooks from loopback only [CITYLINE_DEV=1]")
	fs.StringVar(&c.publicURL, "public-url", env("CITYLINE_PUBLIC_URL", ""), "the URL residents and Twilio reach this server at, e.g. https://311.example.city [CITYLINE_PUBLIC_URL]")
	fs.StringVar(&c.logFormat, "log-format", env("CITYLINE_LOG_FORMAT", "text"), "log format: text or json [CITYLINE_LOG_FORMAT]")
	fs.StringVar(&c.logLevel, "log-level", env("CITYLINE_LOG_LEVEL", "info"), "log level: debug, info, warn, error [CITYLINE_LOG_LEVEL]")
	fs.DurationVar(&c.sessionTTL, "session-ttl", envDuration("CITYLINE_SESSION_TTL", 30*time.Minute), "forget a conversation idle this long [CITYLINE_SESSION_TTL]")
	fs.DurationVar(&c.shutdownMax, "shutdown-timeout", envDuration("CITYLINE_SHUTDOWN_TIMEOUT", 8*time.Second), "how long in-flight turns get to finish on SIGTERM [CITYLINE_SHUTDOWN_TIMEOUT]")
	fs.StringVar(&c.twilioSID, "twilio-account-sid", env("TWILIO_ACCOUNT_SID", ""), "Twilio account SID [TWILIO_ACCOUNT_SID]")
	fs.StringVar(&c.twilioFrom, "twilio-from", env("TWILIO_FROM_NUMBER", ""), "the city's Twilio number, for outbound texts [TWILIO_FROM_NUMBER]")
	fs.StringVar(&c.twilioAPIURL, "twilio-api-url", env("CITYLINE_TWILIO_API_URL", ""), "Twilio REST API base URL (tests point it at a stand-in) [CITYLINE_TWILIO_API_URL]")
	fs.StringVar(&c.agentNumber, "agent-number", env("CITYLINE_AGENT_NUMBER", ""), "phone number voice callers are transferred to [CITYLINE_AGENT_NUMBER]")
	c.slack = slackFlags(fs)
	origins := fs.String("allowed-origins", env("CITYLINE_ALLOWED_ORIGINS", ""), "comma-separated origins allowed to embed the web chat [CITYLINE_ALLOWED_ORIGINS]")
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	c.content = *content
	c.allowedOrigins = splitList(*origins)
	c.twilioToken = env("TWILIO_AUTH_TOKEN", "")
	c.adminToken = env("CITYLINE_ADMIN_TOKEN", "")
	c.publicURL = strings.TrimRight(c.publicURL, "/")
	return c, nil
}

func envDuration(name string, def time.Duration) time.Duration {
	if v := env(name, ""); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// server is a running `cityline serve`: its parts, so tests can reach in.
type server struct {
	cfg      *serveConfig
	log      *slog.Logger
	brain    *brain
	store    cases.Store
	engine   *dialog.Engine
	handler  http.Handler
	texts    textSender       // outbound texts; nil without Twilio credentials
	web      *webchat.Handler // the web chat, for messages that arrive later
	desk     *slack.Desk      // the staff desk in Slack; nil when off
	redis    *redisParts      // what replicas share in Redis; nil without --redis
	insights *insightsParts   // events, metrics, popular topics (insights.go)
	ready    []func(context.Context) error
	closers  []func() error
}

// cmdServe runs the HTTP server until SIGINT or SIGTERM, then lets
// in-flight turns finish.
func cmdServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	cfg, err := serveFlags(args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.logFormat, cfg.logLevel)
	srv, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.close()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.addr, err)
	}
	return srv.serve(ctx, ln, stdout)
}

// newServer builds every part from the configuration.
func newServer(ctx context.Context, cfg *serveConfig, log *slog.Logger) (*server, error) {
	b, err := newBrain(cfg.content)
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, log: log, brain: b}
	store, err := openStore(ctx, cfg.store, b.pack.City.ReferencePrefix)
	if err != nil {
		return nil, err
	}
	s.store = store
	s.closers = append(s.closers, store.Close)
	s.ready = append(s.ready, store.Ping)
	desk, err := s.handoffDesk()
	if err != nil {
		return nil, err
	}
	ec := dialog.Config{Pack: b.pack, Router: b.router, Catalog: b.catalog, Cases: store,
		Sessions: dialog.NewMemoryStore(cfg.sessionTTL, nil), Handoff: desk, Logger: log}
	if err := s.useRedis(ctx, &ec); err != nil { // redis.go: shared sessions when --redis is set
		return nil, err
	}
	s.useInsights(ctx, &ec)                    // insights.go: events kept, metrics, popular topics
	if err := s.useGeocoder(&ec); err != nil { // geocoder.go: the gazetteer, and a map server if set
		return nil, err
	}
	eng, err := dialog.New(ec)
	if err != nil {
		return nil, err
	}
	s.engine = eng
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if err := s.mount(ctx, mux); err != nil {
		return nil, err
	}
	s.handler = recoverer(log, accessLog(log, s.observe(mux))) // observe: insights.go
	return s, nil
}

// readyz reports whether the stores this replica depends on answer.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	for _, check := range s.ready {
		if err := check(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			http.Error(w, "not ready\n", http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ready\n")
}

// serve accepts connections until ctx ends, then shuts down gracefully:
// no new connections, in-flight requests finish (up to shutdownMax).
func (s *server) serve(ctx context.Context, ln net.Listener, stdout io.Writer) error {
	var gate gate
	hs := &http.Server{Handler: gate.wrap(s.handler), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	// Turns must finish even after the shutdown signal cancelled ctx.
	hs.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("cityline serving", "addr", ln.Addr().String(), "city", s.brain.pack.City.Name)
	fmt.Fprintf(stdout, "Cityline for %s is listening on http://%s\n", s.brain.pack.City.Name, displayAddr(ln.Addr()))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.shutdownMax)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err == nil {
		// Shutdown can return while a connection accepted at the last
		// moment is starting its request (golang/go#34163): the gate
		// waits for any request already inside and keeps out the rest,
		// so no turn is cut off by the process exiting.
		err = gate.close(sctx)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("shutdown timed out; closing remaining connections")
		hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// gate lets requests in until it is closed; close waits for those inside.
// A request arriving after that waits at the gate until the process has
// exited: it never began, so its sender sees the connection drop and
// retries (Twilio does), rather than a turn cut off half-way.
type gate struct{ mu sync.RWMutex }

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.RLock()
		defer g.mu.RUnlock()
		next.ServeHTTP(w, r)
	})
}

// close waits until no request is inside, or ctx ends.
func (g *gate) close(ctx context.Context) error {
	closed := make(chan struct{})
	go func() {
		g.mu.Lock() // never unlocked: the server is stopping
		close(closed)
	}()
	select {
	case <-closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func displayAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", ta.Port)
		}
	}
	return a.String()
}

func (s *server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil {
			s.log.Warn("close", "err", err)
		}
	}
}

// accessLog logs each request: method, path (never the query, which can
// carry contact details), status and duration.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r) // nothing would be logged: no wrapper, no clock
			return
		}
		start := time.Now()
		sw := &metrics.StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
			return
		}
		log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.Status,
			"ms", float64(time.Since(start).Microseconds())/1000)
	})
}

// recoverer turns a panic into a 500 and a log line, not a dead server.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				http.Error(w, "internal error\n", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// isLoopback reports whether a request comes from this machine.
func isLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
