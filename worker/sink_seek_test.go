package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// unconfirmedSeekSink seeks in Start and confirms nothing in PreCommit (it writes
// asynchronously and nothing is durable yet).
type unconfirmedSeekSink struct{ seekSink }

func (s *unconfirmedSeekSink) PreCommit(context.Context, map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	return map[plugins.Queue]int64{}, nil
}

// unconfirmedSink is an unconfirmedSeekSink that names no offset in Start.
type unconfirmedSink struct{ unconfirmedSeekSink }

func (s *unconfirmedSink) Start(context.Context, plugins.SinkTaskContext, map[string]string) error {
	s.mu.Lock()
	s.got = map[plugins.Queue][]int64{}
	s.mu.Unlock()
	return nil
}

// TestPreCommitSinkSeekOnStartHolds: a PreCommit task that names its resume offset in Start
// (before its group's offset) reads from there, once, and the offset is stored as the
// group's before the task confirms anything, so a restart resumes there too. The seek's
// signal ended the first session at once and the seek was forgotten unstored: the task read
// from the group's offset and records 4–8 were never delivered.
func TestPreCommitSinkSeekOnStartHolds(t *testing.T) {
	topic, client, q := oneQueueOfTen(t)
	ctx := context.Background()
	group := rmqtest.Group(t)
	require.NoError(t, client.SetGroupOffset(ctx, group, q, 9))
	task := &unconfirmedSeekSink{seekSink{at: 4}}
	s := testSinkRunner(t, task, topic, group, 0, 1)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.run(runCtx, 5*time.Second) }()
	pq := plugins.Queue{Topic: topic, BrokerName: q.BrokerName, QueueID: 0}
	require.Eventually(t, func() bool {
		off, found, err := client.GroupOffset(ctx, group, q)
		return err == nil && found && off == 4 && len(task.offsets(pq)) >= 6
	}, time.Minute, 20*time.Millisecond, "read %v", task.offsets(pq))
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, []int64{4, 5, 6, 7, 8, 9}, task.offsets(pq), "read from the offset the task named, once")
}

// TestPreCommitSinkFromLastStoresItsStart: a new group reading from the queue's end, with a
// PreCommit task that confirmed nothing yet: the start is stored as the group's offset, so a
// restart delivers again what the task was given. Nothing was stored before: the restart read
// from the queue's end of that moment and skipped the records put but never confirmed.
func TestPreCommitSinkFromLastStoresItsStart(t *testing.T) {
	topic, client, q := oneQueueOfTen(t)
	ctx := context.Background()
	group := rmqtest.Group(t)
	task := &unconfirmedSink{}
	s := testSinkRunner(t, task, topic, group, 0, 1)
	s.from = rmqclient.FromLast
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.run(runCtx, 5*time.Second) }()
	require.Eventually(t, func() bool {
		off, found, err := client.GroupOffset(ctx, group, q)
		return err == nil && found && off == 10
	}, time.Minute, 20*time.Millisecond, "the session's start is stored")
	p, err := client.NewProducer("more", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	for i := 10; i < 15; i++ {
		_, err = p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	pq := plugins.Queue{Topic: topic, BrokerName: q.BrokerName, QueueID: 0}
	require.Eventually(t, func() bool { return len(task.offsets(pq)) == 5 }, time.Minute, 20*time.Millisecond)
	cancel() // the task stops (a failure, a rebalance, a crash) before it confirmed anything
	require.NoError(t, <-done)

	again := &plainSink{}
	s2 := testSinkRunner(t, again, topic, group, 0, 1)
	s2.from = rmqclient.FromLast
	runCtx2, cancel2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	go func() { done2 <- s2.run(runCtx2, 5*time.Second) }()
	require.Eventually(t, func() bool { return len(again.offsets(pq)) == 5 }, time.Minute, 20*time.Millisecond,
		"records put but never confirmed are delivered again")
	cancel2()
	require.NoError(t, <-done2)
	require.Equal(t, []int64{10, 11, 12, 13, 14}, again.offsets(pq))
}

// confirmToggle confirms every offset it is given until told to confirm nothing.
type confirmToggle struct {
	gcSink
	none bool
}

func (s *confirmToggle) PreCommit(_ context.Context, offs map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.none {
		return map[plugins.Queue]int64{}, nil
	}
	return offs, nil
}

// TestSeekBackForgetsConfirmations: after a task confirmed up to 10 and then seeks back to 2
// (its copy of 2–9 was lost), what it confirmed before no longer allows storing offsets past
// what it confirms since: the stale confirmation let the commit store 6 with nothing since
// the seek confirmed, losing 2–5 on a crash.
func TestSeekBackForgetsConfirmations(t *testing.T) {
	task := &confirmToggle{}
	s := unitSinkRunner(t, task, 32)
	q := gcQueue(0)
	p := newQueueProgress(q, 0, true)
	in := make(chan sinkBatch, 4)
	in <- gcBatch(p, 0, 10)
	runProcessors(t, s, in, 1)
	require.Eventually(t, func() bool { return durable(p) == 10 }, 10*time.Second, 5*time.Millisecond)
	limit, ok := s.commitCap(toPluginQueue(q))
	require.True(t, ok)
	require.Equal(t, int64(10), limit)

	task.mu.Lock()
	task.none = true
	task.mu.Unlock()
	sinkTaskContext{s}.ResetOffsets(map[plugins.Queue]int64{toPluginQueue(q): 2})
	p2, err := s.startProgress(context.Background(), nil, q)
	require.NoError(t, err)
	in <- gcBatch(p2, 2, 6)
	require.Eventually(t, func() bool { return durable(p2) == 6 }, 10*time.Second, 5*time.Millisecond)
	_, ok = s.commitCap(toPluginQueue(q))
	require.False(t, ok, "nothing was confirmed since the seek")
}
