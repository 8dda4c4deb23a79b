package worker

import (
	"context"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
)

// The task contexts carry the worker's file confinement (plugins.FileAccessor); file
// connectors open their files through it. validateResolved checks Path fields up front.

// FileAccess is the worker's file confinement.
func (c sourceTaskContext) FileAccess() *plugins.FileAccess { return c.files }

// FileAccess is the worker's file confinement.
func (c sinkTaskContext) FileAccess() *plugins.FileAccess { return c.r.files }

// withTimeout is context.WithTimeout, or no deadline for d <= 0.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
