package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeChannel answers like a channel handler with fixed TwiML and records
// the webhook forms it was given.
type fakeChannel struct {
	mu    sync.Mutex
	twiml func(r *http.Request) string
	got   []*http.Request
	forms []url.Values
}

func (f *fakeChannel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	f.got = append(f.got, r)
	f.forms = append(f.forms, r.PostForm)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+f.twiml(r))
}

func newSim(t *testing.T, cfg Config) (*http.ServeMux, *fakeChannel, *fakeChannel) {
	t.Helper()
	texts := &fakeChannel{twiml: func(r *http.Request) string {
		return `<Response><Message>You said: ` + r.PostForm.Get("Body") + `</Message><Message>Second &amp; last.</Message></Response>`
	}}
	calls := &fakeChannel{twiml: func(r *http.Request) string {
		if r.URL.Path == "/twilio/voice" {
			return `<Response><Gather action="/twilio/voice/gather?lang=en&amp;n=1" numDigits="1" timeout="6" finishOnKey="#" hints="Pothole"><Say language="en-CA">Hi. Press 1 for potholes.</Say></Gather>` +
				`<Gather action="/twilio/voice/gather?lang=en&amp;n=1"><Say>Sorry, I didn't hear anything.</Say></Gather><Redirect method="POST">/twilio/voice/gather?lang=en&amp;n=1&amp;quiet=2</Redirect></Response>`
		}
		return `<Response><Say>Transferring you.</Say><Dial timeout="30">+15550199</Dial><Hangup/></Response>`
	}}
	cfg.SMS, cfg.SMSPath, cfg.Voice, cfg.VoicePath = texts, "/twilio/sms", calls, "/twilio/voice"
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	return mux, texts, calls
}

