package admin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Staff sign in with the admin token, once, in a form; the server answers
// with a session cookie (HttpOnly, SameSite=Strict, Secure over https)
// that it can check without remembering anything: the cookie carries an
// expiry and a random nonce, signed with a key derived from the token.
// Changing the token signs everyone out. Scripts send the token itself
// instead: "Authorization: Bearer <token>".
//
// A form that changes something (a case update, signing out) carries a
// CSRF token: a MAC of the session's nonce, compared in constant time.
// Bearer requests need none (a browser never adds that header itself).

// cookieName is the session cookie.
const cookieName = "cityline_admin"

// sessionLife is how long a sign-in lasts.
const sessionLife = 12 * time.Hour

// auth checks tokens, cookies and CSRF tokens.
type auth struct {
	token      [32]byte // SHA-256 of the admin token: compared in constant time
	sessionKey []byte
	csrfKey    []byte
	secure     bool
	now        func() time.Time

	mu       sync.Mutex
	failures map[string]*failures
}

type failures struct {
	n     int
	since time.Time
}

// Sign-in attempts: at most maxFailures wrong tokens from one address per
// failureWindow.
const (
	maxFailures   = 10
	failureWindow = 10 * time.Minute
)

func newAuth(token string, secure bool, now func() time.Time) *auth {
	derive := func(purpose string) []byte {
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("cityline admin " + purpose + " v1"))
		return m.Sum(nil)
	}
	return &auth{token: sha256.Sum256([]byte(token)), sessionKey: derive("session"), csrfKey: derive("csrf"),
		secure: secure, now: now, failures: map[string]*failures{}}
}

// session is a signed-in request.
type session struct {
	nonce  []byte // nil for a bearer token
	bearer bool
}

// validToken compares a token with the admin token in constant time (the
// digests, so even the length is not given away).
func (a *auth) validToken(t string) bool {
	d := sha256.Sum256([]byte(t))
	return subtle.ConstantTimeCompare(d[:], a.token[:]) == 1
}

// check returns the request's session: a right bearer token, or a valid
// session cookie. A wrong bearer token is refused even with a cookie.
func (a *auth) check(r *http.Request) (session, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || !a.validToken(strings.TrimSpace(tok)) {
			return session{}, false
		}
		return session{bearer: true}, true
	}
	c, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	payload, ok := a.open(c.Value)
	if !ok {
		return session{}, false
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(payload[:8])), 0)
	if !a.now().Before(exp) {
		return session{}, false
	}
	return session{nonce: payload[8:]}, true
}

// seal signs payload: base64(payload).base64(mac).
func (a *auth) seal(payload []byte) string {
	m := hmac.New(sha256.New, a.sessionKey)
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil))
}

func (a *auth) open(v string) ([]byte, bool) {
	p, s, ok := strings.Cut(v, ".")
	if !ok {
		return nil, false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sig, err2 := enc.DecodeString(s)
	if err1 != nil || err2 != nil || len(payload) != 8+16 {
		return nil, false
	}
	m := hmac.New(sha256.New, a.sessionKey)
	m.Write(payload)
	if !hmac.Equal(sig, m.Sum(nil)) {
		return nil, false
	}
	return payload, true
}

// signIn sets a new session cookie.
func (a *auth) signIn(w http.ResponseWriter, r *http.Request) {
	payload := make([]byte, 8+16)
	binary.BigEndian.PutUint64(payload[:8], uint64(a.now().Add(sessionLife).Unix()))
	rand.Read(payload[8:])
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: a.seal(payload), Path: "/admin",
		MaxAge: int(sessionLife.Seconds()), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.isSecure(r)})
}

// signOut clears the cookie.
func (a *auth) signOut(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/admin", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: a.isSecure(r)})
}

// isSecure: the cookie is marked Secure when the page was served over
// https, directly or behind a proxy that says so, or when the server's
// public address is https.
func (a *auth) isSecure(r *http.Request) bool {
	return a.secure || r.TLS != nil || strings.EqualFold(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0]), "https")
}

// csrf is the session's form token; empty for bearer sessions.
func (a *auth) csrf(s session) string {
	if s.bearer {
		return ""
	}
	m := hmac.New(sha256.New, a.csrfKey)
	m.Write(s.nonce)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfOK checks a form's token against the session's.
func (a *auth) csrfOK(s session, r *http.Request) bool {
	if s.bearer {
		return true
	}
	got := r.PostFormValue("csrf")
	want := a.csrf(s)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// blocked reports whether the address has failed too often to try again.
func (a *auth) blocked(r *http.Request) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failures[clientIP(r)]
	return f != nil && a.now().Sub(f.since) < failureWindow && f.n >= maxFailures
}

// failed counts a wrong token from the request's address.
func (a *auth) failed(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if len(a.failures) > 10000 {
		for k, f := range a.failures {
			if now.Sub(f.since) >= failureWindow {
				delete(a.failures, k)
			}
		}
	}
	ip := clientIP(r)
	f := a.failures[ip]
	if f == nil || now.Sub(f.since) >= failureWindow {
		f = &failures{since: now}
		a.failures[ip] = f
	}
	f.n++
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
