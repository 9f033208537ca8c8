package open311_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/cases/open311"
	"github.com/cityline/cityline/cases/postgres" // also registers the database/sql driver "pgx"
	"github.com/cityline/cityline/cases/sqlite"
)

// store is what the tests need of a case store: cases.SQLStore's methods,
// which both implementations share.
type store interface {
	cases.Store
	open311.Outbox
	QueueUpstream(on bool)
	GetDispatch(ctx context.Context, ref string) (*cases.Dispatch, error)
	ClaimNotifications(ctx context.Context, limit int) ([]cases.Notification, error)
	FinishNotification(ctx context.Context, id int64, result string) error
}

var (
	_ store = (*sqlite.Store)(nil)
	_ store = (*postgres.Store)(nil)
)

// backend opens stores of one kind; reopen opens the same database again,
// as a restarted process does.
type backend struct {
	name string
	open func(t testing.TB, clock func() time.Time) (s store, reopen func() store)
}

// backends are SQLite and PostgreSQL. Tests about storage run on both.
func backends() []backend {
	return []backend{
		{"sqlite", func(t testing.TB, clock func() time.Time) (store, func() store) {
			path := filepath.Join(t.TempDir(), "cases.db")
			open := func() store {
				s, err := sqlite.Open(t.Context(), path, casetest.Prefix, clock)
				if err != nil {
					t.Fatalf("open sqlite: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open
		}},
		{"postgres", func(t testing.TB, clock func() time.Time) (store, func() store) {
			u := freshDatabase(t)
			open := func() store {
				s, err := postgres.Open(t.Context(), u, casetest.Prefix, clock)
				if err != nil {
					t.Fatalf("open postgres: %v", err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
			return open(), open
		}},
	}
}

func serverURL() string {
	if u := os.Getenv("CITYLINE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

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

// freshDatabase creates an empty database for tb, dropped when tb ends,
// and returns its URL; it skips tb when no PostgreSQL server answers.
func freshDatabase(tb testing.TB) string {
	tb.Helper()
	db, err := maintenance()
	if err != nil {
		tb.Skipf("PostgreSQL is not reachable (%v): start one on 127.0.0.1:5432 or set CITYLINE_TEST_POSTGRES_URL", err)
	}
	name := "cityline_test_" + strings.ToLower(rand.Text()[:16]) // letters and digits only: safe to quote
	if _, err := db.ExecContext(tb.Context(), `CREATE DATABASE "`+name+`"`); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(serverURL())
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Skipf("CITYLINE_TEST_POSTGRES_URL must be a postgres:// URL for these tests")
	}
	u.Path = "/" + name
	return u.String()
}

// catalog is the fixture catalogue in testdata/.
func catalog(t testing.TB) open311.StaticCatalog {
	t.Helper()
	var c open311.StaticCatalog
	readJSON(t, "testdata/services.json", &c.List)
	c.Definitions = map[string]cases.Definition{}
	files, err := filepath.Glob("testdata/services/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		var d cases.Definition
		readJSON(t, f, &d)
		c.Definitions[d.Code] = d
	}
	return c
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// toronto is the fixture city's zone: on casetest.Epoch (March 14, 2026)
// daylight saving time has begun, so its offset is -04:00.
func toronto(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("America/Toronto")
	if err != nil {
		t.Skipf("time zone data: %v", err)
	}
	return loc
}

const (
	jurisdiction = "example.city"
	apiKey1      = "key-one-3f9a"
	apiKey2      = "key-two-81c2"
)

// startServer runs the Open311 endpoint over s until the test ends.
func startServer(t testing.TB, s cases.Store, clock func() time.Time) *httptest.Server {
	t.Helper()
	h, err := open311.New(open311.Config{Store: s, Catalog: catalog(t), APIKeys: []string{apiKey1, " " + apiKey2 + " "},
		Jurisdiction: jurisdiction, Location: toronto(t), Agency: "Example City 311", Now: clock,
		Discovery: open311.Discovery{Contact: "311@example.city", KeyService: "Write to 311@example.city for a key."}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
