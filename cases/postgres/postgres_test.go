package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/cases/postgres"
	"github.com/cityline/cityline/cases/postgres/pgtest"
)

// openStore opens a store on a fresh database of its own.
func openStore(tb testing.TB) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), pgtest.FreshDatabase(tb), casetest.Prefix, casetest.Clock(tb).Now)
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
	u := pgtest.FreshDatabase(t)
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
