package insights

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/knowledge"
)

// The error vocabulary of insights, wrapped with %w and an operation
// prefix; callers test with errors.Is.
var (
	// ErrInvalid: the input breaks a rule (a period that cannot be read).
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: the database cannot be reached now.
	ErrUnavailable = errors.New("unavailable")
)

// Store reads and writes the events table of the case database and reads
// the cases table for the figures. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect cases.Dialect
	pack    *knowledge.Pack
	loc     *time.Location
	now     func() time.Time
	log     *slog.Logger
	key     []byte
	lowConf float64

	fullMu sync.Mutex
	full   *sql.Stmt // the insert of a full batch of events (SQLite)
}

// Config are a Store's dependencies. DB is required.
type Config struct {
	// DB is the case database, its schema brought up to date by
	// cases/sqlite or cases/postgres (migration 006 makes the events table).
	DB      *sql.DB
	Dialect cases.Dialect
	// Pack names articles and services and gives the city's time zone,
	// in which days are counted (UTC without it).
	Pack *knowledge.Pack
	// LowConfidence is the confidence under which an answer counts as a
	// guess in the figures. When zero it is the router's clarify
	// threshold: an answer under it was given only because no second
	// candidate came close, so it is the one most worth checking. (The
	// router never answers under its fallback threshold, so a fixed
	// lower figure would count nothing.)
	LowConfidence float64
	Now           func() time.Time
	Logger        *slog.Logger
}

// Open returns a Store over cfg.DB. The events table must exist; the key
// of the conversation hash is read, or made on first use.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.DB == nil {
		return nil, fmt.Errorf("open insights: %w: no database", ErrInvalid)
	}
	st := &Store{db: cfg.DB, dialect: cfg.Dialect, pack: cfg.Pack, now: cfg.Now, log: cfg.Logger,
		loc: time.UTC, lowConf: cfg.LowConfidence}
	if st.now == nil {
		st.now = time.Now
	}
	if st.log == nil {
		st.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Pack != nil {
		st.loc = cfg.Pack.City.Location()
	}
	if st.lowConf <= 0 {
		st.lowConf = dialog.DefaultCalibration.Clarify
	}
	key, err := st.loadKey(ctx)
	if err != nil {
		return nil, st.wrap("open insights", err)
	}
	st.key = key
	return st, nil
}

// Location is the time zone days are counted in.
func (st *Store) Location() *time.Location { return st.loc }

// loadKey reads the conversation-hash key, making it when there is none.
// Replicas starting together agree: the first insert wins.
func (st *Store) loadKey(ctx context.Context) ([]byte, error) {
	const name = "conversation"
	read := func() (string, error) {
		var v string
		err := st.db.QueryRowContext(ctx, st.q(`SELECT value FROM insights_keys WHERE name = ?`), name).Scan(&v)
		return v, err
	}
	v, err := read()
	if errors.Is(err, sql.ErrNoRows) {
		b := make([]byte, 32)
		rand.Read(b)
		if _, err := st.db.ExecContext(ctx, st.q(`INSERT INTO insights_keys (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO NOTHING`), name, hex.EncodeToString(b)); err != nil {
			return nil, fmt.Errorf("make key: %w", err)
		}
		v, err = read()
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("read key: %w: malformed", ErrInvalid)
	}
	return key, nil
}

// q rewrites ? placeholders as $1, $2... for PostgreSQL.
func (st *Store) q(query string) string { return cases.Rebind(query, st.dialect.Dollar) }

