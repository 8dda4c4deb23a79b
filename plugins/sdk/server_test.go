package sdk

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

func TestTuneProcs(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })

	t.Setenv("GOMAXPROCS", "3") // the environment's setting stays, whatever the plugin asks
	runtime.GOMAXPROCS(2)
	tuneProcs(0)
	require.Equal(t, 2, runtime.GOMAXPROCS(0))
	tuneProcs(4)
	require.Equal(t, 2, runtime.GOMAXPROCS(0))

	require.NoError(t, os.Unsetenv("GOMAXPROCS")) // t.Setenv restores it
	tuneProcs(0)
	require.Equal(t, 1, runtime.GOMAXPROCS(0), "one by default")
	tuneProcs(3)
	require.Equal(t, 3, runtime.GOMAXPROCS(0), "as the plugin asks")
	tuneProcs(-1)
	require.Equal(t, runtime.NumCPU(), runtime.GOMAXPROCS(0), "Go's default")
}

// recordingSink notes its calls and fails those named in fail.
type recordingSink struct {
	calls []string
	fail  map[string]error
	given map[plugins.Queue]int64
}

func (r *recordingSink) Start(context.Context, plugins.SinkTaskContext, map[string]string) error {
	return nil
}
func (r *recordingSink) Put(_ context.Context, recs []*schema.Record) error {
	r.calls = append(r.calls, "put "+recs[0].Value.(string))
	return r.fail["put"]
}
func (r *recordingSink) Flush(_ context.Context, o map[plugins.Queue]int64) error {
	r.calls, r.given = append(r.calls, "flush"), o
	return r.fail["flush"]
}
func (r *recordingSink) Stop(context.Context) error { return nil }

// preCommittingSink answers a PreCommit with one less than each offset it is given.
type preCommittingSink struct{ recordingSink }

func (p *preCommittingSink) PreCommit(_ context.Context, o map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	p.calls, p.given = append(p.calls, "pre-commit"), o
	out := map[plugins.Queue]int64{}
	for q, off := range o {
		out[q] = off - 1
	}
	return out, p.fail["flush"]
}

// TestPutFlush: PutFlush is a Put and, only if it succeeded, the task's Flush (its PreCommit,
// for a PreCommitter) with the offsets given; each error comes back in its own field.
func TestPutFlush(t *testing.T) {
	q := plugins.Queue{Topic: "t", BrokerName: "b", QueueID: 1}
	offsets := map[plugins.Queue]int64{q: 8}
	boom := plugins.Retriable(errors.New("boom"))
	for _, tc := range []struct {
		name      string
		preCommit bool
		fail      string
		calls     []string
		putErr    bool
		flushErr  bool
		durable   map[plugins.Queue]int64
	}{
		{name: "flush", calls: []string{"put v", "flush"}},
		{name: "failed put", fail: "put", calls: []string{"put v"}, putErr: true},
		{name: "failed flush", fail: "flush", calls: []string{"put v", "flush"}, flushErr: true},
		{name: "pre-commit", preCommit: true, calls: []string{"put v", "pre-commit"}, durable: map[plugins.Queue]int64{q: 7}},
		{name: "failed pre-commit", preCommit: true, fail: "flush", calls: []string{"put v", "pre-commit"}, flushErr: true,
			durable: map[plugins.Queue]int64{q: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recordingSink{fail: map[string]error{tc.fail: boom}}
			var task plugins.SinkTask = rec
			if tc.preCommit {
				pc := &preCommittingSink{recordingSink{fail: rec.fail}}
				task, rec = pc, &pc.recordingSink
			}
			s := &server{sink: task}
			batch, err := wire.EncodeBatch([]*schema.Record{schema.NewRecord("t", nil, nil, schema.StringSchema, "v")})
			require.NoError(t, err)
			rep, err := s.PutFlush(context.Background(), &pb.PutFlushRequest{Batch: batch, Offsets: wire.OffsetsMsg(offsets)})
			require.NoError(t, err)
			require.Equal(t, tc.calls, rec.calls)
			putErr, flushErr := wire.DecodeError(rep.PutError), wire.DecodeError(rep.FlushError)
			require.Equal(t, tc.putErr, putErr != nil, "put error %v", putErr)
			require.Equal(t, tc.flushErr, flushErr != nil, "flush error %v", flushErr)
			if tc.putErr || tc.flushErr {
				require.True(t, plugins.IsRetriable(errors.Join(putErr, flushErr)), "the error keeps its kind")
			}
			if !tc.putErr {
				require.Equal(t, offsets, rec.given)
			}
			if tc.durable != nil {
				require.Equal(t, tc.durable, wire.FromOffsetsMsg(rep.Offsets))
			}
		})
	}
}

// TestDescribeSaysPutFlush: a worker sends PutFlush, and opens the Puts stream, only to a plugin
// that says it serves them.
func TestDescribeSaysPutFlush(t *testing.T) {
	rep, err := (&server{}).Describe(context.Background(), &pb.Empty{})
	require.NoError(t, err)
	require.True(t, rep.PutFlush)
	require.True(t, rep.PutStream)
}

// slowSource's Poll returns a moment after its context ends, as a read under way would.
type slowSource struct {
	polling, overlapped atomic.Bool
	polls, stops        atomic.Int32
}

