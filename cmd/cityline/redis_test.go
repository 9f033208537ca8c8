package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/postgres/pgtest"
	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
	"github.com/cityline/cityline/channels/voice"
	"github.com/cityline/cityline/channels/webchat"
	"github.com/cityline/cityline/dialog"
	cityredis "github.com/cityline/cityline/dialog/redis"
)

// dialog/redis satisfies the channels' interfaces without importing them.
var (
	_ webchat.KV      = (*cityredis.Records)(nil)
	_ webchat.Bus     = (*cityredis.Bus)(nil)
	_ webchat.Limiter = (*cityredis.Limiter)(nil)
	_ sms.Limiter     = (*cityredis.Limiter)(nil)
	_ voice.Limiter   = (*cityredis.Limiter)(nil)
)

// The replica tests run two real `cityline serve` servers in this process
// (newServer, then serve on 127.0.0.1:0), as a city runs them behind a
// load balancer: sharing Redis (under a key prefix of the test's own,
// deleted at the end) and PostgreSQL (a database of the test's own,
// dropped at the end). They skip when either is not reachable.

// testRedisURL is the shared Redis for one test, under a fresh prefix.
func testRedisURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("CITYLINE_TEST_REDIS_URL")
	if base == "" {
		base = "redis://127.0.0.1:6379/0"
	}
	prefix := "citylinetest:" + strings.ToLower(rand.Text()[:10]) + ":"
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	u := base + sep + "key_prefix=" + url.QueryEscape(prefix)
	c, err := cityredis.Open(u, cityredis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		c.Close()
		t.Skipf("Redis is not reachable at %s: %v\nStart one (redis-server, or docker run -d -p 6379:6379 redis:7), "+
			"or point CITYLINE_TEST_REDIS_URL at one.", base, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Purge(ctx); err != nil {
			t.Errorf("purge %s: %v", prefix, err)
		}
		c.Close()
	})
	return u
}

// replica is one running `cityline serve`.
type replica struct {
	base string
	srv  *server
	logs *syncBuffer
	tw   *twiliotest.Client
}

// startReplicas starts two servers sharing redisURL and pgURL, taking
// signed Twilio webhooks.
func startReplicas(t *testing.T, redisURL, pgURL string) [2]*replica {
	t.Helper()
	var out [2]*replica
	for i := range out {
		base, srv, logs := startTwilioServer(t, []string{"--redis", redisURL, "--postgres", pgURL},
			map[string]string{"TWILIO_AUTH_TOKEN": e2eToken, "CITYLINE_PUBLIC_URL": e2ePublic})
		out[i] = &replica{base: base, srv: srv, logs: logs,
			tw: &twiliotest.Client{Base: base, PublicURL: e2ePublic, AuthToken: e2eToken}}
	}
	return out
}

var burstClient = &http.Client{Timeout: 60 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 512}}

// sendSMS posts a signed text, as Twilio would, from any goroutine.
func sendSMS(base, from, body, sid string) (int, string, error) {
	params := url.Values{"From": {from}, "To": {"+15550001111"}, "Body": {body}, "MessageSid": {sid}, "NumMedia": {"0"}}
	req, err := http.NewRequest(http.MethodPost, base+sms.Path, strings.NewReader(params.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(e2eToken, e2ePublic+sms.Path, params))
	resp, err := burstClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// texts reads the messages of a TwiML reply.
func texts(t *testing.T, doc string) string {
	t.Helper()
	return strings.Join(twiliotest.Parse(t, doc, twiliotest.MessagingVerbs).Texts("Message"), "\n")
}

// both sends the same message (one MessageSid) to both replicas at once,
// as a Twilio retry landing on the other replica would, and returns both
// replies.
func both(t *testing.T, rs [2]*replica, from, body, sid string) [2]string {
	t.Helper()
	var docs [2]string
	var errs [2]error
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() {
			var status int
			status, docs[i], errs[i] = sendSMS(r.base, from, body, sid)
			if errs[i] == nil && status != 200 {
				errs[i] = fmt.Errorf("status %d: %s", status, docs[i])
			}
		})
	}
	wg.Wait()
	var out [2]string
	for i := range rs {
		if errs[i] != nil {
			t.Fatalf("%q to replica %d: %v", body, i, errs[i])
		}
		out[i] = texts(t, docs[i])
	}
	return out
}

