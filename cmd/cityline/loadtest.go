package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cityline/cityline/cmd/cityline/internal/load"
)

// loadSettings are the flags of `cityline loadtest`.
type loadSettings struct {
	self        bool
	target      string
	publicURL   string
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	webShare    float64
	jsonOut     bool
	baseline    bool
	redisURL    string
	postgresURL string
	cpuProfile  string
	memProfile  string
	seed        uint64
}

// loadReport is `loadtest --json`: one object.
type loadReport struct {
	Target        string                 `json:"target"`
	Sessions      string                 `json:"sessions"` // memory or redis (--self)
	CaseStore     string                 `json:"case_store,omitempty"`
	Concurrency   int                    `json:"concurrency"`
	DurationS     float64                `json:"duration_s"`
	Turns         int                    `json:"turns"`
	TurnsPerS     float64                `json:"turns_per_s"`
	P50ms         float64                `json:"p50_ms"`
	P95ms         float64                `json:"p95_ms"`
	P99ms         float64                `json:"p99_ms"`
	MaxMs         float64                `json:"max_ms"`
	Errors        int                    `json:"errors"`
	ByKind        map[string]kindLatency `json:"by_kind,omitempty"`
	ErrorKinds    map[string]int         `json:"error_kinds,omitempty"`
	ErrorSamples  []string               `json:"error_samples,omitempty"`
	Conversations int                    `json:"conversations"`
	Questions     int                    `json:"questions"`
	Reports       int                    `json:"reports"`
	StatusChecks  int                    `json:"status_checks"`
	WebChats      int                    `json:"web_chats"`
	BaselinePerS  float64                `json:"baseline_per_s"`
	BaselineP99ms float64                `json:"baseline_p99_ms,omitempty"`
	Ratio         float64                `json:"ratio"` // turns_per_s / baseline_per_s
	RSSMB         float64                `json:"rss_mb"`
	RSSNote       string                 `json:"rss_note,omitempty"`
	// EventsDropped are insights events the in-process server could not
	// keep up with (its queue was full); --self only.
	EventsDropped *int64 `json:"events_dropped,omitempty"`
}

// kindLatency is the latency of one kind of turn in loadtest --json.
type kindLatency struct {
	Turns int     `json:"turns"`
	P50ms float64 `json:"p50_ms"`
	P95ms float64 `json:"p95_ms"`
	P99ms float64 `json:"p99_ms"`
}

