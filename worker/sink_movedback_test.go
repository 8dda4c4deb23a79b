package worker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// confirmingSink is a gcSink with PreCommit: it confirms what it is given, but nothing at or
// past hold (-1: no bound), and keeps what it was given.
type confirmingSink struct {
	gcSink
	mu    sync.Mutex
	hold  int64
	given []map[plugins.Queue]int64
}

func (s *confirmingSink) PreCommit(_ context.Context, offs map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.given = append(s.given, offs)
	out := map[plugins.Queue]int64{}
	for q, o := range offs {
		if s.hold >= 0 && o > s.hold {
			o = s.hold
		}
		out[q] = o
	}
	return out, nil
}

// TestPreCommitAfterQueueMovedBack: once a queue restarted lower (its topic made again), a task
// with PreCommit is told the offsets of the new queue's records, and only what it confirms of
// them may be stored. It was told the old queue's offset (110) for records 0..39 and the cap
// stayed at its old confirmation, so records it held unwritten could be committed.
func TestPreCommitAfterQueueMovedBack(t *testing.T) {
	task := &confirmingSink{hold: -1}
	s := unitSinkRunner(t, task, 64)
	q := gcQueue(0)
	pq := toPluginQueue(q)
	p := newQueueProgress(q, 100, true)
	in := make(chan sinkBatch, 2)
	runProcessors(t, s, in, 1)
	b := gcBatch(p, 100, 110)
	b.epoch = p.dispatched(100, time.Now(), 110, time.Now())
	in <- b
	require.Eventually(t, func() bool { return durable(p) == 110 }, 30*time.Second, 5*time.Millisecond)
	c, ok := s.commitCap(pq)
	require.True(t, ok)
	require.EqualValues(t, 110, c)

	task.mu.Lock()
	task.hold = 0 // from now on it writes asynchronously: nothing new is durable in the task
	task.mu.Unlock()
	require.EqualValues(t, 0, s.readOnFrom(p, 110, rmqclient.Pulled{Moved: true, Next: 40, MinOffset: 0, MaxOffset: 40}))
	b = gcBatch(p, 0, 40)
	b.epoch = p.dispatched(0, time.Now(), 40, time.Now())
	in <- b
	require.Eventually(t, func() bool { return durable(p) == 40 }, 30*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		task.mu.Lock()
		defer task.mu.Unlock()
		return len(task.given) > 0 && task.given[len(task.given)-1][pq] == 40
	}, 30*time.Second, 5*time.Millisecond, "PreCommit is told the offset after the new queue's records")
	off, _ := p.toCommit()
	c, _ = s.commitCap(pq)
	require.EqualValues(t, 0, min(off, c), "nothing of the new queue was confirmed")
}

// TestPreCommitAfterQueueMovedBackBatchInFlight: a batch of the old queue put after the queue
// restarted lower does not raise what PreCommit is told past where the queue restarted.
func TestPreCommitAfterQueueMovedBackBatchInFlight(t *testing.T) {
	task := &confirmingSink{hold: -1}
	s := unitSinkRunner(t, task, 64)
	q := gcQueue(0)
	pq := toPluginQueue(q)
	p := newQueueProgress(q, 100, true)
	old := gcBatch(p, 100, 110)
	old.epoch = p.dispatched(100, time.Now(), 110, time.Now())
	require.EqualValues(t, 0, s.readOnFrom(p, 110, rmqclient.Pulled{Moved: true, Next: 40, MinOffset: 0, MaxOffset: 40}))
	in := make(chan sinkBatch, 2)
	runProcessors(t, s, in, 1)
	in <- old
	b := gcBatch(p, 0, 40)
	b.epoch = p.dispatched(0, time.Now(), 40, time.Now())
	in <- b
	require.Eventually(t, func() bool { return durable(p) == 40 }, 30*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		task.mu.Lock()
		defer task.mu.Unlock()
		return len(task.given) > 0 && task.given[len(task.given)-1][pq] == 40
	}, 30*time.Second, 5*time.Millisecond, "PreCommit is told the offset after the new queue's records, not the old batch's end")
	c, ok := s.commitCap(pq)
	require.True(t, ok)
	require.EqualValues(t, 40, c)
}

