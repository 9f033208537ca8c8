package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/channels/slack"
	"github.com/cityline/cityline/channels/slack/slackfake"
	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
	"github.com/cityline/cityline/channels/voice"
)

// TestWebhookReplays sends 10,000 replayed webhooks to the real `cityline
// serve`, as Twilio and Slack send them again when an answer is slow or
// lost: texts with the same MessageSid, call turns with the same CallSid,
// staff replies in Slack with the same event id and X-Slack-Retry-Num.
// Each is replayed at once, concurrently with the first copy, and later,
// after the conversation has moved on. Every copy gets the first copy's
// answer, nothing is done twice (one case per report, one text per staff
// reply), and the copies are answered quickly (their p99 is logged).
func TestWebhookReplays(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 replayed webhooks: run without -short")
	}
	t.Setenv("CITYLINE_DUPLICATE_RADIUS", "0") // every resident reports the same pothole
	r := startSlack(t, hoursAllDay, time.Hour)
	rp := &replayer{base: r.base}

	// Texts: 110 residents report a pothole, each message sent 17 times
	// (8 at once, then 9 more after the next message was answered).
	const residents = 110
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	refs := make([]string, residents)
	for i := range residents {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			refs[i] = rp.textReport(t, fmt.Sprintf("+1555777%04d", i), i)
		})
	}
	wg.Wait()
	for i, ref := range refs {
		phone := fmt.Sprintf("+1555777%04d", i)
		list, err := r.srv.store.List(context.Background(), cases.Filter{Phone: phone})
		if err != nil {
			t.Fatal(err)
		}
		if ref == "" || len(list) != 1 || list[0].Ref != ref {
			var got []string
			for _, c := range list {
				got = append(got, c.Ref)
			}
			t.Errorf("resident %d was given %q and has cases %v; want exactly that one", i, ref, got)
		}
	}

	// Calls: 25 calls, each turn (the greeting and three answers) sent
	// 11 times.
	for i := range 25 {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rp.call(t, fmt.Sprintf("CAreplay%030d", i), fmt.Sprintf("+1555888%04d", i))
		})
	}
	wg.Wait()

	// Slack: staff answer a resident in a handoff thread; each of their
	// replies is delivered by Slack 50 times (with retry numbers).
	r.text(t, "I want to talk to a person")
	root := r.root(t)
	const staffReplies = 10
	for k := range staffReplies {
		rp.slackReply(t, r, root, k)
	}
	for k := range staffReplies {
		want := fmt.Sprintf("Staff reply number %d.", k)
		deadline := time.Now().Add(10 * time.Second)
		for r.countSMS(want) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // a second relay would come right after the first
		if n := r.countSMS(want); n != 1 {
			t.Errorf("staff reply %d reached the resident %d times, want once", k, n)
		}
	}

	lat := rp.latencies()
	t.Logf("REPLAYS: %d replayed webhooks (%d texts, %d call turns, %d Slack retries) answered; "+
		"p50 %v, p99 %v, max %v; %d texts and call turns answered differently from the first copy",
		len(lat), rp.n[0].Load(), rp.n[1].Load(), rp.n[2].Load(), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1],
		rp.mismatches.Load())
	if len(lat) < 10000 {
		t.Errorf("only %d replays sent", len(lat))
	}
	if m := rp.mismatches.Load(); m > 0 {
		t.Errorf("%d replays were answered differently from the first copy", m)
	}
	if p99 := lat[len(lat)*99/100]; p99 > 2*time.Second {
		t.Errorf("replays answered slowly: p99 %v", p99)
	}
	for _, e := range rp.errors() {
		t.Error(e)
	}
}

// replayer sends webhooks and their copies, from any goroutine.
type replayer struct {
	base       string
	mu         sync.Mutex
	lat        []time.Duration
	errs       []string
	n          [3]atomic.Int64 // replays of texts, calls, Slack events
	mismatches atomic.Int64
}

func (rp *replayer) errorf(format string, args ...any) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.errs) < 20 {
		rp.errs = append(rp.errs, fmt.Sprintf(format, args...))
	}
}

func (rp *replayer) errors() []string {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return slices.Clone(rp.errs)
}

func (rp *replayer) latencies() []time.Duration {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	out := slices.Clone(rp.lat)
	slices.Sort(out)
	if len(out) == 0 {
		out = []time.Duration{0}
	}
	return out
}

// twilio posts a signed Twilio webhook; replay says whether to time it as
// a replay.
func (rp *replayer) twilio(path string, form url.Values, kind int, replay bool) string {
	req, _ := http.NewRequest(http.MethodPost, rp.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(e2eToken, e2ePublic+path, form))
	return rp.do(req, kind, replay)
}

func (rp *replayer) do(req *http.Request, kind int, replay bool) string {
	start := time.Now()
	resp, err := burstClient.Do(req)
	if err != nil {
		rp.errorf("%s: %v", req.URL.Path, err)
		return ""
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		rp.errorf("%s: status %d: %s", req.URL.Path, resp.StatusCode, body)
	}
	if replay {
		rp.mu.Lock()
		rp.lat = append(rp.lat, time.Since(start))
		rp.mu.Unlock()
		rp.n[kind].Add(1)
	}
	return string(body)
}

