package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/postgres/pgtest"
	"github.com/cityline/cityline/cases/sqlite"
	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/twilio/twiliotest"
)

// The fault tests run `cityline serve` as a child process, built from
// this package, and do to it what happens to servers: kill -9 in the
// middle of a storm, a SIGTERM while residents wait for answers, the
// database going away. They are long: -short skips them.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// TestMain removes the binary the fault tests built: one per run would
// otherwise pile up in the temporary folder.
func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// cityline builds the binary once for the test run.
func cityline(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cityline-fault-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "cityline")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Skipf("cannot build cityline for the fault tests: %v", buildErr)
	}
	return builtBin
}

// child is a running `cityline serve`.
type child struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
	done chan error
}

var listeningRE = regexp.MustCompile(`is listening on (http://\S+)`)

// serveChild starts `cityline serve` on a free loopback port with its
// cases in data, signed Twilio webhooks on, and env added.
func serveChild(t *testing.T, data string, env map[string]string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(cityline(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, args...)...)
	cmd.Env = append(os.Environ(), "TWILIO_AUTH_TOKEN="+e2eToken, "CITYLINE_PUBLIC_URL="+e2ePublic,
		"TWILIO_ACCOUNT_SID=", "TWILIO_FROM_NUMBER=", "SLACK_BOT_TOKEN=", "CITYLINE_REDIS_URL=", "CITYLINE_POSTGRES_URL=",
		"CITYLINE_ADMIN_TOKEN=", "CITYLINE_DEV=", "CITYLINE_OPEN311_UPSTREAM=", "CITYLINE_GEOCODER_URL=")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, logs: logs, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
	})
	select {
	case c.base = <-found:
	case err := <-c.done:
		c.done <- err
		t.Fatalf("cityline serve ended before listening: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("cityline serve did not start:\n%s", logs.String())
	}
	return c
}

