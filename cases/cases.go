// Package cases is the domain of service requests: the Open311 vocabulary
// (services, their definitions and attributes, requests), the Case a
// resident files, its reference number, and the Store interface that the
// SQLite and PostgreSQL packages implement. It imports nothing of ours,
// so every other package can speak its language.
package cases

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is the Open311 request status. The standard knows only open and
// closed; what actually happened is said in StatusNotes, because residents
// hate being told "fixed" when a case was only closed.
type Status string

const (
	StatusOpen   Status = "open"
	StatusClosed Status = "closed"
)

// ParseStatus accepts the two Open311 statuses, in any case.
func ParseStatus(s string) (Status, error) {
	switch Status(strings.ToLower(strings.TrimSpace(s))) {
	case StatusOpen:
		return StatusOpen, nil
	case StatusClosed:
		return StatusClosed, nil
	}
	return "", fmt.Errorf("status %q: %w: want open or closed", s, ErrInvalid)
}

// Case is one service request: the Open311 service_request plus what
// Cityline knows privately (channel, contact, language).
type Case struct {
	ID          int64  // store's own key
	Ref         string // service_request_id shown to residents: EX-004211
	Key         string // idempotency key: the same key never files twice
	Token       string // Open311 token for batch services, when no Ref yet
	ServiceCode string
	ServiceName string
	Status      Status
	StatusNotes string
	Description string
	Agency      string // agency_responsible
	Notice      string // service_notice

	Requested time.Time
	Updated   time.Time
	Expected  time.Time // zero when unknown

	Address   string
	AddressID string
	Zipcode   string
	Location  *Point // nil when only an address is known
	MediaURLs []string

	// Attributes holds the answers to the service definition, by
	// attribute code; a multivaluelist has several values.
	Attributes map[string][]string

	Channel string
	Lang    string
	Contact Contact // private: never shown outside staff tools
	// Conversation is the conversation the case was filed in (private), so
	// a status change can reach a web chat resident where they are.
	Conversation string
}

// Point is a WGS84 position.
type Point struct {
	Lat  float64 `json:"lat"`
	Long float64 `json:"long"`
}

// Contact is how a resident can be reached. It is private: Open311 output,
// logs, events and dashboards never carry it.
type Contact struct {
	Phone     string
	Email     string
	FirstName string
	LastName  string
	DeviceID  string
	AccountID string
	// Notify is true when the resident asked to hear about changes.
	Notify bool
}

// IsZero reports whether no contact detail is known.
func (c Contact) IsZero() bool {
	return c.Phone == "" && c.Email == "" && c.FirstName == "" && c.LastName == "" &&
		c.DeviceID == "" && c.AccountID == ""
}

// MediaURL is the first photo, as Open311 carries one media_url.
func (c *Case) MediaURL() string {
	if len(c.MediaURLs) == 0 {
		return ""
	}
	return c.MediaURLs[0]
}

// Filter selects cases in List. Zero fields do not filter.
type Filter struct {
	Refs         []string // when set, overrides every other field (as Open311 does)
	ServiceCodes []string
	Status       Status
	Start, End   time.Time // requested time, inclusive start, exclusive end
	Phone        string    // the resident's own cases
	Near         *Point    // with RadiusM: cases within that distance
	RadiusM      float64
	Offset       int
	Limit        int // 0 means the store's default of 1,000
}

// Change is a staff update to a case. Nil fields are left alone.
type Change struct {
	Status   *Status
	Notes    *string
	Expected *time.Time
	Ref      *string // set when an upstream system assigns its own id
}

// Store keeps cases durably. Implementations: cases/sqlite, cases/postgres.
type Store interface {
	// Create stores c and assigns c.ID, c.Ref, c.Requested and c.Updated
	// (when zero). It returns only once the case is durable. When a case
	// with the same non-empty Key exists, Create fills c with it and
	// returns ErrConflict wrapped, so a retried submission never files twice.
	Create(ctx context.Context, c *Case) error
	// Get returns the case with reference ref (case-insensitive), or
	// ErrNotFound.
	Get(ctx context.Context, ref string) (*Case, error)
	// List returns cases matching f, newest first.
	List(ctx context.Context, f Filter) ([]*Case, error)
	// Update applies ch and returns the updated case, or ErrNotFound.
	Update(ctx context.Context, ref string, ch Change) (*Case, error)
	// Ping reports whether the store can be reached (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}

// FormatRef makes the reference residents are told: prefix, a dash, and the
// number zero-padded to six digits (EX-004211).
func FormatRef(prefix string, n int64) string {
	if prefix == "" {
		return fmt.Sprintf("%06d", n)
	}
	return fmt.Sprintf("%s-%06d", strings.ToUpper(prefix), n)
}

// NormalizeRef makes a reference typed by a resident comparable: upper
// case, a dash between prefix and number, the number zero-padded
// ("ex 4211" -> "EX-004211").
func NormalizeRef(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	i := strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return s
	}
	prefix := strings.Trim(s[:i], " -#")
	n, err := strconv.ParseInt(strings.TrimSpace(s[i:]), 10, 64)
	if err != nil {
		return s
	}
	return FormatRef(prefix, n)
}
