package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/cases/sqlite"
)

// openStore opens a fresh store in a file of tb's temporary directory.
func openStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "data", "cases.db"), casetest.Prefix, casetest.Clock(tb).Now)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	casetest.Run(t, func(t *testing.T) cases.Store { return openStore(t) })
}

// TestReopen checks that a case outlives its store and that opening an
// up-to-date file again migrates nothing twice.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cases.db")
	s, err := sqlite.Open(t.Context(), path, casetest.Prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &cases.Case{ServiceCode: "POTHOLE", Description: "kept"}
	if err := s.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(t.Context(), path, casetest.Prefix, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.Get(t.Context(), c.Ref)
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	if got.Description != "kept" || !got.Requested.Equal(c.Requested.Truncate(time.Microsecond)) {
		t.Errorf("after reopen: %+v, want %+v", got, c)
	}
	d := &cases.Case{ServiceCode: "POTHOLE"}
	if err := s.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if d.Ref != casetest.Prefix+"-000002" {
		t.Errorf("next case after reopen: %q, want %s-000002", d.Ref, casetest.Prefix)
	}
}

func BenchmarkStore(b *testing.B) {
	casetest.Bench(b, func(b *testing.B) cases.Store { return openStore(b) })
}
