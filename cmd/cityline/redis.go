package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cityline/cityline/channels/sms"
	"github.com/cityline/cityline/channels/voice"
	"github.com/cityline/cityline/channels/webchat"
	"github.com/cityline/cityline/dialog"
	cityredis "github.com/cityline/cityline/dialog/redis"
)

// rate is a limit: burst at once, then one every interval.
type rate struct {
	burst int
	every time.Duration
}

// The limits when replicas share Redis: generous for a person, they stop
// a script. (Variables so that tests can tighten them.)
var (
	smsRate    = rate{15, 4 * time.Second} // a resident's texts
	webRate    = rate{30, 2 * time.Second} // one web conversation's messages
	callRate   = rate{5, 2 * time.Minute}  // calls from one number
	createRate = rate{10, time.Minute}     // new web conversations from one address
)

// redisParts is what --redis (CITYLINE_REDIS_URL) switches on: the
// pieces every replica shares. Without it each is the embedded,
// in-memory default.
type redisParts struct {
	client   *cityredis.Client
	locker   *cityredis.Locker
	sms      *cityredis.Limiter
	calls    *cityredis.Limiter
	creates  *cityredis.Limiter
	messages *cityredis.Limiter
}

// useRedis is newServer's hook: with a Redis URL it puts the engine's
// sessions, locks and replies in Redis, and /readyz pings it. Redis being
// down at start is not fatal: the replica starts in degraded mode (not
// ready; residents are told to call) and recovers when Redis answers.
func (s *server) useRedis(ctx context.Context, ec *dialog.Config) error {
	if s.cfg.redisURL == "" {
		return nil
	}
	log := s.log.With("part", "redis")
	cityredis.RouteLibraryLogs(log)
	c, err := cityredis.Open(s.cfg.redisURL, cityredis.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	s.closers = append(s.closers, c.Close)
	s.ready = append(s.ready, c.Ping)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		log.Error("Redis does not answer: starting in degraded mode (not ready; residents are asked to call) until it does",
			"err", err)
	} else {
		log.Info("sessions, ordering, replies, web chat and rate limits shared in Redis", "prefix", c.Prefix())
	}
	p := &redisParts{client: c, locker: c.Locker(cityredis.LockOptions{CounterTTL: max(2*s.cfg.sessionTTL, time.Hour)}),
		sms:      c.Limiter("sms", smsRate.burst, smsRate.every),
		calls:    c.Limiter("call", callRate.burst, callRate.every),
		creates:  c.Limiter("webnew", createRate.burst, createRate.every),
		messages: c.Limiter("webmsg", webRate.burst, webRate.every)}
	ec.Sessions = c.Sessions(s.cfg.sessionTTL, p.locker)
	ec.Locker = p.locker
	ec.Replays = c.Replays(24 * time.Hour)
	s.redis = p
	return nil
}

// redisWeb is mountWeb's hook: the web chat's conversations, event
// streams and limits go to Redis, so any replica serves any conversation.
func (s *server) redisWeb(wc *webchat.Config) {
	if s.redis == nil {
		return
	}
	c := s.redis.client
	wc.Store = webchat.NewSharedStore(c.Records("web"), s.cfg.sessionTTL, nil, webchat.MemoryLimits{})
	wc.Broker = webchat.NewBusBroker(c.Bus(), 0)
	wc.CreateLimiter = s.redis.creates
	wc.MessageLimiter = s.redis.messages
}

// smsLimiter is the SMS channel's shared limit per resident; nil (no
// limit) without Redis.
func (s *server) smsLimiter() sms.Limiter {
	if s.redis == nil {
		return nil
	}
	return s.redis.sms
}

// callLimiter is the voice channel's shared limit per caller; nil
// without Redis.
func (s *server) callLimiter() voice.Limiter {
	if s.redis == nil {
		return nil
	}
	return s.redis.calls
}

// errNoRedis: a shared piece was asked for without --redis.
var errNoRedis = errors.New("no Redis configured (--redis)")

// dedup returns a set of event ids remembered for 24 hours in Redis, for
// a channel whose platform retries events (Slack's event_id): First says
// whether an id is new across every replica. errNoRedis without --redis,
// when one process's memory is enough.
func (s *server) dedup(name string) (*cityredis.Dedup, error) {
	if s.redis == nil {
		return nil, errNoRedis
	}
	return s.redis.client.Dedup(name, 24*time.Hour), nil
}
