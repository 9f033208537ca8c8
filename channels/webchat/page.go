package webchat

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
)

//go:embed static/widget.js static/widget.css
var static embed.FS

//go:embed templates/index.html
var templates embed.FS

var frontTmpl = template.Must(template.ParseFS(templates, "templates/index.html"))

// Wording keys: the widget's own start with widgetPrefix; the front page's
// with pagePrefix.
const (
	widgetPrefix = "widget_"
	pagePrefix   = "widget_page_"
)

type asset struct {
	data  []byte
	ctype string
	etag  string
}

func loadAssets() (map[string]asset, error) {
	out := map[string]asset{}
	for path, ctype := range map[string]string{
		"/widget.js":  "text/javascript; charset=utf-8",
		"/widget.css": "text/css; charset=utf-8",
	} {
		data, err := static.ReadFile("static" + path)
		if err != nil {
			return nil, fmt.Errorf("webchat: %w", err)
		}
		sum := sha256.Sum256(data)
		out[path] = asset{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out, nil
}

// asset serves the widget's script and style sheet to any page that
// embeds them.
func (h *Handler) asset(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", "public, max-age=300")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}

// topicOut is a quick start: its choice id and label.
type topicOut struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// configOut is what the widget needs before it shows anything: every word
// it says comes from here, in the language asked for.
type configOut struct {
	City       string            `json:"city"`
	Lang       string            `json:"lang"`
	Languages  []string          `json:"languages"`
	Greeting   string            `json:"greeting"`
	Emergency  string            `json:"emergency,omitempty"`
	Topics     []topicOut        `json:"topics"`
	Strings    map[string]string `json:"strings"`
	SessionTTL int               `json:"session_ttl"` // seconds of idleness before a conversation ends
	WarnBefore int               `json:"warn_before"` // seconds before the end the widget warns
	Photos     bool              `json:"photos"`
	MaxPhoto   int64             `json:"max_photo_bytes"`
	PhotoTypes []string          `json:"photo_types"`
}

// config answers GET /api/v1/config?lang=xx.
func (h *Handler) config(w http.ResponseWriter, r *http.Request) {
	lang := h.lang(r.URL.Query().Get("lang"))
	c := h.pack.City
	out := configOut{City: c.Name, Lang: lang, Languages: h.languages(), Greeting: c.Greeting.In(lang),
		Emergency: c.EmergencyNotice.In(lang), Topics: h.topics(r, lang, 6), Strings: h.wording(lang, widgetPrefix, pagePrefix),
		SessionTTL: int(h.ttl.Seconds()), WarnBefore: int(min(warnAhead, h.ttl/2).Seconds()),
		Photos: h.photoDir != "", MaxPhoto: h.maxPhoto}
	if out.Greeting == "" {
		out.Greeting = h.say(lang, "help")
	}
	for kind := range photoTypes {
		out.PhotoTypes = append(out.PhotoTypes, kind)
	}
	slices.Sort(out.PhotoTypes)
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, out)
}

// languages are the ones the catalogue speaks, the city's default first.
func (h *Handler) languages() []string {
	var out []string
	for _, l := range h.cat.Languages() {
		if h.pack.City.Speaks(l) || l == h.cat.Default() {
			out = append(out, l)
		}
	}
	return out
}

func (h *Handler) topics(r *http.Request, lang string, n int) []topicOut {
	out := []topicOut{}
	for _, t := range h.popular.Topics(r.Context(), lang, n) {
		out = append(out, topicOut{ID: t.Kind + ":" + t.ID, Label: t.Title})
	}
	return out
}

// wording is the catalogue's messages whose keys start with prefix (and
// not with except), in lang, keyed without the prefix. English has every
// key; another language borrows what it lacks.
func (h *Handler) wording(lang, prefix, except string) map[string]string {
	out := map[string]string{}
	for _, l := range []string{"en", h.cat.Default(), lang} {
		for key := range h.cat.Lang(l).Messages {
			if strings.HasPrefix(key, prefix) && (except == "" || !strings.HasPrefix(key, except)) {
				out[strings.TrimPrefix(key, prefix)] = h.say(lang, key)
			}
		}
	}
	return out
}

// pageData is what the front page template shows.
type pageData struct {
	Lang      string
	City      string
	Emergency string
	Topics    []topicOut
	T         map[string]string
	Nonce     string
}

// frontPage is the city's demo page: the widget, the popular topics as
// quick starts and a box to track a request.
func (h *Handler) frontPage(w http.ResponseWriter, r *http.Request) {
	lang := h.lang(r.URL.Query().Get("lang"))
	nonce := base64.RawStdEncoding.EncodeToString(randomBytes(16))
	data := pageData{Lang: lang, City: h.pack.City.Name, Emergency: h.pack.City.EmergencyNotice.In(lang),
		Topics: h.topics(r, lang, 8), T: h.wording(lang, pagePrefix, ""), Nonce: nonce}
	var buf bytes.Buffer
	if err := frontTmpl.Execute(&buf, data); err != nil {
		h.log.Error("front page", "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'nonce-"+nonce+
		"'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
	w.Write(buf.Bytes())
}
