package dialog

import (
	"context"
	"errors"
	"fmt"
)

// Active reports whether conversation id is in progress: the engine
// remembers it (it has not expired or been lost with a restart). A voice
// call uses it to tell an answer from a call it no longer knows, which
// starts afresh with a greeting.
func (e *Engine) Active(ctx context.Context, id string) (bool, error) {
	_, err := e.sessions.Load(ctx, id)
	switch {
	case errors.Is(err, ErrNoSession):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("active %s: %w", RedactID(id), err)
	}
	return true, nil
}
