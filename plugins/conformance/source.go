package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// SourceHarness adapts one source connector to TestSource. The suite runs its subtests one after another (a
// harness may keep per-test state in variables its functions share) and drives the first task config of
// TaskConfigs(1), so the records of one task must come in a deterministic order.
type SourceHarness struct {
	// NewConnector returns a fresh, unstarted connector. Required.
	NewConnector func() plugins.SourceConnector
	// Setup prepares an empty external system for one subtest and returns the connector configuration.
	// Register cleanups with t.Cleanup. Required.
	Setup func(t *testing.T) map[string]string
	// Append makes records first, …, first+n-1 available in the system Setup prepared for cfg. Nil when the
	// source produces without input (a generator).
	Append func(t *testing.T, cfg map[string]string, first, n int)
	// Check verifies that rec is record i (0-based, in emission order). Required.
	Check func(t *testing.T, i int, rec *schema.Record)
	// Records is how many records the round-trip and restart subtests read (default 100).
	Records int
	// Timeout bounds every wait: for records, for Stop, for a cancelled Poll (default 10s).
	Timeout time.Duration
	// IgnoreGoroutines are goroutines the leak check of StopUnderLoad tolerates: those a
	// client library starts and never stops (rmqtest.ClientLibraryGoroutines for
	// rocketmq-client-go), never the connector's own.
	IgnoreGoroutines []goleak.Option
}

func (h *SourceHarness) defaults(t *testing.T) {
	t.Helper()
	require.NotNil(t, h.NewConnector, "SourceHarness.NewConnector")
	require.NotNil(t, h.Setup, "SourceHarness.Setup")
	require.NotNil(t, h.Check, "SourceHarness.Check")
	if h.Records <= 0 {
		h.Records = 100
	}
	if h.Timeout <= 0 {
		h.Timeout = 10 * time.Second
	}
}

// TestSource runs the source conformance suite:
//
//   - OpenClose: Spec is stable; Validate rejects an empty config naming keys when the spec has required
//     keys; the connector starts and yields 1..maxTasks task configs; Stop is safe without Start and twice;
//     a task's Stop is safe without Start and twice; Poll with a cancelled context returns promptly (no
//     error, or one wrapping context.Canceled).
//   - BatchRoundTrip: records put in the system come out of one task in order, each with a JSON-storable
//     SourcePartition and an offset (SourceOffset or LazyOffset), and pass Check.
//   - RestartFromPosition: after record k's position is committed (through a JSON round trip, as a store
//     would) and the task stopped, a new task starts at record k+1, loses nothing and keeps up with new input.
//   - StopUnderLoad: Stop while a goroutine polls returns within Timeout, Poll returns promptly once its
//     context is cancelled, and no goroutine is left behind (goleak).
func TestSource(t *testing.T, h SourceHarness) {
	h.defaults(t)
	t.Run("OpenClose", func(t *testing.T) { sourceOpenClose(t, &h) })
	t.Run("BatchRoundTrip", func(t *testing.T) { sourceRoundTrip(t, &h) })
	t.Run("RestartFromPosition", func(t *testing.T) { sourceRestart(t, &h) })
	t.Run("StopUnderLoad", func(t *testing.T) { sourceStopUnderLoad(t, &h) })
}

func (h *SourceHarness) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// taskConfig starts a connector on cfg and returns its first task config.
func (h *SourceHarness) taskConfig(t *testing.T, cfg map[string]string) (plugins.SourceConnector, map[string]string) {
	t.Helper()
	ctx := h.ctx(t)
	c := h.NewConnector()
	require.NoError(t, c.Start(ctx, ConnectorContextFor(t, c, cfg), cfg), "connector Start")
	// Stop is idempotent: callers that stop the connector themselves are unaffected, and one that only
	// wants the task config does not leave the connector's resources (a watcher, a pool) running.
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err, "TaskConfigs(1)")
	require.Len(t, tcs, 1, "TaskConfigs(1)")
	return c, tcs[0]
}

func (h *SourceHarness) append(t *testing.T, cfg map[string]string, first, n int) {
	if h.Append != nil {
		h.Append(t, cfg, first, n)
	}
}

func sourceOpenClose(t *testing.T, h *SourceHarness) {
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

	require.NoError(t, c.NewSourceTask().Stop(ctx), "task Stop without Start")

	_, tc := h.taskConfig(t, cfg)
	task := c.NewSourceTask()
	require.NoError(t, task.Start(ctx, SourceContextFor(t, h.NewConnector().Spec(), nil, tc), tc), "task Start")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	requireWithin(t, h.Timeout, "Poll with a cancelled context", func() error {
		if _, err := task.Poll(cancelled); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	})
	require.NoError(t, task.Stop(ctx), "task Stop")
	require.NoError(t, task.Stop(ctx), "task Stop twice")
}

// requireRejectsEmpty checks that a connector with required keys rejects an empty config with *cfgerr.Error values naming the keys.
func requireRejectsEmpty(t *testing.T, c plugins.Connector) {
	t.Helper()
	required := false
	for _, f := range c.Spec().Fields() {
		required = required || f.Required
	}
	if !required {
		return
	}
	_, err := Validate(c, map[string]string{})
	require.ErrorIs(t, err, cfgerr.ErrInvalid, "Validate of an empty config")
	require.NotEmpty(t, cfgerr.Flatten(err), "Validate must name the missing keys")
}

