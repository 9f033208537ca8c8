package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
)

const (
	e2eSID    = "AC0123456789abcdef0123456789abcdef"
	e2eToken  = "0123456789abcdef0123456789abcdef"
	e2ePublic = "https://311.example.city"
)

// syncBuffer is a log sink the server's goroutines can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startTwilioServer runs the real `cityline serve` (newServer, then serve
// on 127.0.0.1:0) until the test ends.
func startTwilioServer(t *testing.T, args []string, env map[string]string) (string, *server, *syncBuffer) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	for _, k := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "CITYLINE_PUBLIC_URL",
		"CITYLINE_TWILIO_API_URL", "CITYLINE_AGENT_NUMBER", "CITYLINE_DEV"} {
		if _, ok := env[k]; !ok {
			t.Setenv(k, "")
		}
	}
	r := startServe(t, append([]string{"--data", t.TempDir()}, args...)...)
	return r.base, r.srv, r.logs
}

var e2eRef = regexp.MustCompile(`\bEX-\d{6}\b`)

// TestServeTwilio runs the server as configured from the environment and
// reports a pothole by signed SMS, as Twilio would deliver it.
func TestServeTwilio(t *testing.T) {
	api := twiliotest.NewMessagesAPI(t, e2eSID, e2eToken)
	base, srv, logs := startTwilioServer(t, nil, map[string]string{
		"TWILIO_ACCOUNT_SID":      e2eSID,
		"TWILIO_AUTH_TOKEN":       e2eToken,
		"TWILIO_FROM_NUMBER":      "+15550001111",
		"CITYLINE_PUBLIC_URL":     e2ePublic + "/",
		"CITYLINE_TWILIO_API_URL": api.URL,
		"CITYLINE_AGENT_NUMBER":   "+15550009999",
	})
	tw := &twiliotest.Client{Base: base, PublicURL: e2ePublic, AuthToken: e2eToken}
	from := "+15551230000"
	sid := 0
	text := func(body string) []string {
		t.Helper()
		sid++
		return textSid(t, tw, from, body, "SMe2e"+string(rune('a'+sid)))
	}

	// Unsigned: refused, and nothing happens.
	if status, _ := (&twiliotest.Client{Base: base}).Post(t, "/twilio/sms",
		url.Values{"From": {from}, "Body": {"pothole at 12 King St W"}}); status != http.StatusForbidden {
		t.Errorf("unsigned SMS: status %d, want 403", status)
	}

	var last string
	var lastBody, lastSid string
	for _, body := range []string{"There is a big pothole at 12 King St W", "2", "1", "8", "yes", "yes", "yes"} {
		sid++
		lastBody, lastSid = body, "SMe2e"+string(rune('a'+sid))
		last = strings.Join(textSid(t, tw, from, body, lastSid), "\n")
		if e2eRef.MatchString(last) {
			break
		}
	}
	ref := e2eRef.FindString(last)
	if ref == "" {
		t.Fatalf("no reference in the last reply: %q", last)
	}
	// Twilio retries the last message: same reply, still one case.
	if again := strings.Join(textSid(t, tw, from, lastBody, lastSid), "\n"); again != last {
		t.Errorf("retried message answered %q, first %q", again, last)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"case", "list", "--json", "--data", *srv.cfg.store.data}, nil, &out, io.Discard); code != 0 {
		t.Fatalf("case list: exit %d", code)
	}
	var listed []struct {
		ID          string `json:"id"`
		ServiceCode string `json:"service_code"`
		Channel     string `json:"channel"`
	}
	if err := json.Unmarshal(out.Bytes(), &listed); err != nil {
		t.Fatalf("case list --json: %v\n%s", err, out.String())
	}
	if len(listed) != 1 || listed[0].ID != ref || listed[0].ServiceCode != "RD-01" {
		t.Errorf("cases listed %+v, want one RD-01 %s", listed, ref)
	}

	// A call comes in.
	status, doc := tw.Post(t, "/twilio/voice", url.Values{"CallSid": {"CAe2e"}, "From": {from}})
	if status != 200 {
		t.Fatalf("voice: status %d", status)
	}
	root := twiliotest.Parse(t, doc, twiliotest.VoiceVerbs)
	if g := root.All("Gather"); len(g) == 0 || g[0].Attr("language") != "en-CA" {
		t.Errorf("voice answer:\n%s", doc)
	}

	// Outbound texts go through the configured API, and never to STOP.
	if srv.texts == nil {
		t.Fatalf("outbound texts are off; log:\n%s", logs.String())
	}
	if _, err := srv.texts.Send(context.Background(), from, "Your request "+ref+" is fixed."); err != nil {
		t.Fatalf("send: %v (stand-in saw %v)", err, api.Problems())
	}
	if got := text("STOP"); len(got) != 1 {
		t.Errorf("STOP: %q", got)
	}
	if _, err := srv.texts.Send(context.Background(), from, "Another update"); !errors.Is(err, twilio.ErrOptedOut) {
		t.Errorf("send after STOP: %v, want ErrOptedOut", err)
	}
	sent := api.Sent()
	if len(sent) != 1 || sent[0].To != from || sent[0].From != "+15550001111" || !strings.Contains(sent[0].Body, ref) {
		t.Errorf("stand-in received %+v", sent)
	}
	if p := api.Problems(); len(p) > 0 {
		t.Errorf("the stand-in saw bad requests: %v", p)
	}
	for _, leak := range []string{from, "1230000"} {
		if strings.Contains(logs.String(), leak) {
			t.Errorf("the log shows a phone number in full (%s)", leak)
		}
	}
}

func textSid(t *testing.T, tw *twiliotest.Client, from, body, sid string) []string {
	t.Helper()
	status, doc := tw.Post(t, "/twilio/sms", url.Values{"From": {from}, "To": {"+15550001111"}, "Body": {body},
		"MessageSid": {sid}, "NumMedia": {"0"}})
	if status != 200 {
		t.Fatalf("SMS %q: status %d: %s", body, status, doc)
	}
	return twiliotest.Parse(t, doc, twiliotest.MessagingVerbs).Texts("Message")
}

// Without Twilio credentials the webhooks are not there, and the log says
// why; --dev opens them to this machine only, with a warning.
func TestServeTwilioOff(t *testing.T) {
	base, _, logs := startTwilioServer(t, nil, nil)
	resp, err := http.Post(base+"/twilio/sms", "application/x-www-form-urlencoded", strings.NewReader("From=%2B1555&Body=hi"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("without credentials /twilio/sms answers %d, want 404 (not mounted)", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), "SMS and voice are off: TWILIO_AUTH_TOKEN is not set") {
		t.Errorf("the log does not say why SMS and voice are off:\n%s", logs.String())
	}

	base, _, logs = startTwilioServer(t, []string{"--dev"}, nil)
	if !strings.Contains(logs.String(), "UNSIGNED requests from loopback") {
		t.Errorf("no warning for --dev:\n%s", logs.String())
	}
	got := textSid(t, &twiliotest.Client{Base: base}, "+15551230000", "hello", "SMdev1")
	if len(got) == 0 {
		t.Error("--dev: an unsigned message from loopback got no reply")
	}
	// Through a proxy on this machine every caller looks local: refused.
	req, _ := http.NewRequest(http.MethodPost, base+"/twilio/sms", strings.NewReader("From=%2B15551230000&Body=hi"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("--dev, forwarded request: status %d, want 403", resp.StatusCode)
	}
}
