package external_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/external"
	"github.com/rmqconnect/rmqconnect/schema"
)

// recorder is a slog handler keeping records with their attributes (those of With too).
type recorder struct {
	mu    *sync.Mutex
	recs  *[]map[string]any
	attrs []slog.Attr
}

func newRecorder() recorder { return recorder{mu: &sync.Mutex{}, recs: &[]map[string]any{}} }

func (r recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r recorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]any{"msg": rec.Message, "level": rec.Level.String()}
	for _, a := range r.attrs {
		m[a.Key] = a.Value.Any()
	}
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	r.mu.Lock()
	*r.recs = append(*r.recs, m)
	r.mu.Unlock()
	return nil
}
func (r recorder) WithAttrs(as []slog.Attr) slog.Handler {
	r.attrs = append(append([]slog.Attr{}, r.attrs...), as...)
	return r
}
func (r recorder) WithGroup(string) slog.Handler { return r }
func (r recorder) find(msg string) map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range *r.recs {
		if m["msg"] == msg {
			return m
		}
	}
	return nil
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// TestConnectorContextAndLogs: a plugin connector's log records reach the engine's logger
// with its attributes (connector ones added by the engine, the plugin's own with their values
// as logged, the level);
// RequestTaskReconfiguration and RaiseError (with its retriable kind) reach the engine.
func TestConnectorContextAndLogs(t *testing.T) {
	_, reg, _ := newManager(t, external.Options{}, "probe")
	c, err := reg.NewSource("probe-source")
	require.NoError(t, err)
	cfg := map[string]string{"out": t.TempDir() + "/out"}
	cctx := conformance.ConnectorContextFor(t, c, cfg)
	rec := newRecorder()
	cctx.Log = slog.New(rec).With("connector", "probe-1")
	require.NoError(t, c.Start(t.Context(), cctx, cfg))
	require.Equal(t, 1, cctx.Reconfigurations())
	raised := cctx.Raised()
	require.Len(t, raised, 1)
	require.True(t, plugins.IsRetriable(raised[0]))
	require.ErrorContains(t, raised[0], "probe raised")
	tcs, err := c.TaskConfigs(2)
	require.NoError(t, err)
	require.Len(t, tcs, 2)
	require.NoError(t, c.Stop(t.Context()))
	var got map[string]any
	require.Eventually(t, func() bool { got = rec.find("probe connector started"); return got != nil },
		10*time.Second, 10*time.Millisecond, "the plugin's log record arrives")
	require.Equal(t, "probe-1", got["connector"])
	require.Equal(t, "v1", got["probe.attr"])
	require.Equal(t, int64(1)<<60+1, got["probe.id"], "an integer attribute past 2^53 arrives whole")
	require.Equal(t, 0.25, got["probe.ratio"])
	require.Equal(t, "INFO", got["level"])
}

// TestSourceTaskPositionsAndCommitRecord: Start reads positions through the engine (Positions
// answers with the task's own partition maps, as the engine does a task in its process), and
// CommitRecord reaches the plugin's task for the very record it returned from Poll.
// The worker's own settings (RMQCONNECT_*) are not in a plugin's environment.
func TestSourceTaskPositionsAndCommitRecord(t *testing.T) {
	t.Setenv("RMQCONNECT_PROBE_SECRET", "s3cret")
	_, reg, _ := newManager(t, external.Options{}, "probe")
	c, err := reg.NewSource("probe-source")
	require.NoError(t, err)
	out := t.TempDir() + "/out"
	cfg := map[string]string{"out": out}
	store := conformance.NewPositions()
	store.Set(map[string]any{"p": "probe"}, map[string]any{"n": int64(41)})
	store.Set(map[string]any{"p": "typed", "n": 7}, map[string]any{"at": int64(3)})
	task := c.NewSourceTask()
	rc, ok := task.(plugins.RecordCommitter)
	require.True(t, ok, "the plugin's task is a RecordCommitter, so the engine's view is one")
	require.NoError(t, task.Start(t.Context(), conformance.SourceContextFor(t, c.Spec(), store, cfg), cfg))
	recs, err := task.Poll(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(42), recs[0].Value, "the task resumed after the stored position")
	more, err := task.Poll(t.Context())
	require.NoError(t, err)
	require.NoError(t, rc.CommitRecord(t.Context(), more[0], nil))
	require.NoError(t, rc.CommitRecord(t.Context(), recs[0], &plugins.RecordMetadata{Topic: "probe", QueueID: 2, QueueOffset: 9}))
	require.NoError(t, task.Stop(t.Context()))
	require.Equal(t, []string{"typed position int 3", `env ""`, "commit 43 dropped", "commit 42 probe/2@9"}, lines(t, out),
		"Positions answers with the task's own partition maps, an int staying an int")
}