// cmdLoadtest drives a server with concurrent residents (signed SMS
// webhooks and the web chat API) and reports turns per second, latency,
// errors and the server's memory, against a bare net/http handler run in
// the same run.
func cmdLoadtest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("loadtest", stderr)
	var c loadSettings
	fs.BoolVar(&c.self, "self", false, "start an in-process server (memory sessions, Example City, a temporary data folder) and drive it")
	fs.StringVar(&c.target, "target", "", "drive the running server at this URL instead (it needs TWILIO_AUTH_TOKEN in the environment)")
	fs.StringVar(&c.publicURL, "public-url", env("CITYLINE_PUBLIC_URL", ""), "with --target: the URL the server checks Twilio signatures against (default: the target) [CITYLINE_PUBLIC_URL]")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long turns are counted")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "how long residents talk before counting starts")
	fs.IntVar(&c.concurrency, "concurrency", 64, "residents talking at once")
	fs.Float64Var(&c.webShare, "web-share", 0.3, "share of conversations on the web chat (the rest by text)")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object")
	fs.BoolVar(&c.baseline, "baseline", true, "also measure a bare net/http handler in this run (loopback only)")
	fs.StringVar(&c.redisURL, "redis", "", "with --self: keep sessions in this Redis (under a key prefix of the run's own, deleted at the end)")
	fs.StringVar(&c.postgresURL, "postgres", "", "with --self: keep cases in this PostgreSQL database instead of a temporary SQLite file")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "with --self: write a CPU profile of the measured run (server and residents) to this file")
	fs.StringVar(&c.memProfile, "memprofile", "", "with --self: write an allocation profile to this file at the end")
	fs.Uint64Var(&c.seed, "seed", 0, "make the residents' choices repeatable")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case c.self == (c.target != ""):
		fmt.Fprintln(stderr, "cityline loadtest: give either --self or --target URL")
		return errUsage
	case c.concurrency < 1 || c.duration <= 0 || c.warmup < 0 || c.webShare < 0 || c.webShare > 1:
		fmt.Fprintln(stderr, "cityline loadtest: --concurrency, --duration, --warmup or --web-share out of range")
		return errUsage
	case !c.self && (c.redisURL != "" || c.postgresURL != "" || c.cpuProfile != "" || c.memProfile != ""):
		fmt.Fprintln(stderr, "cityline loadtest: --redis, --postgres and the profiles are for --self (a running server has its own)")
		return errUsage
	}
	cfg := load.Config{Residents: c.concurrency, Duration: c.duration, Warmup: c.warmup, WebShare: c.webShare, Seed: c.seed}
	if cfg.WebShare == 0 {
		cfg.WebShare = -1
	}
	rep := &loadReport{Concurrency: c.concurrency, Sessions: "memory"}

	var rss func(context.Context) (float64, error)
	var dropped func() int64
	if c.self {
		srv, base, stop, err := selfServer(ctx, c, stderr)
		if err != nil {
			return err
		}
		defer stop()
		cfg.Base, cfg.AuthToken = base, srv.cfg.twilioToken
		rep.Target = base + " (in this process)"
		if srv.redis != nil {
			rep.Sessions = "redis"
		}
		rep.CaseStore = "sqlite"
		if c.postgresURL != "" {
			rep.CaseStore = "postgres"
		}
		rss = func(context.Context) (float64, error) { return selfRSS() }
		rep.RSSNote = "this process: the server and the residents"
		if srv.insights != nil && srv.insights.sink != nil {
			dropped = srv.insights.sink.Dropped
		}
	} else {
		u, err := url.Parse(c.target)
		if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
			return exitError{code: 2, msg: fmt.Sprintf("--target %q: want a URL such as http://127.0.0.1:8311", c.target)}
		}
		cfg.Base = strings.TrimRight(c.target, "/")
		cfg.PublicURL = c.publicURL
		cfg.AuthToken = env("TWILIO_AUTH_TOKEN", "")
		if cfg.AuthToken == "" {
			fmt.Fprintln(stderr, "cityline loadtest: TWILIO_AUTH_TOKEN is not set: texts go unsigned, which only a server in --dev accepts")
		}
		rep.Target = cfg.Base
		rep.Sessions = "the server's"
		rss = func(ctx context.Context) (float64, error) { return metricsRSS(ctx, cfg.Base) }
		rep.RSSNote = "the server's process_resident_memory_bytes (/metrics)"
		if !load.IsLoopback(cfg.Base) {
			c.baseline = false // a bare handler here says nothing of a server elsewhere
		}
	}

	if c.baseline {
		b, err := load.Baseline(ctx, cfg)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		rep.BaselinePerS = round1(b.TurnsPerS)
		rep.BaselineP99ms = ms(b.P99)
		if b.Errors > 0 {
			fmt.Fprintf(stderr, "cityline loadtest: the bare handler had %d errors: %v\n", b.Errors, b.ErrorKinds)
		}
	}

	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	peak := samplePeak(ctx, rss)
	res, err := load.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.RSSMB = round1(peak())
	if dropped != nil {
		n := dropped()
		rep.EventsDropped = &n
	}
	if c.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if c.memProfile != "" {
		if err := writeHeapProfile(c.memProfile); err != nil {
			return err
		}
	}

	rep.DurationS = res.Seconds
	rep.Turns, rep.TurnsPerS = res.Turns, round1(res.TurnsPerS)
	rep.P50ms, rep.P95ms, rep.P99ms, rep.MaxMs = ms(res.P50), ms(res.P95), ms(res.P99), ms(res.Max)
	rep.Errors, rep.ErrorKinds, rep.ErrorSamples = res.Errors, res.ErrorKinds, res.ErrorSamples
	rep.ByKind = map[string]kindLatency{}
	for k, l := range res.ByKind {
		rep.ByKind[k] = kindLatency{Turns: l.Turns, P50ms: ms(l.P50), P95ms: ms(l.P95), P99ms: ms(l.P99)}
	}
	rep.Conversations, rep.Questions, rep.Reports = res.Conversations, res.Questions, res.Reports
	rep.StatusChecks, rep.WebChats = res.StatusChecks, res.WebChats
	if rep.BaselinePerS > 0 {
		rep.Ratio = float64(int(res.TurnsPerS/rep.BaselinePerS*10000+0.5)) / 10000
	}

	if c.jsonOut {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printLoadReport(stdout, c, rep)
	}
	if rep.Errors > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("%d turns failed", rep.Errors)}
	}
	return nil
}

