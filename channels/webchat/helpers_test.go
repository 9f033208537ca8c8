package webchat

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases/casetest"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/dialog/locale"
	"github.com/cityline/cityline/knowledge"
	"github.com/cityline/cityline/knowledge/examplecity"
)

// The Example City pack and its wording, loaded once for every test.
var examplePack = sync.OnceValues(func() (*knowledge.Pack, error) {
	return knowledge.Load(examplecity.FS())
})

func testPack(t *testing.T) (*knowledge.Pack, *locale.Catalog) {
	t.Helper()
	p, err := examplePack()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := locale.New(p.City.Languages, p.Messages)
	if err != nil {
		t.Fatal(err)
	}
	return p, cat
}

// fakeEngine is a hand-written dialog engine: Handle runs the test's func
// (echoing the text when nil) and records what it was given.
type fakeEngine struct {
	mu     sync.Mutex
	handle func(ctx context.Context, in dialog.Inbound) (dialog.Reply, error)
	got    []dialog.Inbound
}

func (f *fakeEngine) Handle(ctx context.Context, in dialog.Inbound) (dialog.Reply, error) {
	f.mu.Lock()
	f.got = append(f.got, in)
	handle := f.handle
	f.mu.Unlock()
	if handle != nil {
		return handle(ctx, in)
	}
	return dialog.Reply{State: "idle", Lang: "en", Expect: dialog.ExpectText,
		Messages: []dialog.Message{{Text: "You said: " + in.Text}}}, nil
}

func (f *fakeEngine) Trouble(lang string) dialog.Reply {
	return dialog.Reply{Lang: lang, Expect: dialog.ExpectText, Messages: []dialog.Message{{Text: "We're having trouble. Call 311."}}}
}

func (f *fakeEngine) last(t *testing.T) dialog.Inbound {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) == 0 {
		t.Fatal("the engine was not called")
	}
	return f.got[len(f.got)-1]
}

func (f *fakeEngine) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

// touchEngine is a fake engine that can also keep a session alive.
type touchEngine struct {
	fakeEngine
	touched []string
}

func (f *touchEngine) Touch(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touched = append(f.touched, id)
	return nil
}

func newClock() *casetest.FakeClock {
	return casetest.NewFakeClock(time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC))
}

// harness is a web chat over a fake engine, served on a real listener.
type harness struct {
	t   *testing.T
	h   *Handler
	mux *http.ServeMux
	srv *httptest.Server
	eng Engine
}

func newHarness(t *testing.T, eng Engine, edit func(*Config)) *harness {
	t.Helper()
	p, cat := testPack(t)
	if eng == nil {
		eng = &fakeEngine{}
	}
	cfg := Config{Engine: eng, Pack: p, Catalog: cat, PhotoDir: t.TempDir(), CreateBurst: 1000}
	if edit != nil {
		edit(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.CloseStreams()
		srv.Close()
	})
	return &harness{t: t, h: h, mux: mux, srv: srv, eng: eng}
}

// request sends a request; hdr are name, value pairs.
func (hs *harness) request(method, path string, body io.Reader, hdr ...string) *http.Response {
	hs.t.Helper()
	req, err := http.NewRequest(method, hs.srv.URL+path, body)
	if err != nil {
		hs.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := hs.srv.Client().Do(req)
	if err != nil {
		hs.t.Fatal(err)
	}
	hs.t.Cleanup(func() { res.Body.Close() })
	return res
}

// start opens a conversation and returns its id and token.
func (hs *harness) start() (string, string) {
	hs.t.Helper()
	res := hs.request("POST", "/api/v1/conversations", nil)
	var c created
	decode(hs.t, res, http.StatusCreated, &c)
	return c.ID, c.Token
}

// send posts a message body (JSON) with the token.
func (hs *harness) send(id, token, body string) *http.Response {
	hs.t.Helper()
	return hs.request("POST", "/api/v1/conversations/"+id+"/messages", strings.NewReader(body),
		"Authorization", "Bearer "+token, "Content-Type", "application/json")
}

// decode checks the status and reads the JSON answer into v.
func decode(t *testing.T, res *http.Response, status int, v any) {
	t.Helper()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, status, data)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
	}
}

// errorCode reads an error answer's code, checking the status.
func errorCode(t *testing.T, res *http.Response, status int) string {
	t.Helper()
	var e apiError
	decode(t, res, status, &e)
	return e.Error
}
