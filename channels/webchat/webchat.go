package webchat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/locale"
	"github.com/cityline/cityline/knowledge"
)

// Engine is what the web chat needs of the dialog engine; *dialog.Engine
// implements it.
type Engine interface {
	// Handle runs one turn; its reply is usable even with an error.
	Handle(ctx context.Context, in dialog.Inbound) (dialog.Reply, error)
	// Trouble is the reply when the engine cannot be reached at all.
	Trouble(lang string) dialog.Reply
}

// Toucher is an engine that can keep a conversation's session alive
// without a turn. The keep-alive uses it when the engine has it; without
// it only the web chat's own record is kept alive.
type Toucher interface {
	Touch(ctx context.Context, conversationID string) error
}

// Config are a Handler's dependencies and settings. Engine, Pack and
// Catalog are required; the rest have embedded defaults.
type Config struct {
	Engine  Engine
	Pack    *knowledge.Pack // the city's name, greeting, languages
	Catalog *locale.Catalog // the widget's and the front page's wording (messages widget_*)
	Popular dialog.Popular  // quick starts; default: the pack's own list
	Store   Store           // default: in memory, SessionTTL
	Broker  Broker          // default: in memory
	// PhotoDir is where uploaded photos are kept (created if missing);
	// empty turns photo uploads off.
	PhotoDir string
	// PublicURL is the address residents reach this server at, for the
	// photo links that go into cases (default: the request's own host).
	PublicURL string
	// AllowedOrigins may call the API from their pages (CORS): exact
	// origins such as https://www.example.city, or "*" for any.
	AllowedOrigins []string
	// SessionTTL is how long an idle conversation is kept (30 minutes);
	// the widget warns five minutes before.
	SessionTTL time.Duration
	// CreateBurst conversations may be started from one address at once,
	// then one every CreateEvery (10, and one a minute).
	CreateBurst int
	CreateEvery time.Duration
	// CreateLimiter, when set, limits new conversations per address
	// instead (a shared limit counts across replicas).
	CreateLimiter Limiter
	// MessageLimiter, when set, limits the messages of one conversation;
	// over it the resident is asked to slow down (message rate_limited).
	MessageLimiter Limiter
	// MaxPhotoBytes is the largest photo accepted (8 MiB).
	MaxPhotoBytes int64
	// TurnTimeout bounds one turn of the engine (20 seconds).
	TurnTimeout time.Duration
	// StreamMax is how long one event stream stays open before the widget
	// is asked to reconnect (10 minutes).
	StreamMax time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
}

// Handler serves the web chat. It is safe for concurrent use.
type Handler struct {
	engine   Engine
	pack     *knowledge.Pack
	cat      *locale.Catalog
	popular  dialog.Popular
	store    Store
	broker   Broker
	photoDir string
	public   string
	origins  map[string]bool
	anyOrig  bool
	ttl      time.Duration
	creates  Limiter
	messages Limiter
	maxPhoto int64
	turnMax  time.Duration
	stream   time.Duration
	now      func() time.Time
	log      *slog.Logger
	assets   map[string]asset

	mu      sync.Mutex
	streams map[chan struct{}]struct{}
	closed  bool
}

// New returns a web chat handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Engine == nil || cfg.Pack == nil || cfg.Catalog == nil {
		return nil, errors.New("webchat: Engine, Pack and Catalog are required")
	}
	h := &Handler{engine: cfg.Engine, pack: cfg.Pack, cat: cfg.Catalog, popular: cfg.Popular,
		store: cfg.Store, broker: cfg.Broker, photoDir: cfg.PhotoDir, creates: cfg.CreateLimiter, messages: cfg.MessageLimiter,
		public: strings.TrimRight(cfg.PublicURL, "/"), origins: map[string]bool{}, ttl: cfg.SessionTTL,
		maxPhoto: cfg.MaxPhotoBytes, turnMax: cfg.TurnTimeout, stream: cfg.StreamMax, now: cfg.Now,
		log: cfg.Logger, streams: map[chan struct{}]struct{}{}}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.ttl <= 0 {
		h.ttl = 30 * time.Minute
	}
	if h.popular == nil {
		h.popular = packTopics{cfg.Pack}
	}
	if h.store == nil {
		h.store = NewMemoryStore(h.ttl, h.now, MemoryLimits{})
	}
	if h.broker == nil {
		h.broker = NewMemoryBroker(0)
	}
	if h.maxPhoto <= 0 {
		h.maxPhoto = 8 << 20
	}
	if h.turnMax <= 0 {
		h.turnMax = 20 * time.Second
	}
	if h.stream <= 0 {
		h.stream = 10 * time.Minute
	}
	burst, every := cfg.CreateBurst, cfg.CreateEvery
	if burst <= 0 {
		burst = 10
	}
	if every <= 0 {
		every = time.Minute
	}
	if h.creates == nil {
		h.creates = newLimiter(burst, every, h.now)
	}
	for _, o := range cfg.AllowedOrigins {
		if o == "*" {
			h.anyOrig = true
			continue
		}
		norm, err := normalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("webchat: allowed origin %q: %w", o, err)
		}
		h.origins[norm] = true
	}
	if h.photoDir != "" {
		if err := os.MkdirAll(h.photoDir, 0o750); err != nil {
			return nil, fmt.Errorf("webchat: photo folder: %w", err)
		}
	}
	assets, err := loadAssets()
	if err != nil {
		return nil, err
	}
	h.assets = assets
	return h, nil
}

