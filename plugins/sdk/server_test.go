package sdk

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	pb "github.com/rmqconnect/rmqconnect/plugins/internal/pluginpb"
	"github.com/rmqconnect/rmqconnect/plugins/internal/wire"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/gcfloor"
)

// heldSink's Put signals entered and waits for release.
type heldSink struct {
	concurrent bool
	entered    chan struct{}
	release    chan struct{}
}

func (h *heldSink) ConcurrentFlush() bool { return h.concurrent }
func (h *heldSink) Start(context.Context, plugins.SinkTaskContext, map[string]string) error {
	return nil
}
func (h *heldSink) Put(context.Context, []*schema.Record) error {
	h.entered <- struct{}{}
	<-h.release
	return nil
}
func (h *heldSink) Flush(context.Context, map[plugins.Queue]int64) error { return nil }
func (h *heldSink) Stop(context.Context) error                           { return nil }

// TestSinkCallsExcludeFlushDuringPut: the worker overlaps Put and Flush of every plugin task;
// the SDK holds a task's Flush off while its Put runs unless the task is a ConcurrentFlusher
// that allows it.
func TestSinkCallsExcludeFlushDuringPut(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		task := &heldSink{concurrent: concurrent, entered: make(chan struct{}), release: make(chan struct{})}
		s := &server{sink: task, sinkAlone: concurrentFlusher(task)}
		batch, err := wire.EncodeBatch([]*schema.Record{schema.NewRecord("t", nil, nil, schema.StringSchema, "v")})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() {
			rep, err := s.Put(context.Background(), &pb.PutRequest{Batch: batch})
			if err == nil {
				err = wire.DecodeError(rep.Error)
			}
			done <- err
		}()
		<-task.entered
		free := s.sinkMu.TryLock()
		if free {
			s.sinkMu.Unlock()
		}
		require.Equal(t, concurrent, free, "concurrent=%v: a Flush could start during the Put", concurrent)
		close(task.release)
		require.NoError(t, <-done)
	}
}

func TestTuneGC(t *testing.T) {
	t.Cleanup(func() { gcfloor.Set(0) })

	t.Setenv("GOGC", "150") // the process's setting stays
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	tuneGC()
	require.Equal(t, 100, debug.SetGCPercent(100))

	require.NoError(t, os.Unsetenv("GOGC")) // t.Setenv restores it
	tuneGC()
	runtime.GC() // the floor sets the percent after a collection
	require.Greater(t, debug.SetGCPercent(100), 100, "the floor raises the percent of a small heap")
}
