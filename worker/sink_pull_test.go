package worker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestPlanQueues: every queue has exactly one reader among the tasks, the plan does not
// depend on the order the queues were listed in, and it spreads queues evenly.
func TestPlanQueues(t *testing.T) {
	var all []rmqclient.Queue
	for _, topic := range []string{"b", "a"} {
		for _, broker := range []string{"broker-2", "broker-1"} {
			for id := 3; id >= 0; id-- {
				all = append(all, rmqclient.Queue{Topic: topic, BrokerName: broker, QueueID: id})
			}
		}
	}
	for tasks := 1; tasks <= 20; tasks++ {
		seen := map[rmqclient.Queue]int{}
		reversed := append([]rmqclient.Queue(nil), all...)
		sort.Slice(reversed, func(i, j int) bool { return queueLess(reversed[j], reversed[i]) })
		for task := 0; task < tasks; task++ {
			mine := planQueues(all, task, tasks)
			require.Equal(t, mine, planQueues(reversed, task, tasks), "the plan ignores the listing order")
			require.InDelta(t, float64(len(all))/float64(tasks), float64(len(mine)), 1, "tasks=%d task=%d", tasks, task)
			for _, q := range mine {
				seen[q]++
			}
		}
		require.Len(t, seen, len(all), "tasks=%d: every queue is read", tasks)
		for q, n := range seen {
			require.Equal(t, 1, n, "tasks=%d: %v has one reader", tasks, q)
		}
	}
}

// TestQueueProgressCommitsOnlyContiguous: batches completing out of order (a concurrent
// sink) move the committable offset only over a contiguous run from the start.
func TestQueueProgressCommitsOnlyContiguous(t *testing.T) {
	p := newQueueProgress(rmqclient.Queue{Topic: "t"}, 100, true)
	st := time.Unix(1000, 0)
	for _, start := range []int64{100, 132, 164} {
		p.dispatched(start, st.Add(time.Duration(start)*time.Second), 300, st)
	}
	_, moved := p.toCommit()
	require.False(t, moved)
	p.completed(0, 132, 164)
	p.completed(0, 164, 196)
	off, moved := p.toCommit()
	require.False(t, moved, "the first batch is not durable yet")
	require.Equal(t, int64(100), off)
	records, secs := p.lag(st.Add(200 * time.Second))
	require.Equal(t, int64(200), records)
	require.Equal(t, float64(100), secs, "the age of the oldest record not durable (offset 100)")
	p.completed(0, 100, 132)
	off, moved = p.toCommit()
	require.True(t, moved)
	require.Equal(t, int64(196), off)
	p.stored(off)
	_, moved = p.toCommit()
	require.False(t, moved)
}

// seekSink asks, in Start, to resume every queue it is planned at from offset "seek.offset"
// (as a sink that keeps its offsets in its own store does), and collects what it is put.
type seekSink struct {
	at      int64
	mu      sync.Mutex
	got     map[plugins.Queue][]int64
	flushes []map[plugins.Queue]int64
}

func (s *seekSink) Start(_ context.Context, tctx plugins.SinkTaskContext, _ map[string]string) error {
	s.mu.Lock()
	s.got = map[plugins.Queue][]int64{}
	s.mu.Unlock()
	tctx.ResetOffsets(map[plugins.Queue]int64{{Topic: seekTopic, BrokerName: seekBroker, QueueID: 0}: s.at})
	return nil
}

var seekTopic, seekBroker string

func (s *seekSink) Put(_ context.Context, recs []*schema.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		q := plugins.Queue{Topic: r.Topic, BrokerName: seekBroker, QueueID: r.QueueID}
		s.got[q] = append(s.got[q], r.QueueOffset)
	}
	return nil
}

func (s *seekSink) Flush(_ context.Context, offs map[plugins.Queue]int64) error {
	s.mu.Lock()
	s.flushes = append(s.flushes, offs)
	s.mu.Unlock()
	return nil
}
func (s *seekSink) Stop(context.Context) error { return nil }

func (s *seekSink) offsets(q plugins.Queue) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.got[q]...)
}

func testSinkRunner(t *testing.T, task plugins.SinkTask, topic, group string, id, tasks int) *sinkRunner {
	counters := &taskCounters{}
	return &sinkRunner{
		id: restapi.TaskID{Connector: "pull", Task: id}, cfg: map[string]string{}, task: task, conv: testConverters(t),
		client: rmqtest.Client(t), errs: &errorReporter{connector: "pull", log: quiet(), metrics: counters},
		policy: errorPolicy{retryDelayMax: time.Second}, log: quiet(), counters: counters,
		group: group, topics: []string{topic}, from: rmqclient.FromFirst, batchSize: 32, goroutines: 4,
		taskCount: func() int { return tasks }, hist: newWorkerMetrics(), labels: []string{"w", "pull", fmt.Sprint(id)},
	}
}