// copies sends send n times at once and returns the answers.
func copies(n int, send func(replay bool) string) []string {
	out := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = send(i > 0) })
	}
	wg.Wait()
	return out
}

// same counts answers that differ from the first, as TwiML (whose
// builder writes attributes in any order) or as they are.
func (rp *replayer) same(what string, answers []string) {
	for _, a := range answers[1:] {
		if canonicalXML(a) != canonicalXML(answers[0]) {
			rp.mismatches.Add(1)
			rp.errorf("%s answered differently:\n%s\n%s", what, answers[0], a)
		}
	}
}

// canonicalXML writes an XML document back with each element's
// attributes sorted; what is not XML is returned as it is.
func canonicalXML(doc string) string {
	dec := xml.NewDecoder(strings.NewReader(doc))
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			return doc
		}
		switch x := tok.(type) {
		case xml.StartElement:
			attrs := slices.Clone(x.Attr)
			slices.SortFunc(attrs, func(a, b xml.Attr) int { return strings.Compare(a.Name.Local, b.Name.Local) })
			fmt.Fprintf(&b, "<%s", x.Name.Local)
			for _, a := range attrs {
				fmt.Fprintf(&b, " %s=%q", a.Name.Local, a.Value)
			}
			b.WriteString(">")
		case xml.EndElement:
			fmt.Fprintf(&b, "</%s>", x.Name.Local)
		case xml.CharData:
			b.Write(x)
		}
	}
}

// textReport reports a pothole by text, every message replayed, and
// returns the reference the resident was given.
func (rp *replayer) textReport(t *testing.T, from string, i int) string {
	type sent struct {
		form   url.Values
		answer string
	}
	var prev *sent
	ref := ""
	for k, body := range reportAt("12 King St W") {
		form := url.Values{"From": {from}, "To": {"+15550001111"}, "Body": {body}, "NumMedia": {"0"},
			"MessageSid": {fmt.Sprintf("SMreplay%04d%02d%022d", i, k, 0)}}
		answers := copies(8, func(replay bool) string { return rp.twilio(sms.Path, form, 0, replay) })
		rp.same("text "+body, answers)
		// Later copies of the message before, the conversation having moved on.
		if prev != nil {
			for range 9 {
				rp.same("a late copy of "+prev.form.Get("Body"), []string{prev.answer, rp.twilio(sms.Path, prev.form, 0, true)})
			}
		}
		prev = &sent{form, answers[0]}
		if ref = e2eRef.FindString(answers[0]); ref != "" {
			break
		}
	}
	if prev != nil {
		for range 9 {
			rp.same("a late copy of "+prev.form.Get("Body"), []string{prev.answer, rp.twilio(sms.Path, prev.form, 0, true)})
		}
	}
	return ref
}

// call answers a call and says three things, each webhook replayed.
func (rp *replayer) call(t *testing.T, sid, from string) {
	turns := []struct {
		path string
		form url.Values
	}{
		{voice.Path, url.Values{"CallSid": {sid}, "From": {from}, "To": {"+15550001111"}}},
		{voice.Path + "/gather?n=1&lang=en", url.Values{"CallSid": {sid}, "From": {from}, "SpeechResult": {"There is a pothole at 12 King Street West"}}},
		{voice.Path + "/gather?n=2&lang=en", url.Values{"CallSid": {sid}, "From": {from}, "Digits": {"2"}}},
		{voice.Path + "/gather?n=3&lang=en", url.Values{"CallSid": {sid}, "From": {from}, "Digits": {"1"}}},
	}
	var answers []string
	for k, turn := range turns {
		got := copies(6, func(replay bool) string { return rp.twilio(turn.path, turn.form, 1, replay) })
		rp.same("call turn "+strconv.Itoa(k), got)
		answers = append(answers, got[0])
		if k > 0 { // a late copy of the turn before
			for range 5 {
				p := turns[k-1]
				rp.same("a late copy of call turn "+strconv.Itoa(k-1), []string{answers[k-1], rp.twilio(p.path, p.form, 1, true)})
			}
		}
	}
	last := turns[len(turns)-1]
	for range 5 {
		rp.same("a late copy of the last call turn", []string{answers[len(answers)-1], rp.twilio(last.path, last.form, 1, true)})
	}
}

// slackReply delivers staff reply k in the thread 50 times: 25 at once,
// then 25 more, each marked as one of Slack's retries.
func (rp *replayer) slackReply(t *testing.T, r *slackRig, root slackfake.Post, k int) {
	id := fmt.Sprintf("EvReplay%04d", k)
	body := slackfake.ThreadReply(id, r.api.Channel, root.TS, "1760009999."+id, "U0SAM", fmt.Sprintf("Staff reply number %d.", k))
	send := func(retry int) string {
		req, _ := http.NewRequest(http.MethodPost, rp.base+slack.EventsPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		ts, sig := slackfake.Sign(e2eSlackSecret, time.Now(), body)
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
		if retry > 0 {
			req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
			req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
		}
		return rp.do(req, 2, retry > 0)
	}
	copies(25, func(replay bool) string {
		if replay {
			return send(1)
		}
		return send(0)
	})
	for i := range 25 {
		send(2 + i%2)
	}
}