// TestSinkTaskContexts: the sink context's abilities work from the plugin (assignment,
// pause/resume, offset reset, errant-record reporter) and the optional PreCommitter and
// QueueListener abilities cross the boundary.
func TestSinkTaskContexts(t *testing.T) {
	_, reg, _ := newManager(t, external.Options{}, "probe")
	c, err := reg.NewSink("probe-sink")
	require.NoError(t, err)
	out := t.TempDir() + "/out"
	cfg := map[string]string{"out": out}
	q := plugins.Queue{Topic: "t", BrokerName: "b", QueueID: 1}
	sctx := conformance.SinkContextFor(t, c.Spec(), cfg, q)
	task := c.NewSinkTask()
	pc, ok := task.(plugins.PreCommitter)
	require.True(t, ok)
	ql, ok := task.(plugins.QueueListener)
	require.True(t, ok)
	require.NoError(t, task.Start(t.Context(), sctx, cfg))
	require.NoError(t, ql.Open(t.Context(), []plugins.Queue{q}))
	require.NoError(t, task.Put(t.Context(), []*schema.Record{
		schema.NewRecord("t", nil, nil, schema.StringSchema, "good"),
		schema.NewRecord("t", nil, nil, schema.StringSchema, "bad"),
	}))
	reported, errs := sctx.Reporter.Reported()
	require.Len(t, reported, 1)
	require.Equal(t, "bad", reported[0].Value)
	require.ErrorContains(t, errs[0], "probe rejects bad")
	require.False(t, sctx.Paused(q), "paused then resumed")
	require.Equal(t, map[plugins.Queue]int64{q: 5}, sctx.Resets())
	got, err := pc.PreCommit(t.Context(), map[plugins.Queue]int64{q: 10})
	require.NoError(t, err)
	require.Equal(t, map[plugins.Queue]int64{q: 9}, got)

	sctx.Reporter.Fail = true
	err = task.Put(t.Context(), []*schema.Record{schema.NewRecord("t", nil, nil, schema.StringSchema, "bad")})
	require.ErrorContains(t, err, "probe rejects bad", "with errors.tolerance=none the report fails the Put")
	require.NoError(t, ql.Close(t.Context(), []plugins.Queue{q}))
	require.NoError(t, task.Stop(t.Context()))
	require.Equal(t, []string{"assignment [{t b 1}]", "open [{t b 1}]", "put good", "close [{t b 1}]"}, lines(t, out))
}

// TestSourceTaskCommitRecordsInOneCall: the engine tells a plugin's source task about a delivered
// batch with CommitRecords (plugins.RecordsCommitter), which crosses in one call; the task's
// CommitRecord sees each record, in order, with its metadata.
func TestSourceTaskCommitRecordsInOneCall(t *testing.T) {
	_, reg, _ := newManager(t, external.Options{}, "probe")
	c, err := reg.NewSource("probe-source")
	require.NoError(t, err)
	out := t.TempDir() + "/out"
	cfg := map[string]string{"out": out}
	task := c.NewSourceTask()
	rc, ok := task.(plugins.RecordsCommitter)
	require.True(t, ok, "a plugin's RecordCommitter task takes a batch's acknowledgements at once")
	require.NoError(t, task.Start(t.Context(), conformance.SourceContextFor(t, c.Spec(), conformance.NewPositions(), cfg), cfg))
	var recs []*schema.Record
	for range 3 {
		more, err := task.Poll(t.Context())
		require.NoError(t, err)
		recs = append(recs, more...)
	}
	require.NoError(t, rc.CommitRecords(t.Context(), recs, []*plugins.RecordMetadata{{Topic: "t", QueueID: 1, QueueOffset: 5}, nil,
		{Topic: "t", QueueID: 0, QueueOffset: 6}}))
	require.NoError(t, rc.CommitRecords(t.Context(), recs[:1], []*plugins.RecordMetadata{nil}), "a record told twice is told once")
	require.NoError(t, task.Stop(t.Context()))
	require.Equal(t, []string{`env ""`, "commit 1 t/1@5", "commit 2 dropped", "commit 3 t/0@6"}, lines(t, out))
}