// oneQueueOfTen makes a topic of one queue holding the ten records "0" … "9" and points the
// seekSink helpers at it.
func oneQueueOfTen(t *testing.T) (string, *rmqclient.Client, rmqclient.Queue) {
	t.Helper()
	topic := rmqtest.Topic(t, 1)
	client := rmqtest.Client(t)
	ctx := context.Background()
	qs, err := client.TopicQueues(ctx, topic)
	require.NoError(t, err)
	q := qs[0]
	seekTopic, seekBroker = topic, q.BrokerName
	p, err := client.NewProducer("ten", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	for i := 0; i < 10; i++ {
		_, err = p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	return topic, client, q
}

// TestSinkSeekOnStart: a task naming its resume offset in Start reads from there, not
// from the group's offset, and the runtime then stores its progress as the group's offset
// in the broker (where mqadmin consumerProgress looks).
func TestSinkSeekOnStart(t *testing.T) {
	topic, client, q := oneQueueOfTen(t)
	ctx := context.Background()
	group := rmqtest.Group(t)
	require.NoError(t, client.SetGroupOffset(ctx, group, q, 2), "the group's own offset, which the seek overrides")
	task := &seekSink{at: 7}
	s := testSinkRunner(t, task, topic, group, 0, 1)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.run(runCtx, 5*time.Second) }()
	pq := plugins.Queue{Topic: topic, BrokerName: q.BrokerName, QueueID: 0}
	require.Eventually(t, func() bool { return len(task.offsets(pq)) >= 3 }, time.Minute, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		off, found, err := client.GroupOffset(ctx, group, q)
		return err == nil && found && off == 10
	}, 30*time.Second, 50*time.Millisecond, "the durable offset is stored as the group's")
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, []int64{7, 8, 9}, task.offsets(pq), "read from the offset the task named")
}

// plainSink is a seekSink that names no offset in Start: the runtime decides where it reads.
type plainSink struct{ seekSink }

func (s *plainSink) Start(context.Context, plugins.SinkTaskContext, map[string]string) error {
	s.mu.Lock()
	s.got = map[plugins.Queue][]int64{}
	s.mu.Unlock()
	return nil
}

