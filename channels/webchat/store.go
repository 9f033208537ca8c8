package webchat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// The error vocabulary of the web chat's stores.
var (
	// ErrNotFound: no such conversation, or it expired.
	ErrNotFound = errors.New("not found")
	// ErrLimit: a conversation holds as many photos (or streams) as it may.
	ErrLimit = errors.New("limit reached")
	// ErrUnavailable: the store cannot be reached now.
	ErrUnavailable = errors.New("unavailable")
)

// Who an entry of the transcript is from.
const (
	FromResident  = "resident"
	FromAssistant = "assistant"
	FromStaff     = "staff"
	// FromUpdate is news about a case (a status change), not a person.
	FromUpdate = "update"
)

// Conversation is the web chat's own record of one conversation: its
// token's hash, when it was last active, the photos uploaded to it and the
// recent transcript. The dialog engine keeps the conversation's state.
type Conversation struct {
	ID        string    `json:"id"`
	TokenHash []byte    `json:"th"`
	Created   time.Time `json:"t0"`
	Updated   time.Time `json:"t"` // last turn or keep-alive
	Photos    []string  `json:"ph,omitempty"`
	Seq       int64     `json:"seq"`               // the last entry's number
	Entries   []Entry   `json:"entries,omitempty"` // oldest first, bounded
}

// Entry is one line of the transcript: what the resident sent, or what
// the assistant, staff or a status update said.
type Entry struct {
	Seq      int64        `json:"seq"`
	From     string       `json:"from"`
	Time     time.Time    `json:"time"`
	Text     string       `json:"text,omitempty"`     // the resident's words, or the label of the button they pressed
	Photo    string       `json:"photo,omitempty"`    // the URL of a photo the resident sent
	Location *cases.Point `json:"location,omitempty"` // a location the resident shared
	Reply    *Turn        `json:"reply,omitempty"`    // what was said to the resident
	// Pushed is true for what arrived outside a turn and reached the
	// widget by its event stream (Deliver), not as the answer to a message.
	Pushed bool `json:"pushed,omitempty"`
}

// Turn is a reply as the API sends it: the engine's dialog.Reply in JSON.
type Turn struct {
	Reply    string           `json:"reply"`
	Messages []Message        `json:"messages"`
	Choices  []dialog.Choice  `json:"choices"`
	Expect   dialog.Expect    `json:"expect"`
	Optional bool             `json:"optional"`
	Case     *dialog.CaseInfo `json:"case"`
	State    string           `json:"state,omitempty"`
	Lang     string           `json:"lang,omitempty"`
	Silent   bool             `json:"silent,omitempty"`
}

// Message is one paragraph of a reply.
type Message struct {
	Text      string              `json:"text"`
	Article   *dialog.ArticleInfo `json:"article,omitempty"`
	Emergency bool                `json:"emergency,omitempty"`
}

// turnOf renders an engine reply for the API.
func turnOf(r dialog.Reply) *Turn {
	t := &Turn{Reply: r.Text(), Messages: make([]Message, 0, len(r.Messages)), Choices: r.Choices,
		Expect: r.Expect, Optional: r.Optional, Case: r.Case, State: r.State, Lang: r.Lang, Silent: r.Silent}
	for _, m := range r.Messages {
		t.Messages = append(t.Messages, Message{Text: m.Text, Article: m.Article, Emergency: m.Emergency})
	}
	if t.Choices == nil {
		t.Choices = []dialog.Choice{}
	}
	if t.Expect == "" {
		t.Expect = dialog.ExpectText
	}
	return t
}

// Store keeps the web chat's conversations. A conversation idle longer
// than the store's time to live is forgotten. Implementations are safe
// for concurrent use; the in-memory one serves one process, a Redis one
// would serve several.
type Store interface {
	// Create stores a new conversation.
	Create(ctx context.Context, c *Conversation) error
	// Get returns the conversation, or ErrNotFound when it is unknown or
	// expired.
	Get(ctx context.Context, id string) (*Conversation, error)
	// Append adds entries to the transcript, numbering them, and marks the
	// conversation active. It returns the entries as stored, or
	// ErrNotFound.
	Append(ctx context.Context, id string, entries ...Entry) ([]Entry, error)
	// Touch marks the conversation active (a keep-alive), or returns
	// ErrNotFound.
	Touch(ctx context.Context, id string) error
	// AddPhoto records a photo uploaded to the conversation; ErrLimit when
	// it has as many as it may, ErrNotFound when it is gone.
	AddPhoto(ctx context.Context, id, name string) error
}

// MemoryStore is the embedded Store. Conversations are kept serialised, as
// Redis would keep them, so what works here works there. The transcript
// of each is bounded in entries and bytes, and the number of
// conversations is bounded too: when full, the least recently active one
// is forgotten first.
type MemoryStore struct {
	mu    sync.Mutex
	m     map[string]*memConv
	ttl   time.Duration
	now   func() time.Time
	limit MemoryLimits
	tick  int
}

type memConv struct {
	head    []byte   // the conversation without its entries
	entries [][]byte // each entry, oldest first
	size    int
	updated time.Time
}