func do(mux http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func TestSMS(t *testing.T) {
	mux, texts, _ := newSim(t, Config{Dev: true, To: "+15550100"})
	rec := do(mux, "POST", "/simulator/sms", `{"from":"+15550142","body":"pothole on Main"}`)
	var out smsOut
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if len(out.Replies) != 2 || out.Replies[0] != "You said: pothole on Main" || out.Replies[1] != "Second & last." {
		t.Errorf("replies %q", out.Replies)
	}
	f := texts.forms[0]
	if texts.got[0].URL.Path != "/twilio/sms" || f.Get("From") != "+15550142" || f.Get("To") != "+15550100" ||
		!strings.HasPrefix(f.Get("MessageSid"), "SM") || f.Get("Body") != "pothole on Main" {
		t.Errorf("webhook %s %v", texts.got[0].URL.Path, f)
	}
	// Each message is a new one to the channel (no replay of the last).
	do(mux, "POST", "/simulator/sms", `{"body":"again"}`)
	if texts.forms[1].Get("MessageSid") == f.Get("MessageSid") || texts.forms[1].Get("From") != "+15550142" {
		t.Errorf("second message %v", texts.forms[1])
	}
	if rec := do(mux, "POST", "/simulator/sms", `{"from":"not a number","body":"x"}`); rec.Code != 400 {
		t.Errorf("bad number: %d", rec.Code)
	}
}

func TestVoice(t *testing.T) {
	mux, _, calls := newSim(t, Config{Dev: true})
	rec := do(mux, "POST", "/simulator/voice", `{}`)
	var out voiceOut
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if !strings.HasPrefix(out.Call, "CA") || len(out.Verbs) != 3 {
		t.Fatalf("call %+v", out)
	}
	g := out.Verbs[0]
	if g.Verb != "gather" || g.Action != "/twilio/voice/gather?lang=en&n=1" || g.NumDigits != 1 || g.FinishOnKey != "#" ||
		g.Hints != "Pothole" || len(g.Prompts) != 1 || g.Prompts[0] != "Hi. Press 1 for potholes." {
		t.Errorf("gather %+v", g)
	}
	if r := out.Verbs[2]; r.Verb != "redirect" || r.Text != "/twilio/voice/gather?lang=en&n=1&quiet=2" {
		t.Errorf("redirect %+v", r)
	}

	body, _ := json.Marshal(voiceIn{URL: g.Action, Call: out.Call, Digits: "1"})
	rec = do(mux, "POST", "/simulator/voice", string(body))
	json.Unmarshal(rec.Body.Bytes(), &out)
	if len(out.Verbs) != 3 || out.Verbs[1].Verb != "dial" || out.Verbs[1].Text != "+15550199" || out.Verbs[2].Verb != "hangup" {
		t.Errorf("after a key: %+v", out.Verbs)
	}
	f := calls.forms[1]
	if calls.got[1].URL.RequestURI() != "/twilio/voice/gather?lang=en&n=1" || f.Get("CallSid") != out.Call || f.Get("Digits") != "1" {
		t.Errorf("gather webhook %s %v", calls.got[1].URL, f)
	}

	// Only the call's own webhook URLs.
	for _, u := range []string{"https://evil.example/twilio/voice", "/twilio/sms", "//evil.example/twilio/voice/gather"} {
		body, _ := json.Marshal(voiceIn{URL: u, Call: out.Call})
		if rec := do(mux, "POST", "/simulator/voice", string(body)); rec.Code != 400 {
			t.Errorf("url %q: %d", u, rec.Code)
		}
	}
}

func TestAccess(t *testing.T) {
	dev, _, _ := newSim(t, Config{Dev: true})
	if rec := do(dev, "GET", "/simulator", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), "SMS and voice simulator") {
		t.Errorf("dev, loopback: %d", rec.Code)
	}
	req := httptest.NewRequest("GET", "/simulator", nil)
	req.RemoteAddr = "203.0.113.9:5555"
	rec := httptest.NewRecorder()
	dev.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("dev, from elsewhere: %d", rec.Code)
	}
	if rec := do(dev, "GET", "/simulator", "", "X-Forwarded-For", "203.0.113.9"); rec.Code != http.StatusUnauthorized {
		t.Errorf("dev, through a proxy: %d", rec.Code)
	}

	admin, texts, _ := newSim(t, Config{AdminToken: "s3cret-admin-token"})
	for name, tc := range map[string]struct {
		method, target, body string
		hdr                  []string
		want                 int
	}{
		"page, no token":     {"GET", "/simulator", "", nil, 401},
		"page, ?token=":      {"GET", "/simulator?token=s3cret-admin-token", "", nil, 200},
		"page, bearer":       {"GET", "/simulator", "", []string{"Authorization", "Bearer s3cret-admin-token"}, 200},
		"page, wrong":        {"GET", "/simulator?token=s3cret", "", nil, 401},
		"api, no token":      {"POST", "/simulator/sms", `{"body":"x"}`, nil, 401},
		"api, ?token=":       {"POST", "/simulator/sms?token=s3cret-admin-token", `{"body":"x"}`, nil, 401},
		"api, bearer":        {"POST", "/simulator/sms", `{"body":"x"}`, []string{"Authorization", "Bearer s3cret-admin-token"}, 200},
		"api, cross-site":    {"POST", "/simulator/sms", `{"body":"x"}`, []string{"Authorization", "Bearer s3cret-admin-token", "Sec-Fetch-Site", "cross-site"}, 403},
		"api, not JSON type": {"POST", "/simulator/sms", `{"body":"x"}`, []string{"Authorization", "Bearer s3cret-admin-token", "Content-Type", "text/plain"}, 415},
	} {
		if rec := do(admin, tc.method, tc.target, tc.body, tc.hdr...); rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", name, rec.Code, tc.want)
		}
	}
	if len(texts.got) != 1 {
		t.Errorf("the SMS channel got %d messages, want 1 (the authorised one)", len(texts.got))
	}

	if _, err := New(Config{SMS: http.NotFoundHandler(), SMSPath: "/s", Voice: http.NotFoundHandler(), VoicePath: "/v"}); err == nil {
		t.Error("a simulator nobody can open was made")
	}
}

func TestChannelError(t *testing.T) {
	s, err := New(Config{Dev: true, SMSPath: "/twilio/sms", VoicePath: "/twilio/voice",
		SMS: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "missing From: not a Twilio Messaging webhook", 400)
		}), Voice: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	rec := do(mux, "POST", "/simulator/sms", `{"body":"x"}`)
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "missing From") {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}