// TestKillDuringLoad: residents file reports by text as fast as the
// server answers; the server is killed with SIGKILL in the middle. After
// a restart on the same data folder, every case whose reference number
// a resident was given exists, exactly once, and Twilio's retries of
// the messages that were in flight file nothing twice.
func TestKillDuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a server under load: run without -short")
	}
	data := t.TempDir()
	env := map[string]string{"CITYLINE_DUPLICATE_RADIUS": "0"} // every report is at one place
	c := serveChild(t, data, env)

	type inFlight struct{ from, body, sid string }
	var (
		mu      sync.Mutex
		given   = map[string]string{} // reference -> resident
		pending []inFlight            // messages whose answer never came
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for w := range 24 {
		wg.Go(func() {
			for n := 0; ; n++ {
				from := fmt.Sprintf("+1555666%02d%03d", w, n)
				for k, body := range reportAt("12 King St W") {
					select {
					case <-stop:
						return
					default:
					}
					sid := fmt.Sprintf("SMkill%02d%03d%02d%020d", w, n, k, 0)
					status, doc, err := sendSMS(c.base, from, body, sid)
					if err != nil || status != http.StatusOK {
						mu.Lock()
						pending = append(pending, inFlight{from, body, sid})
						mu.Unlock()
						return // the server is gone
					}
					if ref := e2eRef.FindString(doc); ref != "" {
						mu.Lock()
						given[ref] = from
						mu.Unlock()
						break
					}
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.done
	c.done <- nil
	close(stop)
	wg.Wait()
	if len(given) < 20 {
		t.Fatalf("only %d references given before the kill; the load did not run:\n%s", len(given), c.logs.String())
	}

	// Restarted, the server takes Twilio's retries of what was in flight.
	c2 := serveChild(t, data, env)
	for _, p := range pending {
		if status, doc, err := sendSMS(c2.base, p.from, p.body, p.sid); err != nil || status != http.StatusOK {
			t.Errorf("retry of %q after the restart: %d %v %s", p.body, status, err, doc)
		}
	}
	// And a new report goes through.
	var ref string
	for k, body := range reportAt("12 King St W") {
		_, doc, err := sendSMS(c2.base, "+15556669999", body, fmt.Sprintf("SMafter%02d", k))
		if err != nil {
			t.Fatal(err)
		}
		if ref = e2eRef.FindString(doc); ref != "" {
			break
		}
	}
	if ref == "" {
		t.Error("no report could be filed after the restart")
	}

	store, err := sqlite.Open(context.Background(), filepath.Join(data, "cases.db"), "EX", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for ref, from := range given {
		got, err := store.Get(context.Background(), ref)
		if err != nil {
			t.Errorf("%s was given to %s, and after the restart: %v", ref, from, err)
			continue
		}
		if got.Contact.Phone != from {
			t.Errorf("%s was given to %s but belongs to %q", ref, from, got.Contact.Phone)
		}
		list, err := store.List(context.Background(), cases.Filter{Phone: from})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 {
			t.Errorf("%s reported once and has %d cases", from, len(list))
		}
	}
	all, err := store.List(context.Background(), cases.Filter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, c := range all {
		per[c.Contact.Phone]++
	}
	for from, n := range per {
		if n > 1 {
			t.Errorf("%s has %d cases for one report", from, n)
		}
	}
	t.Logf("KILL: %d references given before SIGKILL, %d cases on disk after the restart, %d messages in flight retried",
		len(given), len(all), len(pending))
}

// TestTerminateFinishesTurns: SIGTERM while residents wait for answers,
// some of them slow (the map server takes 3 seconds). Every turn the
// server had begun is answered in full, and the process exits by itself
// within 10 seconds.
func TestTerminateFinishesTurns(t *testing.T) {
	if testing.Short() {
		t.Skip("stops a server under load: run without -short")
	}
	slowMap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * time.Second)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "[]")
	}))
	defer slowMap.Close()
	c := serveChild(t, t.TempDir(), map[string]string{"CITYLINE_GEOCODER_URL": slowMap.URL})
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	post := func(from, body, sid string) (int, string, error) {
		form := url.Values{"From": {from}, "To": {"+15550001111"}, "Body": {body}, "MessageSid": {sid}, "NumMedia": {"0"}}
		req, _ := http.NewRequest(http.MethodPost, c.base+sms.Path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", twiliotest.Sign(e2eToken, e2ePublic+sms.Path, form))
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	slowDone := 0
	// Slow turns: a place the city's gazetteer does not know goes to the
	// map server.
	for i := range 6 {
		wg.Go(func() {
			status, doc, err := post(fmt.Sprintf("+155544400%02d", i), "There is a pothole at 12 Nowhere Road",
				fmt.Sprintf("SMslow%02d", i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil || status != http.StatusOK || !strings.Contains(doc, "<Message>") {
				problems = append(problems, fmt.Sprintf("slow turn %d: %d %v %s", i, status, err, doc))
				return
			}
			slowDone++
		})
	}
	// Quick turns all along: each either answered in full, or refused
	// at the door once the server stopped listening, never cut off.
	stopQuick := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stopQuick:
					return
				default:
				}
				status, doc, err := post(fmt.Sprintf("+155544401%02d", w), "when is garbage day", fmt.Sprintf("SMquick%d-%d", w, n))
				var op *net.OpError
				switch {
				case err != nil && errors.As(err, &op) && op.Op == "dial":
					return // not listening any more: Twilio would retry
				case err != nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)):
					// The connection was accepted by the kernel (reset when
					// the listener closed) or by the server at the last
					// moment (dropped when the process exited): either way
					// no answer came and no turn began, since the server
					// waits for every request its handlers have begun.
					// Twilio retries these too.
					return
				case err != nil || status != http.StatusOK || !strings.Contains(doc, "<Message>"):
					mu.Lock()
					problems = append(problems, fmt.Sprintf("quick turn: %d %v %s", status, err, doc))
					mu.Unlock()
					return
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond) // the slow turns are waiting for the map server
	start := time.Now()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	select {
	case exitErr = <-c.done:
		c.done <- exitErr
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGTERM:\n%s", c.logs.String())
	}
	took := time.Since(start)
	close(stopQuick)
	wg.Wait()
	if exitErr != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", exitErr, c.logs.String())
	}
	for _, p := range problems {
		t.Error(p)
	}
	if slowDone != 6 {
		t.Errorf("%d of 6 slow turns answered", slowDone)
	}
	t.Logf("TERM: exited %v after SIGTERM, %d slow turns in flight all answered", took.Round(time.Millisecond), slowDone)
}

// TestPostgresOutage: the PostgreSQL database becomes unreachable while
// residents are reporting. /readyz fails; a resident confirming a report
// is told to call (with the phone number) and nothing is written; when
// the database is back, service resumes by itself and the same "yes"
// files the case, once.
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a database away: run without -short")
	}
	pgURL := pgtest.FreshDatabase(t)
	u, _ := url.Parse(pgURL)
	dbName := strings.TrimPrefix(u.Path, "/")
	adminURL := os.Getenv("CITYLINE_TEST_POSTGRES_URL")
	if adminURL == "" {
		adminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	allow := func(on bool) {
		t.Helper()
		if _, err := admin.Exec(fmt.Sprintf(`ALTER DATABASE %q ALLOW_CONNECTIONS %v`, dbName, on)); err != nil {
			t.Fatal(err)
		}
		if !on {
			if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, dbName); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() { allow(true) })

	base, srv, logs := startTwilioServer(t, []string{"--postgres", pgURL},
		map[string]string{"TWILIO_AUTH_TOKEN": e2eToken, "CITYLINE_PUBLIC_URL": e2ePublic, "CITYLINE_DUPLICATE_RADIUS": "0"})
	tw := &twiliotest.Client{Base: base, PublicURL: e2ePublic, AuthToken: e2eToken}
	phone := srv.brain.pack.City.Phone
	count := func(from string) int {
		t.Helper()
		list, err := srv.store.List(context.Background(), cases.Filter{Phone: from})
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}

	// One resident files a report; another is about to confirm one.
	before := "+15554450001"
	var ref string
	for k, body := range reportAt("12 King St W") {
		if ref = e2eRef.FindString(textSid(t, tw, before, body, fmt.Sprintf("SMpgA%02d", k))[0]); ref != "" {
			break
		}
	}
	if ref == "" {
		t.Fatal("no report before the outage")
	}
	from := "+15554450002"
	steps := reportAt("12 King St W")
	var last string
	for k, body := range steps {
		last = strings.Join(textSid(t, tw, from, body, fmt.Sprintf("SMpgB%02d", k)), "\n")
		if strings.Contains(last, "Shall I send it?") {
			break
		}
	}
	if !strings.Contains(last, "Shall I send it?") {
		t.Fatalf("never asked to confirm; last reply %q", last)
	}

	allow(false)
	deadline := time.Now().Add(10 * time.Second)
	for status(t, base+"/readyz") != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz still ready with the database gone")
		}
		time.Sleep(100 * time.Millisecond)
	}
	got := strings.Join(textSid(t, tw, from, "yes", "SMpgYes1"), "\n")
	if !strings.Contains(got, phone) || e2eRef.MatchString(got) {
		t.Errorf("confirming with the database down was answered %q; want the trouble reply with %s", got, phone)
	}

	allow(true)
	deadline = time.Now().Add(20 * time.Second)
	for status(t, base+"/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not ready 20 s after the database came back:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := count(from); n != 0 {
		t.Errorf("the refused confirmation left %d cases", n)
	}
	got = strings.Join(textSid(t, tw, from, "yes", "SMpgYes2"), "\n")
	if e2eRef.FindString(got) == "" {
		t.Errorf("after the database came back, yes was answered %q; want the reference", got)
	}
	if n := count(from); n != 1 {
		t.Errorf("%d cases after the retry, want 1", n)
	}
	if c, err := srv.store.Get(context.Background(), ref); err != nil || c.Contact.Phone != before {
		t.Errorf("the case filed before the outage: %v %v", c, err)
	}
	if l := logs.String(); regexp.MustCompile(`(?i)\bpanic\b`).MatchString(l) {
		t.Errorf("the server logged a panic:\n%s", l)
	}
}
