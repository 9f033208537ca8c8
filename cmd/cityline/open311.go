package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cityline/cityline/cases"
	"github.com/cityline/cityline/cases/open311"
	"github.com/cityline/cityline/channels/twilio"
	"github.com/cityline/cityline/channels/webchat"
	"github.com/cityline/cityline/dialog"
)

// open311Settings are the Open311 and notification settings of serve.
// They come from the environment only (the api keys are secrets).
type open311Settings struct {
	off          bool     // CITYLINE_OPEN311=off: no /open311/v2/ endpoint
	apiKeys      []string // CITYLINE_OPEN311_API_KEY, comma-separated
	jurisdiction string   // CITYLINE_OPEN311_JURISDICTION, default the pack's

	upstream             string // CITYLINE_OPEN311_UPSTREAM: the city's own GeoReport v2 endpoint
	upstreamKey          string // CITYLINE_OPEN311_UPSTREAM_KEY (secret)
	upstreamJurisdiction string // CITYLINE_OPEN311_UPSTREAM_JURISDICTION
	upstreamFormat       string // CITYLINE_OPEN311_UPSTREAM_FORMAT: json (default) or xml
	upstreamTimeout      time.Duration
	upstreamRefresh      time.Duration // how often the service list is read again
	upstreamPoll         time.Duration // how often an open case's status is read back
	upstreamEvery        time.Duration // how often the outbox is looked at

	notifyEvery  time.Duration // how often serve looks for changes to tell
	notifyMaxAge time.Duration // older changes are no longer news
}

func open311FromEnv(defaultJurisdiction string) open311Settings {
	return open311Settings{
		off:                  strings.EqualFold(env("CITYLINE_OPEN311", ""), "off"),
		apiKeys:              splitList(env("CITYLINE_OPEN311_API_KEY", "")),
		jurisdiction:         env("CITYLINE_OPEN311_JURISDICTION", defaultJurisdiction),
		upstream:             env("CITYLINE_OPEN311_UPSTREAM", ""),
		upstreamKey:          env("CITYLINE_OPEN311_UPSTREAM_KEY", ""),
		upstreamJurisdiction: env("CITYLINE_OPEN311_UPSTREAM_JURISDICTION", ""),
		upstreamFormat:       env("CITYLINE_OPEN311_UPSTREAM_FORMAT", "json"),
		upstreamTimeout:      envDuration("CITYLINE_OPEN311_UPSTREAM_TIMEOUT", 30*time.Second),
		upstreamRefresh:      envDuration("CITYLINE_OPEN311_UPSTREAM_REFRESH", time.Hour),
		upstreamPoll:         envDuration("CITYLINE_OPEN311_UPSTREAM_POLL", 5*time.Minute),
		upstreamEvery:        envDuration("CITYLINE_OPEN311_UPSTREAM_INTERVAL", 5*time.Second),
		notifyEvery:          envDuration("CITYLINE_NOTIFY_INTERVAL", 5*time.Second),
		notifyMaxAge:         envDuration("CITYLINE_NOTIFY_MAX_AGE", 72*time.Hour),
	}
}

// notificationQueue is the store's record of changes residents asked to
// hear about (cases.SQLStore).
type notificationQueue interface {
	ClaimNotifications(ctx context.Context, limit int) ([]cases.Notification, error)
	FinishNotification(ctx context.Context, id int64, result string) error
	ReleaseNotifications(ctx context.Context, ids []int64) error
	AbandonNotifications(ctx context.Context, since time.Time) (int, error)
}

// upstreamQueue is a store that can queue new cases for the upstream.
type upstreamQueue interface {
	open311.Outbox
	QueueUpstream(on bool)
}

