// Package simulator is a staff page for trying the SMS and voice channels
// in a browser, without Twilio: a phone-style text thread, and a call with
// a keypad and typed "speech". What the page sends is turned into the
// webhook requests Twilio would make and handed, in-process, to the very
// channel handlers that serve Twilio; their TwiML answers come back to the
// page as JSON. Content authors use it to test their pack.
//
// It imports no channel: cmd gives it the SMS and voice handlers as plain
// http.Handlers. It is for staff only: open with --dev from this machine,
// or with the admin token (Authorization: Bearer, or ?token= on the page).
package simulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config configures the simulator. SMS and Voice are required, and Dev or
// AdminToken (else nobody could open it).
type Config struct {
	SMS       http.Handler // serves SMSPath as Twilio's Messaging webhook
	SMSPath   string
	Voice     http.Handler // serves VoicePath and the URLs under it as Twilio's Voice webhooks
	VoicePath string
	// Dev admits this machine (loopback, not through a proxy) without a token.
	Dev bool
	// AdminToken admits a request carrying it.
	AdminToken string
	City       string // for the page's title
	From       string // the simulated resident's number (+15550142: a fictional one)
	To         string // the city's number
	Logger     *slog.Logger
}

// Handler serves the simulator.
type Handler struct {
	cfg   Config
	token []byte // SHA-256 of the admin token
	log   *slog.Logger
}

// New returns the simulator.
func New(cfg Config) (*Handler, error) {
	if cfg.SMS == nil || cfg.Voice == nil || cfg.SMSPath == "" || cfg.VoicePath == "" {
		return nil, errors.New("simulator: the SMS and voice handlers and their paths are required")
	}
	if !cfg.Dev && cfg.AdminToken == "" {
		return nil, errors.New("simulator: needs --dev or an admin token, or nobody could open it")
	}
	if cfg.From == "" {
		cfg.From = "+15550142"
	}
	if cfg.To == "" {
		cfg.To = "+15550100"
	}
	h := &Handler{cfg: cfg, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if cfg.AdminToken != "" {
		sum := sha256.Sum256([]byte(cfg.AdminToken))
		h.token = sum[:]
	}
	return h, nil
}

// Register adds the simulator's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /simulator", h.page)
	mux.HandleFunc("GET /simulator/simulator.js", h.script)
	mux.HandleFunc("POST /simulator/sms", h.sms)
	mux.HandleFunc("POST /simulator/voice", h.voice)
}

// allowed: --dev from this machine, or the admin token.
func (h *Handler) allowed(r *http.Request, queryToken bool) bool {
	if h.cfg.Dev && loopback(r) {
		return true
	}
	if h.token == nil {
		return false
	}
	tok := ""
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = strings.TrimSpace(t)
	} else if queryToken {
		tok = r.URL.Query().Get("token")
	}
	sum := sha256.Sum256([]byte(tok))
	return tok != "" && subtle.ConstantTimeCompare(sum[:], h.token) == 1
}

func loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() && r.Header.Get("X-Forwarded-For") == "" &&
		r.Header.Get("Forwarded") == "" && r.Header.Get("X-Real-Ip") == ""
}

