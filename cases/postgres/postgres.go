// Package postgres is the case store for cities that outgrow one machine:
// cases.Store on PostgreSQL through pgx, sharing the SQL behaviour of
// cases.SQLStore with the embedded SQLite store.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cityline/cityline/cases"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is cases.Store on PostgreSQL.
type Store struct {
	cases.SQLStore
}

var _ cases.Store = (*Store)(nil)

// Open connects to url, brings the schema up to date and returns the
// store. prefix is the reference prefix; now the clock (time.Now if nil).
func Open(ctx context.Context, url, prefix string, now func() time.Time) (*Store, error) {
	cfg, err := pgconnConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16) // keep them: bursts would otherwise churn connections
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w: %v", cases.ErrUnavailable, err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	if err := migrate(ctx, db, sub); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return &Store{SQLStore: cases.SQLStore{DB: db, Prefix: prefix, Now: now,
		Dialect: cases.Dialect{Name: "postgres", Dollar: true, Unavailable: unavailable}}}, nil
}

// migrate runs the migrations under an advisory lock, so replicas starting
// together do not race to create the same tables.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	const lockID = 311311
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockID); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, lockID)
	return cases.Migrate(ctx, db, fsys, true)
}

// unavailable reports errors that mean the server cannot be reached now.
func unavailable(err error) bool {
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P: operator intervention (shutdown).
		return len(pe.Code) >= 2 && (pe.Code[:2] == "08" || pe.Code[:3] == "57P")
	}
	return pgconn.SafeToRetry(err)
}
