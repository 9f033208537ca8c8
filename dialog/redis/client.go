package redis

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The package's error vocabulary. Errors are wrapped with a short
// operation prefix; test them with errors.Is.
var (
	// ErrUnavailable: Redis cannot be reached now (or did not answer in
	// time), or a conversation could not be taken within the wait allowed.
	ErrUnavailable = errors.New("redis unavailable")
	// ErrConflict: a write was refused because the writer no longer holds
	// the conversation (its lease ran out and another turn has, or may
	// have, taken over): the fencing check.
	ErrConflict = errors.New("conversation held elsewhere")
	// ErrInvalid: a URL or an option that cannot be used.
	ErrInvalid = errors.New("invalid redis setting")
)

// DefaultPrefix starts every key this package writes, unless the URL's
// key_prefix or Options.Prefix says otherwise.
const DefaultPrefix = "cityline:"

// Options are a Client's settings beyond the URL.
type Options struct {
	// Prefix starts every key and pub/sub channel (DefaultPrefix when
	// empty; the URL's key_prefix parameter wins over it). Two cities can
	// share one Redis with two prefixes.
	Prefix string
	Logger *slog.Logger
}

// Client is a connection to Redis (a single node, a Sentinel-managed
// primary or a Cluster, through go-redis's UniversalClient) and the
// factory of everything this package keeps there. It is safe for
// concurrent use; Close it when done.
type Client struct {
	rdb    goredis.UniversalClient
	prefix string
	log    *slog.Logger

	mu  sync.Mutex
	hub *hub // the shared pub/sub connection, made on first use
}

// Open returns a Client for the Redis the URL names. It does not wait for
// Redis: go-redis connects on each use, and again after Redis comes back,
// so a replica can start before Redis and serve (in degraded mode) until
// it comes; call Ping to know whether it answers. A URL that cannot be
// used is an error wrapping ErrInvalid.
//
// URL forms (rediss:// instead of redis:// for TLS):
//
//	redis://[user:password@]host[:6379][/db]                         one server
//	redis://[user:password@]host:6379?cluster=true&addr=h2:6379&addr=h3:6379
//	                                                                  a Cluster: any nodes as seeds
//	redis://[sentinel-user:password@]s1:26379[/db]?master_name=NAME&addr=s2:26379&addr=s3:26379[&password=PRIMARY-PASSWORD]
//	                                                                  a primary managed by Sentinel
//	unix:///path/to/redis.sock[?db=N]                                 one server on a socket
//
// Any go-redis option goes in the query as well (dial_timeout=2s,
// pool_size=50, ...), and key_prefix=city: sets the key prefix. Without
// settings of their own, timeouts are short (2 s to connect, 3 s to read
// or write) and retries few (one), so that a Redis that is gone is
// noticed quickly.
func Open(rawURL string, o Options) (*Client, error) {
	rdb, prefix, err := newUniversal(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open redis: %w: %v", ErrInvalid, err)
	}
	if prefix == "" {
		prefix = o.Prefix
	}
	c, err := newClient(rdb, prefix, o.Logger)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	return c, nil
}

func newClient(rdb goredis.UniversalClient, prefix string, log *slog.Logger) (*Client, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	// A brace in the prefix would become the Cluster hash tag of every key
	// and put them all in one slot.
	if strings.ContainsAny(prefix, "{}*?[] \n") {
		return nil, fmt.Errorf("redis: %w: key prefix %q may not contain braces, glob characters or spaces", ErrInvalid, prefix)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{rdb: rdb, prefix: prefix, log: log}, nil
}

// newUniversal builds the go-redis client a URL names: Sentinel when it
// has master_name, Cluster when it has cluster=true, else one server.
func newUniversal(rawURL string) (goredis.UniversalClient, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", errors.New("not a URL")
	}
	q := u.Query()
	prefix := q.Get("key_prefix")
	q.Del("key_prefix")
	cluster := q.Get("cluster")
	q.Del("cluster")
	_, sentinel := q["master_name"]
	_, ctxTimeout := q["context_timeout_enabled"]
	u.RawQuery = q.Encode()
	clean := u.String()
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
		return nil, "", fmt.Errorf("scheme %q: want redis://, rediss:// or unix://", u.Scheme)
	case sentinel:
		fo, err := goredis.ParseFailoverURL(clean)
		if err != nil {
			return nil, "", err
		}
		fo.DialTimeout, fo.ReadTimeout, fo.WriteTimeout = timeouts(fo.DialTimeout, fo.ReadTimeout, fo.WriteTimeout)
		fo.ContextTimeoutEnabled = fo.ContextTimeoutEnabled || !ctxTimeout
		fo.MaxRetries, fo.DialerRetries = retries(fo.MaxRetries, fo.DialerRetries)
		return goredis.NewFailoverClient(fo), prefix, nil
	case cluster == "true" || cluster == "1":
		co, err := goredis.ParseClusterURL(clean)
		if err != nil {
			return nil, "", err
		}
		co.DialTimeout, co.ReadTimeout, co.WriteTimeout = timeouts(co.DialTimeout, co.ReadTimeout, co.WriteTimeout)
		co.ContextTimeoutEnabled = co.ContextTimeoutEnabled || !ctxTimeout
		return goredis.NewClusterClient(co), prefix, nil
	case cluster != "" && cluster != "false" && cluster != "0":
		return nil, "", fmt.Errorf("cluster=%q: want true or false", cluster)
	}
	o, err := goredis.ParseURL(clean)
	if err != nil {
		return nil, "", err
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeouts(o.DialTimeout, o.ReadTimeout, o.WriteTimeout)
	o.ContextTimeoutEnabled = o.ContextTimeoutEnabled || !ctxTimeout
	o.MaxRetries, o.DialerRetries = retries(o.MaxRetries, o.DialerRetries)
	return goredis.NewClient(o), prefix, nil
}

