package open311

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cityline/cityline/cases"
)

// CacheConfig configures a Cache. Client is required.
type CacheConfig struct {
	Client *Client
	// Fallback serves until the first copy arrives (the content pack,
	// whose catalogue should be the upstream's).
	Fallback Catalog
	// Workers fetch definitions in parallel (4 when zero).
	Workers int
	// OnRefresh, when set, is called with each service list read.
	OnRefresh func(services []cases.Service)
	Now       func() time.Time
	Logger    *slog.Logger
}

// Cache is the upstream's service list and definitions, refreshed by
// Refresh (Run calls it on an interval). When the upstream cannot be
// read, the last good copy stays; a definition that cannot be read keeps
// its last good copy too.
type Cache struct {
	cfg CacheConfig
	now func() time.Time
	log *slog.Logger

	mu       sync.RWMutex
	services []cases.Service
	defs     map[string]cases.Definition
	fetched  time.Time // when the copy was made; zero before the first
}

var _ Catalog = (*Cache)(nil)

// NewCache returns an empty cache.
func NewCache(cfg CacheConfig) (*Cache, error) {
	if cfg.Client == nil {
		return nil, errors.New("open311 cache: a client is required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	c := &Cache{cfg: cfg, now: cfg.Now, log: cfg.Logger}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Fetched is when the copy in use was read; zero before the first.
func (c *Cache) Fetched() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.fetched
}

// Refresh reads the service list and the definitions of the services
// with metadata. It keeps the last good copy, and returns the error,
// when the list cannot be read.
func (c *Cache) Refresh(ctx context.Context) error {
	list, err := c.cfg.Client.Services(ctx)
	if err != nil {
		return fmt.Errorf("refresh upstream services: %w", err)
	}
	c.mu.RLock()
	old := c.defs
	c.mu.RUnlock()
	type result struct {
		code string
		def  cases.Definition
		err  error
	}
	jobs := make(chan string)
	results := make(chan result)
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Go(func() {
			for code := range jobs {
				d, err := c.cfg.Client.Definition(ctx, code)
				results <- result{code, d, err}
			}
		})
	}
	go func() {
		defer close(jobs)
		for _, s := range list {
			if s.Metadata {
				select {
				case jobs <- s.Code:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	defs := map[string]cases.Definition{}
	failed := 0
	for r := range results {
		switch {
		case r.err == nil:
			defs[r.code] = r.def
		case errors.Is(r.err, cases.ErrNotFound):
			// Published as having a definition, but it has none: carry on.
			c.log.Warn("upstream: service says metadata but has no definition", "service", r.code)
		default:
			failed++
			if d, ok := old[r.code]; ok {
				defs[r.code] = d
			}
			c.log.Warn("upstream: definition not read; keeping the last copy", "service", r.code, "err", r.err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("refresh upstream services: %w", err)
	}
	c.mu.Lock()
	c.services, c.defs, c.fetched = list, defs, c.now()
	c.mu.Unlock()
	c.log.Info("upstream services read", "services", len(list), "definitions", len(defs), "failed", failed)
	if c.cfg.OnRefresh != nil {
		c.cfg.OnRefresh(list)
	}
	return nil
}

// Run refreshes the cache now and then every interval until ctx ends.
func (c *Cache) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			if at := c.Fetched(); at.IsZero() {
				c.log.Warn("upstream services not read yet; serving the content pack's", "err", err)
			} else {
				c.log.Warn("upstream services not refreshed; serving the last good copy", "err", err, "copy_from", at)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Services implements Catalog.
func (c *Cache) Services(ctx context.Context) ([]cases.Service, error) {
	c.mu.RLock()
	list, fetched := c.services, c.fetched
	c.mu.RUnlock()
	if fetched.IsZero() {
		if c.cfg.Fallback != nil {
			return c.cfg.Fallback.Services(ctx)
		}
		return nil, fmt.Errorf("upstream services: %w: not read yet", cases.ErrUnavailable)
	}
	return list, nil
}

// Definition implements Catalog.
func (c *Cache) Definition(ctx context.Context, code string) (cases.Definition, error) {
	c.mu.RLock()
	d, ok := c.defs[code]
	fetched := c.fetched
	c.mu.RUnlock()
	if fetched.IsZero() && c.cfg.Fallback != nil {
		return c.cfg.Fallback.Definition(ctx, code)
	}
	if !ok {
		return cases.Definition{}, fmt.Errorf("definition of %q: %w", code, cases.ErrNotFound)
	}
	return d, nil
}
