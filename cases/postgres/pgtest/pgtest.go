// Package pgtest gives tests a PostgreSQL database of their own: created
// empty on the test server, dropped when the test ends. Every package
// whose tests run against the real PostgreSQL (the case store, Open311,
// opt-outs, insights, the replicas of cityline serve) uses it, so they
// agree on which server, how it is named and what a missing server means:
// the test is skipped, with how to start one.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
)

// DefaultURL is the server tests use when CITYLINE_TEST_POSTGRES_URL is
// not set: the one .ci/run makes sure is running.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL is the test server: CITYLINE_TEST_POSTGRES_URL, or DefaultURL.
func ServerURL() string {
	if u := os.Getenv("CITYLINE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// maintenance is one pool to the server's own database, shared by the
// tests of a package, for creating and dropping theirs.
var maintenance = sync.OnceValues(func() (*sql.DB, error) {
	db, err := sql.Open("pgx", ServerURL())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
})

// FreshDatabase creates an empty database for tb, dropped when tb ends,
// and returns its URL. It skips tb when no server answers.
func FreshDatabase(tb testing.TB) string {
	tb.Helper()
	db, err := maintenance()
	if err != nil {
		tb.Skipf("PostgreSQL is not reachable at %s: %v\n"+
			"Start one (your system's postgresql service, or docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16),\n"+
			"or point CITYLINE_TEST_POSTGRES_URL at one.", redacted(ServerURL()), err)
	}
	name := "cityline_test_" + strings.ToLower(rand.Text()[:16])
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := db.ExecContext(tb.Context(), "CREATE DATABASE "+ident); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := withDatabase(ServerURL(), name)
	if err != nil {
		tb.Fatalf("test database URL: %v", err)
	}
	return u
}

// withDatabase returns u naming database name instead of its own.
func withDatabase(u, name string) (string, error) {
	if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return u + " dbname=" + name, nil // keyword=value form: the last one wins
	}
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	p.Path, p.RawPath = "/"+name, ""
	return p.String(), nil
}

// redacted is u without its password, for messages.
func redacted(u string) string {
	if p, err := url.Parse(u); err == nil && p.User != nil {
		return p.Redacted()
	}
	return u
}
