package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// listeningSink is a PreCommit and QueueListener task that records its Open and Close
// calls, what each PreCommit was given, and the assignment Open saw.
type listeningSink struct {
	plainSink
	lmu       sync.Mutex
	events    []string
	opened    [][]plugins.Queue
	assigned  [][]plugins.Queue
	given     []map[plugins.Queue]int64
	tctx      plugins.SinkTaskContext
	seekAt    int64 // when ≥ 0, Open asks to read every queue it is given from here
	openErr   error
	closes    atomic.Int32
	putDuring atomic.Bool // a Put ran between a Close and the next Open
	closed    atomic.Bool
}

func (s *listeningSink) Start(ctx context.Context, tctx plugins.SinkTaskContext, cfg map[string]string) error {
	s.tctx = tctx
	return s.plainSink.Start(ctx, tctx, cfg)
}

func (s *listeningSink) Open(_ context.Context, qs []plugins.Queue) error {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.events = append(s.events, fmt.Sprintf("open %d", len(qs)))
	s.opened = append(s.opened, slices.Clone(qs))
	s.assigned = append(s.assigned, s.tctx.Assignment())
	s.closed.Store(false)
	if s.openErr != nil {
		return s.openErr
	}
	if s.seekAt >= 0 {
		seeks := map[plugins.Queue]int64{}
		for _, q := range qs {
			seeks[q] = s.seekAt
		}
		s.tctx.ResetOffsets(seeks)
	}
	return nil
}

func (s *listeningSink) Close(_ context.Context, qs []plugins.Queue) error {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.events = append(s.events, fmt.Sprintf("close %d", len(qs)))
	s.closes.Add(1)
	s.closed.Store(true)
	return nil
}

func (s *listeningSink) Put(ctx context.Context, recs []*schema.Record) error {
	if s.closed.Load() {
		s.putDuring.Store(true)
	}
	return s.plainSink.Put(ctx, recs)
}

func (s *listeningSink) PreCommit(_ context.Context, offs map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.given = append(s.given, offs)
	return offs, nil
}

func (s *listeningSink) log() (events []string, opened, assigned [][]plugins.Queue, given []map[plugins.Queue]int64) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	return slices.Clone(s.events), slices.Clone(s.opened), slices.Clone(s.assigned), slices.Clone(s.given)
}

// TestSinkQueuesOpenedAndClosed: a QueueListener task is told its queues (Open, with its
// Assignment already naming them) before any of their records, and Close once they are
// taken away — after the re-plan's last commit — and when it stops; after a re-plan that
// moved queues to another task, PreCommit is given only the queues the task still reads.
// The engine never called Open or Close, and PreCommit went on naming moved queues.
func TestSinkQueuesOpenedAndClosed(t *testing.T) {
	topic := rmqtest.Topic(t, 4)
	client := rmqtest.Client(t)
	ctx := context.Background()
	qs, err := client.TopicQueues(ctx, topic)
	require.NoError(t, err)
	require.Len(t, qs, 4)
	seekTopic, seekBroker = topic, qs[0].BrokerName
	send := func(from, to int) {
		p, err := client.NewProducer("listen", rmqclient.ProducerOptions{})
		require.NoError(t, err)
		defer p.Close()
		for i := from; i < to; i++ {
			_, err = p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint(i))})
			require.NoError(t, err)
		}
	}
	send(0, 40)
	task := &listeningSink{seekAt: -1}
	var tasks atomic.Int32
	tasks.Store(1)
	s := testSinkRunner(t, task, topic, rmqtest.Group(t), 0, 1)
	s.taskCount = func() int { return int(tasks.Load()) }
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.run(runCtx, 5*time.Second) }()

	all := planQueuesPlugins(qs, 0, 1)
	total := func() (n int) {
		for _, q := range all {
			n += len(task.offsets(q))
		}
		return n
	}
	require.Eventually(t, func() bool { return total() >= 40 }, time.Minute, 20*time.Millisecond)
	events, opened, assigned, _ := task.log()
	require.Equal(t, []string{"open 4"}, events)
	require.ElementsMatch(t, all, opened[0])
	require.ElementsMatch(t, all, assigned[0], "Assignment during Open names the queues opened")

	tasks.Store(2) // the connector's second task takes half the queues
	mine := planQueuesPlugins(qs, 0, 2)
	require.Eventually(t, func() bool {
		events, _, _, _ := task.log()
		return len(events) >= 3
	}, time.Minute, 50*time.Millisecond, "the re-plan closes and opens")
	events, opened, _, _ = task.log()
	require.Equal(t, []string{"open 4", "close 4", "open 2"}, events)
	require.ElementsMatch(t, mine, opened[1])
	_, _, _, before := task.log()
	send(40, 80)
	require.Eventually(t, func() bool {
		_, _, _, given := task.log()
		return len(given) > len(before)+2
	}, time.Minute, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.False(t, task.putDuring.Load(), "no Put between a Close and the next Open")

	events, _, _, given := task.log()
	require.Equal(t, []string{"open 4", "close 4", "open 2", "close 2"}, events, "Close when the task stops")
	for _, offs := range given[len(before):] {
		for q := range offs {
			require.Contains(t, mine, q, "PreCommit names only the queues the task reads")
		}
	}
}

// TestSinkSeekInOpenReadsOnce: a task that asks in Open to read its queues from an offset
// (as a sink keeping its offsets in its own store does) reads from there, and its seek does
// not end the session it was asked in: Open is called once, not again and again.
func TestSinkSeekInOpenReadsOnce(t *testing.T) {
	topic, _, q := oneQueueOfTen(t)
	task := &listeningSink{seekAt: 6}
	s := testSinkRunner(t, task, topic, rmqtest.Group(t), 0, 1)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(runCtx, 5*time.Second) }()
	pq := plugins.Queue{Topic: topic, BrokerName: q.BrokerName, QueueID: 0}
	require.Eventually(t, func() bool { return len(task.offsets(pq)) >= 4 }, time.Minute, 20*time.Millisecond)
	time.Sleep(2 * sinkCommitInterval)
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, []int64{6, 7, 8, 9}, task.offsets(pq), "read from the offset Open named, once")
	events, _, _, _ := task.log()
	require.Equal(t, []string{"open 1", "close 1"}, events)
}

// TestSinkOpenFailureFailsTheTask: a fatal error from Open fails the task with it, and no
// record is put.
func TestSinkOpenFailureFailsTheTask(t *testing.T) {
	topic, _, q := oneQueueOfTen(t)
	boom := errors.New("target table unreachable")
	task := &listeningSink{seekAt: -1, openErr: boom}
	s := testSinkRunner(t, task, topic, rmqtest.Group(t), 0, 1)
	done := make(chan error, 1)
	go func() { done <- s.run(context.Background(), 5*time.Second) }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, boom)
		require.ErrorContains(t, err, "open queues")
	case <-time.After(time.Minute):
		t.Fatal("the task did not fail")
	}
	require.Empty(t, task.offsets(plugins.Queue{Topic: topic, BrokerName: q.BrokerName, QueueID: 0}))
}