// PollN polls task until it has returned at least n records or timeout passes, and returns them all.
func PollN(t *testing.T, task plugins.SourceTask, n int, timeout time.Duration) []*schema.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*schema.Record
	for len(out) < n && ctx.Err() == nil {
		recs, err := task.Poll(ctx)
		require.NoError(t, err, "Poll")
		out = append(out, recs...)
	}
	require.GreaterOrEqual(t, len(out), n, "records polled within %v", timeout)
	return out
}

// JSONRoundTrip returns m encoded and decoded as JSON (numbers become float64), which is what a position
// store may hand back.
func JSONRoundTrip(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err, "position must be JSON-encodable: %v", m)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func (h *SourceHarness) checkRecords(t *testing.T, first int, recs []*schema.Record) {
	t.Helper()
	for j, r := range recs {
		require.NotNil(t, r, "record %d", first+j)
		require.NotEmpty(t, r.SourcePartition, "record %d: SourcePartition", first+j)
		require.NotEmpty(t, r.Offset(), "record %d: SourceOffset or LazyOffset", first+j)
		JSONRoundTrip(t, r.SourcePartition)
		JSONRoundTrip(t, r.Offset())
		h.Check(t, first+j, r)
	}
}

func sourceRoundTrip(t *testing.T, h *SourceHarness) {
	cfg := h.Setup(t)
	ctx := h.ctx(t) // after Setup: Timeout bounds the suite's waits, not the harness starting its servers
	h.append(t, cfg, 0, h.Records)
	c, tc := h.taskConfig(t, cfg)
	task := c.NewSourceTask()
	require.NoError(t, task.Start(ctx, SourceContextFor(t, h.NewConnector().Spec(), nil, tc), tc))
	recs := PollN(t, task, h.Records, h.Timeout)
	h.checkRecords(t, 0, recs[:h.Records])
	require.NoError(t, task.Commit(ctx), "Commit")
	require.NoError(t, task.Stop(ctx))
	require.NoError(t, c.Stop(ctx))
}

func sourceRestart(t *testing.T, h *SourceHarness) {
	cfg := h.Setup(t)
	ctx := h.ctx(t) // after Setup: Timeout bounds the suite's waits, not the harness starting its servers
	n := h.Records
	h.append(t, cfg, 0, n)
	c, tc := h.taskConfig(t, cfg)

	store := NewPositions()
	task := c.NewSourceTask()
	require.NoError(t, task.Start(ctx, SourceContextFor(t, h.NewConnector().Spec(), store, tc), tc))
	recs := PollN(t, task, n, h.Timeout)
	k := n / 2
	store.Set(recs[k].SourcePartition, JSONRoundTrip(t, recs[k].Offset()))
	require.NoError(t, task.Commit(ctx))
	require.NoError(t, task.Stop(ctx))

	task = c.NewSourceTask()
	require.NoError(t, task.Start(ctx, SourceContextFor(t, h.NewConnector().Spec(), store, tc), tc), "restart")
	rest := PollN(t, task, n-k-1, h.Timeout)
	h.checkRecords(t, k+1, rest[:n-k-1])

	const more = 10
	h.append(t, cfg, n, more)
	next := rest[n-k-1:]
	if len(next) < more {
		next = append(next, PollN(t, task, more-len(next), h.Timeout)...)
	}
	h.checkRecords(t, n, next[:more])
	require.NoError(t, task.Stop(ctx))
	require.NoError(t, c.Stop(ctx))
}

func sourceStopUnderLoad(t *testing.T, h *SourceHarness) {
	defer goleak.VerifyNone(t, append([]goleak.Option{goleak.IgnoreCurrent()}, h.IgnoreGoroutines...)...)
	cfg := h.Setup(t)
	h.append(t, cfg, 0, 10*h.Records)
	c, tc := h.taskConfig(t, cfg)
	task := c.NewSourceTask()
	require.NoError(t, task.Start(h.ctx(t), SourceContextFor(t, h.NewConnector().Spec(), nil, tc), tc))

	pollCtx, cancelPoll := context.WithCancel(context.Background())
	defer cancelPoll()
	polled := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for pollCtx.Err() == nil {
			recs, err := task.Poll(pollCtx)
			if err != nil {
				return // a Poll racing Stop may fail; it must not hang or panic
			}
			if len(recs) > 0 {
				select {
				case polled <- struct{}{}:
				default:
				}
			}
		}
	}()
	select {
	case <-polled:
	case <-time.After(h.Timeout):
		t.Fatalf("no record polled within %v", h.Timeout)
	}

	stopCtx, cancelStop := context.WithTimeout(context.Background(), h.Timeout)
	defer cancelStop()
	requireWithin(t, h.Timeout, "task Stop while polling", func() error { return task.Stop(stopCtx) })
	cancelPoll()
	select {
	case <-done:
	case <-time.After(h.Timeout):
		t.Fatalf("Poll did not return within %v of its context being cancelled", h.Timeout)
	}
	requireWithin(t, h.Timeout, "connector Stop", func() error { return c.Stop(stopCtx) })
}

// requireWithin runs fn on another goroutine and fails the test when fn returns an error or has not
// returned within d. (A goroutine stuck past d is reported by the caller's leak check.)
func requireWithin(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- fn() }()
	select {
	case err := <-res:
		require.NoError(t, err, what)
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}
