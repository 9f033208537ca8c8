package webchat

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
)

// Conversation ids are 128 random bits in lower-case base32 (26
// characters); tokens are 256 random bits in URL-safe base64 (43). Only a
// token's SHA-256 is stored.
var (
	idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)
	idRE       = regexp.MustCompile(`^[a-z2-7]{26}$`)
)

func newID() string {
	return strings.ToLower(idEncoding.EncodeToString(randomBytes(16)))
}

func newToken() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never fails (Go 1.24 and later): it crashes the
	// program rather than return predictable bytes.
	rand.Read(b)
	return b
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// dummyHash is compared against when a conversation is unknown, so an
// unknown id and a wrong token take the same work.
var dummyHash = hashToken("no conversation")

// tokenMatches compares a presented token with a stored hash in constant
// time.
func tokenMatches(token string, hash []byte) bool {
	if len(hash) != sha256.Size {
		subtle.ConstantTimeCompare(hashToken(token), dummyHash)
		return false
	}
	return subtle.ConstantTimeCompare(hashToken(token), hash) == 1
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || len(token) > 256 {
		return "", false
	}
	return token, true
}
