package webchat

import "github.com/cityline/cityline/dialog"

// UsePopular sets the quick starts' source after New, for a server that
// learns popular topics from its own use (the insights). Call it before
// serving; nil keeps the current one.
func (h *Handler) UsePopular(p dialog.Popular) {
	if p != nil {
		h.popular = p
	}
}