func casesFor(t *testing.T, r *replica, phone string) []*cases.Case {
	t.Helper()
	list, err := r.srv.store.List(context.Background(), cases.Filter{Phone: phone})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// reportAt is a pothole report by text, at a place of the Example City
// (each report at a place of its own: one at the same place would be
// offered as a duplicate of the first).
func reportAt(place string) []string {
	return []string{"There is a big pothole at " + place, "2", "1", "8", "yes", "yes", "yes", "yes"}
}

// TestReplicasSMS: one conversation's texts go alternately to two
// replicas and file exactly one case; a retried final message reaching
// both replicas at once is answered the same by both and files nothing
// more; and a conversation whose every text reaches both replicas at
// once still files one case.
func TestReplicasSMS(t *testing.T) {
	rs := startReplicas(t, testRedisURL(t), pgtest.FreshDatabase(t))

	from := "+15551230001"
	var last, lastBody, lastSid string
	for i, body := range reportAt("12 King St W") {
		lastBody, lastSid = body, "SMalt"+strconv.Itoa(i)
		last = textSid(t, rs[i%2].tw, from, body, lastSid)[0]
		if e2eRef.MatchString(last) {
			break
		}
	}
	ref := e2eRef.FindString(last)
	if ref == "" {
		t.Fatalf("no reference after the report; last reply %q\nlogs:\n%s", last, rs[0].logs.String()+rs[1].logs.String())
	}
	again := both(t, rs, from, lastBody, lastSid)
	for i, got := range again {
		if got != last {
			t.Errorf("the retried last text answered by replica %d:\n%q\nfirst answer:\n%q", i, got, last)
		}
	}
	if list := casesFor(t, rs[1], from); len(list) != 1 || list[0].Ref != ref {
		t.Errorf("cases for %s: %d, want exactly %s", from, len(list), ref)
	}

	from = "+15551230002"
	ref = ""
	for i, body := range reportAt("200 Queen St E") {
		got := both(t, rs, from, body, "SMboth"+strconv.Itoa(i))
		if got[0] != got[1] {
			t.Fatalf("%q delivered to both replicas answered differently:\n%q\n%q", body, got[0], got[1])
		}
		if ref = e2eRef.FindString(got[0]); ref != "" {
			break
		}
	}
	if ref == "" {
		t.Fatal("no reference when every text reached both replicas")
	}
	if list := casesFor(t, rs[0], from); len(list) != 1 {
		t.Errorf("%d cases for %s, want 1", len(list), from)
	}
}

// TestReplicasRateLimit: a resident's texts are counted across replicas;
// past the limit they get the catalogue's polite reply, not a turn.
func TestReplicasRateLimit(t *testing.T) {
	saved := smsRate
	smsRate = rate{3, time.Minute}
	t.Cleanup(func() { smsRate = saved })
	rs := startReplicas(t, testRedisURL(t), pgtest.FreshDatabase(t))
	want := rs[0].srv.engine.Say("en", "rate_limited")
	for i := range 3 {
		if got := textSid(t, rs[i%2].tw, "+15551230009", "hello", "SMrl"+strconv.Itoa(i))[0]; got == want {
			t.Fatalf("text %d was refused", i+1)
		}
	}
	if got := textSid(t, rs[1].tw, "+15551230009", "hello", "SMrl3")[0]; got != want {
		t.Errorf("the fourth text in a minute: %q, want %q", got, want)
	}
	if got := textSid(t, rs[0].tw, "+15551230010", "hello", "SMrl4")[0]; got == want {
		t.Error("another resident was refused")
	}
}

// createWeb starts a web conversation on a replica.
func createWeb(t *testing.T, base string) (id, token string) {
	t.Helper()
	var conv struct{ ID, Token string }
	if code := postJSON(t, base+"/api/v1/conversations", "", "", &conv); code != http.StatusCreated {
		t.Fatalf("create: %d", code)
	}
	return conv.ID, conv.Token
}

// openStream opens a conversation's event stream and returns its lines.
func openStream(t *testing.T, base, id, token string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/conversations/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("events: %d", resp.StatusCode)
	}
	lines := make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "retry:") {
			t.Fatalf("the stream began with %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not start")
	}
	return lines
}

// waitEntry reads a stream until an entry whose JSON contains want.
func waitEntry(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended before %q arrived", want)
			}
			if strings.HasPrefix(l, "data: ") && strings.Contains(l, want) {
				return
			}
		case <-timeout:
			t.Fatalf("%q did not arrive on the stream", want)
		}
	}
}

