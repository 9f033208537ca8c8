package webchat

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
)

func TestConversationTurn(t *testing.T) {
	eng := &fakeEngine{handle: func(_ context.Context, in dialog.Inbound) (dialog.Reply, error) {
		return dialog.Reply{State: "collecting", Lang: "en", Expect: dialog.ExpectChoice, Optional: true,
			Messages: []dialog.Message{{Text: "About how wide is the pothole?"}},
			Choices:  []dialog.Choice{{ID: "value:S", Label: "Small"}, {ID: "value:L", Label: "Large"}}}, nil
	}}
	hs := newHarness(t, eng, nil)
	id, token := hs.start()
	if !regexp.MustCompile(`^[a-z2-7]{26}$`).MatchString(id) || len(token) < 40 {
		t.Fatalf("id %q, token %q: want 128-bit id and 256-bit token", id, token)
	}

	var turn map[string]any
	decode(t, hs.send(id, token, `{"text":"  there is a pothole  "}`), http.StatusOK, &turn)
	for _, field := range []string{"reply", "messages", "choices", "expect", "case", "state", "lang", "optional"} {
		if _, ok := turn[field]; !ok {
			t.Errorf("reply lacks %q: %v", field, turn)
		}
	}
	if turn["expect"] != "choice" || turn["case"] != nil || turn["optional"] != true || turn["state"] != "collecting" {
		t.Errorf("reply = %v", turn)
	}
	in := eng.last(t)
	if in.ConversationID != "web:"+id || in.Channel != dialog.ChannelWeb || in.Text != "there is a pothole" {
		t.Errorf("engine got %+v", in)
	}

	// A button: the choice id goes to the engine, its label to the transcript.
	decode(t, hs.send(id, token, `{"choice":"value:L"}`), http.StatusOK, nil)
	if in := eng.last(t); in.Choice != "value:L" || in.Text != "" {
		t.Errorf("engine got %+v", in)
	}
	// A location, with words.
	decode(t, hs.send(id, token, `{"location":{"lat":43.65,"long":-79.38},"text":"by the library"}`), http.StatusOK, nil)
	if in := eng.last(t); in.Location == nil || in.Location.Lat != 43.65 || in.Location.Long != -79.38 || in.Text != "by the library" {
		t.Errorf("engine got %+v", in)
	}

	var hist historyOut
	decode(t, hs.request("GET", "/api/v1/conversations/"+id, nil, "Authorization", "Bearer "+token), http.StatusOK, &hist)
	var said []string
	for _, e := range hist.History {
		if e.From == FromResident {
			said = append(said, e.Text)
		}
	}
	if want := []string{"there is a pothole", "Large", "by the library"}; !slices.Equal(said, want) {
		t.Errorf("resident said %q, want %q", said, want)
	}
	if len(hist.History) != 6 || hist.History[5].Reply == nil || hist.History[5].Seq != 6 {
		t.Errorf("history = %+v", hist.History)
	}
	if hist.ExpiresIn < 1790 || hist.ExpiresIn > 1800 {
		t.Errorf("expires_in = %d", hist.ExpiresIn)
	}
}

func TestQuickStartLabel(t *testing.T) {
	hs := newHarness(t, nil, nil)
	id, token := hs.start()
	decode(t, hs.send(id, token, `{"choice":"service:RD-01"}`), http.StatusOK, nil)
	c, err := hs.h.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Entries[0].Text; got != "Pothole" {
		t.Errorf("a quick start is shown as %q, want the service's name", got)
	}
}

