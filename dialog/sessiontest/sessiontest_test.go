package sessiontest_test

import (
	"testing"
	"time"

	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/sessiontest"
)

// The in-memory implementations keep the contract; dialog/redis runs the
// same suites on Redis.

func TestMemoryStore(t *testing.T) {
	sessiontest.RunStore(t, func(t *testing.T, ttl time.Duration) dialog.SessionStore {
		return dialog.NewMemoryStore(ttl, nil)
	})
}

func TestLocalLocker(t *testing.T) {
	sessiontest.RunLocker(t, func(t *testing.T) []dialog.Locker {
		return []dialog.Locker{dialog.NewLocalLocker()}
	})
}

func TestMemoryReplays(t *testing.T) {
	sessiontest.RunReplays(t, func(t *testing.T) dialog.Replays { return dialog.NewMemoryReplays(0, 0, nil) })
}
