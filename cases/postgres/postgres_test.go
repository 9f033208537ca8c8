package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/cases/postgres"
)

const defaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// serverURL is the server the tests use: CITYLINE_TEST_POSTGRES_URL or
// the local default.
func serverURL() string {
	if u := os.Getenv("CITYLINE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return defaultURL
}

// redacted is u without its password, for messages.
func redacted(u string) string {
	if p, err := url.Parse(u); err == nil && p.User != nil {
		return p.Redacted()
	}
	return u
}

// maintenance is one connection pool to the server's own database, used
// to create and drop the test databases.
var maintenance = sync.OnceValues(func() (*sql.DB, error) {
	db, err := sql.Open("pgx", serverURL())
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

// freshDatabase creates an empty database for tb, dropped when tb ends,
// and returns its URL. It skips tb when the server cannot be reached.
func freshDatabase(tb testing.TB) string {
	tb.Helper()
	db, err := maintenance()
	if err != nil {
		tb.Skipf("PostgreSQL is not reachable at %s: %v\n"+
			"Start one (for example: docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16,\n"+
			"or your system's postgresql service), or point CITYLINE_TEST_POSTGRES_URL at one.",
			redacted(serverURL()), err)
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
	u, err := withDatabase(serverURL(), name)
	if err != nil {
		tb.Fatalf("test database URL: %v", err)
	}
	return u
}

// openStore opens a store on a fresh database of its own.
func openStore(tb testing.TB) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), freshDatabase(tb), casetest.Prefix, casetest.Clock(tb).Now)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	casetest.Run(t, func(t *testing.T) cases.Store { return openStore(t) })
}

// TestReplicasStartTogether opens one database from several stores at
// once, as replicas starting together do: the schema is made once, and a
// case filed through one store is seen by the others.
func TestReplicasStartTogether(t *testing.T) {
	u := freshDatabase(t)
	const n = 4
	stores := make([]*postgres.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), u, casetest.Prefix, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	c := &cases.Case{ServiceCode: "POTHOLE", Description: "seen by all"}
	if err := stores[0].Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if got, err := s.Get(t.Context(), c.Ref); err != nil || got.Description != c.Description {
			t.Errorf("store %d: Get(%s) = %v, %v", i, c.Ref, got, err)
		}
	}
	var versions int
	if err := stores[0].DB.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if versions != len(files) {
		t.Errorf("schema_migrations has %d rows, want one per migration (%d)", versions, len(files))
	}
}

// TestUnreachable checks that a server that cannot be reached is reported
// as ErrUnavailable, which /readyz and the resident's "try again" rely on.
func TestUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", "EX", nil)
	if !errors.Is(err, cases.ErrUnavailable) {
		t.Errorf("Open of a closed port: %v, want an error wrapping ErrUnavailable", err)
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://u:p@h:5432/postgres?sslmode=disable", "postgres://u:p@h:5432/x?sslmode=disable"},
		{"postgresql://h/", "postgresql://h/x"},
		{"host=h user=u dbname=postgres", "host=h user=u dbname=postgres dbname=x"},
	} {
		if got, err := withDatabase(tt.in, "x"); err != nil || got != tt.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func BenchmarkStore(b *testing.B) {
	casetest.Bench(b, func(b *testing.B) cases.Store { return openStore(b) })
}
