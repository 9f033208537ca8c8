package voice

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/channels/twilio/twiliotest"
)

// firstN allows each caller's first n calls.
type firstN struct {
	mu   sync.Mutex
	n    int
	seen map[string]int
}

func (l *firstN) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[key]++
	return l.seen[key] <= l.n, time.Minute, nil
}

// TestRateLimit: a number calling past its limit hears the catalogue's
// message and the call ends; a withheld number is not limited.
func TestRateLimit(t *testing.T) {
	s := newServer(t, "")
	s.h.limit = &firstN{n: 1, seen: map[string]int{}}
	call := func(sid, from string) *twiliotest.Node {
		t.Helper()
		status, doc := s.Post(t, Path, url.Values{"CallSid": {sid}, "From": {from}})
		if status != 200 {
			t.Fatalf("call %s: %d %s", sid, status, doc)
		}
		return twiliotest.Parse(t, doc, twiliotest.VoiceVerbs)
	}
	if root := call("CA1", caller); len(root.All("Gather")) == 0 {
		t.Fatal("the first call was not answered")
	}
	root := call("CA2", caller)
	want := s.h.eng.Say("en", "voice_rate_limited")
	says := root.All("Say")
	if len(root.All("Gather")) != 0 || len(root.All("Hangup")) != 1 || len(says) != 1 || says[0].Text != want {
		t.Errorf("a call over the limit:\n%+v\nwant %q, then hang up", root, want)
	}
	for _, sid := range []string{"CA3", "CA4"} {
		if root := call(sid, "Anonymous"); len(root.All("Gather")) == 0 {
			t.Errorf("a withheld number was limited (%s)", sid)
		}
	}
}
