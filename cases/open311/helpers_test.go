package open311_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/cases/open311"
	"github.com/cityline/cityline/cases/postgres" // also registers the database/sql driver "pgx"
	"github.com/cityline/cityline/cases/postgres/pgtest"
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
			u := pgtest.FreshDatabase(t)
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