// selfServer starts `cityline serve` in this process on a loopback port:
// the embedded Example City, a temporary data folder, Twilio credentials
// made up for the run, and nothing that reaches outside this machine
// (no Slack, no Open311 upstream, no map server, no outbound texts).
func selfServer(ctx context.Context, c loadSettings, stderr io.Writer) (*server, string, func(), error) {
	for _, k := range []string{"CITYLINE_OPEN311_UPSTREAM", "CITYLINE_GEOCODER_URL", "SLACK_BOT_TOKEN",
		"SLACK_SIGNING_SECRET", "CITYLINE_SLACK_CHANNEL", "TWILIO_ACCOUNT_SID", "TWILIO_FROM_NUMBER",
		"CITYLINE_ADMIN_TOKEN", "CITYLINE_CONTENT"} {
		os.Unsetenv(k)
	}
	dir, err := os.MkdirTemp("", "cityline-loadtest-")
	if err != nil {
		return nil, "", nil, err
	}
	redisURL := c.redisURL
	if redisURL != "" && !strings.Contains(redisURL, "key_prefix=") {
		sep := "?"
		if strings.Contains(redisURL, "?") {
			sep = "&"
		}
		redisURL += sep + "key_prefix=" + url.QueryEscape("citylineload:"+strings.ToLower(rand.Text()[:8])+":")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	base := "http://" + ln.Addr().String()
	cfg, err := serveFlags([]string{"--addr", ln.Addr().String(), "--data", dir, "--content", "",
		"--redis", redisURL, "--postgres", c.postgresURL, "--log-level", "error"}, stderr)
	if err != nil {
		ln.Close()
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	cfg.twilioToken = strings.ToLower(rand.Text()) // 26 random base32 characters
	cfg.publicURL = base
	cfg.adminToken = ""
	cfg.slack = &slackSettings{}
	sctx, cancel := context.WithCancel(ctx)
	srv, err := newServer(sctx, cfg, newLogger(stderr, "text", "error"))
	if err != nil {
		cancel()
		ln.Close()
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.serve(sctx, ln, io.Discard) }()
	stop := func() {
		cancel()
		<-done
		if srv.redis != nil {
			pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := srv.redis.client.Purge(pctx); err != nil {
				fmt.Fprintf(stderr, "cityline loadtest: clearing the run's Redis keys: %v\n", err)
			}
			pcancel()
		}
		srv.close()
		os.RemoveAll(dir)
	}
	return srv, base, stop, nil
}

// samplePeak samples rss every half second until the returned function
// is called, which returns the highest figure seen (and one last one).
func samplePeak(ctx context.Context, rss func(context.Context) (float64, error)) func() float64 {
	var mu sync.Mutex
	peak := 0.0
	take := func() {
		if v, err := rss(ctx); err == nil {
			mu.Lock()
			peak = max(peak, v)
			mu.Unlock()
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				take()
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() float64 {
		close(stop)
		<-done
		take()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// selfRSS is this process's resident memory, in MB.
func selfRSS() (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return float64(m.Sys) / (1 << 20), nil // not Linux: what the Go runtime holds
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}

// metricsRSS reads the server's resident memory from its /metrics (with
// CITYLINE_ADMIN_TOKEN when the server wants it).
func metricsRSS(ctx context.Context, base string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	if tok := env("CITYLINE_ADMIN_TOKEN", ""); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			b, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return b / (1 << 20), err
		}
	}
	return 0, errors.New("/metrics has no process_resident_memory_bytes")
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

func ms(d time.Duration) float64 { return round1(float64(d.Microseconds()) / 1000) }

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

func printLoadReport(w io.Writer, c loadSettings, r *loadReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Cityline load test: %d residents for %s (after %s of warm-up)\n", r.Concurrency, c.duration, c.warmup)
	fmt.Fprintf(tw, "  server\t%s; sessions: %s", r.Target, r.Sessions)
	if r.CaseStore != "" {
		fmt.Fprintf(tw, "; cases: %s", r.CaseStore)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "  turns\t%d (%.0f/s)\n", r.Turns, r.TurnsPerS)
	fmt.Fprintf(tw, "  latency\tp50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n", r.P50ms, r.P95ms, r.P99ms, r.MaxMs)
	for _, k := range []string{"question", "thanks", "status", "report_start", "report_answer", "report_filed"} {
		if l, ok := r.ByKind[k]; ok {
			fmt.Fprintf(tw, "  \t  %-14s %6d turns  p50 %5.1f ms  p95 %5.1f ms  p99 %5.1f ms\n", k, l.Turns, l.P50ms, l.P95ms, l.P99ms)
		}
	}
	fmt.Fprintf(tw, "  errors\t%d", r.Errors)
	if len(r.ErrorKinds) > 0 {
		fmt.Fprintf(tw, " %v", r.ErrorKinds)
	}
	fmt.Fprintln(tw)
	for _, s := range r.ErrorSamples {
		fmt.Fprintf(tw, "\t  %s\n", s)
	}
	fmt.Fprintf(tw, "  residents\t%d conversations (%d on the web chat): %d questions, %d reports filed, %d status checks\n",
		r.Conversations, r.WebChats, r.Questions, r.Reports, r.StatusChecks)
	fmt.Fprintf(tw, "  memory\t%.1f MB resident (%s)\n", r.RSSMB, r.RSSNote)
	if r.EventsDropped != nil {
		fmt.Fprintf(tw, "  insights\t%d events dropped (the event writer's queue was full)\n", *r.EventsDropped)
	}
	if r.BaselinePerS > 0 {
		fmt.Fprintf(tw, "  bare net/http\t%.0f req/s in this run (p99 %.1f ms): Cityline turns at %.1f%% of it (1 : %.1f)\n",
			r.BaselinePerS, r.BaselineP99ms, r.Ratio*100, 1/max(r.Ratio, 1e-9))
	}
	tw.Flush()
}