// TestSinkNewGroupFromLastOffset: a connector of a new group with consume.from.where
// CONSUME_FROM_LAST_OFFSET reads only what is written after it starts, also on a queue
// still holding its messages from offset 0 (which a broker reports as the offset of a group
// that never committed there unless asked not to).
func TestSinkNewGroupFromLastOffset(t *testing.T) {
	topic, _, q := oneQueueOfTen(t)
	ctx := context.Background()
	task := &plainSink{}
	s := testSinkRunner(t, task, topic, rmqtest.Group(t), 0, 1)
	s.from = rmqclient.FromLast
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.run(runCtx, 5*time.Second) }()
	require.Eventually(t, func() bool { return len(s.queueLags()) == 1 }, time.Minute, 20*time.Millisecond,
		"the task's queue planned and positioned")
	p, err := s.client.NewProducer("last", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	for i := 10; i < 13; i++ {
		_, err = p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	pq := plugins.Queue{Topic: topic, BrokerName: q.BrokerName, QueueID: 0}
	require.Eventually(t, func() bool { return len(task.offsets(pq)) >= 3 }, time.Minute, 20*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, []int64{10, 11, 12}, task.offsets(pq), "only what was written after the start")
}

// TestSinkTasksSplitQueues: two tasks of one connector read disjoint halves of a topic's
// queues (each planned by the runtime, not the client's rebalance) and together deliver
// every record once.
func TestSinkTasksSplitQueues(t *testing.T) {
	topic := rmqtest.Topic(t, 4)
	client := rmqtest.Client(t)
	ctx := context.Background()
	qs, err := client.TopicQueues(ctx, topic)
	require.NoError(t, err)
	require.Len(t, qs, 4)
	seekTopic, seekBroker = topic, qs[0].BrokerName
	p, err := client.NewProducer("split", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	const n = 200
	for i := 0; i < n; i++ {
		_, err = p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	group := rmqtest.Group(t)
	tasks := []*seekSink{{at: 0}, {at: 0}}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 2)
	runners := make([]*sinkRunner, 2)
	for i, task := range tasks {
		runners[i] = testSinkRunner(t, task, topic, group, i, 2)
		go func(s *sinkRunner) { done <- s.run(runCtx, 5*time.Second) }(runners[i])
	}
	total := func() (sum int) {
		for _, task := range tasks {
			for _, q := range qs {
				sum += len(task.offsets(plugins.Queue{Topic: q.Topic, BrokerName: q.BrokerName, QueueID: q.QueueID}))
			}
		}
		return sum
	}
	require.Eventually(t, func() bool { return total() >= n }, time.Minute, 20*time.Millisecond)
	for i, r := range runners {
		require.ElementsMatch(t, planQueuesPlugins(qs, i, 2), sinkTaskContext{r}.Assignment())
	}
	cancel()
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	require.Equal(t, n, total(), "each record was read once")
	for _, q := range qs {
		pq := plugins.Queue{Topic: q.Topic, BrokerName: q.BrokerName, QueueID: q.QueueID}
		readers := 0
		for _, task := range tasks {
			if len(task.offsets(pq)) > 0 {
				readers++
			}
		}
		require.Equal(t, 1, readers, "%v has one reader", q)
	}
}

func planQueuesPlugins(all []rmqclient.Queue, task, tasks int) []plugins.Queue {
	var out []plugins.Queue
	for _, q := range planQueues(all, task, tasks) {
		out = append(out, toPluginQueue(q))
	}
	return out
}

// TestSinkOffsetsAPISetsResumeOffsets: the offsets API of a stopped sink sets the group's
// offsets in the broker, and the resumed task reads from exactly there.
func TestSinkOffsetsAPISetsResumeOffsets(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	client := rmqtest.Client(t)
	p, err := client.NewProducer("offsets-api", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	var q rmqclient.Queue
	for i := 0; i < 20; i++ {
		res, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
		q = res.Queue
	}
	id := rmqtest.Name(t, "state")
	st := stateFor(id)
	_, err = env.h.CreateConnector(ctx, "snk", map[string]string{"connector.class": "mem-sink", "test.id": id,
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "consume.from.where": "CONSUME_FROM_FIRST_OFFSET"}, "")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(st.snapshot()) >= 20 }, time.Minute, 50*time.Millisecond)
	require.NoError(t, env.h.StopConnector(ctx, "snk"))
	waitState(t, env.h, "snk", restapi.StateStopped, 0)
	before := len(st.snapshot())
	require.NoError(t, env.h.AlterOffsets(ctx, "snk", []restapi.ConnectorOffset{{Partition: sinkPartition(q),
		Offset: map[string]any{"offset": float64(15)}}}))
	require.NoError(t, env.h.ResumeConnector(ctx, "snk"))
	require.Eventually(t, func() bool { return len(st.snapshot()) >= before+5 }, time.Minute, 50*time.Millisecond)
	var again []int64
	for _, r := range st.snapshot()[before:] {
		again = append(again, r.QueueOffset)
	}
	require.Equal(t, []int64{15, 16, 17, 18, 19}, again, "read again from the offset set, and only from there")
	require.Eventually(t, func() bool {
		offs, err := env.h.Offsets(ctx, "snk")
		return err == nil && len(offs.Offsets) == 1 && offs.Offsets[0].Offset["offset"] == int64(20)
	}, 30*time.Second, 100*time.Millisecond, "progress is stored as the group's offset")
}

// holdingSink writes asynchronously: PreCommit answers the offsets below which its records
// are durable, which lag what it was given until the test releases them.
type holdingSink struct {
	seekSink
	hmu     sync.Mutex
	limit   int64 // records at or past this offset are not durable yet; -1: all are
	answers int
}

func (s *holdingSink) PreCommit(_ context.Context, offs map[plugins.Queue]int64) (map[plugins.Queue]int64, error) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.answers++
	out := make(map[plugins.Queue]int64, len(offs))
	for q, o := range offs {
		if s.limit >= 0 && o > s.limit {
			o = s.limit
		}
		out[q] = o
	}
	return out, nil
}

func (s *holdingSink) release() {
	s.hmu.Lock()
	s.limit = -1
	s.hmu.Unlock()
}

