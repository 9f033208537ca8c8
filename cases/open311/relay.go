package open311

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cityline/cityline/cases"
)

// Outbox is the durable queue of cases on their way upstream;
// cases.SQLStore implements it (see cases.Dispatch).
type Outbox interface {
	TokenStore
	// DueDispatches returns dispatches in one of states that are due at now.
	DueDispatches(ctx context.Context, states []cases.DispatchState, now time.Time, limit int) ([]*cases.Dispatch, error)
	// SaveDispatch writes d back unless it changed since it was read
	// (cases.ErrConflict), and refuses a sent dispatch without the
	// upstream's id or token (cases.ErrInvalid).
	SaveDispatch(ctx context.Context, d *cases.Dispatch) error
}

// RelayConfig configures a Relay. Client, Outbox and Store are required.
type RelayConfig struct {
	Client *Client
	Outbox Outbox
	// Store receives the upstream's status changes (Update).
	Store cases.Store
	// Catalog tells which attributes are multivaluelists (optional).
	Catalog Catalog
	// MinBackoff and MaxBackoff bound the wait after a failed attempt:
	// it doubles from MinBackoff (10s) up to MaxBackoff (15m).
	MinBackoff, MaxBackoff time.Duration
	// MaxRejections is how many refusals (4xx) in a row fail a request
	// for staff to see to (3). Some servers answer 400 while their CRM is
	// down, so one refusal is not final.
	MaxRejections int
	// PollEvery is how often the status of an open case is read back (5m);
	// a closed one is read back every ClosedPollEvery (24h), in case the
	// city reopens it.
	PollEvery, ClosedPollEvery time.Duration
	// Lease is how long an attempt may be in flight before another
	// process treats it as interrupted (the client's timeout plus a minute).
	Lease time.Duration
	// BatchGrace is how long a request to a batch service whose answer
	// was lost is looked for before it is sent again (24h): until the
	// upstream numbers it, it is not in the upstream's lists.
	BatchGrace time.Duration
	// Batch is how many dispatches one pass takes on (20).
	Batch  int
	Now    func() time.Time
	Logger *slog.Logger
}

// Relay forwards queued cases to the upstream server and copies its
// status back. Send and Poll are one pass each; Run repeats them.
type Relay struct {
	cfg RelayConfig
	now func() time.Time
	log *slog.Logger
}

// NewRelay returns a Relay.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.Client == nil || cfg.Outbox == nil || cfg.Store == nil {
		return nil, errors.New("open311 relay: a client, an outbox and a store are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MinBackoff, 10*time.Second)
	def(&cfg.MaxBackoff, 15*time.Minute)
	def(&cfg.PollEvery, 5*time.Minute)
	def(&cfg.ClosedPollEvery, 24*time.Hour)
	def(&cfg.Lease, cfg.Client.Timeout()+time.Minute)
	def(&cfg.BatchGrace, 24*time.Hour)
	if cfg.MaxRejections <= 0 {
		cfg.MaxRejections = 3
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 20
	}
	r := &Relay{cfg: cfg, now: cfg.Now, log: cfg.Logger}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// Marker is the line the Relay adds to a description it posts, by which
// it finds the request upstream again.
func Marker(ref string) string { return "Cityline reference: " + ref }

// Backoff is the wait after the n-th failed attempt (n from 1).
func (r *Relay) Backoff(n int) time.Duration {
	d := r.cfg.MinBackoff
	for i := 1; i < n && d < r.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.cfg.MaxBackoff)
}

