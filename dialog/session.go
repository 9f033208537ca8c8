package dialog

import (
	"context"
	"encoding/json"
	"errors"
	"hash/maphash"
	"sync"
	"time"
)

// Session is everything the engine remembers of one conversation between
// turns. It is small and bounded (no transcript): stores keep it as one
// JSON value with a time to live.
type Session struct {
	ID      string    `json:"id"`
	Channel string    `json:"ch,omitempty"`
	Contact string    `json:"ct,omitempty"`
	Lang    string    `json:"lang,omitempty"`
	State   string    `json:"st"`
	Started time.Time `json:"t0"`
	Updated time.Time `json:"t"`
	Turns   int       `json:"n,omitempty"`

	// LangChosen is true once the resident picked a language: detection
	// never overrides a choice.
	LangChosen bool `json:"lc,omitempty"`

	Draft *Draft `json:"d,omitempty"`
	// Choices offered in the last reply (clarify, corrections), by id, so
	// "2" can be read back.
	Offered []string `json:"o,omitempty"`
	// Asked is what the last reply asked, when it was not a slot of the draft:
	// "resume", "status_ref", "confirm", "switch", "feedback".
	Asked string `json:"a,omitempty"`
	// Pending is a service code the resident may switch to.
	Pending string `json:"p,omitempty"`

	Misunderstood int `json:"mu,omitempty"` // in a row
	Fallbacks     int `json:"fb,omitempty"`

	Recent  []string `json:"r,omitempty"`  // the resident's last few messages, short, for staff
	Cases   []string `json:"cs,omitempty"` // references filed in this conversation, newest last, at most 3
	Handoff string   `json:"h,omitempty"`  // the staff desk's thread while in handoff
	Seq     int      `json:"seq,omitempty"`
}

// Draft is a service request being gathered.
type Draft struct {
	Service string              `json:"s"`
	Key     string              `json:"k"`    // idempotency key of the submission
	Step    string              `json:"step"` // location, attr:CODE, description, contact, confirm
	Address string              `json:"addr,omitempty"`
	Lat     *float64            `json:"lat,omitempty"`
	Long    *float64            `json:"lng,omitempty"`
	Attrs   map[string][]string `json:"at,omitempty"`
	Skipped []string            `json:"sk,omitempty"`
	// Prefilled are attributes the first message seemed to answer; they
	// were not asked, and a later answer to them still counts.
	Prefilled      []string      `json:"pf,omitempty"`
	Desc           string        `json:"desc,omitempty"`
	Media          []string      `json:"m,omitempty"`
	Contact        string        `json:"c,omitempty"`
	Notify         bool          `json:"nt,omitempty"`
	Tries          int           `json:"tr,omitempty"` // failed answers to the current question
	Shown          []string      `json:"sh,omitempty"` // informational notes already shown
	Editing        bool          `json:"ed,omitempty"` // a correction: go back to confirm after it
	Options        []PlaceOption `json:"po,omitempty"` // places the resident may mean
	DupChecked     bool          `json:"dc,omitempty"` // open cases nearby were looked for
	DupRef         string        `json:"dr,omitempty"` // the one offered to follow
	Unknown        string        `json:"uk,omitempty"` // a place the city did not know
	Outside        string        `json:"out,omitempty"`
	OutsideContact string        `json:"oc,omitempty"`
}

// ErrNoSession: the conversation is new, or expired.
var ErrNoSession = errors.New("no session")

// SessionStore keeps sessions between turns; a conversation idle longer
// than the store's time to live is forgotten.
type SessionStore interface {
	// Load returns the session, or ErrNoSession.
	Load(ctx context.Context, id string) (*Session, error)
	// Save writes the whole session atomically.
	Save(ctx context.Context, s *Session) error
	// Delete forgets it.
	Delete(ctx context.Context, id string) error
}

// Locker serialises turns of one conversation: Lock blocks until the
// caller holds the conversation and returns the function that releases it.
type Locker interface {
	Lock(ctx context.Context, id string) (unlock func(), err error)
}

// MemoryStore is the embedded SessionStore: sessions in a map, expired
// after TTL of inactivity. Expired sessions are swept as others are saved.
type MemoryStore struct {
	mu   sync.Mutex
	m    map[string]memEntry
	ttl  time.Duration
	now  func() time.Time
	tick int
}

type memEntry struct {
	data    []byte
	expires time.Time
}

// NewMemoryStore returns a store forgetting sessions after ttl idle (30
// minutes when zero). now is the clock (time.Now when nil).
func NewMemoryStore(ttl time.Duration, now func() time.Time) *MemoryStore {
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{m: map[string]memEntry{}, ttl: ttl, now: now}
}

// Load implements SessionStore.
func (m *MemoryStore) Load(_ context.Context, id string) (*Session, error) {
	m.mu.Lock()
	e, ok := m.m[id]
	if ok && !m.now().Before(e.expires) {
		delete(m.m, id)
		ok = false
	}
	m.mu.Unlock()
	if !ok {
		return nil, ErrNoSession
	}
	var s Session
	if err := json.Unmarshal(e.data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Save implements SessionStore. Sessions are stored serialised, as Redis
// would, so what works here works there.
func (m *MemoryStore) Save(_ context.Context, s *Session) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[s.ID] = memEntry{data: data, expires: now.Add(m.ttl)}
	m.tick++
	if m.tick%1024 == 0 {
		for k, e := range m.m {
			if !now.Before(e.expires) {
				delete(m.m, k)
			}
		}
	}
	return nil
}

// Delete implements SessionStore.
func (m *MemoryStore) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	delete(m.m, id)
	m.mu.Unlock()
	return nil
}

// Len is how many sessions are held (expired ones not yet swept included).
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}

// LocalLocker serialises turns within one process with a fixed set of
// mutexes, so memory does not grow with the number of conversations.
type LocalLocker struct {
	seed maphash.Seed
	mu   [256]sync.Mutex
}

// NewLocalLocker returns a Locker for a single process.
func NewLocalLocker() *LocalLocker { return &LocalLocker{seed: maphash.MakeSeed()} }

// Lock implements Locker.
func (l *LocalLocker) Lock(ctx context.Context, id string) (func(), error) {
	m := &l.mu[maphash.String(l.seed, id)%uint64(len(l.mu))]
	m.Lock()
	return m.Unlock, nil
}

// set records an attribute's answer.
func (d *Draft) set(code string, vals []string) {
	if d.Attrs == nil {
		d.Attrs = map[string][]string{}
	}
	d.Attrs[code] = vals
}
