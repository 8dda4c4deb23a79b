package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// SinkHarness adapts one sink connector to TestSink. The suite runs its subtests one after another and drives
// the first task config of TaskConfigs(1).
type SinkHarness struct {
	// NewConnector returns a fresh, unstarted connector. Required.
	NewConnector func() plugins.SinkConnector
	// Setup prepares an empty external system for one subtest and returns the connector configuration.
	// Register cleanups with t.Cleanup. Required.
	Setup func(t *testing.T) map[string]string
	// Record returns test record i (0-based); the suite sets its Topic, QueueID and QueueOffset. Required.
	Record func(i int) *schema.Record
	// Verify checks that the system Setup prepared for cfg durably holds records 0, …, n-1 written by the
	// subtest, in order, and nothing else. Required.
	Verify func(t *testing.T, cfg map[string]string, n int)
	// Records is how many records the round-trip and restart subtests write (default 100).
	Records int
	// Timeout bounds every wait (default 10s).
	Timeout time.Duration
}

// Queue is the queue the suite's records come from.
var Queue = plugins.Queue{Topic: "conformance", BrokerName: "broker-a", QueueID: 0}

func (h *SinkHarness) defaults(t *testing.T) {
	t.Helper()
	require.NotNil(t, h.NewConnector, "SinkHarness.NewConnector")
	require.NotNil(t, h.Setup, "SinkHarness.Setup")
	require.NotNil(t, h.Record, "SinkHarness.Record")
	require.NotNil(t, h.Verify, "SinkHarness.Verify")
	if h.Records <= 0 {
		h.Records = 100
	}
	if h.Timeout <= 0 {
		h.Timeout = 10 * time.Second
	}
}

// TestSink runs the sink conformance suite:
//
//   - OpenClose: Spec is stable; Validate rejects an empty config naming keys when the spec has required
//     keys; the connector starts and yields 1..maxTasks task configs; Stop is safe without Start and twice;
//     a task's Stop is safe without Start and twice.
//   - BatchRoundTrip: records Put in several batches (one empty) are all in the system, in order, once Flush
//     returns, before Stop.
//   - RestartFromPosition: records flushed by one task stay durable after it stops, and a new task (as after
//     a restart or rebalance) appends after them.
//   - StopUnderLoad: Stop while a goroutine calls Put returns within Timeout, Put and Flush after Stop return
//     (an error or not) without panicking, and no goroutine is left behind (goleak).
func TestSink(t *testing.T, h SinkHarness) {
	h.defaults(t)
	t.Run("OpenClose", func(t *testing.T) { sinkOpenClose(t, &h) })
	t.Run("BatchRoundTrip", func(t *testing.T) { sinkRoundTrip(t, &h) })
	t.Run("RestartFromPosition", func(t *testing.T) { sinkRestart(t, &h) })
	t.Run("StopUnderLoad", func(t *testing.T) { sinkStopUnderLoad(t, &h) })
}

func (h *SinkHarness) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func (h *SinkHarness) taskConfig(t *testing.T, cfg map[string]string) (plugins.SinkConnector, map[string]string) {
	t.Helper()
	c := h.NewConnector()
	require.NoError(t, c.Start(h.ctx(t), ConnectorContextFor(t, c, cfg), cfg), "connector Start")
	// Stop is idempotent: callers that stop the connector themselves are unaffected, and one that only
	// wants the task config does not leave the connector's resources (a watcher, a pool) running.
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err, "TaskConfigs(1)")
	require.Len(t, tcs, 1, "TaskConfigs(1)")
	return c, tcs[0]
}

// record returns test record i as delivered from Queue at offset i.
func (h *SinkHarness) record(i int) *schema.Record {
	r := h.Record(i)
	r.Topic, r.QueueID, r.QueueOffset = Queue.Topic, Queue.QueueID, int64(i)
	return r
}

// put delivers records first, …, last-1 in batches of up to 7, with an empty batch first.
func (h *SinkHarness) put(t *testing.T, task plugins.SinkTask, first, last int) {
	t.Helper()
	ctx := h.ctx(t)
	require.NoError(t, task.Put(ctx, nil), "Put of an empty batch")
	for i := first; i < last; {
		var batch []*schema.Record
		for ; i < last && len(batch) < 7; i++ {
			batch = append(batch, h.record(i))
		}
		require.NoError(t, task.Put(ctx, batch), "Put")
	}
}

