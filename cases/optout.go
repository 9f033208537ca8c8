package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Opt-outs: the addresses (+15551230000, whatsapp:+15551230000) whose
// owners texted STOP. They are kept with the cases, in the same database,
// so every replica and every restart honours them; the text channels and
// the outbound notifier consult them before sending anything.

// SetOptOut records that address asked for no more messages (out true),
// or asked for them again (out false). Recording what is already so is
// not an error.
func (s *SQLStore) SetOptOut(ctx context.Context, address string, out bool) error {
	address = strings.TrimSpace(address)
	if address == "" {
		return fmt.Errorf("set opt-out: %w: no address", ErrInvalid)
	}
	var err error
	if out {
		_, err = s.DB.ExecContext(ctx, s.q(`INSERT INTO optouts (address, since) VALUES (?, ?)
			ON CONFLICT (address) DO NOTHING`), address, FormatTime(s.now()))
	} else {
		_, err = s.DB.ExecContext(ctx, s.q(`DELETE FROM optouts WHERE address = ?`), address)
	}
	return s.wrap("set opt-out", err)
}

// OptedOut reports whether address has opted out of messages.
func (s *SQLStore) OptedOut(ctx context.Context, address string) (bool, error) {
	var one int
	err := s.queryRow(ctx, s.reads(), `SELECT 1 FROM optouts WHERE address = ?`,
		strings.TrimSpace(address)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.wrap("opted out", err)
	}
	return true, nil
}