func (h *Handler) deny(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="cityline admin"`)
	http.Error(w, "The simulator is for staff: run with --dev on this machine, or pass the admin token "+
		"(Authorization: Bearer, or ?token=).\n", http.StatusUnauthorized)
}

//go:embed page.html
var pageHTML string

//go:embed simulator.js
var scriptJS []byte

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// page is the simulator itself.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	if !h.allowed(r, true) {
		h.deny(w)
		return
	}
	nonce := base64.RawStdEncoding.EncodeToString(random(16))
	var buf bytes.Buffer
	err := pageTmpl.Execute(&buf, struct{ City, From, Nonce string }{h.cfg.City, h.cfg.From, nonce})
	if err != nil {
		h.log.Error("simulator page", "err", err)
		http.Error(w, "internal error\n", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer") // the page's URL may carry the token
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'nonce-"+nonce+
		"'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.Write(buf.Bytes())
}

func (h *Handler) script(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(scriptJS))
}

// readJSON admits the request and reads its JSON body; it answers the
// request itself and returns false when it cannot.
func (h *Handler) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if !h.allowed(r, false) {
		h.deny(w)
		return false
	}
	// Only the page may drive it: JSON (so a form on another site cannot)
	// and, where the browser says, from this origin.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, errorOut{"want application/json"})
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		writeJSON(w, http.StatusForbidden, errorOut{"cross-site request"})
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, errorOut{"bad JSON: " + err.Error()})
		return false
	}
	return true
}

type errorOut struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

var numberRE = regexp.MustCompile(`^(whatsapp:)?\+\d{7,15}$`)

type smsIn struct {
	From string `json:"from"`
	Body string `json:"body"`
}

type smsOut struct {
	Replies []string `json:"replies"`
}

// sms sends one text message through the SMS channel.
func (h *Handler) sms(w http.ResponseWriter, r *http.Request) {
	var in smsIn
	if !h.readJSON(w, r, &in) {
		return
	}
	if in.From == "" {
		in.From = h.cfg.From
	}
	if !numberRE.MatchString(in.From) {
		writeJSON(w, http.StatusBadRequest, errorOut{"from: a number like +15550142"})
		return
	}
	form := url.Values{"From": {in.From}, "To": {h.cfg.To}, "Body": {in.Body}, "NumMedia": {"0"},
		"MessageSid": {"SM" + hex.EncodeToString(random(16))}, "AccountSid": {"ACsimulator"}}
	doc, err := h.webhook(r.Context(), h.cfg.SMS, h.cfg.SMSPath, form)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, errorOut{err.Error()})
		return
	}
	out := smsOut{Replies: []string{}}
	for _, n := range doc.Nodes {
		if n.XMLName.Local == "Message" {
			text := strings.TrimSpace(n.Text)
			for _, b := range n.Nodes {
				if b.XMLName.Local == "Body" {
					text = strings.TrimSpace(b.Text)
				}
			}
			out.Replies = append(out.Replies, text)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type voiceIn struct {
	URL    string `json:"url"`  // empty to place a new call; else a Gather's action or a Redirect
	Call   string `json:"call"` // the CallSid of the call going on
	From   string `json:"from"`
	Speech string `json:"speech"`
	Digits string `json:"digits"`
}

// Verb is one TwiML verb of a voice answer, for the page to play.
type Verb struct {
	Verb        string   `json:"verb"`           // say, gather, dial, redirect, pause, hangup
	Text        string   `json:"text,omitempty"` // say: the words; dial: the number; redirect: the URL
	Action      string   `json:"action,omitempty"`
	NumDigits   int      `json:"num_digits,omitempty"`
	FinishOnKey string   `json:"finish_on_key,omitempty"`
	Timeout     int      `json:"timeout,omitempty"`
	Hints       string   `json:"hints,omitempty"`
	Prompts     []string `json:"prompts,omitempty"`
}

type voiceOut struct {
	Call  string `json:"call"`
	Verbs []Verb `json:"verbs"`
}

// voice places a call, or answers what a call's Gather asked.
func (h *Handler) voice(w http.ResponseWriter, r *http.Request) {
	var in voiceIn
	if !h.readJSON(w, r, &in) {
		return
	}
	if in.From == "" {
		in.From = h.cfg.From
	}
	if in.URL == "" {
		in.URL, in.Call = h.cfg.VoicePath, "CA"+hex.EncodeToString(random(16))
	}
	u, err := url.Parse(in.URL)
	if err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, h.cfg.VoicePath) || in.Call == "" || len(in.Call) > 64 {
		writeJSON(w, http.StatusBadRequest, errorOut{"url: one of the call's own webhook URLs, with its call"}) // for developers
		return
	}
	form := url.Values{"CallSid": {in.Call}, "From": {in.From}, "To": {h.cfg.To}, "AccountSid": {"ACsimulator"},
		"CallStatus": {"in-progress"}, "Direction": {"inbound"}}
	if in.Speech != "" {
		form.Set("SpeechResult", in.Speech)
		form.Set("Confidence", "0.9")
	}
	if in.Digits != "" {
		form.Set("Digits", in.Digits)
	}
	doc, err := h.webhook(r.Context(), h.cfg.Voice, u.RequestURI(), form)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, errorOut{err.Error()})
		return
	}
	out := voiceOut{Call: in.Call, Verbs: []Verb{}}
	for _, n := range doc.Nodes {
		out.Verbs = append(out.Verbs, verbOf(n))
	}
	writeJSON(w, http.StatusOK, out)
}

func verbOf(n node) Verb {
	v := Verb{Verb: strings.ToLower(n.XMLName.Local), Text: strings.TrimSpace(n.Text)}
	switch n.XMLName.Local {
	case "Gather":
		v.Action = n.attr("action")
		v.NumDigits, _ = strconv.Atoi(n.attr("numDigits"))
		v.Timeout, _ = strconv.Atoi(n.attr("timeout"))
		v.FinishOnKey = n.attr("finishOnKey")
		v.Hints = n.attr("hints")
		v.Text = ""
		for _, p := range n.Nodes {
			if p.XMLName.Local == "Say" {
				v.Prompts = append(v.Prompts, strings.TrimSpace(p.Text))
			}
		}
	case "Dial":
		for _, p := range n.Nodes {
			if t := strings.TrimSpace(p.Text); t != "" && v.Text == "" {
				v.Text = t
			}
		}
	case "Pause":
		v.Timeout, _ = strconv.Atoi(n.attr("length"))
	}
	return v
}

// node is a TwiML element, read generically.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []node     `xml:",any"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// webhook makes the request Twilio would make, in-process, and reads the
// TwiML answer.
func (h *Handler) webhook(ctx context.Context, handler http.Handler, target string, form url.Values) (node, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return node{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Cityline simulator")
	req.RemoteAddr = "127.0.0.1:0"
	rec := &recorder{header: http.Header{}}
	handler.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	body, _ := io.ReadAll(io.LimitReader(&rec.body, 1<<20))
	if rec.code != http.StatusOK {
		h.log.Warn("simulator: webhook answered with an error", "path", req.URL.Path, "status", rec.code)
		return node{}, errors.New("the channel answered " + strconv.Itoa(rec.code) + ": " + strings.TrimSpace(string(body)))
	}
	var doc node
	if err := xml.Unmarshal(body, &doc); err != nil || doc.XMLName.Local != "Response" {
		return node{}, errors.New("the channel's answer is not TwiML")
	}
	return doc, nil
}

// recorder is the response of an in-process webhook.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