// normalizeOrigin checks an origin is scheme://host[:port], nothing more.
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("want scheme://host[:port], such as https://www.example.city")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// Register adds the web chat's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	api := func(method, path string, f http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, h.cors(f))
		mux.HandleFunc("OPTIONS "+path, h.preflight)
	}
	api("POST", "/api/v1/conversations", h.create)
	api("GET", "/api/v1/conversations/{id}", h.history)
	api("POST", "/api/v1/conversations/{id}/messages", h.message)
	api("POST", "/api/v1/conversations/{id}/photos", h.upload)
	api("POST", "/api/v1/conversations/{id}/keepalive", h.keepalive)
	api("GET", "/api/v1/conversations/{id}/events", h.events)
	api("GET", "/api/v1/config", h.config)
	mux.HandleFunc("GET /api/v1/photos/{name}", h.photo)
	mux.HandleFunc("GET /widget.js", h.asset)
	mux.HandleFunc("GET /widget.css", h.asset)
	mux.HandleFunc("GET /{$}", h.frontPage)
}

// cors lets the allowed origins read the API's answers. The API is
// authorised by bearer tokens, never cookies, so no answer allows
// credentials.
func (h *Handler) cors(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		if allow, ok := h.allowOrigin(r.Header.Get("Origin")); ok {
			w.Header().Set("Access-Control-Allow-Origin", allow)
			w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
		}
		next(w, r)
	}
}

// preflight answers a CORS preflight request.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	w.Header().Add("Vary", "Access-Control-Request-Method")
	w.Header().Add("Vary", "Access-Control-Request-Headers")
	allow, ok := h.allowOrigin(r.Header.Get("Origin"))
	if !ok || r.Header.Get("Access-Control-Request-Method") == "" {
		writeError(w, http.StatusForbidden, "origin_not_allowed")
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", allow)
	w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

// allowOrigin returns the Access-Control-Allow-Origin value for origin.
func (h *Handler) allowOrigin(origin string) (string, bool) {
	if origin == "" {
		return "", false
	}
	if h.anyOrig {
		return "*", true
	}
	norm, err := normalizeOrigin(origin)
	if err != nil || !h.origins[norm] {
		return "", false
	}
	return origin, true
}

// CloseStreams ends every open event stream and refuses new ones; the
// server calls it when it shuts down, so streams do not hold it up.
func (h *Handler) CloseStreams() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.streams {
		close(ch)
	}
	clear(h.streams)
}

// say returns a catalogue message with the city's details filled in.
func (h *Handler) say(lang, key string, vars ...string) string {
	c := h.pack.City
	base := []string{"city", c.Name, "phone", c.Phone, "phone_outside", c.PhoneOutside,
		"website", c.Website, "prefix", c.ReferencePrefix}
	return h.cat.T(lang, key, append(base, vars...)...)
}

// lang picks the language to speak: the one asked for when the catalogue
// has it, else the city's default.
func (h *Handler) lang(asked string) string {
	asked = strings.ToLower(strings.TrimSpace(asked))
	if i := strings.IndexAny(asked, "-_"); i > 0 {
		asked = asked[:i]
	}
	if asked != "" && h.cat.Has(asked) {
		return asked
	}
	return h.cat.Default()
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if w.Header().Get("Cache-Control") == "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// writeError answers with a short machine-readable code, never internal
// error text.
func writeError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, apiError{Error: code})
}

// packTopics is the pack's own list of popular topics.
type packTopics struct{ p *knowledge.Pack }

func (p packTopics) Topics(_ context.Context, lang string, n int) []knowledge.Topic {
	t := p.p.PopularTopics(lang)
	if len(t) > n {
		t = t[:n]
	}
	return t
}
