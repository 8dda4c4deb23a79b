package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// The sink's batching and group commit, driven without a broker: batches are put straight
// into the channel the pullers feed.

// gcSink records every Put (the queue and offset of each record) and every Flush; a Flush
// waits for a token on hold when hold is set. It allows Flush during Put when concurrent.
type gcSink struct {
	concurrent bool
	hold       chan struct{}
	started    chan struct{} // a value each time a Flush starts

	mu       sync.Mutex
	puts     [][]string
	flushes  []map[plugins.Queue]int64
	putting  bool
	flushing bool
	overlap  bool // a Put and a Flush ran at once
}

func (s *gcSink) ConcurrentFlush() bool { return s.concurrent }

func (s *gcSink) Start(context.Context, plugins.SinkTaskContext, map[string]string) error { return nil }

func (s *gcSink) Put(_ context.Context, recs []*schema.Record) error {
	s.mu.Lock()
	s.putting = true
	s.overlap = s.overlap || s.flushing
	var ids []string
	for _, r := range recs {
		ids = append(ids, fmt.Sprintf("q%d@%d", r.QueueID, r.QueueOffset))
	}
	s.puts = append(s.puts, ids)
	s.putting = false
	s.mu.Unlock()
	return nil
}

func (s *gcSink) Flush(ctx context.Context, offs map[plugins.Queue]int64) error {
	s.mu.Lock()
	s.flushing = true
	s.overlap = s.overlap || s.putting
	s.flushes = append(s.flushes, offs)
	s.mu.Unlock()
	if s.started != nil {
		s.started <- struct{}{}
	}
	defer func() {
		s.mu.Lock()
		s.flushing = false
		s.mu.Unlock()
	}()
	if s.hold != nil {
		select {
		case <-s.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (s *gcSink) Stop(context.Context) error { return nil }

func (s *gcSink) state() (puts [][]string, flushes []map[plugins.Queue]int64, overlap bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.puts...), append([]map[plugins.Queue]int64(nil), s.flushes...), s.overlap
}

func (s *gcSink) records() int {
	puts, _, _ := s.state()
	n := 0
	for _, p := range puts {
		n += len(p)
	}
	return n
}

// unitSinkRunner is a sink runner with no broker: the test feeds its batches.
func unitSinkRunner(t *testing.T, task plugins.SinkTask, batchSize int) *sinkRunner {
	t.Helper()
	counters := &taskCounters{}
	s := &sinkRunner{
		id: restapi.TaskID{Connector: "gc", Task: 0}, cfg: map[string]string{}, task: task, conv: testConverters(t),
		errs: &errorReporter{connector: "gc", log: quiet(), metrics: counters}, policy: errorPolicy{retryDelayMax: time.Second},
		log: quiet(), counters: counters, batchSize: batchSize, hist: newWorkerMetrics(), labels: []string{"w", "gc", "0"},
	}
	s.init(context.Background())
	return s
}

func gcQueue(id int) rmqclient.Queue {
	return rmqclient.Queue{Topic: "t", BrokerName: "b", QueueID: id}
}

// gcBatch is a pull of the records [start, end) of p's queue.
func gcBatch(p *queueProgress, start, end int64) sinkBatch {
	b := sinkBatch{progress: p, start: start, end: end}
	for o := start; o < end; o++ {
		b.msgs = append(b.msgs, &rmqclient.ReceivedMessage{Queue: p.q, Offset: o, Body: []byte(fmt.Sprint(o)),
			Properties: map[string]string{}})
	}
	return b
}

func durable(p *queueProgress) int64 {
	off, _ := p.toCommit()
	return off
}

// runProcessors runs n batch processors on in until the test ends.
func runProcessors(t *testing.T, s *sinkRunner, in chan sinkBatch, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	work, stopWork := context.WithCancel(context.Background())
	s.work = work
	var g errgroup.Group
	for range n {
		g.Go(func() error { return s.processBatches(ctx, in) })
	}
	t.Cleanup(func() {
		cancel()
		stopWork()          // ends a Flush still held
		s.fail(errStopping) // wakes a processor still waiting for a flush
		err := g.Wait()
		if !errors.Is(err, errStopping) && !errors.Is(err, context.Canceled) {
			require.NoError(t, err)
		}
	})
}

// TestSinkMergesWaitingPullsIntoOnePut: pulls already waiting when a processor takes one,
// from several queues, go to the task as one Put (each queue's records in order) followed by
// one Flush, instead of a Put and a Flush per pull of at most 32 records.
func TestSinkMergesWaitingPullsIntoOnePut(t *testing.T) {
	task := &gcSink{}
	s := unitSinkRunner(t, task, 32)
	p0, p1 := newQueueProgress(gcQueue(0), 0, true), newQueueProgress(gcQueue(1), 0, true)
	in := make(chan sinkBatch, 3)
	in <- gcBatch(p0, 0, 2)
	in <- gcBatch(p1, 0, 2)
	in <- gcBatch(p0, 2, 4)
	runProcessors(t, s, in, 1)
	require.Eventually(t, func() bool { return durable(p0) == 4 && durable(p1) == 2 }, 30*time.Second, 5*time.Millisecond)
	puts, flushes, _ := task.state()
	require.Equal(t, [][]string{{"q0@0", "q0@1", "q1@0", "q1@1", "q0@2", "q0@3"}}, puts, "one Put for the three waiting pulls")
	require.Len(t, flushes, 1)
	require.Equal(t, map[plugins.Queue]int64{toPluginQueue(gcQueue(0)): 4, toPluginQueue(gcQueue(1)): 2}, flushes[0])
}

// TestSinkMergeKeepsBatchSize: a merged Put never holds more than consumer.batch.size
// records; the pull that does not fit goes into the next Put, in order.
func TestSinkMergeKeepsBatchSize(t *testing.T) {
	task := &gcSink{}
	s := unitSinkRunner(t, task, 5)
	p0 := newQueueProgress(gcQueue(0), 0, true)
	in := make(chan sinkBatch, 3)
	in <- gcBatch(p0, 0, 2)
	in <- gcBatch(p0, 2, 4)
	in <- gcBatch(p0, 4, 6)
	runProcessors(t, s, in, 1)
	require.Eventually(t, func() bool { return durable(p0) == 6 }, 30*time.Second, 5*time.Millisecond)
	puts, _, _ := task.state()
	require.Equal(t, [][]string{{"q0@0", "q0@1", "q0@2", "q0@3"}, {"q0@4", "q0@5"}}, puts)
}

// TestSinkPutsWhileFlushRuns: a task that allows it gets Puts while a slow Flush runs, and
// the offsets stored move only over records a completed Flush covered: the Flush running
// covers the first pull only (the offsets it was given), the second waits for the next.
func TestSinkPutsWhileFlushRuns(t *testing.T) {
	task := &gcSink{concurrent: true, hold: make(chan struct{}), started: make(chan struct{}, 8)}
	s := unitSinkRunner(t, task, 32)
	p0 := newQueueProgress(gcQueue(0), 0, true)
	in := make(chan sinkBatch)
	runProcessors(t, s, in, 2)
	in <- gcBatch(p0, 0, 2)
	select {
	case <-task.started:
	case <-time.After(30 * time.Second):
		t.Fatal("no Flush after the first Put")
	}
	in <- gcBatch(p0, 2, 4)
	require.Eventually(t, func() bool { return task.records() == 4 }, 30*time.Second, 5*time.Millisecond,
		"the second pull is put while the first Flush runs")
	_, _, overlap := task.state()
	require.True(t, overlap)
	require.Equal(t, int64(0), durable(p0), "nothing is durable before a Flush returned")
	task.hold <- struct{}{}
	require.Eventually(t, func() bool { return durable(p0) == 2 }, 30*time.Second, 5*time.Millisecond)
	select {
	case <-task.started:
	case <-time.After(30 * time.Second):
		t.Fatal("no Flush for the second Put")
	}
	require.Equal(t, int64(2), durable(p0), "the second pull waits for the Flush that covers it")
	task.hold <- struct{}{}
	require.Eventually(t, func() bool { return durable(p0) == 4 }, 30*time.Second, 5*time.Millisecond)
	_, flushes, _ := task.state()
	q := toPluginQueue(gcQueue(0))
	require.Equal(t, []map[plugins.Queue]int64{{q: 2}, {q: 4}}, flushes, "each Flush is given what was put before it")
}

// TestSinkFlushExcludesPutWithoutConsent: a task that does not allow a Flush during a Put
// never sees the two overlap: a pull arriving during a slow Flush waits for it, and the
// next Put carries what gathered meanwhile.
func TestSinkFlushExcludesPutWithoutConsent(t *testing.T) {
	task := &gcSink{hold: make(chan struct{}), started: make(chan struct{}, 8)}
	s := unitSinkRunner(t, task, 32)
	p0, p1 := newQueueProgress(gcQueue(0), 0, true), newQueueProgress(gcQueue(1), 0, true)
	in := make(chan sinkBatch)
	runProcessors(t, s, in, 3)
	in <- gcBatch(p0, 0, 2)
	<-task.started
	in <- gcBatch(p0, 2, 4)
	in <- gcBatch(p1, 0, 2)
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.toPut) == 2 && !s.putting
	}, 30*time.Second, 5*time.Millisecond, "both pulls wait for the Flush")
	close(task.hold)
	require.Eventually(t, func() bool { return durable(p0) == 4 && durable(p1) == 2 }, 30*time.Second, 5*time.Millisecond)
	puts, _, overlap := task.state()
	require.False(t, overlap)
	require.Len(t, puts, 2, "the pulls that waited share one Put")
}

