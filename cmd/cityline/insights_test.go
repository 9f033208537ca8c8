package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/dialog"
	"github.com/cityline/cityline/insights"
	"github.com/cityline/cityline/insights/admin"
	"github.com/cityline/cityline/insights/insightstest"
)

const testAdminToken = "serve-admin-token-0123456789"

// startInsightsServer runs `cityline serve` like startWebServer, and
// hands back the server too.
func startInsightsServer(t *testing.T, dir string, args ...string) (string, *server) {
	t.Helper()
	r := startServe(t, append([]string{"--data", dir, "--shutdown-timeout", "5s"}, args...)...)
	return r.base, r.srv
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no series %s", series)
	}
	var v float64
	json.Unmarshal([]byte(m[1]), &v)
	return v
}

// TestServeInsights: `cityline serve` with an admin token keeps the
// events, counts turns, cases, handoffs and refused webhooks on /metrics
// (the token wanted), shows the dashboard at /admin only with the token,
// and puts the topics residents use first in the web chat's quick starts
// and the engine's.
func TestServeInsights(t *testing.T) {
	quietEnv(t)
	t.Setenv("CITYLINE_ADMIN_TOKEN", testAdminToken)
	t.Setenv("TWILIO_AUTH_TOKEN", "twilio-test-token") // the webhooks are on, and check signatures
	base, srv := startInsightsServer(t, t.TempDir())
	if srv.insights == nil || srv.insights.store == nil || srv.insights.popular == nil {
		t.Fatalf("insights not wired: %+v", srv.insights)
	}

	// A few turns on the web.
	var conv struct{ ID, Token string }
	if code := postJSON(t, base+"/api/v1/conversations", "", "", &conv); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	say := func(text string) map[string]any {
		var out map[string]any
		if code := postJSON(t, base+"/api/v1/conversations/"+conv.ID+"/messages", conv.Token, `{"text":`+quote(text)+`}`, &out); code != 200 {
			t.Fatalf("message %q: %d", text, code)
		}
		return out
	}
	say("When is garbage day?")
	say("How do I pay a parking ticket?")
	say("can I talk to a real person")
	// An unsigned text message: refused, and counted.
	res, err := http.PostForm(base+"/twilio/sms", url.Values{"From": {"+15551230000"}, "Body": {"hi"}, "MessageSid": {"SM1"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned webhook: %d", res.StatusCode)
	}

	if code, body := get(t, base+"/metrics", ""); code != http.StatusUnauthorized || strings.Contains(body, "cityline_") {
		t.Errorf("/metrics without the token: %d", code)
	}
	code, metrics := get(t, base+"/metrics", testAdminToken)
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	if v := metricValue(t, metrics, `cityline_turns_total{channel="web",kind="answer"}`); v != 2 {
		t.Errorf("web answers: %v", v)
	}
	if v := metricValue(t, metrics, `cityline_turn_duration_seconds_count{channel="web"}`); v != 3 {
		t.Errorf("web turn latencies: %v", v)
	}
	if v := metricValue(t, metrics, `cityline_handoffs_total{channel="web",reason="asked"}`); v != 1 {
		t.Errorf("handoffs: %v", v)
	}
	if v := metricValue(t, metrics, `cityline_webhook_rejections_total{reason="signature",source="twilio"}`); v != 1 {
		t.Errorf("webhook rejections: %v", v)
	}
	for _, s := range []string{`cityline_cases_opened_total{channel="sms"} 0`, `cityline_store_errors_total{op="create",store="cases"} 0`,
		"cityline_events_dropped_total 0", "go_goroutines"} {
		if !strings.Contains(metrics, s) {
			t.Errorf("/metrics lacks %s", s)
		}
	}

	// The dashboard, once the events are written.
	if code, body := get(t, base+"/admin", ""); code != http.StatusUnauthorized || strings.Contains(body, "<svg") {
		t.Errorf("/admin without the token: %d", code)
	}
	if code, _ := get(t, base+"/admin", "wrong-token"); code != http.StatusUnauthorized {
		t.Errorf("/admin with a wrong token: %d", code)
	}
	if err := srv.insights.sink.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	code, page := get(t, base+"/admin", testAdminToken)
	if code != 200 || strings.Count(page, "<svg") != 7 || !strings.Contains(page, "<dt>Conversations</dt><dd>1</dd>") {
		t.Errorf("/admin with the token: %d\n%.2000s", code, page)
	}

	// Popular topics: used enough, an article comes first in the quick
	// starts of the web page and of the engine.
	var evs []dialog.Event
	for range 5 {
		evs = append(evs, dialog.Event{Type: dialog.EventDecision, Kind: dialog.KindAnswer, Target: "libraries",
			Channel: "web", Conversation: "web:x", Time: time.Now()})
	}
	if err := srv.insights.store.Insert(t.Context(), evs...); err != nil {
		t.Fatal(err)
	}
	if err := srv.insights.popular.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Topics []struct{ ID string } `json:"topics"`
	}
	_, body := get(t, base+"/api/v1/config?lang=en", "")
	json.Unmarshal([]byte(body), &cfg)
	if len(cfg.Topics) == 0 || cfg.Topics[0].ID != "answer:libraries" {
		t.Errorf("web quick starts: %+v", cfg.Topics)
	}
	reply, err := srv.engine.Handle(t.Context(), dialog.Inbound{Channel: "voice", ConversationID: "CA-popular"})
	if err != nil {
		t.Fatal(err)
	}
	if len(reply.Choices) == 0 || reply.Choices[0].ID != "answer:libraries" {
		t.Errorf("the engine's quick starts (the voice menu): %+v", reply.Choices)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// plainStore hides what a store can do beyond cases.Store (the
// notification outbox), as a store without one would.
type plainStore struct{ cases.Store }

// TestNotifyCaseUpdate: a staff update reaches the resident's web chat
// when they asked for updates; not when they did not; and nothing is sent
// directly when the store's own outbox will tell them.
func TestNotifyCaseUpdate(t *testing.T) {
	quietEnv(t)
	base, srv := startInsightsServer(t, t.TempDir())
	var conv struct{ ID, Token string }
	if code := postJSON(t, base+"/api/v1/conversations", "", "", &conv); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	c := &cases.Case{ServiceCode: "RD-01", ServiceName: "Pothole", Channel: "web", Lang: "en",
		Conversation: "web:" + conv.ID, Contact: cases.Contact{Notify: true}}
	if err := srv.store.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	closed := cases.StatusClosed
	notes := "Patched on Tuesday."
	c, err := srv.store.Update(t.Context(), c.Ref, cases.Change{Status: &closed, Notes: &notes})
	if err != nil {
		t.Fatal(err)
	}
	history := func() string {
		req, _ := http.NewRequest("GET", base+"/api/v1/conversations/"+conv.ID, nil)
		req.Header.Set("Authorization", "Bearer "+conv.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	outbox := false
	if _, ok := srv.store.(interface {
		StaleNotifications(context.Context, time.Time) (int, error)
	}); ok {
		outbox = true
		if err := srv.notifyCaseUpdate(t.Context(), c); err != nil {
			t.Errorf("with the outbox: %v", err)
		}
		if strings.Contains(history(), "Patched on Tuesday") {
			t.Error("told directly although the outbox tells the resident")
		}
	}
	store := srv.store
	srv.store = plainStore{store}
	defer func() { srv.store = store }()
	if err := srv.notifyCaseUpdate(t.Context(), c); err != nil {
		t.Fatalf("notify (outbox %v): %v", outbox, err)
	}
	if h := history(); !strings.Contains(h, "Patched on Tuesday") || !strings.Contains(h, c.Ref) {
		t.Errorf("the web chat did not get the update:\n%s", h)
	}
	c.Contact.Notify = false
	if err := srv.notifyCaseUpdate(t.Context(), c); !errors.Is(err, admin.ErrUnreachable) {
		t.Errorf("a resident who did not ask: %v", err)
	}
}

// TestReportCommand: `cityline report` prints the figures of a generated
// day, the same as the report's own; --json gives them whole; --purge
// empties what is past retention and keeps the counts.
func TestReportCommand(t *testing.T) {
	quietEnv(t)
	t.Setenv("CITYLINE_RETENTION", "")
	dir := t.TempDir()
	loc := insightstest.Epoch.Location()
	now := time.Now().In(loc)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -3)
	env := insightstest.New(t, dir, midnight, nil)
	played := env.PlayDay(t, midnight, 200, 3)
	closed := cases.StatusClosed
	env.Clock.Set(midnight.Add(23 * time.Hour))
	if _, err := env.Cases.Update(t.Context(), "EX-000001", cases.Change{Status: &closed}); err != nil {
		t.Fatal(err)
	}
	want, err := env.Insights.Report(t.Context(), midnight.AddDate(0, 0, -3), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env.Sink.Close()
	env.Cases.Close()

	out, errOut, code := runCmd(t, "", "report", "--data", dir)
	if code != 0 {
		t.Fatalf("report: %d\n%s", code, errOut)
	}
	t.Logf("cityline report --data DIR:\n%s", out)
	for _, line := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^  Conversations +200$`),
		regexp.MustCompile(`(?m)^  Cases filed +` + strconv.Itoa(want.CasesFiled) + ` `),
		regexp.MustCompile(`(?m)^  Handed to staff +` + strconv.Itoa(want.Containment.HandedOff) + ` `),
		regexp.MustCompile(`(?m)^  Messages not understood +` + strconv.Itoa(want.Fallbacks) + `$`),
		regexp.MustCompile(`(?m)^  1\. ` + regexp.QuoteMeta(want.Gaps[0].Title) + `: ` + strconv.Itoa(want.Gaps[0].Count) + ` messages`),
		regexp.MustCompile(`(?m)^  closed +1$`),
		regexp.MustCompile(`(?m)^  ` + midnight.Format("2006-01-02") + ` .* 200$`),
	} {
		if !line.MatchString(out) {
			t.Errorf("report lacks %s:\n%s", line, out)
		}
	}
	for _, p := range played {
		if p.Contact != "" && strings.Contains(out, p.Contact) || p.Email != "" && strings.Contains(out, p.Email) {
			t.Fatalf("the report shows contact details of %s", p.ID)
		}
	}

	out, _, code = runCmd(t, "", "report", "--data", dir, "--since", "30d", "--json")
	var got insights.Report
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil {
		t.Fatalf("report --json: %d %v", code, err)
	}
	if got.Conversations != 200 || got.Containment != want.Containment || len(got.Days) != 30 || len(got.Gaps) != len(want.Gaps) {
		t.Errorf("report --json: %s, %d days; want %s", &got, len(got.Days), want)
	}

	if _, errOut, code := runCmd(t, "", "report", "--data", dir, "--since", "soon"); code != 2 || !strings.Contains(errOut, "--since") {
		t.Errorf("a bad --since: %d %s", code, errOut)
	}

	// Two days' retention: the generated day (three days ago) is past it.
	out, errOut, code = runCmd(t, "", "report", "--data", dir, "--purge", "--retention", "2d", "--json")
	if code != 0 || !strings.Contains(errOut, "Purged what is older than 2d") {
		t.Fatalf("report --purge: %d %s", code, errOut)
	}
	var after insights.Report
	json.Unmarshal([]byte(out), &after)
	if after.Conversations != 200 || after.Containment != want.Containment || after.Fallbacks != want.Fallbacks ||
		after.CasesFiled != want.CasesFiled || len(after.Gaps) != 0 {
		t.Errorf("after the purge: %s (gaps %d); the counts should stay, the words go", &after, len(after.Gaps))
	}
	if !regexp.MustCompile(`[1-9]\d* events lost their text; 1 closed cases lost`).MatchString(errOut) {
		t.Errorf("purge said: %s", errOut)
	}
}

// TestInsightsImports: client_golang is imported by insights/metrics
// alone, and the insights import no channel.
func TestInsightsImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "github.com/cityline/cityline/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		for _, i := range p.Imports {
			if strings.HasPrefix(i, "github.com/prometheus/") && p.ImportPath != "github.com/cityline/cityline/insights/metrics" {
				t.Errorf("%s imports %s: only insights/metrics may", p.ImportPath, i)
			}
			if strings.HasPrefix(p.ImportPath, "github.com/cityline/cityline/insights") &&
				strings.HasPrefix(i, "github.com/cityline/cityline/channels") {
				t.Errorf("%s imports %s: the insights import no channel", p.ImportPath, i)
			}
		}
	}
}