// A wrong token must look exactly like an unknown conversation.
func TestWrongToken(t *testing.T) {
	hs := newHarness(t, nil, nil)
	id, token := hs.start()
	other, _ := hs.start()
	bodies := map[string]string{}
	for name, r := range map[string]*http.Response{
		"wrong token":    hs.send(id, token+"x", `{"text":"hi"}`),
		"other's token":  hs.send(other, token, `{"text":"hi"}`),
		"unknown id":     hs.send("aaaaaaaaaaaaaaaaaaaaaaaaaa", token, `{"text":"hi"}`),
		"malformed id":   hs.send("not-an-id!", token, `{"text":"hi"}`),
		"history, wrong": hs.request("GET", "/api/v1/conversations/"+id, nil, "Authorization", "Bearer nope"),
		"events, wrong":  hs.request("GET", "/api/v1/conversations/"+id+"/events", nil, "Authorization", "Bearer nope"),
		"photo, wrong":   hs.request("POST", "/api/v1/conversations/"+id+"/photos", nil, "Authorization", "Bearer nope"),
		"keep, wrong":    hs.request("POST", "/api/v1/conversations/"+id+"/keepalive", nil, "Authorization", "Bearer nope"),
	} {
		data, _ := io.ReadAll(r.Body)
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", name, r.StatusCode)
		}
		bodies[string(data)] = name
	}
	if len(bodies) != 1 {
		t.Errorf("404 bodies differ, telling what exists: %v", bodies)
	}
	if n := hs.eng.(*fakeEngine).calls(); n != 0 {
		t.Errorf("the engine ran %d turns for strangers", n)
	}

	for _, auth := range []string{"", "Basic abc", "Bearer ", "Bearer " + strings.Repeat("x", 300)} {
		r := hs.request("POST", "/api/v1/conversations/"+id+"/messages", strings.NewReader(`{"text":"hi"}`), "Authorization", auth)
		if code := errorCode(t, r, http.StatusUnauthorized); code != "token_required" {
			t.Errorf("Authorization %q: code %q", auth, code)
		}
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: no WWW-Authenticate", auth)
		}
	}
}

func TestBadMessages(t *testing.T) {
	hs := newHarness(t, nil, nil)
	id, token := hs.start()
	for _, tc := range []struct {
		body string
		code string
	}{
		{`{"text":`, "bad_json"},
		{`not json`, "bad_json"},
		{`["text"]`, "bad_json"},
		{`{"text":"a"}{"text":"b"}`, "bad_json"},
		{`{"txt":"typo"}`, "bad_json"},
		{`{"text":42}`, "bad_json"},
		{`{}`, "empty_message"},
		{`{"text":"   "}`, "empty_message"},
		{`{"text":"` + strings.Repeat("é", maxText+1) + `"}`, "text_too_long"},
		{`{"choice":"` + strings.Repeat("c", maxChoice+1) + `"}`, "bad_choice"},
		{`{"location":{"lat":91,"long":0}}`, "bad_location"},
		{`{"location":{"lat":0,"long":-181}}`, "bad_location"},
		{`{"photo":"0123456789abcdef0123456789abcdef.jpg"}`, "unknown_photo"},
	} {
		r := hs.send(id, token, tc.body)
		if code := errorCode(t, r, http.StatusBadRequest); code != tc.code {
			t.Errorf("%.40s: code %q, want %q", tc.body, code, tc.code)
		}
	}
	r := hs.request("POST", "/api/v1/conversations/"+id+"/messages", strings.NewReader("text=hi"),
		"Authorization", "Bearer "+token, "Content-Type", "application/x-www-form-urlencoded")
	if code := errorCode(t, r, http.StatusUnsupportedMediaType); code != "want_json" {
		t.Errorf("form body: code %q", code)
	}
	if n := hs.eng.(*fakeEngine).calls(); n != 0 {
		t.Errorf("the engine ran %d turns on bad input", n)
	}
}

func TestOversizedBody(t *testing.T) {
	hs := newHarness(t, nil, nil)
	id, token := hs.start()
	big := `{"text":"` + strings.Repeat("a", maxBody) + `"}`
	if code := errorCode(t, hs.send(id, token, big), http.StatusRequestEntityTooLarge); code != "too_large" {
		t.Errorf("code %q", code)
	}
}

func TestEngineTrouble(t *testing.T) {
	var mode string
	eng := &fakeEngine{handle: func(_ context.Context, in dialog.Inbound) (dialog.Reply, error) {
		switch mode {
		case "usable":
			return dialog.Reply{Lang: "en", Messages: []dialog.Message{{Text: "Sorry, we're having trouble right now."}}},
				errors.New("save session: redis: connection refused")
		case "empty":
			return dialog.Reply{}, errors.New("handle: bad inbound message")
		case "panic":
			panic("nil map")
		}
		return dialog.Reply{}, nil
	}}
	hs := newHarness(t, eng, nil)
	id, token := hs.start()

	mode = "usable"
	res := hs.send(id, token, `{"text":"hi"}`)
	var turn Turn
	decode(t, res, http.StatusOK, &turn)
	if turn.Reply != "Sorry, we're having trouble right now." {
		t.Errorf("reply %q: want the engine's own usable reply", turn.Reply)
	}

	for _, mode = range []string{"empty", "panic"} {
		res := hs.send(id, token, `{"text":"hi"}`)
		var turn Turn
		decode(t, res, http.StatusServiceUnavailable, &turn)
		if turn.Reply != "We're having trouble. Call 311." {
			t.Errorf("%s: reply %q, want the catalogue's trouble message", mode, turn.Reply)
		}
		if strings.Contains(turn.Reply, "inbound") || strings.Contains(turn.Reply, "nil map") {
			t.Errorf("%s: internal error text reached the resident: %q", mode, turn.Reply)
		}
	}
}