// TestOverlappingBatchesAcrossARestart: an old batch [0,10) and, after the queue restarted at 0,
// a new one [0,5) processed together: each message counts with its own batch, so what the task
// is told covers the new records (matched by offset range, the new ones were taken as the old
// batch's and cut at the restart, and the task was told nothing of the queue).
func TestOverlappingBatchesAcrossARestart(t *testing.T) {
	task := &confirmingSink{hold: -1}
	s := unitSinkRunner(t, task, 64)
	q := gcQueue(0)
	pq := toPluginQueue(q)
	p := newQueueProgress(q, 0, true)
	a := gcBatch(p, 0, 10)
	a.epoch = p.dispatched(0, time.Now(), 10, time.Now())
	require.EqualValues(t, 0, s.readOnFrom(p, 10, rmqclient.Pulled{Moved: true, Next: 5, MinOffset: 0, MaxOffset: 5}))
	b := gcBatch(p, 0, 5)
	b.epoch = p.dispatched(0, time.Now(), 5, time.Now())
	in := make(chan sinkBatch, 2)
	in <- a
	in <- b
	runProcessors(t, s, in, 1)
	require.Eventually(t, func() bool { return durable(p) == 5 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.offsets[pq] == 5
	}, 10*time.Second, 5*time.Millisecond, "the task was put records 0..4 of the new queue")
}

// slowConfirmingSink is a gcSink whose PreCommit waits for release before answering; it
// confirms what it is given the first time, and nothing after (its later records are written
// asynchronously).
type slowConfirmingSink struct {
	gcSink
	started chan struct{}
	release chan struct{}
	mu      sync.Mutex
	given   []map[plugins.Queue]int64
}

func (s *slowConfirmingSink) PreCommit(_ context.Context, offs map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	select {
	case s.started <- struct{}{}:
	default:
	}
	<-s.release
	s.mu.Lock()
	defer s.mu.Unlock()
	s.given = append(s.given, offs)
	out := map[plugins.Queue]int64{}
	for q, o := range offs {
		if len(s.given) > 1 {
			o = 0
		}
		out[q] = o
	}
	return out, nil
}

// TestPreCommitInFlightAcrossARestart: a PreCommit given the old queue's offset (110) that
// answers after the queue restarted lower confirms nothing of the new queue (its answer raised
// the confirmation back to 110, above new records the task never confirmed).
func TestPreCommitInFlightAcrossARestart(t *testing.T) {
	task := &slowConfirmingSink{started: make(chan struct{}, 1), release: make(chan struct{})}
	s := unitSinkRunner(t, task, 64)
	q := gcQueue(0)
	pq := toPluginQueue(q)
	p := newQueueProgress(q, 100, true)
	in := make(chan sinkBatch, 2)
	runProcessors(t, s, in, 1)
	b := gcBatch(p, 100, 110)
	b.epoch = p.dispatched(100, time.Now(), 110, time.Now())
	in <- b
	<-task.started // PreCommit({q: 110}) in flight
	require.EqualValues(t, 0, s.readOnFrom(p, 110, rmqclient.Pulled{Moved: true, Next: 40, MinOffset: 0, MaxOffset: 40}))
	close(task.release)
	b = gcBatch(p, 0, 40)
	b.epoch = p.dispatched(0, time.Now(), 40, time.Now())
	in <- b
	require.Eventually(t, func() bool { return durable(p) == 40 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		task.mu.Lock()
		defer task.mu.Unlock()
		return len(task.given) > 1 && task.given[len(task.given)-1][pq] == 40
	}, 10*time.Second, 5*time.Millisecond)
	off, _ := p.toCommit()
	c, _ := s.commitCap(pq)
	require.EqualValues(t, 0, min(off, c), "nothing of the new queue was confirmed (cap %d)", c)
}
