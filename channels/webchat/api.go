package webchat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

// Limits on what one request may carry.
const (
	maxBody   = 64 << 10 // a message's JSON
	maxText   = 4000     // characters, Open311's description limit
	maxChoice = 200
	warnAhead = 5 * time.Minute // the widget warns this long before expiry
)

// created is the answer to POST /api/v1/conversations.
type created struct {
	ID        string `json:"id"`
	Token     string `json:"token"`
	ExpiresIn int    `json:"expires_in"` // seconds of idleness before it is forgotten
}

// create starts a conversation: a new id and token, nothing said yet.
func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	if ok, wait, err := h.creates.Allow(r.Context(), remoteIP(r)); err != nil {
		h.log.Warn("rate limit unavailable: conversation allowed", "err", err)
	} else if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeError(w, http.StatusTooManyRequests, "too_many_conversations")
		return
	}
	id, token := newID(), newToken()
	now := h.now()
	c := &Conversation{ID: id, TokenHash: hashToken(token), Created: now, Updated: now}
	if err := h.store.Create(r.Context(), c); err != nil {
		h.log.Error("create conversation", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	writeJSON(w, http.StatusCreated, created{ID: id, Token: token, ExpiresIn: int(h.ttl.Seconds())})
}

// conversation returns the conversation the request names once its token
// is proved. Otherwise it answers the request itself: 401 without a
// token, and the same 404 for an unknown conversation and a wrong token.
func (h *Handler) conversation(w http.ResponseWriter, r *http.Request) (*Conversation, bool) {
	return h.lookup(w, r, false)
}

// lookup is conversation; with trouble, a store that cannot be reached is
// answered like an engine that cannot: 503 with the "we're having
// trouble, please call" reply the widget shows in the chat.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request, trouble bool) (*Conversation, bool) {
	token, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cityline"`)
		writeError(w, http.StatusUnauthorized, "token_required")
		return nil, false
	}
	id := r.PathValue("id")
	var c *Conversation
	err := fmt.Errorf("conversation: %w", ErrNotFound)
	if idRE.MatchString(id) {
		c, err = h.store.Get(r.Context(), id)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		tokenMatches(token, nil)
		writeError(w, http.StatusNotFound, "not_found")
		return nil, false
	case err != nil:
		h.log.Error("load conversation", "conversation", dialog.RedactID(id), "err", err)
		if trouble {
			writeJSON(w, http.StatusServiceUnavailable, turnOf(h.engine.Trouble(h.lang(r.Header.Get("Accept-Language")))))
			return nil, false
		}
		writeError(w, http.StatusServiceUnavailable, "unavailable")
		return nil, false
	}
	if !tokenMatches(token, c.TokenHash) {
		writeError(w, http.StatusNotFound, "not_found")
		return nil, false
	}
	return c, true
}

// expiresIn is how long the conversation has left if nothing happens.
func (h *Handler) expiresIn(c *Conversation) int {
	left := c.Updated.Add(h.ttl).Sub(h.now())
	return max(0, int(left.Seconds()))
}

// historyOut is the answer to GET /api/v1/conversations/{id}.
type historyOut struct {
	ID        string  `json:"id"`
	ExpiresIn int     `json:"expires_in"`
	History   []Entry `json:"history"`
}

// history returns the recent transcript, for the widget after a reload.
func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	c, ok := h.conversation(w, r)
	if !ok {
		return
	}
	out := historyOut{ID: c.ID, ExpiresIn: h.expiresIn(c), History: c.Entries}
	if out.History == nil {
		out.History = []Entry{}
	}
	writeJSON(w, http.StatusOK, out)
}

// keepalive marks an idle conversation active, when the resident answers
// the widget's "still there?" warning.
func (h *Handler) keepalive(w http.ResponseWriter, r *http.Request) {
	c, ok := h.conversation(w, r)
	if !ok {
		return
	}
	if err := h.store.Touch(r.Context(), c.ID); err != nil {
		h.log.Error("keep alive", "conversation", dialog.RedactID(c.ID), "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable")
		return
	}
	if t, ok := h.engine.(Toucher); ok {
		if err := t.Touch(r.Context(), dialog.ChannelWeb+":"+c.ID); err != nil {
			h.log.Warn("keep alive: engine session", "conversation", dialog.RedactID(c.ID), "err", err)
		}
	}
	writeJSON(w, http.StatusOK, struct {
		ExpiresIn int `json:"expires_in"`
	}{int(h.ttl.Seconds())})
}

// messageIn is what the widget sends: one of text, choice, location or
// photo (text may come with a location or a photo).
type messageIn struct {
	Text     string       `json:"text"`
	Choice   string       `json:"choice"`
	Location *cases.Point `json:"location"`
	Photo    string       `json:"photo"` // the name an upload returned
	Lang     string       `json:"lang"`  // a language the resident chose
}