func TestCreateRateLimit(t *testing.T) {
	clk := newClock()
	hs := newHarness(t, nil, func(c *Config) { c.CreateBurst, c.CreateEvery, c.Now = 2, time.Minute, clk.Now })
	create := func(ip string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/api/v1/conversations", nil)
		req.RemoteAddr = ip + ":5555"
		rec := httptest.NewRecorder()
		hs.mux.ServeHTTP(rec, req)
		return rec
	}
	for i := range 2 {
		if rec := create("203.0.113.7"); rec.Code != http.StatusCreated {
			t.Fatalf("create %d: %d", i, rec.Code)
		}
	}
	rec := create("203.0.113.7")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "60" {
		t.Errorf("third create: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := create("198.51.100.1"); rec.Code != http.StatusCreated {
		t.Errorf("another address was limited too: %d", rec.Code)
	}
	clk.Advance(time.Minute)
	if rec := create("203.0.113.7"); rec.Code != http.StatusCreated {
		t.Errorf("after a minute: %d", rec.Code)
	}
}

func TestExpiryAndKeepAlive(t *testing.T) {
	clk := newClock()
	eng := &touchEngine{}
	hs := newHarness(t, eng, func(c *Config) { c.Now = clk.Now })
	id, token := hs.start()
	auth := []string{"Authorization", "Bearer " + token}

	clk.Advance(25 * time.Minute)
	var kept struct {
		ExpiresIn int `json:"expires_in"`
	}
	decode(t, hs.request("POST", "/api/v1/conversations/"+id+"/keepalive", nil, auth...), http.StatusOK, &kept)
	if kept.ExpiresIn != 1800 {
		t.Errorf("keepalive: expires_in %d", kept.ExpiresIn)
	}
	if !slices.Equal(eng.touched, []string{"web:" + id}) {
		t.Errorf("engine sessions touched: %v", eng.touched)
	}
	clk.Advance(25 * time.Minute) // 50 minutes in, 25 idle: still there
	var hist historyOut
	decode(t, hs.request("GET", "/api/v1/conversations/"+id, nil, auth...), http.StatusOK, &hist)
	if hist.ExpiresIn != 300 {
		t.Errorf("expires_in %d, want 300", hist.ExpiresIn)
	}
	clk.Advance(5 * time.Minute)
	if code := errorCode(t, hs.send(id, token, `{"text":"hello?"}`), http.StatusNotFound); code != "not_found" {
		t.Errorf("after 30 idle minutes: %q", code)
	}
}

func TestCORS(t *testing.T) {
	hs := newHarness(t, nil, func(c *Config) { c.AllowedOrigins = []string{"https://www.example.city", "http://localhost:3000/"} })
	preflight := func(origin string) *http.Response {
		return hs.request("OPTIONS", "/api/v1/conversations/abc/messages", nil, "Origin", origin,
			"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	}
	r := preflight("https://www.example.city")
	if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "https://www.example.city" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("allowed preflight: %d %v", r.StatusCode, r.Header)
	}
	if r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Error("credentials allowed")
	}
	if r := preflight("http://localhost:3000"); r.StatusCode != http.StatusNoContent {
		t.Errorf("origin configured with a trailing slash: %d", r.StatusCode)
	}
	for _, bad := range []string{"https://evil.example", "https://www.example.city.evil.example", "null"} {
		if r := preflight(bad); r.StatusCode != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %d, ACAO %q", bad, r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
		}
	}

	r = hs.request("POST", "/api/v1/conversations", nil, "Origin", "https://www.example.city")
	if r.Header.Get("Access-Control-Allow-Origin") != "https://www.example.city" || !slices.Contains(r.Header.Values("Vary"), "Origin") {
		t.Errorf("actual request: %v", r.Header)
	}
	r = hs.request("POST", "/api/v1/conversations", nil, "Origin", "https://evil.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("a stranger origin may read the answer")
	}

	any := newHarness(t, nil, func(c *Config) { c.AllowedOrigins = []string{"*"} })
	r = any.request("GET", "/api/v1/config", nil, "Origin", "https://anywhere.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("wildcard: %v", r.Header)
	}

	p, cat := testPack(t)
	for _, bad := range []string{"www.example.city", "https://www.example.city/chat", "ftp://x.example"} {
		if _, err := New(Config{Engine: &fakeEngine{}, Pack: p, Catalog: cat, AllowedOrigins: []string{bad}}); err == nil {
			t.Errorf("origin %q accepted", bad)
		}
	}
}

