package twilio_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "0123456789abcdef0123456789abcdef"
)

// optOuts is a fixed opt-out list.
type optOuts struct {
	out map[string]bool
	err error
}

func (o optOuts) OptedOut(_ context.Context, addr string) (bool, error) { return o.out[addr], o.err }

func newNotifier(t *testing.T, api *twiliotest.MessagesAPI, o twilio.OptOutChecker) *twilio.Notifier {
	t.Helper()
	n, err := twilio.NewNotifier(twilio.NotifierConfig{AccountSID: testSID, AuthToken: testToken,
		From: "+15550001111", APIURL: api.URL, OptOuts: o})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNotifierSends(t *testing.T) {
	api := twiliotest.NewMessagesAPI(t, testSID, testToken)
	n := newNotifier(t, api, optOuts{})
	sids, err := n.Send(context.Background(), "+15551230000", "Your request EX-000042 was closed — “fixed” today…")
	if err != nil {
		t.Fatal(err)
	}
	if len(sids) != 1 || !strings.HasPrefix(sids[0], "SM") {
		t.Errorf("sids %v", sids)
	}
	sent := api.Sent()
	if len(sent) != 1 {
		t.Fatalf("stand-in got %d messages (problems: %v)", len(sent), api.Problems())
	}
	want := twiliotest.Sent{To: "+15551230000", From: "+15550001111",
		Body: `Your request EX-000042 was closed - "fixed" today...`}
	if sent[0] != want {
		t.Errorf("sent %+v\nwant %+v", sent[0], want)
	}
	if p := api.Problems(); len(p) > 0 {
		t.Errorf("stand-in saw problems: %v", p)
	}
}

func TestNotifierSplitsLongText(t *testing.T) {
	api := twiliotest.NewMessagesAPI(t, testSID, testToken)
	n := newNotifier(t, api, optOuts{})
	body := strings.Repeat("The crew will be there soon. ", 100) // 2,900 characters
	if _, err := n.Send(context.Background(), "+15551230000", body); err != nil {
		t.Fatal(err)
	}
	sent := api.Sent()
	if len(sent) != 2 {
		t.Fatalf("%d messages, want 2", len(sent))
	}
	for _, s := range sent {
		if len(s.Body) > twilio.MaxBody {
			t.Errorf("a message of %d characters", len(s.Body))
		}
	}
}

func TestNotifierWhatsApp(t *testing.T) {
	api := twiliotest.NewMessagesAPI(t, testSID, testToken)
	n := newNotifier(t, api, optOuts{})
	if _, err := n.Send(context.Background(), "whatsapp:+15551230000", "Fixed ✅ — thanks!"); err != nil {
		t.Fatal(err)
	}
	sent := api.Sent()
	if len(sent) != 1 || sent[0].From != "whatsapp:+15550001111" || sent[0].Body != "Fixed ✅ — thanks!" {
		t.Errorf("sent %+v: want the whatsapp: sender and the text as written", sent)
	}
}

func TestNotifierNeverTextsOptedOut(t *testing.T) {
	api := twiliotest.NewMessagesAPI(t, testSID, testToken)
	for name, o := range map[string]optOuts{
		"opted out":           {out: map[string]bool{"+15551230000": true}},
		"list cannot be read": {err: errors.New("database is down")},
	} {
		n := newNotifier(t, api, o)
		_, err := n.Send(context.Background(), "+15551230000", "Update on your request")
		if !errors.Is(err, twilio.ErrOptedOut) {
			t.Errorf("%s: err %v, want ErrOptedOut", name, err)
		}
	}
	if sent := api.Sent(); len(sent) != 0 {
		t.Errorf("texted an opted-out number: %+v", sent)
	}
	if len(api.Problems()) != 0 {
		t.Errorf("requests reached the API: %v", api.Problems())
	}
}

func TestNotifierTwilioErrors(t *testing.T) {
	api := twiliotest.NewMessagesAPI(t, testSID, testToken)
	api.Refuse = "+15559990000"
	n := newNotifier(t, api, optOuts{})
	if _, err := n.Send(context.Background(), "+15559990000", "hello"); !errors.Is(err, twilio.ErrOptedOut) {
		t.Errorf("Twilio's 21610: err %v, want ErrOptedOut", err)
	}
	bad, err := twilio.NewNotifier(twilio.NotifierConfig{AccountSID: testSID, AuthToken: "ffffffffffffffffffffffffffffffff",
		From: "+15550001111", APIURL: api.URL, OptOuts: optOuts{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Send(context.Background(), "+15551230000", "hello"); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("wrong token: err %v", err)
	}
	down := newNotifier(t, &twiliotest.MessagesAPI{Server: api.Server}, optOuts{})
	api.Close()
	if _, err := down.Send(context.Background(), "+15551230000", "hello"); !errors.Is(err, twilio.ErrUnavailable) {
		t.Errorf("API down: err %v, want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.Send(ctx, "+15551230000", "hello"); err == nil {
		t.Error("cancelled context: sent anyway")
	}
}

func TestNotifierConfig(t *testing.T) {
	for name, cfg := range map[string]twilio.NotifierConfig{
		"no sid":      {AuthToken: testToken, From: "+1555", OptOuts: optOuts{}},
		"no opt-outs": {AccountSID: testSID, AuthToken: testToken, From: "+1555"},
		"bad API URL": {AccountSID: testSID, AuthToken: testToken, From: "+1555", OptOuts: optOuts{}, APIURL: "ftp://x"},
	} {
		if _, err := twilio.NewNotifier(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