// message runs one turn of the conversation.
func (h *Handler) message(w http.ResponseWriter, r *http.Request) {
	c, ok := h.lookup(w, r, true)
	if !ok {
		return
	}
	var in messageIn
	if status, code := decodeJSON(w, r, &in); status != 0 {
		writeError(w, status, code)
		return
	}
	if code := h.validate(c, &in); code != "" {
		writeError(w, http.StatusBadRequest, code)
		return
	}
	if h.messages != nil {
		if ok, wait, err := h.messages.Allow(r.Context(), c.ID); err != nil {
			h.log.Warn("rate limit unavailable: message allowed", "conversation", dialog.RedactID(c.ID), "err", err)
		} else if !ok {
			lang := h.lang(in.Lang)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeJSON(w, http.StatusTooManyRequests, turnOf(dialog.Reply{Lang: lang, Expect: dialog.ExpectText,
				Messages: []dialog.Message{{Text: h.say(lang, "rate_limited")}}}))
			return
		}
	}
	inbound := dialog.Inbound{Channel: dialog.ChannelWeb, ConversationID: dialog.ChannelWeb + ":" + c.ID,
		Text: in.Text, Choice: in.Choice, Location: in.Location, Lang: in.Lang}
	said := Entry{From: FromResident, Text: in.Text, Location: in.Location}
	if in.Choice != "" && in.Text == "" {
		said.Text = h.choiceLabel(c, in.Choice, h.lang(in.Lang))
	}
	if in.Photo != "" {
		said.Photo = h.photoURL(r, in.Photo)
		inbound.Media = []string{said.Photo}
	}

	reply, reached := h.turn(r.Context(), inbound)
	if !reached {
		writeJSON(w, http.StatusServiceUnavailable, turnOf(h.engine.Trouble(h.lang(in.Lang))))
		return
	}
	out := turnOf(reply)
	entries := []Entry{said}
	if !reply.Silent {
		entries = append(entries, Entry{From: FromAssistant, Reply: out})
	}
	if _, err := h.store.Append(context.WithoutCancel(r.Context()), c.ID, entries...); err != nil {
		// The turn happened; only the transcript shown after a reload
		// misses it.
		h.log.Warn("append transcript", "conversation", dialog.RedactID(c.ID), "err", err)
	}
	writeJSON(w, http.StatusOK, out)
}

// turn runs the engine. reached is false when the engine could not be
// reached at all (it failed without a usable reply, or panicked); its own
// "we're having trouble" reply counts as reached.
func (h *Handler) turn(ctx context.Context, in dialog.Inbound) (reply dialog.Reply, reached bool) {
	// A resident who reloads the page mid-turn must not lose the turn.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.turnMax)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("engine panic", "conversation", dialog.RedactID(in.ConversationID), "panic", fmt.Sprint(v))
			reply, reached = dialog.Reply{}, false
		}
	}()
	reply, err := h.engine.Handle(ctx, in)
	if err != nil {
		h.log.Error("turn", "conversation", dialog.RedactID(in.ConversationID), "err", err)
		if len(reply.Messages) == 0 && !reply.Silent {
			return reply, false
		}
	}
	return reply, true
}

// validate checks a message; it returns an error code, or "".
func (h *Handler) validate(c *Conversation, in *messageIn) string {
	in.Text = strings.TrimSpace(in.Text)
	in.Choice = strings.TrimSpace(in.Choice)
	switch {
	case !utf8.ValidString(in.Text) || !utf8.ValidString(in.Choice):
		return "bad_text"
	case in.Text == "" && in.Choice == "" && in.Location == nil && in.Photo == "":
		return "empty_message"
	case utf8.RuneCountInString(in.Text) > maxText:
		return "text_too_long"
	case len(in.Choice) > maxChoice:
		return "bad_choice"
	case len(in.Lang) > 16:
		return "bad_lang"
	}
	if p := in.Location; p != nil {
		if math.IsNaN(p.Lat) || math.IsNaN(p.Long) || p.Lat < -90 || p.Lat > 90 || p.Long < -180 || p.Long > 180 {
			return "bad_location"
		}
	}
	if in.Photo != "" && !slices.Contains(c.Photos, in.Photo) {
		return "unknown_photo"
	}
	if in.Lang != "" {
		in.Lang = h.lang(in.Lang)
	}
	return ""
}

// choiceLabel is what the resident "said" by pressing a button: the
// label of the choice as it was offered.
func (h *Handler) choiceLabel(c *Conversation, id, lang string) string {
	for i := len(c.Entries) - 1; i >= 0; i-- {
		if rep := c.Entries[i].Reply; rep != nil {
			for _, ch := range rep.Choices {
				if ch.ID == id {
					return ch.Label
				}
			}
			break
		}
	}
	kind, ref, _ := strings.Cut(id, ":")
	switch kind {
	case "service", "answer":
		if t, ok := h.pack.Resolve(ref, lang); ok {
			return t.Title
		}
	case "status":
		return ref
	}
	return id
}

// decodeJSON reads a JSON request body strictly into v. It returns 0 on
// success, else the status and error code to answer with: 413 for a body
// over the limit, 415 for another media type, 400 for anything that is
// not exactly one JSON object of the expected fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) (int, string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return http.StatusUnsupportedMediaType, "want_json"
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("more than one JSON value")
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, "too_large"
	case err != nil:
		return http.StatusBadRequest, "bad_json"
	}
	return 0, ""
}

// Deliver passes a reply that arrives outside a turn to a web
// conversation: a staff member's message (from FromStaff), the assistant's
// word when staff hand back (FromAssistant), news of a case (FromUpdate).
// It is added to the transcript and sent to the conversation's open event
// streams. conversation is the engine's id, "web:" and the web id;
// ErrNotFound when it is not a web conversation or has expired.
func (h *Handler) Deliver(ctx context.Context, conversation, from string, r dialog.Reply) error {
	id, ok := strings.CutPrefix(conversation, dialog.ChannelWeb+":")
	if !ok || !idRE.MatchString(id) {
		return fmt.Errorf("deliver to %s: %w", dialog.RedactID(conversation), ErrNotFound)
	}
	entries, err := h.store.Append(ctx, id, Entry{From: from, Reply: turnOf(r), Pushed: true})
	if err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	if err := h.broker.Publish(ctx, id, entries[0]); err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	return nil
}
