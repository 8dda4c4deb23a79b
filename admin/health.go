package admin

import (
	"context"
	"errors"
	"time"
)

// ErrStarting is what a HealthChecker returns (wrapped, with the step it waits for) while the
// worker has not finished starting: /health then answers 503 "starting" rather than 500.
var ErrStarting = errors.New("worker is still starting up")

// The statuses of GET /health (KIP-1017).
const (
	HealthHealthy   = "healthy"
	HealthStarting  = "starting"
	HealthUnhealthy = "unhealthy"
)

// HealthTimeout bounds one health check, and how long /health waits for one.
const HealthTimeout = 3 * time.Second

// CachedHealth returns a checker that runs h at most once per ttl, whatever the number of
// callers (cachedHealth).
func CachedHealth(h HealthChecker, ttl time.Duration) HealthChecker { return newCachedHealth(h, ttl) }

// cachedHealth runs its checker at most once per ttl, whatever the number of callers: a
// result younger than ttl is returned as it is, and callers that arrive while a check runs
// wait for that check rather than start their own. The check runs on its own context, so a
// caller that gives up does not fail the answer of the others.
type cachedHealth struct {
	check HealthChecker
	ttl   time.Duration
	now   func() time.Time

	sem  chan struct{} // holds one token while a caller reads or checks: later callers wait for its result
	at   time.Time
	err  error
	done bool
}

func newCachedHealth(h HealthChecker, ttl time.Duration) *cachedHealth {
	return &cachedHealth{check: h, ttl: ttl, now: time.Now, sem: make(chan struct{}, 1)}
}

// Health returns the latest result, checking again when it is older than ttl. ctx only bounds
// how long this caller waits for the lock.
func (c *cachedHealth) Health(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.sem }()
	if c.done && c.now().Sub(c.at) < c.ttl {
		return c.err
	}
	cctx, cancel := context.WithTimeout(context.Background(), HealthTimeout)
	defer cancel()
	c.err = c.check.Health(cctx)
	c.at, c.done = c.now(), true
	return c.err
}
