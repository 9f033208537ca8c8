package twilio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// DefaultAPIURL is Twilio's REST API.
const DefaultAPIURL = "https://api.twilio.com"

// The errors Notifier.Send returns, wrapped with detail.
var (
	// ErrOptedOut: the resident asked for no more messages (STOP); nothing
	// was sent.
	ErrOptedOut = errors.New("recipient opted out")
	// ErrInvalid: Twilio refused the message as it stands (a bad number,
	// a missing body, a sender the account does not own).
	ErrInvalid = errors.New("invalid message")
	// ErrUnavailable: Twilio could not be reached or asked to try later.
	ErrUnavailable = errors.New("twilio unavailable")
)

// OptOutChecker says whether an address (+15551230000, or
// whatsapp:+15551230000) has opted out of messages.
type OptOutChecker interface {
	OptedOut(ctx context.Context, address string) (bool, error)
}

// NotifierConfig configures a Notifier. AccountSID, AuthToken, From and
// OptOuts are required.
type NotifierConfig struct {
	AccountSID string
	AuthToken  string
	From       string // the city's Twilio number, or a whatsapp: sender
	// APIURL replaces https://api.twilio.com (tests use a local stand-in).
	APIURL  string
	OptOuts OptOutChecker
	// Timeout bounds one request to Twilio (10 seconds when zero).
	Timeout   time.Duration
	Transport http.RoundTripper // default: http.DefaultTransport
	Logger    *slog.Logger
}

// Notifier sends text messages through Twilio's Messages API, for status
// updates and staff replies. It never sends to an address that opted out.
type Notifier struct {
	cfg  NotifierConfig
	base *url.URL
	log  *slog.Logger
}

// NewNotifier returns a Notifier.
func NewNotifier(cfg NotifierConfig) (*Notifier, error) {
	if cfg.AccountSID == "" || cfg.AuthToken == "" || cfg.From == "" {
		return nil, errors.New("twilio notifier: account SID, auth token and sender number are required")
	}
	if cfg.OptOuts == nil {
		return nil, errors.New("twilio notifier: an opt-out list is required")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.APIURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("twilio notifier: API URL %q: want http(s)://host", cfg.APIURL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{cfg: cfg, base: base, log: log}, nil
}

// Send texts body to the address to, split into several messages when it
// is longer than one may be, and returns the Twilio ids of what was sent.
// An SMS body is rewritten in the GSM-7 alphabet; a whatsapp: address
// gets it as written. It returns ErrOptedOut, sending nothing, when to has
// opted out, or when the opt-out list cannot be read.
func (n *Notifier) Send(ctx context.Context, to, body string) ([]string, error) {
	if to == "" || strings.TrimSpace(body) == "" {
		return nil, fmt.Errorf("send message: %w: no recipient or no text", ErrInvalid)
	}
	out, err := n.cfg.OptOuts.OptedOut(ctx, to)
	if err != nil {
		// When in doubt, say nothing: a text to someone who said STOP is
		// worse than a missed update.
		return nil, fmt.Errorf("send message: %w: opt-out list unreadable: %v", ErrOptedOut, err)
	}
	if out {
		return nil, fmt.Errorf("send message to %s: %w", MaskAddress(to), ErrOptedOut)
	}
	from := n.cfg.From
	if strings.HasPrefix(to, "whatsapp:") && !strings.HasPrefix(from, "whatsapp:") {
		from = "whatsapp:" + from
	} else if !strings.HasPrefix(to, "whatsapp:") {
		body = ToGSM7(body)
	}
	api := openapi.NewApiService(n.handler(ctx))
	var sids []string
	for _, part := range Split(body, MaxBody) {
		if err := ctx.Err(); err != nil {
			return sids, fmt.Errorf("send message: %w", err)
		}
		msg, err := api.CreateMessage(&openapi.CreateMessageParams{To: &to, From: &from, Body: &part})
		if err != nil {
			return sids, fmt.Errorf("send message to %s: %w", MaskAddress(to), classify(err))
		}
		if msg.Sid != nil {
			sids = append(sids, *msg.Sid)
		}
	}
	n.log.Info("text sent", "to", MaskAddress(to), "messages", len(sids))
	return sids, nil
}

// handler is a twilio-go request handler for one call: its HTTP requests
// go to the configured API URL and end with ctx.
func (n *Notifier) handler(ctx context.Context) *client.RequestHandler {
	base := n.cfg.Transport
	c := &client.Client{
		Credentials: client.NewCredentials(n.cfg.AccountSID, n.cfg.AuthToken),
		HTTPClient: &http.Client{
			Timeout: n.cfg.Timeout,
			// twilio-go makes its requests without a context; this one
			// carries ctx so a cancelled caller stops waiting.
			Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				return base.RoundTrip(r.WithContext(ctx))
			}),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(n.cfg.AccountSID)
	h := client.NewRequestHandler(&rebased{Client: c, base: n.base})
	// Edge and region come from configuration, never from the
	// environment twilio-go would read.
	h.Edge, h.Region = "", ""
	return h
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// rebased sends twilio-go's requests to another API base URL.
type rebased struct {
	*client.Client
	base *url.URL
}

func (c *rebased) SendRequest(method, rawURL string, data url.Values, headers map[string]any, body ...byte) (*http.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = c.base.Scheme, c.base.Host
	u.Path = strings.TrimRight(c.base.Path, "/") + u.Path
	u.RawPath = ""
	return c.Client.SendRequest(method, u.String(), data, headers, body...)
}

// classify maps what twilio-go returned onto the package's errors.
func classify(err error) error {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		switch {
		case rest.Code == 21610:
			return fmt.Errorf("%w: Twilio %d: %s", ErrOptedOut, rest.Code, rest.Message)
		case rest.Status == http.StatusTooManyRequests || rest.Status >= 500:
			return fmt.Errorf("%w: Twilio %d: %s", ErrUnavailable, rest.Code, rest.Message)
		case rest.Status == http.StatusUnauthorized || rest.Status == http.StatusForbidden:
			return fmt.Errorf("twilio refused the credentials (%d): %s", rest.Code, rest.Message)
		}
		return fmt.Errorf("%w: Twilio %d: %s", ErrInvalid, rest.Code, rest.Message)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// MaskAddress hides all but the last four digits of a phone address, for
// logs: whatsapp:+1******0123.
func MaskAddress(a string) string {
	prefix := ""
	if i := strings.Index(a, ":"); i >= 0 {
		prefix, a = a[:i+1], a[i+1:]
	}
	r := []rune(a)
	if len(r) <= 4 {
		return prefix + strings.Repeat("*", len(r))
	}
	lead := 0
	if r[0] == '+' && len(r) > 6 {
		lead = 2
	}
	return prefix + string(r[:lead]) + strings.Repeat("*", len(r)-lead-4) + string(r[len(r)-4:])
}