// mountOpen311 adds the GeoReport v2 endpoint at /open311/v2/, and starts
// the background work: telling residents about changes to their cases,
// and in upstream mode forwarding cases to the city's own Open311 server
// and reading their status back. The work stops when ctx ends or the
// server closes.
func (s *server) mountOpen311(ctx context.Context, mux *http.ServeMux) error {
	p := s.brain.pack
	set := open311FromEnv(p.City.JurisdictionID)
	log := s.log.With("part", "open311")
	var catalog open311.Catalog = open311.StaticCatalog{List: p.Services, Definitions: p.Definitions}

	var loops []func(context.Context)
	if set.upstream != "" {
		queue, ok := s.store.(upstreamQueue)
		if !ok {
			return fmt.Errorf("open311 upstream: the case store (%T) cannot keep an outbox", s.store)
		}
		client, err := open311.NewClient(open311.ClientConfig{URL: set.upstream, APIKey: set.upstreamKey,
			Jurisdiction: set.upstreamJurisdiction, Format: set.upstreamFormat, Timeout: set.upstreamTimeout,
			Location: p.City.Location()})
		if err != nil {
			return fmt.Errorf("CITYLINE_OPEN311_UPSTREAM: %w", err)
		}
		cache, err := open311.NewCache(open311.CacheConfig{Client: client, Fallback: catalog, Logger: log,
			OnRefresh: s.compareCatalogs(log)})
		if err != nil {
			return err
		}
		relay, err := open311.NewRelay(open311.RelayConfig{Client: client, Outbox: queue, Store: s.store, Catalog: cache,
			PollEvery: set.upstreamPoll, Logger: log.With("upstream", set.upstream)})
		if err != nil {
			return err
		}
		queue.QueueUpstream(true)
		catalog = cache
		loops = append(loops, func(ctx context.Context) { cache.Run(ctx, set.upstreamRefresh) },
			func(ctx context.Context) { relay.Run(ctx, set.upstreamEvery) })
		if set.upstreamKey == "" {
			log.Warn("CITYLINE_OPEN311_UPSTREAM_KEY is not set: the upstream will likely refuse new requests")
		}
		log.Info("upstream mode: new cases are forwarded", "upstream", set.upstream, "format", set.upstreamFormat)
	}

	disc := open311.Discovery{Contact: strings.TrimSpace(p.City.Phone + " " + p.City.Website),
		KeyService: "Ask " + p.City.Name + " for an api_key (" + cmp.Or(p.City.Website, p.City.Phone) + ")."}
	if s.cfg.publicURL != "" {
		disc.URL = s.cfg.publicURL + strings.TrimRight(open311.Prefix, "/")
	}
	h, err := open311.New(open311.Config{Store: s.store, Catalog: catalog, APIKeys: set.apiKeys,
		Jurisdiction: set.jurisdiction, Location: p.City.Location(), Agency: p.City.Agency, Discovery: disc, Logger: log})
	if err != nil {
		return err
	}
	switch {
	case set.off:
		log.Info("the Open311 endpoint is off (CITYLINE_OPEN311=off)")
	case len(set.apiKeys) == 0:
		h.Register(mux)
		log.Info("the Open311 endpoint is read-only: set CITYLINE_OPEN311_API_KEY to accept requests", "at", open311.Prefix)
	default:
		h.Register(mux)
		log.Info("Open311 GeoReport v2 endpoint ready", "at", open311.Prefix, "api_keys", len(set.apiKeys),
			"jurisdiction", set.jurisdiction)
	}

	if q, ok := s.store.(notificationQueue); ok {
		loops = append(loops, func(ctx context.Context) { s.runNotifications(ctx, q, set) })
	} else {
		log.Warn("status-change notifications are off: the case store cannot keep them")
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, loop := range loops {
		wg.Go(func() { loop(ctx) })
	}
	s.closers = append(s.closers, func() error {
		cancel()
		wg.Wait()
		return nil
	})
	return nil
}

// compareCatalogs warns when the content pack routes residents to
// services the upstream does not have: their cases would be refused.
func (s *server) compareCatalogs(log interface{ Warn(string, ...any) }) func([]cases.Service) {
	var last string
	return func(upstream []cases.Service) {
		var missing []string
		for _, svc := range s.brain.pack.Services {
			if !slices.ContainsFunc(upstream, func(u cases.Service) bool { return u.Code == svc.Code }) {
				missing = append(missing, svc.Code)
			}
		}
		if key := strings.Join(missing, ","); key != last && len(missing) > 0 {
			log.Warn("the content pack has services the upstream does not: residents' requests for them will be refused "+
				"upstream; copy the upstream's services.json into the pack", "services", key)
			last = key
		} else if len(missing) == 0 {
			last = ""
		}
	}
}

// runNotifications tells residents about changes to their cases until ctx
// ends. The changes are recorded by the store with each change, by
// whatever process made it (`cityline case update` runs apart from
// serve); each is claimed before it is told, so none is told twice.
func (s *server) runNotifications(ctx context.Context, q notificationQueue, set open311Settings) {
	log := s.log.With("part", "notifications")
	// Telling a batch takes seconds, a minute or two at worst (Twilio's
	// timeouts); a claim ten minutes old was interrupted.
	if n, err := q.AbandonNotifications(ctx, time.Now().Add(-10*time.Minute)); err == nil && n > 0 {
		log.Warn("some status updates were being sent when Cityline last stopped; they are not sent again, "+
			"so as never to tell a resident twice", "count", n)
	}
	t := time.NewTicker(set.notifyEvery)
	defer t.Stop()
	for {
		if err := s.notifyOnce(ctx, q, set.notifyMaxAge); err != nil && ctx.Err() == nil {
			log.Warn("status updates", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// notifyOnce tells every pending change: one message a case, saying where
// it stands now.
func (s *server) notifyOnce(ctx context.Context, q notificationQueue, maxAge time.Duration) error {
	for {
		batch, err := q.ClaimNotifications(ctx, 20)
		if err != nil || len(batch) == 0 {
			return err
		}
		var order []int64
		byCase := map[int64][]cases.Notification{}
		for _, n := range batch {
			if _, ok := byCase[n.Case.ID]; !ok {
				order = append(order, n.Case.ID)
			}
			byCase[n.Case.ID] = append(byCase[n.Case.ID], n)
		}
		for i, id := range order {
			group := byCase[id]
			if ctx.Err() != nil {
				// Stopping before trying: hand the rest back, untold.
				var ids []int64
				for _, rest := range order[i:] {
					for _, n := range byCase[rest] {
						ids = append(ids, n.ID)
					}
				}
				return q.ReleaseNotifications(context.WithoutCancel(ctx), ids)
			}
			result := s.notifyResident(ctx, group[len(group)-1], maxAge)
			for _, n := range group {
				if err := q.FinishNotification(context.WithoutCancel(ctx), n.ID, result); err != nil {
					s.log.Warn("record a status update", "err", err)
				}
			}
		}
	}
}

// followerList is a store that knows who follows a case (residents who
// reported the same problem and chose to follow it rather than file it
// again: they hear about it as if they had filed it).
type followerList interface {
	Followers(ctx context.Context, ref string) ([]cases.Follower, error)
}

// listener is someone to tell about a case: where they talk to Cityline,
// and the number they gave for texts.
type listener struct {
	channel, conversation, phone, lang string
}

// listeners are who asked to hear about c: the resident who filed it and
// its followers, each once.
func (s *server) listeners(ctx context.Context, c *cases.Case) []listener {
	var out []listener
	if c.Contact.Notify {
		out = append(out, listener{c.Channel, c.Conversation, c.Contact.Phone, c.Lang})
	}
	if fl, ok := s.store.(followerList); ok {
		fs, err := fl.Followers(ctx, c.Ref)
		if err != nil {
			s.log.Warn("status update: followers not read", "ref", c.Ref, "err", err)
		}
		for _, f := range fs {
			if f.Contact.Notify {
				out = append(out, listener{f.Channel, f.Conversation, f.Contact.Phone, f.Lang})
			}
		}
	}
	seen := map[string]bool{}
	return slices.DeleteFunc(out, func(l listener) bool {
		key := l.conversation + "|" + l.phone
		if seen[key] || (l.phone != "" && seen["|"+l.phone]) {
			return true
		}
		seen[key], seen["|"+l.phone] = true, l.phone != ""
		return false
	})
}

// notifyResident tells those who asked where n's case stands, each the way
// they can be reached: in their web chat if it is still open, and by text
// to the number they gave (never to one that opted out: the Twilio
// notifier refuses those). It returns the result to record.
func (s *server) notifyResident(ctx context.Context, n cases.Notification, maxAge time.Duration) string {
	c := n.Case
	log := s.log.With("part", "notifications", "ref", c.Ref)
	who := s.listeners(ctx, c)
	if len(who) == 0 {
		return cases.NotifySkipped + ": nobody asked"
	}
	if age := time.Since(n.Created); maxAge > 0 && age > maxAge {
		log.Info("status update too old to send", "age", age.Round(time.Minute))
		return cases.NotifyExpired
	}
	var told, optedOut, unreachable int
	var failed []error
	for _, l := range who {
		lang := cmp.Or(l.lang, s.brain.pack.City.DefaultLang())
		reply := dialog.Reply{Lang: lang, Messages: []dialog.Message{{Text: s.engine.Say(lang, "case_update",
			"status", s.engine.DescribeCase(lang, c))}}}
		type route struct{ conversation, contact string }
		var routes []route
		switch l.channel {
		case dialog.ChannelWeb:
			if l.conversation != "" {
				routes = append(routes, route{l.conversation, ""})
			}
			if l.phone != "" {
				routes = append(routes, route{dialog.ChannelSMS + ":" + l.phone, l.phone})
			}
		case dialog.ChannelSMS, dialog.ChannelWhatsApp, dialog.ChannelVoice:
			if l.phone != "" {
				routes = append(routes, route{l.channel + ":" + l.phone, l.phone})
			}
		}
		var ok, out bool
		var by []string
		for _, r := range routes {
			err := s.tell(ctx, r.conversation, r.contact, webchat.FromUpdate, reply)
			channel, _, _ := strings.Cut(r.conversation, ":")
			switch {
			case err == nil:
				ok = true
				by = append(by, channel)
			case errors.Is(err, twilio.ErrOptedOut):
				out = true
			case errors.Is(err, errNoRoute) || errors.Is(err, webchat.ErrNotFound):
				// That way is closed (texts off, the chat expired): the next.
			default:
				failed = append(failed, err)
			}
		}
		switch {
		case ok:
			told++
			log.Info("resident told of a status change", "by", strings.Join(by, ","), "status", c.Status)
		case out:
			optedOut++
			log.Info("status update not sent: the resident opted out of messages")
		default:
			unreachable++
		}
	}
	switch {
	case told > 0:
		return fmt.Sprintf("%s: %d of %d", cases.NotifySent, told, len(who))
	case len(failed) > 0:
		log.Warn("status update not sent", "err", errors.Join(failed...))
		return cases.NotifyFailed + ": " + errors.Join(failed...).Error()
	case optedOut > 0:
		return cases.NotifySkipped + ": opted out"
	}
	log.Info("status update not sent: no way to reach the resident now", "listeners", unreachable)
	return cases.NotifySkipped + ": no way to reach them"
}

// dispatchReader is a store that keeps the upstream outbox.
type dispatchReader interface {
	GetDispatch(ctx context.Context, ref string) (*cases.Dispatch, error)
}

// printCaseUpstream prints a case for staff and, in upstream mode, where
// it stands with the city's own Open311 server.
func printCaseUpstream(ctx context.Context, store cases.Store, w io.Writer, c *cases.Case) error {
	if err := printCase(w, c); err != nil {
		return err
	}
	dr, ok := store.(dispatchReader)
	if !ok {
		return nil
	}
	d, err := dr.GetDispatch(ctx, c.Ref)
	if errors.Is(err, cases.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Upstream\t%s\n", describeDispatch(d))
	if d.LastError != "" && d.State != cases.DispatchSent {
		fmt.Fprintf(tw, "  last error\t%s\n", d.LastError)
	}
	return tw.Flush()
}

func describeDispatch(d *cases.Dispatch) string {
	at := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04") }
	switch d.State {
	case cases.DispatchPending:
		if d.Attempts == 0 {
			return "waiting to be sent"
		}
		return fmt.Sprintf("not delivered after %d attempts; next try %s", d.Attempts, at(d.NextAt))
	case cases.DispatchSending:
		return fmt.Sprintf("sent without an answer (attempt %d); it will be looked for upstream before any new attempt, %s",
			d.Attempts, at(d.NextAt))
	case cases.DispatchSent:
		if d.UpstreamID == "" {
			return "delivered, token " + d.UpstreamToken + " (waiting for the upstream's number)"
		}
		return "delivered as " + d.UpstreamID
	case cases.DispatchAccepted:
		return "accepted by the upstream without a number (blackbox); looking for it"
	case cases.DispatchFailed:
		return fmt.Sprintf("REFUSED by the upstream %d times; not sent again. Correct it and file it anew, "+
			"or pass it on by hand", d.Rejections)
	}
	return string(d.State)
}
