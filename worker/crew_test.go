package worker

import (
	"context"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// close waits for every goroutine of the crew but the detached ones, and starts none after.
func TestCrewWaitsForAllButTheDetached(t *testing.T) {
	var c crew
	release, stuck := make(chan struct{}), make(chan struct{})
	defer close(stuck)
	returned := make(chan struct{})
	require.NotNil(t, c.Go(func() { <-release; close(returned) }))
	c.Go(func() { <-stuck }).detach()
	closed := make(chan struct{})
	go func() { c.close(); close(closed) }()
	close(release)
	<-closed
	select {
	case <-returned:
	default:
		t.Fatal("close returned before a goroutine it must wait for")
	}
	require.Nil(t, c.Go(func() {}), "a closed crew starts nothing")
}

// The watcher of a fenced task is the engine's: its stop waits for it (a bare goroutine used
// to outlive the engine by up to the stop timeout).
func TestEngineStopWaitsForTheFencedTaskWatcher(t *testing.T) {
	before := goleak.IgnoreCurrent()
	d := newTestDistributed(t, 2*time.Second)
	rt := newConnRuntime(d.engine, "c", &parsedConfig{raw: map[string]string{}}, nil)
	d.engine.adopt(rt)
	release := hungTask(rt, 0, 1) // its run never returns: the watcher waits out its stop timeout
	defer close(release)
	require.True(t, rt.fenceTask(0, 2))
	d.engine.stop(false)
	goleak.VerifyNone(t, before)
}

// A herder's Run context ending stops the engine's lifetime: a context made from it ends.
func TestEngineLifetimeEndsWithRun(t *testing.T) {
	e := newEngine(StandaloneConfig{}, nil, nil, quiet())
	require.ErrorIs(t, e.checkRunning(), restapi.ErrStopped, "nothing is installed before Run")
	ctx, cancel := context.WithCancel(context.Background())
	e.start(ctx)
	require.NoError(t, e.checkRunning())
	life, stop := context.WithCancel(e.lifetime())
	defer stop()
	cancel()
	<-life.Done()
	require.ErrorIs(t, life.Err(), context.Canceled)
}
