package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/insights"
	"github.com/cityline/cityline/insights/insightstest"
	"github.com/cityline/cityline/insights/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// value reads one series' value from the text format.
func value(t *testing.T, text, series string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no series %s in:\n%s", series, grep(text, strings.SplitN(series, "{", 2)[0]))
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestTurnsThroughTheEngine: turns by channel and kind, latency, cases
// and handoffs, observed around a real engine.
func TestTurnsThroughTheEngine(t *testing.T) {
	m := metrics.New(metrics.Config{})
	env := insightstest.New(t, "", insightstest.Epoch.Add(10*time.Hour), func(c *dialog.Config) {
		c.Sessions = m.Sessions(dialog.NewMemoryStore(0, c.Now))
		c.Cases = m.Cases(c.Cases)
		c.Events = insights.Tee(m, c.Events)
	})
	ctx := t.Context()
	say := func(ch, id, text string) dialog.Reply {
		r, err := env.Engine.Handle(ctx, dialog.Inbound{Channel: ch, ConversationID: id, Text: text, Contact: "+15550000001"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	say("web", "web:a", "When is garbage day?")
	say("web", "web:a", "thanks")
	say("sms", "sms:+15550000001", "can I talk to a real person")
	say("voice", "CA1", "")
	// A report on SMS, to the end.
	r := say("sms", "sms:+15550000002", "There's a pothole at 12 King St W")
	for i := 0; r.Case == nil && i < 10; i++ {
		switch r.Expect {
		case dialog.ExpectYesNo:
			r = say("sms", "sms:+15550000002", "yes")
		case dialog.ExpectNumber:
			r = say("sms", "sms:+15550000002", "3")
		case dialog.ExpectText:
			r = say("sms", "sms:+15550000002", "big")
		default:
			r = say("sms", "sms:+15550000002", "1")
		}
	}
	if r.Case == nil {
		t.Fatalf("no case filed: %+v", r)
	}
	text := scrape(t, m)
	if v := value(t, text, `cityline_turns_total{channel="web",kind="answer"}`); v != 1 {
		t.Errorf("web answers: %v", v)
	}
	if v := value(t, text, `cityline_turns_total{channel="web",kind="help"}`); v != 1 {
		t.Errorf("web help: %v", v)
	}
	if v := value(t, text, `cityline_turns_total{channel="sms",kind="handoff"}`); v != 1 {
		t.Errorf("sms handoffs: %v", v)
	}
	if v := value(t, text, `cityline_turns_total{channel="voice",kind="continue"}`); v != 1 {
		t.Errorf("voice greeting turn: %v", v)
	}
	if v := value(t, text, `cityline_turns_total{channel="sms",kind="continue"}`); v < 3 {
		t.Errorf("sms report answers: %v", v)
	}
	sms := value(t, text, `cityline_turns_total{channel="sms",kind="service"}`) + value(t, text, `cityline_turns_total{channel="sms",kind="continue"}`) + 1
	if v := value(t, text, `cityline_turn_duration_seconds_count{channel="sms"}`); v != sms {
		t.Errorf("sms latency observations %v, turns %v", v, sms)
	}
	if v := value(t, text, `cityline_cases_opened_total{channel="sms"}`); v != 1 {
		t.Errorf("cases opened: %v", v)
	}
	if v := value(t, text, `cityline_handoffs_total{channel="sms",reason="asked"}`); v != 1 {
		t.Errorf("handoffs: %v", v)
	}
	if v := value(t, text, `cityline_conversations_started_total{channel="web"}`); v != 1 {
		t.Errorf("started: %v", v)
	}
	if v := value(t, text, `cityline_store_errors_total{op="create",store="cases"}`); v != 0 {
		t.Errorf("store errors: %v", v)
	}
	// Nothing on the global registry.
	mfs, _ := prometheus.DefaultGatherer.Gather()
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "cityline_") {
			t.Errorf("%s is on the default registry", mf.GetName())
		}
	}
}

type failingSessions struct{ dialog.SessionStore }

func (failingSessions) Save(context.Context, *dialog.Session) error {
	return errors.New("redis: connection refused")
}

// TestStoreErrors: a failing session store is counted.
func TestStoreErrors(t *testing.T) {
	m := metrics.New(metrics.Config{})
	env := insightstest.New(t, "", insightstest.Epoch, func(c *dialog.Config) {
		c.Sessions = m.Sessions(failingSessions{dialog.NewMemoryStore(0, c.Now)})
	})
	env.Engine.Handle(t.Context(), dialog.Inbound{Channel: "web", ConversationID: "web:x", Text: "hi"})
	m.StoreError("events", "insert")
	text := scrape(t, m)
	if v := value(t, text, `cityline_store_errors_total{op="save",store="sessions"}`); v != 1 {
		t.Errorf("session save errors: %v", v)
	}
	if v := value(t, text, `cityline_store_errors_total{op="insert",store="events"}`); v != 1 {
		t.Errorf("event insert errors: %v", v)
	}
}

// TestWebhookRejections: refusals on webhook paths are counted, by
// reason; other paths and accepted requests are not.
func TestWebhookRejections(t *testing.T) {
	m := metrics.New(metrics.Config{Runtime: true})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /twilio/sms", func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Twilio-Signature") {
		case "good":
			io.WriteString(w, "<Response/>")
		case "":
			http.Error(w, "missing Twilio signature", http.StatusForbidden)
		default:
			http.Error(w, "malformed", http.StatusBadRequest)
		}
	})
	mux.HandleFunc("POST /api/v1/x", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	h := m.Webhooks(map[string]string{"/twilio/": "twilio"}, mux)
	for _, sig := range []string{"", "", "good", "bad"} {
		req := httptest.NewRequest("POST", "/twilio/sms", nil)
		if sig != "" {
			req.Header.Set("X-Twilio-Signature", sig)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/x", nil))
	text := scrape(t, m)
	if v := value(t, text, `cityline_webhook_rejections_total{reason="signature",source="twilio"}`); v != 2 {
		t.Errorf("signature rejections: %v", v)
	}
	if v := value(t, text, `cityline_webhook_rejections_total{reason="malformed",source="twilio"}`); v != 1 {
		t.Errorf("malformed rejections: %v", v)
	}
	if !strings.Contains(text, "go_goroutines") {
		t.Error("runtime series missing")
	}
}