// Run sends and polls every interval until ctx ends.
func (r *Relay) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := r.Send(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("upstream: send pass", "err", err)
		}
		if err := r.Poll(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("upstream: poll pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maxBatches bounds one pass, so a backlog (after an outage) drains in
// a few passes without one pass running forever.
const maxBatches = 10

// Send makes one pass over the cases due to be sent: new ones, and those
// whose last attempt ended without an answer.
func (r *Relay) Send(ctx context.Context) error {
	for range maxBatches {
		due, err := r.cfg.Outbox.DueDispatches(ctx, []cases.DispatchState{cases.DispatchPending, cases.DispatchSending},
			r.now(), r.cfg.Batch)
		if err != nil {
			return fmt.Errorf("upstream send: %w", err)
		}
		for _, d := range due {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.send(ctx, d)
		}
		if len(due) < r.cfg.Batch {
			return nil
		}
	}
	return nil
}

// save writes d, logging what cannot be written; false means stop.
func (r *Relay) save(ctx context.Context, d *cases.Dispatch) bool {
	err := r.cfg.Outbox.SaveDispatch(ctx, d)
	switch {
	case err == nil:
		return true
	case errors.Is(err, cases.ErrConflict):
		r.log.Debug("upstream: another process took this case", "ref", d.Case.Ref)
	case ctx.Err() != nil:
	default:
		r.log.Error("upstream: cannot record the send state", "ref", d.Case.Ref, "err", err)
	}
	return false
}

func (r *Relay) send(ctx context.Context, d *cases.Dispatch) {
	if d.Case.Ref == "" && d.Case.Token != "" {
		// A batch request not numbered yet: number it, so its marker is
		// its reference.
		c, err := r.cfg.Outbox.ResolveToken(ctx, d.Case.Token)
		if err != nil {
			r.log.Warn("upstream: number a batch request", "err", err)
			return
		}
		d.Case = c
	}
	if d.State == cases.DispatchSending {
		// The last attempt may have arrived: look before sending again.
		found, err := r.find(ctx, d)
		now := r.now()
		switch {
		case err != nil:
			d.NextAt = now.Add(r.Backoff(d.Attempts))
			d.LastError = "looking for an earlier attempt: " + err.Error()
			r.log.Warn("upstream: cannot tell whether an earlier attempt arrived; waiting", "ref", d.Case.Ref,
				"attempts", d.Attempts, "retry_at", d.NextAt, "err", err)
			r.save(ctx, d)
			return
		case found != nil:
			r.log.Info("upstream: an earlier attempt had arrived", "ref", d.Case.Ref, "upstream_id", found.ID)
			r.sent(d, Receipt{ID: found.ID}, now)
			r.save(ctx, d)
			return
		case r.isBatch(ctx, d.Case.ServiceCode) && now.Before(d.FirstTry.Add(r.cfg.BatchGrace)):
			d.NextAt = now.Add(min(r.Backoff(d.Attempts), r.cfg.PollEvery))
			d.LastError = "a batch request may be waiting upstream for its number; looking again before sending it again"
			r.log.Info("upstream: a batch request is not listed upstream yet; waiting before sending it again",
				"ref", d.Case.Ref, "resend_after", d.FirstTry.Add(r.cfg.BatchGrace))
			r.save(ctx, d)
			return
		}
	}
	// Record the attempt before making it: if this process stops now, the
	// next one knows the upstream may have the request.
	now := r.now()
	d.State, d.Attempt, d.Attempts = cases.DispatchSending, newAttempt(), d.Attempts+1
	if d.FirstTry.IsZero() {
		d.FirstTry = now
	}
	d.NextAt = now.Add(r.cfg.Lease)
	if !r.save(ctx, d) {
		return
	}
	rc, err := r.cfg.Client.Post(ctx, r.post(ctx, d.Case))
	now = r.now()
	switch {
	case err == nil && (rc.ID != "" || rc.Token != ""):
		r.sent(d, rc, now)
		r.log.Info("upstream: request delivered", "ref", d.Case.Ref, "upstream_id", rc.ID, "token", rc.Token != "",
			"attempts", d.Attempts)
	case err == nil:
		d.State, d.NextAt, d.LastError = cases.DispatchAccepted, now.Add(r.cfg.PollEvery), ""
		r.log.Info("upstream: request accepted without an id (blackbox); its id will be looked for", "ref", d.Case.Ref)
	case ctx.Err() != nil:
		// Shutting down mid-attempt: the row stays "sending" under its
		// lease, and the next start looks for the request first.
		return
	case refusedKey(err):
		// The api_key, not the request: every case waits for staff to fix
		// the configuration, none is failed for it.
		d.State, d.NextAt, d.LastError = cases.DispatchPending, now.Add(r.cfg.MaxBackoff), err.Error()
		r.log.Error("upstream refused Cityline's api_key: check CITYLINE_OPEN311_UPSTREAM_KEY", "ref", d.Case.Ref, "err", err)
	case notSent(err):
		// The connection was never made: nothing reached the upstream.
		d.State, d.NextAt, d.LastError = cases.DispatchPending, now.Add(r.Backoff(d.Attempts)), err.Error()
		r.log.Warn("upstream unreachable; trying again", "ref", d.Case.Ref, "attempts", d.Attempts,
			"retry_at", d.NextAt, "err", err)
	case Rejected(err):
		d.Rejections++
		d.LastError = err.Error()
		if d.Rejections >= r.cfg.MaxRejections {
			d.State = cases.DispatchFailed
			r.log.Error("upstream refused a request; it will not be sent again until staff act", "ref", d.Case.Ref,
				"refusals", d.Rejections, "err", err)
		} else {
			d.State, d.NextAt = cases.DispatchPending, now.Add(r.Backoff(d.Rejections))
			r.log.Warn("upstream refused a request; trying again", "ref", d.Case.Ref, "refusals", d.Rejections,
				"retry_at", d.NextAt, "err", err)
		}
	default:
		// No answer, or not one to trust: the request may have arrived.
		// It stays "sending", to be looked for before it is sent again.
		d.NextAt, d.LastError = now.Add(r.Backoff(d.Attempts)), err.Error()
		r.log.Warn("upstream: no answer; the request will be looked for, then sent again if missing", "ref", d.Case.Ref,
			"attempts", d.Attempts, "retry_at", d.NextAt, "err", err)
	}
	r.save(ctx, d)
}

// notSent reports whether err means the request never left this machine:
// the connection to the upstream could not be made.
func notSent(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns)
}

// sent records the upstream's receipt.
func (r *Relay) sent(d *cases.Dispatch, rc Receipt, now time.Time) {
	d.State, d.UpstreamID, d.UpstreamToken, d.LastError = cases.DispatchSent, rc.ID, rc.Token, ""
	d.Rejections = 0
	d.NextAt = now.Add(r.cfg.PollEvery)
}

// post is what is sent for c: its fields, its contact (the upstream is
// the city's own system), and the marker line in the description.
func (r *Relay) post(ctx context.Context, c *cases.Case) PostRequest {
	marker := Marker(c.Ref)
	desc := strings.TrimSpace(c.Description)
	if room := MaxDescription - utf8.RuneCountInString(marker) - 2; utf8.RuneCountInString(desc) > room {
		desc = string([]rune(desc)[:room-1]) + "…"
	}
	if desc != "" {
		desc += "\n\n"
	}
	p := PostRequest{ServiceCode: c.ServiceCode, Location: c.Location, Address: c.Address, AddressID: c.AddressID,
		Description: desc + marker, MediaURL: c.MediaURL(), Attributes: c.Attributes, Contact: c.Contact,
		IdempotencyKey: "cityline-" + c.Ref, Multi: map[string]bool{}}
	if p.Location == nil && p.Address == "" && p.AddressID == "" {
		p.Address = "(no address given)" // the standard wants a location; a conversation may not have one
	}
	if r.cfg.Catalog != nil {
		if def, err := r.cfg.Catalog.Definition(ctx, c.ServiceCode); err == nil {
			for _, a := range def.Attributes {
				if a.Datatype == cases.MultiValueList {
					p.Multi[a.Code] = true
				}
			}
		}
	}
	return p
}

// isBatch reports whether code is a batch service upstream.
func (r *Relay) isBatch(ctx context.Context, code string) bool {
	if r.cfg.Catalog == nil {
		return false
	}
	list, err := r.cfg.Catalog.Services(ctx)
	if err != nil {
		return false
	}
	svc, ok := findService(list, code)
	return ok && svc.Type == "batch"
}

// errInconclusive: the upstream's answer was too long to be sure.
var errInconclusive = errors.New("the upstream listed too many requests to be sure")

// find looks upstream for the request d posted, by its marker, among the
// requests of its service filed since the first attempt (with room for
// clocks that disagree). It returns nil when the upstream answered and
// the request is not there.
func (r *Relay) find(ctx context.Context, d *cases.Dispatch) (*Request, error) {
	since := d.FirstTry
	if since.IsZero() {
		since = d.Updated
	}
	const skew = 15 * time.Minute
	list, err := r.cfg.Client.Requests(ctx, Query{ServiceCodes: []string{d.Case.ServiceCode},
		Start: since.Add(-skew), End: r.now().Add(skew)})
	if err != nil {
		return nil, err
	}
	marker := Marker(d.Case.Ref)
	for i := range list {
		if strings.Contains(list[i].Description, marker) && list[i].ID != "" {
			return &list[i], nil
		}
	}
	if len(list) >= DefaultPageSize {
		return nil, errInconclusive
	}
	return nil, nil
}

// Poll makes one pass over the delivered cases due to be read back: it
// learns the ids of batch and blackbox requests, and copies what changed
// upstream (status, notes, expected date) to the case, which tells the
// residents who asked.
func (r *Relay) Poll(ctx context.Context) error {
	for range maxBatches {
		n, err := r.poll(ctx)
		if err != nil || n < r.cfg.Batch {
			return err
		}
	}
	return nil
}

// poll reads back one batch and says how many were due.
func (r *Relay) poll(ctx context.Context) (int, error) {
	due, err := r.cfg.Outbox.DueDispatches(ctx, []cases.DispatchState{cases.DispatchSent, cases.DispatchAccepted},
		r.now(), r.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("upstream poll: %w", err)
	}
	// Take each under a lease, so another replica leaves them alone.
	var mine []*cases.Dispatch
	for _, d := range due {
		d.NextAt = r.now().Add(r.cfg.Lease)
		if r.save(ctx, d) {
			mine = append(mine, d)
		}
	}
	byID := map[string]*cases.Dispatch{}
	var ids []string
	for _, d := range mine {
		switch {
		case d.State == cases.DispatchAccepted:
			found, err := r.find(ctx, d)
			if err != nil || found == nil {
				r.next(ctx, d, err)
				continue
			}
			d.State, d.UpstreamID = cases.DispatchSent, found.ID
			r.log.Info("upstream: found the id of a blackbox request", "ref", d.Case.Ref, "upstream_id", found.ID)
			r.apply(ctx, d, found)
			r.next(ctx, d, nil)
		case d.UpstreamID == "":
			rc, err := r.cfg.Client.Token(ctx, d.UpstreamToken)
			if err == nil && rc.ID != "" {
				d.UpstreamID = rc.ID
				r.log.Info("upstream: a batch request got its id", "ref", d.Case.Ref, "upstream_id", rc.ID)
			}
			r.next(ctx, d, err)
		default:
			byID[d.UpstreamID] = d
			ids = append(ids, d.UpstreamID)
		}
	}
	if len(ids) == 0 {
		return len(due), nil
	}
	list, err := r.cfg.Client.Requests(ctx, Query{IDs: ids})
	if err == nil {
		for i := range list {
			if d := byID[list[i].ID]; d != nil {
				r.apply(ctx, d, &list[i])
			}
		}
	}
	for _, id := range ids {
		r.next(ctx, byID[id], err)
	}
	if err != nil {
		return len(due), fmt.Errorf("upstream poll: %w", err)
	}
	return len(due), nil
}

// next schedules d's next poll and saves it.
func (r *Relay) next(ctx context.Context, d *cases.Dispatch, err error) {
	now := r.now()
	switch {
	case err != nil:
		d.NextAt, d.LastError = now.Add(r.Backoff(3)), "reading the status back: "+err.Error()
	case d.Case.Status == cases.StatusClosed:
		d.NextAt, d.LastError = now.Add(r.cfg.ClosedPollEvery), ""
	default:
		d.NextAt, d.LastError = now.Add(r.cfg.PollEvery), ""
	}
	r.save(ctx, d)
}

// apply copies to the case what changed upstream since the last poll.
// Only changes are copied, so what staff write here is not overwritten by
// an upstream that says nothing new; applying the same change twice (a
// process stopped between the two writes) changes nothing the second time.
func (r *Relay) apply(ctx context.Context, d *cases.Dispatch, rq *Request) {
	var ch cases.Change
	seenStatus, seenNotes, seenExpected := d.SeenStatus, rq.StatusNotes, rq.Expected.Truncate(time.Microsecond)
	if st, err := cases.ParseStatus(rq.Status); err == nil {
		if st != d.SeenStatus && st != d.Case.Status {
			ch.Status = &st
		}
		seenStatus = st
	} else if rq.Status != "" {
		r.log.Warn("upstream: unknown status", "ref", d.Case.Ref, "status", rq.Status)
	}
	if seenNotes != d.SeenNotes && seenNotes != d.Case.StatusNotes {
		ch.Notes = &seenNotes
	}
	if !seenExpected.Equal(d.SeenExpected) && !seenExpected.Equal(d.Case.Expected) {
		ch.Expected = &seenExpected
	}
	if ch.Status != nil || ch.Notes != nil || ch.Expected != nil {
		c, err := r.cfg.Store.Update(ctx, d.Case.Ref, ch)
		if err != nil {
			// Not marked as seen: the next poll copies it again.
			r.log.Error("upstream: cannot copy a status change to the case", "ref", d.Case.Ref, "err", err)
			return
		}
		d.Case = c
		r.log.Info("upstream: status change copied", "ref", c.Ref, "status", c.Status)
	}
	d.SeenStatus, d.SeenNotes, d.SeenExpected = seenStatus, seenNotes, seenExpected
}

func newAttempt() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