// TestSinkDefersFlushForConcurrentFlusher: many small Puts to a task whose Flush may run
// during a Put (an out-of-process plugin: each Flush is a round trip) are flushed once
// consumer.batch.size records wait, not after every Put; the offsets move only over
// flushed records.
func TestSinkDefersFlushForConcurrentFlusher(t *testing.T) {
	task := &gcSink{concurrent: true}
	s := unitSinkRunner(t, task, 64)
	s.flushAfter = time.Hour // only the batch size makes a Flush due here
	p0 := newQueueProgress(gcQueue(0), 0, true)
	in := make(chan sinkBatch)
	runProcessors(t, s, in, 1)
	for o := int64(0); o < 256; o += 2 {
		in <- gcBatch(p0, o, o+2)
	}
	require.Eventually(t, func() bool { return task.records() == 256 }, 30*time.Second, 5*time.Millisecond)
	q := toPluginQueue(gcQueue(0))
	require.Eventually(t, func() bool {
		_, flushes, _ := task.state()
		return len(flushes) > 0 && durable(p0) == flushes[len(flushes)-1][q]
	}, 30*time.Second, 5*time.Millisecond)
	puts, flushes, _ := task.state()
	require.Greater(t, len(puts), 16, "the pulls were put in small Puts")
	require.LessOrEqual(t, len(flushes), 4, "a Flush once 64 records wait, not one per Put (%d Puts)", len(puts))
	prev := int64(0)
	for _, f := range flushes {
		require.GreaterOrEqual(t, f[q]-prev, int64(64), "each Flush covers a batch's worth: %v", flushes)
		prev = f[q]
	}
	require.Equal(t, prev, durable(p0), "the records put after the last Flush are not committed")
}

