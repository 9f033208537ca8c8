// Package slackfake helps tests play Slack's part in a staff handoff. It
// signs Events API and interactivity requests the way Slack documents
// (written here from the documentation, not with slack-go, so the
// verifier is checked against the specification rather than against
// itself), builds the payloads Slack sends (a message in a thread, a
// button pressed), and runs a stand-in for the Web API: slack-go's
// slacktest server, whose own chat.postMessage only feeds its RTM
// recorder, with a chat.postMessage of ours registered through its
// Customize option that records what was posted, threads included.
package slackfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"
)

// Sign returns X-Slack-Request-Timestamp and X-Slack-Signature for body
// sent at ts: "v0=" and the hex HMAC-SHA256, keyed with the signing
// secret, of "v0:<timestamp>:<body>".
func Sign(secret string, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:", timestamp)
	mac.Write(body)
	return timestamp, "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Client sends requests to a server the way Slack does.
type Client struct {
	Base   string // where the server listens
	Secret string // the signing secret; empty: unsigned
	// Now is the clock the signature's timestamp is taken from (time.Now
	// when nil): an old clock makes a replayed request.
	Now  func() time.Time
	HTTP *http.Client
}

// Post sends body to path, signed, with extra headers, and returns the
// status and response body.
func (c *Client) Post(t testing.TB, path, contentType string, body []byte, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.Base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if c.Secret != "" {
		now := time.Now()
		if c.Now != nil {
			now = c.Now()
		}
		ts, sig := Sign(c.Secret, now, body)
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// URLVerification sends the check Slack makes when the Request URL is
// set, and returns the status and the body (the challenge, when right).
func (c *Client) URLVerification(t testing.TB, path, challenge string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"token": "legacy", "challenge": challenge, "type": "url_verification"})
	return c.Post(t, path, "application/json", body, nil)
}

// ThreadReply is the event_callback Slack sends when user writes text in
// the thread under threadTS in channel; eventID identifies the delivery.
func ThreadReply(eventID, channel, threadTS, ts, user, text string) []byte {
	return callback(eventID, map[string]any{"type": "message", "channel": channel, "channel_type": "channel",
		"user": user, "text": text, "ts": ts, "thread_ts": threadTS, "event_ts": ts})
}

// BotReply is the event for a message an app posted in a thread (this
// app's own posts come back this way).
func BotReply(eventID, channel, threadTS, ts, botID, text string) []byte {
	return callback(eventID, map[string]any{"type": "message", "channel": channel, "channel_type": "channel",
		"user": "UBOT", "bot_id": botID, "text": text, "ts": ts, "thread_ts": threadTS, "event_ts": ts})
}

// Edited is the message_changed event for an edit of a thread reply.
func Edited(eventID, channel, threadTS, ts, user, text string) []byte {
	return callback(eventID, map[string]any{"type": "message", "subtype": "message_changed", "channel": channel,
		"channel_type": "channel", "ts": ts, "event_ts": ts, "hidden": true,
		"message": map[string]any{"type": "message", "user": user, "text": text, "ts": ts, "thread_ts": threadTS,
			"edited": map[string]any{"user": user, "ts": ts}},
		"previous_message": map[string]any{"type": "message", "user": user, "text": "before", "ts": ts, "thread_ts": threadTS}})
}

func callback(eventID string, inner map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"token": "legacy", "team_id": "T0001", "api_app_id": "A0001",
		"type": "event_callback", "event_id": eventID, "event_time": time.Now().Unix(), "event": inner})
	return b
}

// Event sends an event_callback body to path; retry > 0 marks it as
// Slack's retry number retry.
func (c *Client) Event(t testing.TB, path string, body []byte, retry int) (int, string) {
	t.Helper()
	h := http.Header{}
	if retry > 0 {
		h.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
		h.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	return c.Post(t, path, "application/json", body, h)
}

// Press sends the block_actions interaction of user pressing the button
// actionID on the message ts in channel.
func (c *Client) Press(t testing.TB, path, channel, ts, user, actionID string) (int, string) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "name": strings.ToLower(user), "team_id": "T0001"},
		"api_app_id": "A0001", "token": "legacy", "trigger_id": "1.2.3",
		"team":         map[string]any{"id": "T0001", "domain": "city"},
		"container":    map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"channel":      map[string]any{"id": channel, "name": "311-staff"},
		"message":      map[string]any{"type": "message", "ts": ts, "bot_id": "B0001", "text": "A resident needs a person"},
		"response_url": "https://hooks.slack.invalid/actions/T0001/1/x",
		"actions": []map[string]any{{"action_id": actionID, "block_id": "cityline_handoff", "type": "button",
			"value": "x", "action_ts": "1.5", "text": map[string]any{"type": "plain_text", "text": actionID}}},
	})
	return c.Post(t, path, "application/x-www-form-urlencoded",
		[]byte(url.Values{"payload": {string(payload)}}.Encode()), nil)
}