// MemoryLimits bound a MemoryStore. Zero values take the defaults.
type MemoryLimits struct {
	Conversations int // 5000
	Entries       int // 40 per conversation
	Bytes         int // 64 KiB of transcript per conversation
	Photos        int // 10 per conversation
}

func (l *MemoryLimits) defaults() {
	if l.Conversations <= 0 {
		l.Conversations = 5000
	}
	if l.Entries <= 0 {
		l.Entries = 40
	}
	if l.Bytes <= 0 {
		l.Bytes = 64 << 10
	}
	if l.Photos <= 0 {
		l.Photos = 10
	}
}

// NewMemoryStore returns a store that forgets a conversation idle for ttl
// (30 minutes when zero). now is the clock (time.Now when nil).
func NewMemoryStore(ttl time.Duration, now func() time.Time, limits MemoryLimits) *MemoryStore {
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	limits.defaults()
	return &MemoryStore{m: map[string]*memConv{}, ttl: ttl, now: now, limit: limits}
}

var _ Store = (*MemoryStore)(nil)

// Create implements Store.
func (s *MemoryStore) Create(_ context.Context, c *Conversation) error {
	head := *c
	head.Entries = nil
	data, err := json.Marshal(head)
	if err != nil {
		return fmt.Errorf("create conversation: %w", err)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick++
	if _, ok := s.m[c.ID]; !ok && len(s.m) >= s.limit.Conversations || s.tick%256 == 0 {
		s.evict(now)
	}
	s.m[c.ID] = &memConv{head: data, updated: now}
	return nil
}

// evict forgets expired conversations, then the least recently active one
// while the store is still full. The caller holds s.mu.
func (s *MemoryStore) evict(now time.Time) {
	var oldest string
	var at time.Time
	for id, c := range s.m {
		if s.expired(c, now) {
			delete(s.m, id)
			continue
		}
		if oldest == "" || c.updated.Before(at) {
			oldest, at = id, c.updated
		}
	}
	if len(s.m) >= s.limit.Conversations && oldest != "" {
		delete(s.m, oldest)
	}
}

func (s *MemoryStore) expired(c *memConv, now time.Time) bool {
	return !now.Before(c.updated.Add(s.ttl))
}

// live returns the conversation when it exists and has not expired. The
// caller holds s.mu.
func (s *MemoryStore) live(id string, now time.Time) (*memConv, error) {
	c, ok := s.m[id]
	if ok && s.expired(c, now) {
		delete(s.m, id)
		ok = false
	}
	if !ok {
		return nil, fmt.Errorf("conversation %s: %w", dialog.RedactID(id), ErrNotFound)
	}
	return c, nil
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, id string) (*Conversation, error) {
	s.mu.Lock()
	c, err := s.live(id, s.now())
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	head := c.head
	entries := make([][]byte, len(c.entries))
	copy(entries, c.entries)
	updated := c.updated
	s.mu.Unlock()

	var out Conversation
	if err := json.Unmarshal(head, &out); err != nil {
		return nil, fmt.Errorf("get conversation: %w", err)
	}
	out.Updated = updated
	out.Entries = make([]Entry, 0, len(entries))
	for _, data := range entries {
		var e Entry
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("get conversation: %w", err)
		}
		out.Entries = append(out.Entries, e)
	}
	return &out, nil
}

// Append implements Store.
func (s *MemoryStore) Append(_ context.Context, id string, entries ...Entry) ([]Entry, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.live(id, now)
	if err != nil {
		return nil, err
	}
	var head Conversation
	if err := json.Unmarshal(c.head, &head); err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	out := make([]Entry, len(entries))
	for i, e := range entries {
		head.Seq++
		e.Seq = head.Seq
		if e.Time.IsZero() {
			e.Time = now
		}
		data, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("append: %w", err)
		}
		c.entries = append(c.entries, data)
		c.size += len(data)
		out[i] = e
	}
	// Oldest first out, but never the newest entry itself.
	for len(c.entries) > 1 && (len(c.entries) > s.limit.Entries || c.size > s.limit.Bytes) {
		c.size -= len(c.entries[0])
		c.entries = c.entries[1:]
	}
	if c.head, err = json.Marshal(head); err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	c.updated = now
	return out, nil
}

// Touch implements Store.
func (s *MemoryStore) Touch(_ context.Context, id string) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.live(id, now)
	if err != nil {
		return err
	}
	c.updated = now
	return nil
}

// AddPhoto implements Store.
func (s *MemoryStore) AddPhoto(_ context.Context, id, name string) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.live(id, now)
	if err != nil {
		return err
	}
	var head Conversation
	if err := json.Unmarshal(c.head, &head); err != nil {
		return fmt.Errorf("add photo: %w", err)
	}
	if len(head.Photos) >= s.limit.Photos {
		return fmt.Errorf("add photo: %w", ErrLimit)
	}
	head.Photos = append(head.Photos, name)
	if c.head, err = json.Marshal(head); err != nil {
		return fmt.Errorf("add photo: %w", err)
	}
	return nil
}

// Len is how many conversations are held (expired ones not yet swept
// included).
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
