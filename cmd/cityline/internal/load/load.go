// Package load drives a Cityline server the way a storm morning would:
// many residents at once, texting through signed Twilio webhooks and
// chatting through the web chat API, asking questions, reporting
// problems to the end (place, details, confirmation) and checking on
// their requests. It measures what each turn cost the resident: turns
// per second, latency percentiles and errors. It also carries the bare
// net/http handler every figure is compared with.
//
// It is the engine of `cityline loadtest`; nothing but cmd/cityline
// imports it.
package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what to drive and how hard.
type Config struct {
	// Base is where the server listens: http://127.0.0.1:8311.
	Base string
	// PublicURL is the URL the server checks Twilio signatures against
	// (its CITYLINE_PUBLIC_URL); Base when empty.
	PublicURL string
	// AuthToken is the Twilio auth token the server verifies with; empty
	// sends unsigned webhooks (a server in --dev).
	AuthToken string
	// Residents is how many residents talk at once (64).
	Residents int
	// Duration is how long turns are counted (10 s), after Warmup.
	Duration time.Duration
	// Warmup runs the residents before counting starts (none when zero).
	Warmup time.Duration
	// WebShare is the share of conversations on the web chat, the rest
	// by text (0.3 when zero; negative for none).
	WebShare float64
	// Mix weighs what residents come for; DefaultMix when zero.
	Mix Mix
	// Seed makes the residents' choices repeatable (random when zero).
	Seed uint64
}

// Mix weighs what residents come for.
type Mix struct {
	Questions int // one question, sometimes a thank-you
	Reports   int // a report to its reference number
	Status    int // where a request filed earlier stands
}

// DefaultMix is a storm morning: mostly reports, many questions, some
// residents checking on what they reported.
var DefaultMix = Mix{Questions: 35, Reports: 45, Status: 20}

// Result is what a run measured. Turns, rates and latencies count the
// turns that ended in the measured window; errors count the whole run,
// warm-up included.
type Result struct {
	Turns     int
	Seconds   float64
	TurnsPerS float64
	P50, P95  time.Duration
	P99, Max  time.Duration
	Errors    int
	// ByKind is the latency of each kind of turn: question, thanks,
	// status, report_start, report_answer, report_filed.
	ByKind       map[string]Latency
	ErrorKinds   map[string]int
	ErrorSamples []string
	// What the residents did over the whole run.
	Conversations int
	Questions     int
	Reports       int // reports that ended with a reference number
	StatusChecks  int
	WebChats      int
	Refs          []string // the reference numbers residents were given
}

// Latency sums up the turns of one kind.
type Latency struct {
	Turns         int
	P50, P95, P99 time.Duration
}

func latencyOf(d []time.Duration) Latency {
	slices.Sort(d)
	return Latency{Turns: len(d), P50: percentile(d, 0.5), P95: percentile(d, 0.95), P99: percentile(d, 0.99)}
}