func (st *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if st.dialect.Unavailable != nil && st.dialect.Unavailable(err) && !errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// conversationKey is what is stored for a conversation id: a keyed hash
// of the day and the id. Counting conversations needs no more, and the
// same phone number gives unrelated values on different days.
func (st *Store) conversationKey(day, id string) string {
	if id == "" {
		return ""
	}
	m := hmac.New(sha256.New, st.key)
	m.Write([]byte(day))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Limits on what one event row keeps.
const (
	maxText  = 500
	maxField = 64
)

// eventColumns are written by Insert, in this order.
const eventColumns = `at, day, type, conversation, channel, lang, kind, target, confidence, text, ref, elapsed_ms, helpful`

const eventParams = 13

// args turns an event into its row's values. It drops what could identify
// a resident: the conversation id is hashed, the text scrubbed again.
func (st *Store) args(ev dialog.Event) []any {
	t := ev.Time
	if t.IsZero() {
		t = st.now()
	}
	day := t.In(st.loc).Format(time.DateOnly)
	var helpful any
	if ev.Helpful != nil {
		helpful = 0
		if *ev.Helpful {
			helpful = 1
		}
	}
	text := ""
	if ev.Text != "" {
		text = clip(dialog.Scrub(ev.Text), maxText)
	}
	return []any{cases.FormatTime(t), day, clip(ev.Type, maxField), st.conversationKey(day, ev.Conversation),
		clip(ev.Channel, maxField), clip(ev.Lang, maxField), clip(string(ev.Kind), maxField), clip(ev.Target, maxField),
		ev.Confidence, text, clip(ev.Ref, maxField), ev.Elapsed.Milliseconds(), helpful}
}

// clip cuts s to at most n runes.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// insertBatch is the most rows one INSERT carries.
const insertBatch = 200

// Insert writes events now, in as few statements as it can. The Sink
// calls it from its goroutine; tests and tools may call it directly.
//
// On SQLite, where one connection does all the writing, the batch holds
// that connection as briefly as it can: the rows are made ready first,
// the statement is prepared once, and the events are committed without
// waiting for the disk (synchronous NORMAL, for this transaction only).
// They are statistics, and the next case committed (synchronous FULL)
// syncs them anyway. So residents filing cases never queue long behind
// a batch of events.
func (st *Store) Insert(ctx context.Context, evs ...dialog.Event) error {
	if len(evs) == 0 {
		return nil
	}
	var chunks [][]any
	for len(evs) > 0 {
		n := min(len(evs), insertBatch)
		args := make([]any, 0, n*eventParams)
		for _, ev := range evs[:n] {
			args = append(args, st.args(ev)...)
		}
		chunks = append(chunks, args)
		evs = evs[n:]
	}
	if st.dialect.Name != "sqlite" {
		for _, args := range chunks {
			if _, err := st.db.ExecContext(ctx, st.insertSQL(len(args)/eventParams), args...); err != nil {
				return st.wrap("insert events", err)
			}
		}
		return nil
	}
	full, err := st.fullBatch(ctx)
	if err != nil {
		return st.wrap("insert events", err)
	}
	conn, err := st.db.Conn(ctx)
	if err != nil {
		return st.wrap("insert events", err)
	}
	defer conn.Close()
	var level int
	if err := conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&level); err != nil {
		return st.wrap("insert events", err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return st.wrap("insert events", err)
	}
	defer func() {
		// Never hand the connection back lax: cases are written on it.
		if _, err := conn.ExecContext(context.Background(), `PRAGMA synchronous = `+strconv.Itoa(level)); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return st.wrap("insert events", err)
	}
	defer tx.Rollback()
	for _, args := range chunks {
		if len(args) == insertBatch*eventParams {
			_, err = tx.StmtContext(ctx, full).ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, st.insertSQL(len(args)/eventParams), args...)
		}
		if err != nil {
			return st.wrap("insert events", err)
		}
	}
	return st.wrap("insert events", tx.Commit())
}

// insertSQL is the statement that inserts n events.
func (st *Store) insertSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO events (` + eventColumns + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	return st.q(b.String())
}

// fullBatch is the statement inserting insertBatch events, prepared once
// (before a connection is taken for the batch: SQLite has only one).
func (st *Store) fullBatch(ctx context.Context) (*sql.Stmt, error) {
	st.fullMu.Lock()
	defer st.fullMu.Unlock()
	if st.full == nil {
		full, err := st.db.PrepareContext(ctx, st.insertSQL(insertBatch))
		if err != nil {
			return nil, err
		}
		st.full = full
	}
	return st.full, nil
}
