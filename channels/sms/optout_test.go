package sms_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/postgres"
	"github.com/cityline/cityline/cases/sqlite"
	"github.com/cityline/cityline/channels/sms"
)

// Both case stores keep opt-outs, and keep them across a reopen: the
// same contract runs on SQLite and, when one is reachable, PostgreSQL.
func TestOptOutStores(t *testing.T) {
	stores := map[string]func(t *testing.T) func() sms.OptOuts{
		"sqlite": func(t *testing.T) func() sms.OptOuts {
			path := filepath.Join(t.TempDir(), "cases.db")
			return func() sms.OptOuts {
				s, err := sqlite.Open(t.Context(), path, "EX", nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
		},
		"postgres": func(t *testing.T) func() sms.OptOuts {
			u := freshPostgres(t)
			return func() sms.OptOuts {
				s, err := postgres.Open(t.Context(), u, "EX", nil)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			reopen := open(t)
			s := reopen()
			ctx := t.Context()
			check := func(addr string, want bool) {
				t.Helper()
				got, err := s.OptedOut(ctx, addr)
				if err != nil || got != want {
					t.Errorf("OptedOut(%s) = %v, %v; want %v", addr, got, err, want)
				}
			}
			check(resident, false)
			for range 2 { // twice is not an error
				if err := s.SetOptOut(ctx, resident, true); err != nil {
					t.Fatal(err)
				}
			}
			check(resident, true)
			check("whatsapp:"+resident, false) // each channel keeps its own
			check("+15557654321", false)
			s = reopen()
			check(resident, true)
			for range 2 {
				if err := s.SetOptOut(ctx, resident, false); err != nil {
					t.Fatal(err)
				}
			}
			check(resident, false)
			if err := s.SetOptOut(ctx, " ", true); !errors.Is(err, cases.ErrInvalid) {
				t.Errorf("empty address: %v, want ErrInvalid", err)
			}
		})
	}
}

// freshPostgres creates an empty database on the test server
// (CITYLINE_TEST_POSTGRES_URL, or the local default), dropped after the
// test, and returns its URL. It skips the test when no server answers.
func freshPostgres(t *testing.T) string {
	t.Helper()
	server := os.Getenv("CITYLINE_TEST_POSTGRES_URL")
	if server == "" {
		server = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	db, err := sql.Open("pgx", server) // registered by cases/postgres
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Skipf("PostgreSQL is not reachable (set CITYLINE_TEST_POSTGRES_URL to test opt-outs there): %v", err)
	}
	name := "cityline_sms_" + strings.ToLower(rand.Text()[:16])
	if _, err := db.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skipf("CITYLINE_TEST_POSTGRES_URL must be a postgres:// URL here")
	}
	u.Path = "/" + name
	return u.String()
}