// TestReplicasWebChat: a web conversation started at replica A goes on at
// replica B, and a message for the resident published at A (a staff
// reply) reaches the event stream they hold at B.
func TestReplicasWebChat(t *testing.T) {
	redisURL := testRedisURL(t)
	rs := startReplicas(t, redisURL, pgtest.FreshDatabase(t))
	id, token := createWeb(t, rs[0].base)
	var turn struct {
		Expect string `json:"expect"`
		State  string `json:"state"`
	}
	if code := postJSON(t, rs[1].base+"/api/v1/conversations/"+id+"/messages", token, `{"text":"There's a pothole on my street"}`, &turn); code != 200 {
		t.Fatalf("a message at replica B for a conversation started at A: %d", code)
	}
	if turn.State != "collecting" {
		t.Errorf("turn at B: %+v", turn)
	}
	lines := openStream(t, rs[1].base, id, token)
	staff := dialog.Reply{Messages: []dialog.Message{{Text: "A crew is on its way to King St."}}}
	if err := rs[0].srv.web.Deliver(context.Background(), "web:"+id, webchat.FromStaff, staff); err != nil {
		t.Fatal(err)
	}
	waitEntry(t, lines, "A crew is on its way")

	// The transcript, read at A, has all of it.
	req, _ := http.NewRequest("GET", rs[0].base+"/api/v1/conversations/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hist struct {
		History []webchat.Entry `json:"history"`
	}
	json.NewDecoder(resp.Body).Decode(&hist)
	if len(hist.History) != 3 || hist.History[2].From != webchat.FromStaff {
		t.Errorf("history at A: %+v", hist.History)
	}

	// What the conversation costs in Redis (run with -v to see it).
	c, err := cityredis.Open(redisURL, cityredis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	record, _ := c.MemoryUsage(context.Background(), c.Prefix()+"kv:web:"+id)
	session, _ := c.MemoryUsage(context.Background(), c.SessionKey("web:"+id))
	if record == 0 || session == 0 {
		t.Errorf("no web chat record (%d bytes) or session (%d bytes) in Redis", record, session)
	}
	t.Logf("MEMORY USAGE: web chat record %d bytes (3 transcript entries), engine session %d bytes", record, session)
}

// TestReplicasBurstOrder: 200 conversations, each a burst of five texts
// within about 100 ms sent alternately to the two replicas, all handled
// in the order they arrived, each text once.
//
// Arrival is when the replica takes the conversation's ticket (the
// engine's Lock). What a replica does before that (the signature check,
// the opt-out lookup in PostgreSQL) runs concurrently and, on a loaded
// machine, can swap two texts sent a few milliseconds apart, as the
// network can. So each text is sent 25 ms after the one before and not
// before that one has its ticket: the texts of a burst still overlap
// (the next arrives while the one before runs or waits), and their order
// of arrival is known.
func TestReplicasBurstOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 1,000 turns on two replicas")
	}
	redisURL := testRedisURL(t)
	rs := startReplicas(t, redisURL, pgtest.FreshDatabase(t))
	c, err := cityredis.Open(redisURL, cityredis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const convs, burst, gap = 200, 5, 25 * time.Millisecond
	var wg sync.WaitGroup
	errs := make(chan error, convs*burst)
	spans := make(chan time.Duration, convs)
	start := time.Now()
	for conv := range convs {
		from := fmt.Sprintf("+1555300%04d", conv)
		at := start.Add(time.Duration(conv) * 25 * time.Millisecond) // conversations start 25 ms apart: 4 or 5 bursts at once
		wg.Go(func() {
			var sends sync.WaitGroup
			first := time.Time{}
			for k := range burst {
				time.Sleep(time.Until(at.Add(time.Duration(k) * gap)))
				for n := 0; ; n++ {
					got, err := c.Tickets(context.Background(), "sms:"+from)
					if err != nil || got >= int64(k) {
						break
					}
					if n > 2000 {
						errs <- fmt.Errorf("%s text %d never took its ticket", from, k)
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
				if k == 0 {
					first = time.Now()
				} else if k == burst-1 {
					spans <- time.Since(first)
				}
				sends.Go(func() {
					status, doc, err := sendSMS(rs[(conv+k)%2].base, from, fmt.Sprintf("burst text %d of %d", k+1, conv),
						fmt.Sprintf("SMb%d-%d", conv, k))
					if err == nil && status != 200 {
						err = fmt.Errorf("status %d: %s", status, doc)
					}
					if err != nil {
						errs <- fmt.Errorf("%s text %d: %w", from, k+1, err)
					}
				})
			}
			sends.Wait()
		})
	}
	wg.Wait()
	close(errs)
	close(spans)
	for err := range errs {
		t.Error(err)
	}
	var longest time.Duration
	over := 0
	for d := range spans {
		longest = max(longest, d)
		if d > 110*time.Millisecond {
			over++
		}
	}
	t.Logf("%d texts in %v; bursts sent within 100 ms (+10): %d of %d, longest %v",
		convs*burst, time.Since(start).Round(time.Millisecond), convs-over, convs, longest.Round(time.Millisecond))

	sessions := c.Sessions(0, nil)
	bad := 0
	for conv := range convs {
		id := fmt.Sprintf("sms:+1555300%04d", conv)
		s, err := sessions.Load(context.Background(), id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		// The session keeps the last four texts in the order handled.
		var want []string
		for k := 1; k < burst; k++ {
			want = append(want, fmt.Sprintf("burst text %d of %d", k+1, conv))
		}
		if s.Turns != burst || !slices.Equal(s.Recent, want) {
			if bad++; bad <= 5 {
				t.Errorf("%s: %d turns, handled ... %q; want %d turns ending %q", id, s.Turns, s.Recent, burst, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d conversations out of order", bad, convs)
	}
}

// privateRedis runs a redis-server of the test's own on a free port, for
// tests that stop and restart it. stop kills it (no save); start runs it
// again on the same port, empty.
func privateRedis(t *testing.T) (addr string, stop, start func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not found: install Redis to run the restart test")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	var cmd *exec.Cmd
	var mu sync.Mutex
	start = func() {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		cmd = exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", t.TempDir())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatal("redis-server did not start")
	}
	stop = func() {
		mu.Lock()
		defer mu.Unlock()
		if cmd != nil && cmd.Process != nil {
			cmd.Process.Kill()
			cmd.Wait()
			cmd = nil
		}
	}
	start()
	t.Cleanup(stop)
	return addr, stop, start
}

func status(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReplicasRedisRestart: Redis goes away in the middle of
// conversations and comes back empty. Meanwhile residents are told to
// call, /readyz fails, nothing panics; submitted cases are intact; then
// service resumes by itself.
func TestReplicasRedisRestart(t *testing.T) {
	addr, stopRedis, startRedis := privateRedis(t)
	rs := startReplicas(t, "redis://"+addr+"/0", pgtest.FreshDatabase(t))
	phoneOutside := rs[0].srv.brain.pack.City.PhoneOutside

	// One report filed, another half way.
	from := "+15551230021"
	var ref string
	for i, body := range reportAt("310 Front St W") {
		if ref = e2eRef.FindString(textSid(t, rs[i%2].tw, from, body, "SMr"+strconv.Itoa(i))[0]); ref != "" {
			break
		}
	}
	if ref == "" {
		t.Fatal("no reference before the restart")
	}
	other := "+15551230022"
	half := reportAt("15 Dundas St E")
	textSid(t, rs[0].tw, other, half[0], "SMo0")
	textSid(t, rs[1].tw, other, half[1], "SMo1")
	webID, webToken := createWeb(t, rs[0].base)

	stopRedis()

	got := textSid(t, rs[1].tw, other, half[2], "SMo2")[0]
	if !strings.Contains(got, phoneOutside) {
		t.Errorf("with Redis down a text was answered %q; want the trouble reply with the phone number", got)
	}
	for i, r := range rs {
		if code := status(t, r.base+"/readyz"); code != http.StatusServiceUnavailable {
			t.Errorf("replica %d /readyz with Redis down: %d", i, code)
		}
	}
	var turn struct {
		Reply string `json:"reply"`
	}
	if code := postJSON(t, rs[1].base+"/api/v1/conversations/"+webID+"/messages", webToken, `{"text":"hello"}`, &turn); code != http.StatusServiceUnavailable || !strings.Contains(turn.Reply, phoneOutside) {
		t.Errorf("a web message with Redis down: %d %q; want 503 with the trouble reply", code, turn.Reply)
	}

	startRedis()
	deadline := time.Now().Add(15 * time.Second)
	for _, r := range rs {
		for status(t, r.base+"/readyz") != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatal("a replica is still not ready after Redis came back")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Redis came back empty: the half-done conversation starts afresh,
	// and a new report goes through, texts alternating again.
	var ref2 string
	for i, body := range half {
		reply := textSid(t, rs[(i+1)%2].tw, other, body, "SMn"+strconv.Itoa(i))[0]
		if strings.Contains(reply, phoneOutside) && strings.Contains(reply, "trouble") {
			t.Fatalf("still in trouble after Redis came back: %q", reply)
		}
		if ref2 = e2eRef.FindString(reply); ref2 != "" {
			break
		}
	}
	if ref2 == "" || ref2 == ref {
		t.Errorf("after the restart the new report got %q (the first was %s)", ref2, ref)
	}
	if list := casesFor(t, rs[0], from); len(list) != 1 || list[0].Ref != ref {
		t.Errorf("the case filed before the restart: %d cases for its resident", len(list))
	}

	// The web chat works again, across replicas, event streams included.
	id, token := createWeb(t, rs[1].base)
	lines := openStream(t, rs[1].base, id, token)
	if err := rs[0].srv.web.Deliver(context.Background(), "web:"+id, webchat.FromUpdate,
		dialog.Reply{Messages: []dialog.Message{{Text: "Your request " + ref + " is now closed."}}}); err != nil {
		t.Fatal(err)
	}
	waitEntry(t, lines, ref)

	for i, r := range rs {
		if l := r.logs.String(); regexp.MustCompile(`(?i)\bpanic\b`).MatchString(l) {
			t.Errorf("replica %d logged a panic:\n%s", i, l)
		}
	}
}
