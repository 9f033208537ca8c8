package cases

import "errors"

// The error vocabulary of cases. Store implementations wrap one of these
// with %w and an operation prefix; callers test with errors.Is.
var (
	// ErrNotFound: no case, service or token by that name.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the input breaks a rule (unknown status, missing field).
	ErrInvalid = errors.New("invalid")
	// ErrConflict: the thing exists already (same idempotency key).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the store cannot be reached now; try again later.
	ErrUnavailable = errors.New("unavailable")
)
