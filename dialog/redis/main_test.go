package redis

import (
	"log/slog"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	// The unreachable-Redis tests make go-redis log every failed dial.
	RouteLibraryLogs(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
