package sms_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/postgres"
	"github.com/cityline/cityline/cases/postgres/pgtest"
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
			u := pgtest.FreshDatabase(t)
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
