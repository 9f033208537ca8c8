// Package sqlite is the embedded case store: cases.Store on a SQLite file
// through the pure-Go modernc.org/sqlite driver, in WAL mode with full
// synchronous commits, so a case is on disk before its reference number is
// told to anyone. One connection writes; a few more read beside it, as WAL
// allows, so reads never queue behind a commit.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cityline/cityline/cases"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is cases.Store on SQLite.
type Store struct {
	cases.SQLStore
}

var _ cases.Store = (*Store)(nil)

// Open opens (creating when needed) the database file at path and brings
// its schema up to date. prefix is the reference prefix (EX); now is the
// clock (time.Now when nil).
func Open(ctx context.Context, path, prefix string, now func() time.Time) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open case store: %w", err)
		}
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	// One connection: SQLite has one writer at a time anyway, and writers
	// queued on busy_timeout can starve each other under load; in WAL mode
	// a single connection serves a city's traffic with room to spare.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	if err := cases.Migrate(ctx, db, sub, false); err != nil {
		db.Close()
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	// Readers: in WAL mode they see every committed write and never wait
	// for the writer, whose commits wait for the disk.
	reads, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)&_pragma=foreign_keys(ON)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	reads.SetMaxOpenConns(readers)
	reads.SetMaxIdleConns(readers)
	if err := reads.PingContext(ctx); err != nil {
		reads.Close()
		db.Close()
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	st := &Store{SQLStore: cases.SQLStore{DB: db, Reads: reads, Dialect: cases.Dialect{Name: "sqlite"}, Prefix: prefix, Now: now,
		GroupCommit: true}}
	st.PrepareWrites(ctx)
	return st, nil
}

// readers is how many connections read at once.
const readers = 4