// TestSinkDeferredFlushBounded: records put to a ConcurrentFlusher and fewer than
// consumer.batch.size are flushed by the timer without more records, and by flushRest when
// the session ends first.
func TestSinkDeferredFlushBounded(t *testing.T) {
	task := &gcSink{concurrent: true}
	s := unitSinkRunner(t, task, 64)
	s.flushAfter = time.Millisecond
	p0 := newQueueProgress(gcQueue(0), 0, true)
	in := make(chan sinkBatch)
	runProcessors(t, s, in, 1)
	in <- gcBatch(p0, 0, 2)
	require.Eventually(t, func() bool { return durable(p0) == 2 }, 30*time.Second, 5*time.Millisecond,
		"the timer flushes a small tail")

	task2 := &gcSink{concurrent: true}
	s2 := unitSinkRunner(t, task2, 64)
	s2.flushAfter = time.Hour
	p1 := newQueueProgress(gcQueue(1), 0, true)
	in2 := make(chan sinkBatch)
	runProcessors(t, s2, in2, 1)
	in2 <- gcBatch(p1, 0, 2)
	require.Eventually(t, func() bool { return task2.records() == 2 }, 30*time.Second, 5*time.Millisecond)
	require.Equal(t, int64(0), durable(p1), "put, not flushed yet")
	s2.flushRest(s2.work)
	require.Equal(t, int64(2), durable(p1), "the session's end flushes what was put")
	_, flushes, _ := task2.state()
	require.Len(t, flushes, 1)
}