func sinkOpenClose(t *testing.T, h *SinkHarness) {
	cfg := h.Setup(t)
	ctx := h.ctx(t) // after Setup: Timeout bounds the suite's waits, not the harness starting its servers

	c := h.NewConnector()
	require.Equal(t, c.Spec().Fields(), c.Spec().Fields(), "Spec must return the same spec every time")
	requireRejectsEmpty(t, c)
	require.NoError(t, c.Stop(ctx), "connector Stop without Start")

	c = h.NewConnector()
	require.NoError(t, c.Start(ctx, ConnectorContextFor(t, c, cfg), cfg), "connector Start")
	for _, maxTasks := range []int{1, 3} {
		tcs, err := c.TaskConfigs(maxTasks)
		require.NoError(t, err, "TaskConfigs(%d)", maxTasks)
		require.NotEmpty(t, tcs, "TaskConfigs(%d)", maxTasks)
		require.LessOrEqual(t, len(tcs), maxTasks, "TaskConfigs(%d)", maxTasks)
	}
	require.NoError(t, c.Stop(ctx), "connector Stop")
	require.NoError(t, c.Stop(ctx), "connector Stop twice")

	require.NoError(t, c.NewSinkTask().Stop(ctx), "task Stop without Start")

	_, tc := h.taskConfig(t, cfg)
	task := c.NewSinkTask()
	require.NoError(t, task.Start(ctx, SinkContextFor(t, h.NewConnector().Spec(), tc, Queue), tc), "task Start")
	require.NoError(t, task.Stop(ctx), "task Stop")
	require.NoError(t, task.Stop(ctx), "task Stop twice")
}

func sinkRoundTrip(t *testing.T, h *SinkHarness) {
	cfg := h.Setup(t)
	ctx := h.ctx(t) // after Setup: Timeout bounds the suite's waits, not the harness starting its servers
	c, tc := h.taskConfig(t, cfg)
	task := c.NewSinkTask()
	require.NoError(t, task.Start(ctx, SinkContextFor(t, h.NewConnector().Spec(), tc, Queue), tc))
	h.put(t, task, 0, h.Records)
	require.NoError(t, task.Flush(ctx, map[plugins.Queue]int64{Queue: int64(h.Records)}), "Flush")
	h.Verify(t, cfg, h.Records)
	require.NoError(t, task.Stop(ctx))
	require.NoError(t, c.Stop(ctx))
	h.Verify(t, cfg, h.Records)
}

func sinkRestart(t *testing.T, h *SinkHarness) {
	cfg := h.Setup(t)
	ctx := h.ctx(t) // after Setup: Timeout bounds the suite's waits, not the harness starting its servers
	c, tc := h.taskConfig(t, cfg)
	k := h.Records / 2

	task := c.NewSinkTask()
	require.NoError(t, task.Start(ctx, SinkContextFor(t, h.NewConnector().Spec(), tc, Queue), tc))
	h.put(t, task, 0, k)
	require.NoError(t, task.Flush(ctx, map[plugins.Queue]int64{Queue: int64(k)}), "Flush")
	require.NoError(t, task.Stop(ctx))
	h.Verify(t, cfg, k)

	task = c.NewSinkTask()
	require.NoError(t, task.Start(ctx, SinkContextFor(t, h.NewConnector().Spec(), tc, Queue), tc), "restart")
	h.put(t, task, k, h.Records)
	require.NoError(t, task.Flush(ctx, map[plugins.Queue]int64{Queue: int64(h.Records)}), "Flush")
	h.Verify(t, cfg, h.Records)
	require.NoError(t, task.Stop(ctx))
	require.NoError(t, c.Stop(ctx))
}

func sinkStopUnderLoad(t *testing.T, h *SinkHarness) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cfg := h.Setup(t)
	c, tc := h.taskConfig(t, cfg)
	task := c.NewSinkTask()
	require.NoError(t, task.Start(h.ctx(t), SinkContextFor(t, h.NewConnector().Spec(), tc, Queue), tc))

	putCtx, cancelPut := context.WithCancel(context.Background())
	defer cancelPut()
	busy := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; putCtx.Err() == nil; i += 10 {
			batch := make([]*schema.Record, 10)
			for j := range batch {
				batch[j] = h.record(i + j)
			}
			if err := task.Put(putCtx, batch); err != nil {
				return // a Put racing Stop may fail; it must not hang or panic
			}
			select {
			case busy <- struct{}{}:
			default:
			}
		}
	}()
	select {
	case <-busy:
	case <-time.After(h.Timeout):
		t.Fatalf("no Put returned within %v", h.Timeout)
	}

	stopCtx, cancelStop := context.WithTimeout(context.Background(), h.Timeout)
	defer cancelStop()
	requireWithin(t, h.Timeout, "task Stop while putting", func() error { return task.Stop(stopCtx) })
	cancelPut()
	select {
	case <-done:
	case <-time.After(h.Timeout):
		t.Fatalf("Put did not return within %v of its context being cancelled", h.Timeout)
	}
	requireWithin(t, h.Timeout, "Put after Stop", func() error {
		_ = task.Put(stopCtx, []*schema.Record{h.record(0)})
		_ = task.Flush(stopCtx, map[plugins.Queue]int64{Queue: 1})
		return nil
	})
	requireWithin(t, h.Timeout, "connector Stop", func() error { return c.Stop(stopCtx) })
}