// Run drives the server for cfg.Warmup plus cfg.Duration and returns the
// figures. It fails only when the run could not start; what goes wrong
// during it is counted in Errors.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Residents <= 0 {
		cfg.Residents = 64
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.WebShare == 0 {
		cfg.WebShare = 0.3
	}
	if cfg.Mix == (Mix{}) {
		cfg.Mix = DefaultMix
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	base, err := url.Parse(cfg.Base)
	if err != nil || base.Host == "" || base.Scheme != "http" && base.Scheme != "https" {
		return nil, fmt.Errorf("load: base URL %q: want http://host:port", cfg.Base)
	}
	cfg.Base = strings.TrimRight(cfg.Base, "/")
	if cfg.PublicURL == "" {
		cfg.PublicURL = cfg.Base
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")

	r := &run{cfg: cfg, start: time.Now(), numbers: rand.N(uint64(8_000_000)), loopback: loopbackV4(base.Hostname())}
	r.from = r.start.Add(cfg.Warmup)
	r.until = r.from.Add(cfg.Duration)
	r.sms = &http.Client{Timeout: 30 * time.Second, Transport: newTransport(cfg.Residents, nil)}
	defer r.sms.CloseIdleConnections()

	var wg sync.WaitGroup
	residents := make([]*resident, cfg.Residents)
	for i := range residents {
		res := &resident{run: r, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)))}
		residents[i] = res
		wg.Go(func() { res.live(ctx) })
	}
	wg.Wait()

	out := &Result{ErrorKinds: map[string]int{}, ByKind: map[string]Latency{}}
	var lat []time.Duration
	kinds := map[string][]time.Duration{}
	for _, res := range residents {
		lat = append(lat, res.lat...)
		for k, d := range res.byKind {
			kinds[k] = append(kinds[k], d...)
		}
		out.Errors += res.errors
		for k, n := range res.kinds {
			out.ErrorKinds[k] += n
		}
		for _, s := range res.samples {
			if len(out.ErrorSamples) < 10 {
				out.ErrorSamples = append(out.ErrorSamples, s)
			}
		}
		out.Conversations += res.conversations
		out.Questions += res.questions
		out.Reports += res.reports
		out.StatusChecks += res.statuses
		out.WebChats += res.webChats
	}
	for k, d := range kinds {
		out.ByKind[k] = latencyOf(d)
	}
	out.Refs = r.refsCopy()
	out.Turns = len(lat)
	out.Seconds = cfg.Duration.Seconds()
	if now := time.Now(); now.Before(r.until) { // stopped early (ctx)
		out.Seconds = now.Sub(r.from).Seconds()
	}
	if out.Seconds > 0 {
		out.TurnsPerS = float64(out.Turns) / out.Seconds
	}
	slices.Sort(lat)
	out.P50, out.P95, out.P99 = percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99)
	if len(lat) > 0 {
		out.Max = lat[len(lat)-1]
	}
	return out, nil
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// run is one load run, shared by its residents.
type run struct {
	cfg          Config
	start        time.Time
	from, until  time.Time // the measured window
	sms          *http.Client
	loopback     bool // the server is on 127.0.0.0/8: web residents get addresses of their own
	numbers      uint64
	nextNumber   atomic.Uint64
	nextAddr     atomic.Uint32
	nextSid      atomic.Uint64
	mu           sync.Mutex
	refs         []string
	troubleTexts []string
}

// phone is a new resident's number: fictional (555), one per
// conversation, so no two residents ever share one.
func (r *run) phone() string {
	n := (r.numbers + r.nextNumber.Add(1)) % 10_000_000
	return fmt.Sprintf("+1555%07d", n)
}

// sid is a fresh Twilio MessageSid.
func (r *run) sid() string {
	return fmt.Sprintf("SM%016x%016x", r.start.UnixNano(), r.nextSid.Add(1))
}

func (r *run) addRef(ref string) {
	r.mu.Lock()
	r.refs = append(r.refs, ref)
	r.mu.Unlock()
}

func (r *run) someRef(rng *rand.Rand) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refs) == 0 {
		return "", false
	}
	return r.refs[rng.IntN(len(r.refs))], true
}

func (r *run) refsCopy() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.refs)
}

// webClient is the HTTP client of one web conversation. On a loopback
// server each web resident comes from an address of its own in
// 127.0.0.0/8, as residents' browsers do, so the per-address limit on
// new conversations applies to each resident and not to the test.
func (r *run) webClient() *http.Client {
	if !r.loopback {
		return r.sms
	}
	n := r.nextAddr.Add(1)
	ip := net.IPv4(127, byte(1+n>>16%254), byte(n>>8), byte(n)) // never 127.0.x.x
	if ip[15] == 0 || ip[15] == 255 {
		ip[15] = 1
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: newTransport(1, &net.TCPAddr{IP: ip})}
}

func newTransport(conns int, local *net.TCPAddr) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: local}
	return &http.Transport{DialContext: d.DialContext, MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true, ForceAttemptHTTP2: false}
}

// loopbackV4 reports whether host is an IPv4 loopback address (or
// localhost, which the transport is then told to reach over IPv4).
func loopbackV4(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}

// IsLoopback reports whether a URL's host is this machine (127.0.0.0/8,
// ::1 or localhost).
func IsLoopback(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// errTrouble: the server answered with its "we're having trouble" reply.
var errTrouble = errors.New("trouble reply")
