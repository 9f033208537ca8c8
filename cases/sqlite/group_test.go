package sqlite_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/cityline/cityline/cases"
)

// TestGroupCommit files cases from many goroutines at once, so that they
// are written in groups: every case gets its own reference, a key given
// twice files one case, and a case the database refuses (a token already
// taken) fails alone, not the cases written with it.
func TestGroupCommit(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	type outcome struct {
		c   *cases.Case
		err error
	}
	const plain, sameKey, sameToken = 120, 20, 10
	out := make([]outcome, plain+sameKey+sameToken)
	var wg sync.WaitGroup
	for i := range out {
		c := &cases.Case{ServiceCode: "RD-01", Description: "case " + strconv.Itoa(i)}
		switch {
		case i >= plain+sameKey:
			c.Token = "token-taken"
		case i >= plain:
			c.Key = "the-same-key"
		}
		wg.Go(func() {
			err := s.Create(ctx, c)
			out[i] = outcome{c, err}
		})
	}
	wg.Wait()

	refs := map[string]int{}
	var keyRef string
	keyNew, keyConflicts, tokenOK, tokenFailed := 0, 0, 0, 0
	for i, o := range out {
		switch {
		case i < plain:
			if o.err != nil || o.c.Ref == "" {
				t.Errorf("case %d: %v, ref %q", i, o.err, o.c.Ref)
			}
			refs[o.c.Ref]++
		case i < plain+sameKey:
			switch {
			case o.err == nil:
				keyNew++
			case errors.Is(o.err, cases.ErrConflict):
				keyConflicts++
			default:
				t.Errorf("same key %d: %v", i, o.err)
			}
			if keyRef == "" {
				keyRef = o.c.Ref
			} else if o.c.Ref != keyRef {
				t.Errorf("same key, another case: %s and %s", keyRef, o.c.Ref)
			}
		default:
			if o.err == nil {
				tokenOK++
			} else {
				tokenFailed++
			}
		}
	}
	for ref, n := range refs {
		if n > 1 {
			t.Errorf("%s given to %d cases", ref, n)
		}
	}
	if keyNew != 1 || keyConflicts != sameKey-1 {
		t.Errorf("one key: %d filed, %d conflicts; want 1 and %d", keyNew, keyConflicts, sameKey-1)
	}
	if tokenOK != 1 || tokenFailed != sameToken-1 {
		t.Errorf("one token: %d filed, %d refused; want 1 and %d", tokenOK, tokenFailed, sameToken-1)
	}
	all, err := s.List(ctx, cases.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if want := plain + 1 + 1; len(all) != want {
		t.Errorf("%d cases stored, want %d", len(all), want)
	}
}

// TestCloseWithCreatesWaiting: closing the store while cases are being
// filed answers every Create (filed, or refused as unavailable) and
// never hangs.
func TestCloseWithCreatesWaiting(t *testing.T) {
	s := openStore(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			err := s.Create(context.Background(), &cases.Case{ServiceCode: "RD-01", Description: strconv.Itoa(i)})
			if err != nil && !errors.Is(err, cases.ErrUnavailable) {
				// A write on a closed database is an error too; only a
				// hang would be wrong.
				t.Logf("create during close: %v", err)
			}
		})
	}
	s.Close()
	wg.Wait()
}