func TestConfig(t *testing.T) {
	hs := newHarness(t, nil, nil)
	var cfg configOut
	decode(t, hs.request("GET", "/api/v1/config?lang=fr-CA", nil), http.StatusOK, &cfg)
	if cfg.City != "Example City" || cfg.Lang != "fr" || !strings.HasPrefix(cfg.Greeting, "Bonjour, ici le 311") {
		t.Errorf("config = %+v", cfg)
	}
	if len(cfg.Topics) == 0 || cfg.Topics[0].ID != "answer:garbage-schedule" {
		t.Errorf("topics = %+v", cfg.Topics)
	}
	if cfg.SessionTTL != 1800 || cfg.WarnBefore != 300 || !cfg.Photos {
		t.Errorf("config = %+v", cfg)
	}
	if got := cfg.Strings["open"]; got != "Clavarder avec Example City 311" {
		t.Errorf("strings[open] = %q", got)
	}
	for k := range cfg.Strings {
		if strings.HasPrefix(k, "page_") {
			t.Errorf("a front-page string %q went to the widget", k)
		}
	}

	// Every word the widget uses comes from the catalogue.
	js, err := os.ReadFile("static/widget.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\bS\.([a-z_]+)`).FindAllSubmatch(js, -1) {
		if cfg.Strings[string(m[1])] == "" {
			t.Errorf("widget.js uses S.%s, which is not in the catalogue as widget_%s", m[1], m[1])
		}
	}
}

func TestAssetsAndFrontPage(t *testing.T) {
	hs := newHarness(t, nil, nil)
	r := hs.request("GET", "/widget.js", nil)
	body, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("widget.js: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if len(body) >= 30<<10 {
		t.Errorf("widget.js is %d bytes; the budget is 30 KB", len(body))
	}
	t.Logf("widget.js: %d bytes", len(body))
	if r := hs.request("GET", "/widget.js", nil, "If-None-Match", r.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Errorf("widget.js with its ETag: %d", r.StatusCode)
	}
	if r := hs.request("GET", "/widget.css", nil); r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("widget.css: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}

	r = hs.request("GET", "/", nil)
	page, _ := io.ReadAll(r.Body)
	for _, want := range []string{`<html lang="en">`, "<h1>Example City 311</h1>", `data-cityline-choice="service:RD-01"`,
		">Pothole</button>", "data-cityline-track", `<script src="/widget.js" async></script>`, "call 911 now"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("front page lacks %s", want)
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("front page CSP %q", csp)
	}
	if r := hs.request("GET", "/nothing-here", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", r.StatusCode)
	}
}

func TestDeliverRefusesOthers(t *testing.T) {
	hs := newHarness(t, nil, nil)
	for _, id := range []string{"sms:+15550100", "web:unknownunknownunknown12", "web:"} {
		err := hs.h.Deliver(context.Background(), id, FromStaff, dialog.Reply{Messages: []dialog.Message{{Text: "hi"}}})
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Deliver(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestLocationIsAPoint(t *testing.T) {
	// The JSON the widget sends decodes into the Open311 point type.
	var in messageIn
	if status, _ := decodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(`{"location":{"lat":1.5,"long":2.5}}`)), &in); status != 0 {
		t.Fatal(status)
	}
	if *in.Location != (cases.Point{Lat: 1.5, Long: 2.5}) {
		t.Errorf("location = %+v", in.Location)
	}
}
