package worker

// How the engine calls plugin code: safeCall keeps a panicking plugin from taking the
// worker down, and workContext ends a task's work in flight when its fence says so.

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"golang.org/x/sync/errgroup"
)

// safeCall runs plugin code, turning a panic into an error (with the stack) so one bad
// plugin cannot take the worker down.
func safeCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("plugin panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return f()
}

// fenceCheckInterval is how often a running task asks its fence while it works: a lost
// lease interrupts work in flight about a second after it runs out, well inside the lease.
const fenceCheckInterval = time.Second

// workContext returns the context of a task's work in flight (Start, Poll, Put, Flush,
// sends): it ends when ctx ends or, when fence is set, as soon as fence reports an error,
// which becomes the context's cause. stop releases the watcher and waits for it.
func workContext(ctx context.Context, fence func() error) (work context.Context, stop func()) {
	work, cancel := context.WithCancelCause(ctx)
	if fence == nil {
		return work, func() { cancel(nil) }
	}
	var g errgroup.Group
	g.Go(func() error {
		t := time.NewTicker(fenceCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-work.Done():
				return nil
			case <-t.C:
				if err := fence(); err != nil {
					cancel(err)
					return nil
				}
			}
		}
	})
	return work, func() { cancel(nil); _ = g.Wait() }
}