func (s *slowSource) Start(context.Context, plugins.SourceTaskContext, map[string]string) error {
	return nil
}
func (s *slowSource) Poll(ctx context.Context) ([]*schema.Record, error) {
	s.polls.Add(1)
	s.polling.Store(true)
	defer s.polling.Store(false)
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond)
	return nil, ctx.Err()
}
func (s *slowSource) Commit(context.Context) error { return nil }
func (s *slowSource) Stop(context.Context) error {
	s.stops.Add(1)
	if s.polling.Load() {
		s.overlapped.Store(true)
	}
	return nil
}

// TestStopWaitsForTheCallsUnderWay: the worker cancels a source task's read-ahead Poll and
// sends Stop at once; the task's Stop runs after its Poll returned, as the SPI promises, and
// a Poll after Stop is refused without reaching the task.
func TestStopWaitsForTheCallsUnderWay(t *testing.T) {
	task := &slowSource{}
	s := &server{source: task}
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() {
		_, _ = s.Poll(ctx, &pb.PollRequest{})
		close(polled)
	}()
	require.Eventually(t, task.polling.Load, 5*time.Second, time.Millisecond)
	cancel()
	rep, err := s.SourceStop(context.Background(), &pb.StopRequest{})
	require.NoError(t, err)
	require.Nil(t, rep.Error)
	<-polled
	require.False(t, task.overlapped.Load(), "the task's Stop ran while its Poll was running")
	require.EqualValues(t, 1, task.stops.Load())

	late, err := s.Poll(context.Background(), &pb.PollRequest{})
	require.NoError(t, err)
	require.ErrorContains(t, wire.DecodeError(late.Error), "stopped")
	require.EqualValues(t, 1, task.polls.Load(), "the Poll after Stop reached the task")
}

// leakySource's Poll returns a record together with an error.
type leakySource struct{ slowSource }

func (s *leakySource) Poll(context.Context) ([]*schema.Record, error) {
	return []*schema.Record{schema.NewRecord("t", nil, nil, schema.StringSchema, "lost")},
		plugins.Retriable(errors.New("read failed"))
}

// TestPollRecordsWithAnErrorWarnedOnce: records a task's Poll returns together with an error
// are dropped (the error is what crosses), and the plugin's log says so once, not at every
// Poll.
func TestPollRecordsWithAnErrorWarnedOnce(t *testing.T) {
	var logged bytes.Buffer
	s := &server{source: &leakySource{}, log: slog.New(slog.NewTextHandler(&logged, nil))}
	for range 3 {
		rep, err := s.Poll(t.Context(), &pb.PollRequest{})
		require.NoError(t, err)
		require.Nil(t, rep.Batch, "no record crosses with the error")
		require.ErrorContains(t, wire.DecodeError(rep.Error), "read failed")
	}
	require.Equal(t, 1, strings.Count(logged.String(), "level=WARN"), "logged: %s", logged.String())
	require.Contains(t, logged.String(), "they are dropped")
	require.Contains(t, logged.String(), "records=1")
}

// gappySource returns a batch with nil entries, as a task that leaves the slots of rows it
// skipped empty does.
type gappySource struct {
	slowSource
	committed []string
}

func (s *gappySource) Poll(context.Context) ([]*schema.Record, error) {
	r := func(v string) *schema.Record {
		rec := schema.NewRecord("t", nil, nil, schema.StringSchema, v)
		rec.SourcePartition, rec.SourceOffset = map[string]any{"p": "a"}, map[string]any{"v": v}
		return rec
	}
	return []*schema.Record{nil, r("one"), nil, r("two")}, nil
}

func (s *gappySource) CommitRecord(_ context.Context, r *schema.Record, _ *plugins.RecordMetadata) error {
	s.committed = append(s.committed, r.Value.(string))
	return nil
}

// TestPollSkipsNilRecords: the nil entries of a Poll's batch are skipped, as the engine skips
// those of a built-in task (encoding them panicked outside the task's code, which ended the
// plugin process); the records around them cross, and CommitRecord reaches each by its
// sequence number.
func TestPollSkipsNilRecords(t *testing.T) {
	task := &gappySource{}
	s := &server{source: task, committer: task, inFlight: map[uint64]*schema.Record{}}
	rep, err := s.Poll(t.Context(), &pb.PollRequest{})
	require.NoError(t, err)
	require.NoError(t, wire.DecodeError(rep.Error))
	recs, err := wire.DecodeBatch(rep.Batch)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, "one", recs[0].Value)
	require.Equal(t, "two", recs[1].Value)
	cr, err := s.CommitRecords(t.Context(), &pb.CommitRecordsRequest{Seqs: []uint64{rep.FirstSeq + 1, rep.FirstSeq},
		Metadata: []*pb.RecordMetadata{{}, {}}})
	require.NoError(t, err)
	require.NoError(t, wire.DecodeError(cr.Error))
	require.Equal(t, []string{"two", "one"}, task.committed)
}

// schemalessStructSource returns a struct value without a schema, which the encoder cannot walk.
type schemalessStructSource struct{ slowSource }

func (s *schemalessStructSource) Poll(context.Context) ([]*schema.Record, error) {
	return []*schema.Record{schema.NewRecord("t", nil, nil, nil, schema.NewStruct(nil))}, nil
}

// TestPollEncodingPanicFailsTheTask: a batch the encoder panics on fails the task with the
// panic, as the engine's converters do for a built-in task, instead of ending the process.
func TestPollEncodingPanicFailsTheTask(t *testing.T) {
	s := &server{source: &schemalessStructSource{}}
	rep, err := s.Poll(t.Context(), &pb.PollRequest{})
	require.NoError(t, err)
	perr := wire.DecodeError(rep.Error)
	require.ErrorContains(t, perr, "plugin panicked")
	require.False(t, plugins.IsRetriable(perr))
}