// TestSinkCommitsOnlyWhatPreCommitConfirms: a task that writes asynchronously confirms, through
// PreCommit, less than it was given; the runtime stores no offset past what it confirmed (a
// crash would otherwise lose the records it still held), and asks again without new records,
// so the offset moves once the task has written them.
func TestSinkCommitsOnlyWhatPreCommitConfirms(t *testing.T) {
	topic, client, q := oneQueueOfTen(t)
	ctx := context.Background()
	group := rmqtest.Group(t)
	task := &holdingSink{seekSink: seekSink{at: 0}, limit: 4}
	s := testSinkRunner(t, task, topic, group, 0, 1)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.run(runCtx, 5*time.Second) }()
	pq := plugins.Queue{Topic: topic, BrokerName: q.BrokerName, QueueID: 0}
	require.Eventually(t, func() bool { return len(task.offsets(pq)) == 10 }, time.Minute, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		off, found, err := client.GroupOffset(ctx, group, q)
		return err == nil && found && off == 4
	}, 30*time.Second, 50*time.Millisecond, "the offset the task confirmed is stored")
	task.hmu.Lock()
	asked := task.answers
	task.hmu.Unlock()
	require.Eventually(t, func() bool {
		task.hmu.Lock()
		defer task.hmu.Unlock()
		return task.answers > asked+1
	}, 30*time.Second, 20*time.Millisecond, "PreCommit asked again while records are held")
	off, _, err := client.GroupOffset(ctx, group, q)
	require.NoError(t, err)
	require.Equal(t, int64(4), off, "nothing past the confirmed offset, however often it commits")
	task.release()
	require.Eventually(t, func() bool {
		off, found, err := client.GroupOffset(ctx, group, q)
		return err == nil && found && off == 10
	}, 30*time.Second, 50*time.Millisecond, "the rest is stored once the task confirms it")
	cancel()
	require.NoError(t, <-done)
}

// flushFailSink takes every Put and fails every Flush.
type flushFailSink struct{ puts atomic.Int64 }

func (s *flushFailSink) Start(context.Context, plugins.SinkTaskContext, map[string]string) error {
	return nil
}

func (s *flushFailSink) Put(_ context.Context, recs []*schema.Record) error {
	s.puts.Add(int64(len(recs)))
	return nil
}

func (s *flushFailSink) Flush(context.Context, map[plugins.Queue]int64) error {
	return errors.New("flush refused")
}

func (s *flushFailSink) Stop(context.Context) error { return nil }

// TestSinkIdleFlushFailureFailsTheTask: a Flush of the flush timer that fails after the last batch
// was put ends the task with its error, though no batch comes after it. (Here a processor still waiting
// for that Flush finds the failure too, so this passes without the session's watch of s.failed; a
// pipelined plugin sink, whose Put returns before the Flush, needed the watch: see the commit.)
func TestSinkIdleFlushFailureFailsTheTask(t *testing.T) {
	topic, _, _ := oneQueueOfTen(t)
	task := &flushFailSink{}
	s := testSinkRunner(t, task, topic, rmqtest.Group(t), 0, 1)
	s.flushAfter = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, 5*time.Second) }()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "flush refused")
		require.Equal(t, int64(10), task.puts.Load(), "every record was put before the Flush failed")
	case <-time.After(time.Minute):
		t.Fatalf("the task still runs a minute after its Flush failed (%d records put)", task.puts.Load())
	}
}

// TestSinkReadsATopicCreatedAgain: a sink caught up with a queue (its pull held at offset 10,
// long polling) whose topic is deleted and created again, and given records at once: the broker
// answers the held pull that offset 10 is past the new queue's end and suggests that end, past
// the new records. The sink reads the new queue from its start instead; it used to skip them.
func TestSinkReadsATopicCreatedAgain(t *testing.T) {
	topic, client, q := oneQueueOfTen(t)
	ctx := context.Background()
	task := &plainSink{}
	s := testSinkRunner(t, task, topic, rmqtest.Group(t), 0, 1)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.run(runCtx, 5*time.Second) }()
	pq := plugins.Queue{Topic: topic, BrokerName: q.BrokerName, QueueID: 0}
	require.Eventually(t, func() bool { return len(task.offsets(pq)) == 10 }, time.Minute, 20*time.Millisecond)
	time.Sleep(time.Second) // its next pull, at 10, is held

	require.NoError(t, client.DeleteTopic(ctx, topic))
	require.NoError(t, client.CreateTopic(ctx, rmqclient.TopicSpec{Name: topic, Queues: 1}))
	p, err := client.NewProducer("again", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	for i := range 4 {
		require.Eventually(t, func() bool {
			_, err = p.Send(ctx, &rmqclient.Message{Topic: topic, Body: []byte(fmt.Sprint("new ", i))})
			return err == nil
		}, 30*time.Second, 100*time.Millisecond, "send to the topic created again: %v", err)
	}
	require.Eventually(t, func() bool { return len(task.offsets(pq)) >= 14 }, 2*sinkLongPoll+30*time.Second,
		50*time.Millisecond, "the records of the topic created again")
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3}, task.offsets(pq))
}