// TestSinkGathersConcurrentFlusherPut: the records of a ConcurrentFlusher's Put gather while
// other processors hand pulls over, and the Put is made once consumer.batch.size records wait
// (here long before putGather ends): one Put instead of one per pull.
func TestSinkGathersConcurrentFlusherPut(t *testing.T) {
	task := &gcSink{concurrent: true}
	s := unitSinkRunner(t, task, 8)
	s.putGather, s.processors = time.Hour, 3
	p0 := newQueueProgress(gcQueue(0), 0, true)
	in := make(chan sinkBatch)
	runProcessors(t, s, in, 3)
	for o := int64(0); o < 8; o += 2 {
		in <- gcBatch(p0, o, o+2)
	}
	require.Eventually(t, func() bool { return task.records() == 8 }, 30*time.Second, 5*time.Millisecond)
	puts, _, _ := task.state()
	require.Len(t, puts, 1, "the pulls handed over while the Put gathered share it")
	// Processors of a sink that is not ordered hand pulls over in any order.
	require.ElementsMatch(t, []string{"q0@0", "q0@1", "q0@2", "q0@3", "q0@4", "q0@5", "q0@6", "q0@7"}, puts[0])
}

// TestSinkGatherEndsWithTheTask: a Put still gathering its records when the task stops is not
// made, and nothing of its records is committed; a single processor gathers nothing.
func TestSinkGatherEndsWithTheTask(t *testing.T) {
	task := &gcSink{concurrent: true}
	s := unitSinkRunner(t, task, 8)
	s.putGather, s.processors = time.Hour, 3
	p0 := newQueueProgress(gcQueue(0), 0, true)
	in := make(chan sinkBatch)
	work, stop := context.WithCancel(context.Background())
	s.work = work // the task's work context: the task stops
	done := make(chan error, 1)
	go func() { done <- s.processBatches(context.Background(), in) }()
	in <- gcBatch(p0, 0, 2)
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.gathering
	}, 30*time.Second, time.Millisecond)
	stop()
	select {
	case err := <-done:
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the gathering Put did not end with the task")
	}
	require.Zero(t, task.records(), "a Put still gathering is not made")
	require.Equal(t, int64(0), durable(p0))

	task2 := &gcSink{concurrent: true}
	s2 := unitSinkRunner(t, task2, 8)
	s2.putGather, s2.processors = time.Hour, 1
	in2 := make(chan sinkBatch)
	runProcessors(t, s2, in2, 1)
	in2 <- gcBatch(newQueueProgress(gcQueue(1), 0, true), 0, 2)
	require.Eventually(t, func() bool { return task2.records() == 2 }, 30*time.Second, 5*time.Millisecond,
		"with one processor nothing could join: the Put is made at once")
}