// retries fills in the retries the URL left unset: one retry of a command
// (a pooled connection may be stale after Redis restarted) and one dial
// attempt, so that a Redis that is gone costs a turn seconds, not tens.
func retries(cmd, dial int) (int, int) {
	if cmd == 0 {
		cmd = 1
	}
	if dial == 0 {
		dial = 1
	}
	return cmd, dial
}

// timeouts fills in the timeouts the URL left unset.
func timeouts(dial, read, write time.Duration) (time.Duration, time.Duration, time.Duration) {
	if dial == 0 {
		dial = 2 * time.Second
	}
	if read == 0 {
		read = 3 * time.Second
	}
	if write == 0 {
		write = read
	}
	return dial, read, write
}

// Ping checks that Redis answers; /readyz uses it.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping: %w: %v", ErrUnavailable, err)
	}
	return nil
}

// Prefix is what every key of this client starts with.
func (c *Client) Prefix() string { return c.prefix }

// Close ends every subscription and closes the connections.
func (c *Client) Close() error {
	c.getHub().close()
	return c.rdb.Close()
}

// Purge deletes every key under the client's prefix: for tests, and for a
// city taking its data out of a shared Redis. It is not used in service.
func (c *Client) Purge(ctx context.Context) error {
	pattern := c.prefix + "*"
	scan := func(ctx context.Context, node goredis.UniversalClient) error {
		iter := node.Scan(ctx, 0, pattern, 500).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				if err := unlinkEach(ctx, node, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		return unlinkEach(ctx, node, batch)
	}
	var err error
	if cc, ok := c.rdb.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return scan(ctx, n) })
	} else {
		err = scan(ctx, c.rdb)
	}
	if err != nil {
		return fmt.Errorf("purge: %w: %v", ErrUnavailable, err)
	}
	return nil
}

// unlinkEach deletes keys one command each (they may lie in different
// Cluster slots), pipelined.
func unlinkEach(ctx context.Context, rdb goredis.UniversalClient, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range keys {
			p.Unlink(ctx, k)
		}
		return nil
	})
	return err
}

// MemoryUsage is what Redis reports a key costs (MEMORY USAGE), in bytes;
// 0 for a key that does not exist. Used to size a deployment.
func (c *Client) MemoryUsage(ctx context.Context, key string) (int64, error) {
	n, err := c.rdb.MemoryUsage(ctx, key, 0).Result()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("memory usage: %w: %v", ErrUnavailable, err)
	}
	return n, nil
}

// Tickets is how many turns of a conversation have taken a ticket since
// its counter was created: its arrival count, for tests and diagnostics.
func (c *Client) Tickets(ctx context.Context, id string) (int64, error) {
	n, err := c.rdb.Get(ctx, c.lockKeys(id).counter).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("tickets", err)
	}
	return n, nil
}

// SessionKey is the key a conversation's session is kept under.
func (c *Client) SessionKey(id string) string { return c.prefix + "s:{" + id + "}" }

// lockKeys are the keys of one conversation's lock. They share the
// session's hash tag, so in a Cluster they live in its slot and one
// script may touch them all.
type lockKeys struct {
	queue, alive, owner, counter, wake string
}

func (c *Client) lockKeys(id string) lockKeys {
	base := c.prefix + "l:{" + id + "}:"
	return lockKeys{queue: base + "q", alive: base + "a", owner: base + "o", counter: base + "n", wake: base + "w:"}
}

// unavailable wraps a go-redis error.
func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w: %v", op, ErrUnavailable, err)
}

// newToken is a random identifier for one lock request.
func newToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// The Lua scripts are kept beside the code, each run atomically by Redis
// (EVALSHA, falling back to EVAL the first time).
//
//go:embed lua/*.lua
var luaFS embed.FS

func script(name string) *goredis.Script {
	src, err := luaFS.ReadFile("lua/" + name)
	if err != nil {
		panic(err)
	}
	return goredis.NewScript(string(src))
}

// RouteLibraryLogs sends go-redis's own log lines (a failed dial, a
// dropped pub/sub message) to log at warning level instead of standard
// error. go-redis has one logger per process, so only main calls this,
// once, before opening clients.
func RouteLibraryLogs(log *slog.Logger) {
	goredis.SetLogger(libLogger{log})
}

type libLogger struct{ log *slog.Logger }

func (l libLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}