// Post is one chat.postMessage the stand-in received.
type Post struct {
	Channel  string // as asked for
	TS       string // the timestamp it was given
	ThreadTS string // the thread it was posted in; "" for a new message
	Text     string
	Blocks   string // the blocks, as JSON
}

// All is the text a person sees of the post: its text and its blocks' text.
func (p Post) All() string {
	var b strings.Builder
	b.WriteString(p.Text)
	var blocks any
	if json.Unmarshal([]byte(p.Blocks), &blocks) == nil {
		collect(&b, blocks)
	}
	return b.String()
}

func collect(b *strings.Builder, v any) {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x["text"].(string); ok {
			b.WriteString("\n" + s)
		}
		for k, e := range x {
			if k != "text" || !isString(e) {
				collect(b, e)
			}
		}
	case []any:
		for _, e := range x {
			collect(b, e)
		}
	}
}

func isString(v any) bool { _, ok := v.(string); return ok }

// API is the stand-in for Slack's Web API.
type API struct {
	URL     string // the base URL clients take (ends in /)
	Token   string // the bot token chat.postMessage requires
	Channel string // the channel id chat.postMessage answers with

	srv      *slacktest.Server
	mu       sync.Mutex
	posts    []Post
	problems []string
	fail     string
	seq      int
}

// NewAPI starts the stand-in until the test ends. Posts need token.
func NewAPI(t testing.TB, token string) *API {
	a := &API{Token: token, Channel: "C0STAFF"}
	a.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", a.postMessage)
	})
	a.srv.Start()
	t.Cleanup(a.srv.Stop)
	a.URL = a.srv.GetAPIURL()
	return a
}

// Fail makes chat.postMessage answer Slack's error code (channel_not_found,
// ...); "" makes it succeed again.
func (a *API) Fail(code string) {
	a.mu.Lock()
	a.fail = code
	a.mu.Unlock()
}

func (a *API) postMessage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := r.ParseForm(); err != nil {
		a.problem("unreadable form: " + err.Error())
		json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		token = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case token != a.Token:
		a.problems = append(a.problems, "chat.postMessage: wrong token")
		json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "invalid_auth"})
		return
	case a.fail != "":
		json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": a.fail})
		return
	case r.PostForm.Get("channel") == "":
		a.problems = append(a.problems, "chat.postMessage: no channel")
		json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "channel_not_found"})
		return
	case r.PostForm.Get("text") == "" && r.PostForm.Get("blocks") == "":
		a.problems = append(a.problems, "chat.postMessage: no text, no blocks")
		json.NewEncoder(w).Encode(map[string]any{"ok": false, "error": "no_text"})
		return
	}
	a.seq++
	p := Post{Channel: r.PostForm.Get("channel"), TS: fmt.Sprintf("1760000000.%06d", a.seq),
		ThreadTS: r.PostForm.Get("thread_ts"), Text: r.PostForm.Get("text"), Blocks: r.PostForm.Get("blocks")}
	if p.Blocks != "" && !json.Valid([]byte(p.Blocks)) {
		a.problems = append(a.problems, "chat.postMessage: invalid blocks JSON")
	}
	a.posts = append(a.posts, p)
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": a.Channel, "ts": p.TS,
		"message": map[string]any{"type": "message", "text": p.Text, "ts": p.TS, "thread_ts": p.ThreadTS, "bot_id": "B0001"}})
}

func (a *API) problem(s string) {
	a.mu.Lock()
	a.problems = append(a.problems, s)
	a.mu.Unlock()
}

// Posts returns everything posted so far.
func (a *API) Posts() []Post {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Post(nil), a.posts...)
}

// Roots returns the new messages posted (not in a thread).
func (a *API) Roots() []Post {
	var out []Post
	for _, p := range a.Posts() {
		if p.ThreadTS == "" {
			out = append(out, p)
		}
	}
	return out
}

// Thread returns the posts in the thread of the message ts.
func (a *API) Thread(ts string) []Post {
	var out []Post
	for _, p := range a.Posts() {
		if p.ThreadTS == ts {
			out = append(out, p)
		}
	}
	return out
}

// Problems lists the bad requests the stand-in saw.
func (a *API) Problems() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.problems...)
}

// WaitFor polls until ok holds of the posts, or fails the test after
// timeout; it returns the posts.
func (a *API) WaitFor(t testing.TB, what string, timeout time.Duration, ok func([]Post) bool) []Post {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		posts := a.Posts()
		if ok(posts) {
			return posts
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, p := range posts {
				fmt.Fprintf(&b, "\n  [%s in %q] %s", p.TS, p.ThreadTS, p.All())
			}
			t.Fatalf("Slack stand-in: no %s within %v; posts:%s", what, timeout, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
