package webchat

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cityline/cityline/dialog"
)

// How often a quiet stream sends a comment, so proxies keep it open.
const pingEvery = 20 * time.Second

// events streams what arrives outside a turn as server-sent events: one
// "entry" event a transcript entry, its id the entry's number. A client
// reconnecting with Last-Event-ID first gets what it missed. The widget
// reads the stream with fetch, so the token travels in the Authorization
// header and never in a URL.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	c, ok := h.conversation(w, r)
	if !ok {
		return
	}
	done, ok := h.addStream()
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "shutting_down")
		return
	}
	defer h.removeStream(done)
	// Subscribe before catching up, so nothing falls between the two.
	sub, cancel, err := h.broker.Subscribe(r.Context(), c.ID)
	switch {
	case errors.Is(err, ErrLimit):
		writeError(w, http.StatusTooManyRequests, "too_many_streams")
		return
	case err != nil:
		h.log.Error("subscribe", "conversation", dialog.RedactID(c.ID), "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	defer cancel()
	fresh, err := h.store.Get(r.Context(), c.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found")
		return
	case err != nil:
		h.log.Error("load conversation", "conversation", dialog.RedactID(c.ID), "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	c = fresh

	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)

	last, _ := strconv.ParseInt(strings.TrimSpace(r.Header.Get("Last-Event-ID")), 10, 64)
	write := func(f func(io.Writer) error) bool {
		// The server's write timeout is for ordinary answers; a stream
		// gets a fresh deadline for each event instead.
		rc.SetWriteDeadline(h.now().Add(30 * time.Second))
		if err := f(w); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	send := func(e Entry) bool {
		if e.Seq <= last {
			return true
		}
		last = e.Seq
		return write(func(w io.Writer) error { return writeEvent(w, e) })
	}
	if !write(func(w io.Writer) error { _, err := io.WriteString(w, "retry: 3000\n\n"); return err }) {
		return
	}
	for _, e := range c.Entries {
		if e.Pushed && !send(e) {
			return
		}
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	end := time.NewTimer(h.stream)
	defer end.Stop()
	for {
		select {
		case e, ok := <-sub:
			if !ok || !send(e) {
				return
			}
		case <-ping.C:
			if !write(func(w io.Writer) error { _, err := io.WriteString(w, ": ping\n\n"); return err }) {
				return
			}
		case <-end.C:
			return
		case <-done:
			return
		case <-r.Context().Done():
			return
		}
	}
}

func writeEvent(w io.Writer, e Entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: entry\ndata: %s\n\n", e.Seq, data)
	return err
}

// addStream registers an open stream; the channel closes when the server
// shuts down. ok is false once it has.
func (h *Handler) addStream() (chan struct{}, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	ch := make(chan struct{})
	h.streams[ch] = struct{}{}
	return ch, true
}

func (h *Handler) removeStream(ch chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.streams[ch]; ok {
		delete(h.streams, ch)
		close(ch)
	}
}
