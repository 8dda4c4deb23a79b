package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recorder notes the order in which the two sides stop.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// side blocks until its context ends, then takes a moment to stop (as a server draining
// requests does) and records it.
func side(r *recorder, name string, drain time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		<-ctx.Done()
		r.add(name + " asked to stop")
		time.Sleep(drain)
		r.add(name + " stopped")
		return nil
	}
}

func TestShutdownStopsRESTBeforeTheHerder(t *testing.T) {
	var r recorder
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runInOrder(ctx, side(&r, "rest", 50*time.Millisecond), side(&r, "herder", 0)) }()
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, []string{"rest asked to stop", "rest stopped", "herder asked to stop", "herder stopped"}, r.all())
}

func TestShutdownWhenTheHerderFails(t *testing.T) {
	var r recorder
	boom := errors.New("boom")
	err := runInOrder(context.Background(), side(&r, "rest", 0), func(context.Context) error {
		r.add("herder failed")
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, []string{"herder failed", "rest asked to stop", "rest stopped"}, r.all())
}

func TestShutdownWhenRESTCannotStart(t *testing.T) {
	var r recorder
	bind := errors.New("address in use")
	err := runInOrder(context.Background(), func(context.Context) error { return bind }, side(&r, "herder", 0))
	require.ErrorIs(t, err, bind)
	require.Equal(t, []string{"herder asked to stop", "herder stopped"}, r.all())
}
