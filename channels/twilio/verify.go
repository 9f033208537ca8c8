// Package twilio is Cityline's one door to Twilio, and the only package
// that imports twilio-go: it checks that a webhook really comes from
// Twilio (X-Twilio-Signature, through twilio-go's RequestValidator),
// builds TwiML with twilio-go's twiml package, sends text messages through
// the REST API (Notifier), and knows the rules of an SMS body (GSM-7,
// segments, the 1,600-character limit). The SMS and voice channels build
// on it; it knows nothing of conversations.
package twilio

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	neturl "net/url"
	"slices"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
)

// SignatureHeader is the header Twilio signs its webhooks in.
const SignatureHeader = "X-Twilio-Signature"

// MaxWebhookBytes bounds a webhook's body. Twilio's own are a few
// kilobytes; anything far larger is refused with 413 before it is read.
const MaxWebhookBytes = 1 << 20

// Verifier checks that webhook requests come from Twilio, by the
// signature Twilio computes with the account's auth token over the URL it
// called and the POST parameters.
type Verifier struct {
	rv        client.RequestValidator
	token     []byte
	hasToken  bool
	publicURL string
	unsigned  func(*http.Request) bool
	log       *slog.Logger
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// AuthToken is the Twilio account's auth token. Without it no
	// signature can be checked, and only Unsigned requests get through.
	AuthToken string
	// PublicURL is the scheme and host (and any path prefix) Twilio
	// calls, e.g. https://311.example.city: the signature covers the URL
	// as Twilio saw it, which behind a proxy or tunnel is not the one this
	// server sees. The request's path and query are appended to it. Empty:
	// the URL is rebuilt from the request's Host header.
	PublicURL string
	// Unsigned, when set, says whether a request that carries no
	// signature may pass anyway (development mode: loopback only).
	Unsigned func(*http.Request) bool
	Logger   *slog.Logger
}

// NewVerifier returns a Verifier.
func NewVerifier(cfg VerifierConfig) *Verifier {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Verifier{rv: client.NewRequestValidator(cfg.AuthToken), token: []byte(cfg.AuthToken), hasToken: cfg.AuthToken != "",
		publicURL: strings.TrimRight(cfg.PublicURL, "/"), unsigned: cfg.Unsigned, log: log}
}

// URL is the URL a request is verified against: the public URL plus the
// request's path and query.
func (v *Verifier) URL(r *http.Request) string {
	base := v.publicURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + r.URL.RequestURI()
}

// TurnWait bounds a turn started by a webhook: Twilio gives up on a
// webhook after 15 seconds.
const TurnWait = 14 * time.Second

// TurnContext is the context of the turn a webhook starts. It does not end
// when Twilio's connection does: a turn begun is finished (a case being
// filed is filed, the conversation saved), and a retry of the webhook
// then gets its reply. It ends after TurnWait.
func TurnContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), TurnWait)
}

// Valid reports whether signature is Twilio's for a POST of body to url.
func (v *Verifier) Valid(url string, body []byte, signature string) bool {
	form, err := neturl.ParseQuery(string(body))
	if err != nil {
		form = nil
	}
	return v.valid(url, form, body, signature)
}

// valid is Valid with the body's form already read (nil when it could
// not be). twilio-go's RequestValidator decides; the usual case is
// settled first with one HMAC of our own: the signature over the URL as
// given and the first value of each parameter is one of the two
// twilio-go accepts (it also tries the URL with the port added or
// removed), so when that one matches, twilio-go's answer is yes too.
func (v *Verifier) valid(url string, form neturl.Values, body []byte, signature string) bool {
	if !v.hasToken || signature == "" {
		return false
	}
	if form != nil && !strings.Contains(url, "bodySHA256") {
		if u, err := neturl.Parse(url); err == nil && u.Query().Get("bodySHA256") == "" &&
			hmac.Equal([]byte(v.sign(url, form)), []byte(signature)) {
			return true
		}
	}
	return v.rv.ValidateBody(url, body, signature)
}

// sign is the signature twilio-go computes for url and form without
// changing the URL's port: each parameter's first value only.
func (v *Verifier) sign(url string, form neturl.Values) string {
	return signature(v.token, url, form, false)
}

// Sign is X-Twilio-Signature for a POST of form to fullURL, as Twilio
// documents it: the base64 HMAC-SHA1, keyed with the auth token, of the
// URL followed by each parameter's name and value, sorted by name (and a
// repeated parameter's values sorted too). The load test and the tests
// sign webhooks with it; the server checks them with twilio-go.
func Sign(authToken, fullURL string, form neturl.Values) string {
	return signature([]byte(authToken), fullURL, form, true)
}

// signature is the base64 HMAC-SHA1 of url and, by sorted name, each
// parameter's name and value: every value in order when all is set, the
// first one otherwise.
func signature(key []byte, url string, form neturl.Values, all bool) string {
	mac := hmac.New(sha1.New, key)
	io.WriteString(mac, url)
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if len(form[k]) == 0 {
			continue
		}
		vals := form[k][:1]
		if all {
			vals = slices.Sorted(slices.Values(form[k]))
		}
		for _, val := range vals {
			io.WriteString(mac, k)
			io.WriteString(mac, val)
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Wrap admits only requests Twilio signed: a missing or wrong signature
// gets 403 and next never runs. The form is read and checked first (413
// when too large, 415 when not a form, 400 when malformed), then left
// parsed in r.PostForm and r.Form for next.
func (v *Verifier) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large\n", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "could not read the request body\n", http.StatusBadRequest)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-www-form-urlencoded" {
				http.Error(w, "expected an application/x-www-form-urlencoded body\n", http.StatusUnsupportedMediaType)
				return
			}
		}
		form, err := neturl.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "malformed form body\n", http.StatusBadRequest)
			return
		}
		sig := r.Header.Get(SignatureHeader)
		switch {
		case sig != "" && v.hasToken:
			if !v.valid(v.URL(r), form, body, sig) {
				v.log.Warn("twilio webhook refused: signature does not match", "path", r.URL.Path,
					"hint", "check TWILIO_AUTH_TOKEN and that CITYLINE_PUBLIC_URL is the URL set in the Twilio console")
				http.Error(w, "invalid Twilio signature\n", http.StatusForbidden)
				return
			}
		case v.unsigned != nil && v.unsigned(r):
			// Development: an unsigned request from this machine.
		default:
			v.log.Warn("twilio webhook refused: no signature", "path", r.URL.Path)
			http.Error(w, "missing Twilio signature\n", http.StatusForbidden)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.PostForm = form
		r.Form = nil
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed query string\n", http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}
