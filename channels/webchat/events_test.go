package webchat

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cityline/cityline/dialog"
)

// sseReader reads server-sent events from a response.
type sseReader struct {
	t  *testing.T
	sc *bufio.Scanner
}

type sseEvent struct {
	id, name, data string
}

// next returns the next event (comments and retry lines skipped), failing
// the test after a few seconds.
func (r *sseReader) next() sseEvent {
	r.t.Helper()
	type result struct {
		ev sseEvent
		ok bool
	}
	ch := make(chan result, 1)
	go func() {
		var ev sseEvent
		for r.sc.Scan() {
			line := r.sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					ch <- result{ev, true}
					return
				}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data += line[6:]
			}
		}
		ch <- result{}
	}()
	select {
	case res := <-ch:
		if !res.ok {
			r.t.Fatal("event stream ended")
		}
		return res.ev
	case <-time.After(5 * time.Second):
		r.t.Fatal("no event within 5s")
	}
	return sseEvent{}
}

func (hs *harness) stream(id, token, lastID string) (*http.Response, *sseReader) {
	hs.t.Helper()
	hdr := []string{"Authorization", "Bearer " + token}
	if lastID != "" {
		hdr = append(hdr, "Last-Event-ID", lastID)
	}
	res := hs.request("GET", "/api/v1/conversations/"+id+"/events", nil, hdr...)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		hs.t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return res, &sseReader{t: hs.t, sc: bufio.NewScanner(res.Body)}
}

func staffSays(text string) dialog.Reply {
	return dialog.Reply{Expect: dialog.ExpectText, Messages: []dialog.Message{{Text: text}}}
}

func TestEventStream(t *testing.T) {
	hs := newHarness(t, nil, nil)
	id, token := hs.start()
	decode(t, hs.send(id, token, `{"text":"I need a person"}`), http.StatusOK, nil)

	res, events := hs.stream(id, token, "")
	waitSubscribed(t, hs, id, 1)
	ctx := context.Background()
	if err := hs.h.Deliver(ctx, "web:"+id, FromStaff, staffSays("Hi, this is Sam from 311. Which street is it on?")); err != nil {
		t.Fatal(err)
	}
	ev := events.next()
	var e Entry
	if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
		t.Fatal(err)
	}
	if ev.name != "entry" || e.From != FromStaff || !e.Pushed || e.Reply == nil || e.Reply.Reply != "Hi, this is Sam from 311. Which street is it on?" {
		t.Errorf("event %s %+v", ev.name, e)
	}
	if ev.id != strconv.FormatInt(e.Seq, 10) || e.Seq != 3 {
		t.Errorf("event id %q, seq %d", ev.id, e.Seq)
	}

	// A status update arrives while the stream is down; reconnecting with
	// the last id brings only what was missed.
	res.Body.Close()
	waitSubscribed(t, hs, id, 0)
	up := dialog.Reply{Messages: []dialog.Message{{Text: "Request EX-000042 was closed: the crew filled the pothole."}},
		Case: &dialog.CaseInfo{Ref: "EX-000042", Status: "closed"}}
	if err := hs.h.Deliver(ctx, "web:"+id, FromUpdate, up); err != nil {
		t.Fatal(err)
	}
	_, events = hs.stream(id, token, ev.id)
	ev = events.next()
	if err := json.Unmarshal([]byte(ev.data), &e); err != nil {
		t.Fatal(err)
	}
	if e.From != FromUpdate || e.Reply.Case == nil || e.Reply.Case.Ref != "EX-000042" || e.Seq != 4 {
		t.Errorf("caught up with %+v", e)
	}

	// Both pushed entries are in the transcript for a reload.
	var hist historyOut
	decode(t, hs.request("GET", "/api/v1/conversations/"+id, nil, "Authorization", "Bearer "+token), http.StatusOK, &hist)
	if len(hist.History) != 4 || hist.History[2].From != FromStaff || hist.History[3].From != FromUpdate {
		t.Errorf("history %+v", hist.History)
	}
}

func TestEventStreamLimitAndShutdown(t *testing.T) {
	hs := newHarness(t, nil, func(c *Config) { c.Broker = NewMemoryBroker(1) })
	id, token := hs.start()
	res, _ := hs.stream(id, token, "")
	waitSubscribed(t, hs, id, 1)
	r := hs.request("GET", "/api/v1/conversations/"+id+"/events", nil, "Authorization", "Bearer "+token)
	if code := errorCode(t, r, http.StatusTooManyRequests); code != "too_many_streams" {
		t.Errorf("second stream: %q", code)
	}

	done := make(chan struct{})
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := res.Body.Read(buf); err != nil {
				close(done)
				return
			}
		}
	}()
	hs.h.CloseStreams()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("CloseStreams left the stream open")
	}
	r = hs.request("GET", "/api/v1/conversations/"+id+"/events", nil, "Authorization", "Bearer "+token)
	if code := errorCode(t, r, http.StatusServiceUnavailable); code != "shutting_down" {
		t.Errorf("stream after shutdown: %q", code)
	}
}

func waitSubscribed(t *testing.T, hs *harness, id string, n int) {
	t.Helper()
	b := hs.h.broker.(*MemoryBroker)
	for range 500 {
		if b.Subscribers(id) == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d subscribers, want %d", b.Subscribers(id), n)
}

func TestMemoryBrokerSlowSubscriber(t *testing.T) {
	b := NewMemoryBroker(2)
	ctx := context.Background()
	ch, cancel, err := b.Subscribe(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	for i := range 20 { // more than the buffer, nobody reading
		b.Publish(ctx, "c", Entry{Seq: int64(i + 1)})
	}
	n := 0
	for range ch {
		n++
	}
	if n != 16 || b.Subscribers("c") != 0 {
		t.Errorf("read %d before the slow stream was dropped; %d subscribers left", n, b.Subscribers("c"))
	}

	cctx, stop := context.WithCancel(ctx)
	ch, _, _ = b.Subscribe(cctx, "d")
	stop()
	if _, open := <-ch; open || b.Subscribers("d") != 0 {
		t.Error("a subscription outlived its context")
	}
}
