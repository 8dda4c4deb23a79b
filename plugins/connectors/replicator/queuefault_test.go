package replicator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/replicator"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// logBuffer collects a task's logs as text.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sendTo sends n messages to queue index q of topic on the second cluster.
func sendTo(t *testing.T, topic string, q, n int) {
	t.Helper()
	p, err := rmqtest.SecondClient(t).NewProducer("queue-fault", rmqclient.ProducerOptions{HashByKey: true})
	require.NoError(t, err)
	defer p.Close()
	for i := 0; i < n; i++ {
		_, err := p.Send(context.Background(), &rmqclient.Message{Topic: topic, Body: fmt.Appendf(nil, "q%d-%d", q, i), QueueHint: q + 1})
		require.NoError(t, err)
	}
}

// startTask starts the replicator's single task on cfg with positions, its logs in logs; edit may
// change the task config first.
func startTask(t *testing.T, cfg map[string]string, positions *conformance.Positions, logs *logBuffer,
	edit func(map[string]string)) (plugins.SourceTask, *conformance.SourceContext) {
	t.Helper()
	ctx := context.Background()
	c := replicator.NewSourceConnector()
	require.NoError(t, c.Start(ctx, conformance.ConnectorContextFor(t, c, cfg), cfg))
	t.Cleanup(func() { _ = c.Stop(ctx) })
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	require.Len(t, tcs, 1)
	if edit != nil {
		edit(tcs[0])
	}
	task := c.NewSourceTask()
	sc := conformance.SourceContextFor(t, c.Spec(), positions, tcs[0])
	sc.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	require.NoError(t, task.Start(ctx, sc, tcs[0]))
	t.Cleanup(func() { _ = task.Stop(ctx) })
	return task, sc
}

// pollUntil polls task until it has returned n records (or a minute has passed) and returns them.
func pollUntil(t *testing.T, task plugins.SourceTask, n int) []*schema.Record {
	t.Helper()
	var got []*schema.Record
	deadline := time.Now().Add(time.Minute)
	for len(got) < n && time.Now().Before(deadline) {
		recs, err := task.Poll(context.Background())
		require.NoError(t, err)
		got = append(got, recs...)
	}
	return got
}

// TestPollGoesOnPastAQueueWhosePositionIsPastItsEnd: a listed topic deleted and made again
// leaves stored positions past the new ends. Such a queue must not stop the task's other
// queues (the task reads nothing else while staying RUNNING), and since the queue starts at
// 0 again, everything it holds is new: it is read from its start, not from the end the broker
// suggests.
func TestPollGoesOnPastAQueueWhosePositionIsPastItsEnd(t *testing.T) {
	ctx := context.Background()
	topic := rmqtest.SecondTopic(t, 2)
	qs, err := rmqtest.SecondClient(t).ReadableQueues(ctx, topic)
	require.NoError(t, err)
	require.Len(t, qs, 2)
	sendTo(t, topic, 0, 3) // the made-again queue's own messages

	positions := conformance.NewPositions()
	positions.Set(map[string]any{replicator.PartCluster: "A", replicator.PartTopic: topic, replicator.PartBroker: qs[0].BrokerName,
		replicator.PartQueue: int64(0)}, map[string]any{replicator.OffsetNext: int64(1_000_000)})
	cfg := map[string]string{"src.endpoint": rmqtest.Second(t), "source.cluster.alias": "A", "target.cluster.alias": "B",
		"source.topics": topic, "emit.offset.syncs.enabled": "false"}
	var logs logBuffer
	task, _ := startTask(t, cfg, positions, &logs, nil)
	sendTo(t, topic, 1, 20) // after Start: only a refreshed end shows them

	got := pollUntil(t, task, 23)
	byQueue := map[int64][]int64{}
	for _, r := range got {
		q := r.SourcePartition[replicator.PartQueue].(int64)
		byQueue[q] = append(byQueue[q], r.Offset()[replicator.OffsetNext].(int64))
	}
	require.Len(t, byQueue[1], 20, "queue 1's messages; log: %s", logs.String())
	require.Equal(t, []int64{1, 2, 3}, byQueue[0], "queue 0 is read from its start; log: %s", logs.String())
	require.Contains(t, logs.String(), "source position past the end of its queue")
	require.Contains(t, logs.String(), "position=1000000")
}

// TestPollGoesOnPastAnUnreadableQueue: a queue whose broker does not answer (here one the name
// server does not know, as after a master went away) neither keeps the task from starting nor
// from reading its other queues; it is named in a warning and counted in read_errors_total.
func TestPollGoesOnPastAnUnreadableQueue(t *testing.T) {
	topic := rmqtest.SecondTopic(t, 2)
	cfg := map[string]string{"src.endpoint": rmqtest.Second(t), "source.cluster.alias": "A", "target.cluster.alias": "B",
		"source.topics": topic, "emit.offset.syncs.enabled": "false"}
	var logs logBuffer
	task, sc := startTask(t, cfg, nil, &logs, func(tc map[string]string) {
		var tqs []map[string]any
		require.NoError(t, json.Unmarshal([]byte(tc["replicator.task.queues"]), &tqs))
		// The unreadable queue comes first in the round robin.
		tqs = append([]map[string]any{{"t": topic, "b": "broker-gone", "q": 0, "i": 2}}, tqs...)
		b, err := json.Marshal(tqs)
		require.NoError(t, err)
		tc["replicator.task.queues"] = string(b)
	})
	sendTo(t, topic, 0, 10)
	sendTo(t, topic, 1, 10)

	got := pollUntil(t, task, 20)
	require.Len(t, got, 20, "log: %s", logs.String())
	require.Contains(t, logs.String(), "source queues cannot be read")
	require.Contains(t, logs.String(), topic+"@broker-gone#0")
	require.Positive(t, sc.Recorder.Count(replicator.MetricReadErrors, topic))
}

// TestDrainedQueuesAreReplicated: the standard way to drain a topic, fewer write queues than
// read queues or its write permission wiped, leaves messages on queues nothing writes any
// more; the replicator copies them too.
func TestDrainedQueuesAreReplicated(t *testing.T) {
	ctx := context.Background()
	a := rmqtest.SecondClient(t)
	topic := rmqtest.SecondTopic(t, 4)
	for q := 0; q < 4; q++ {
		sendTo(t, topic, q, 5)
	}
	cfg := map[string]string{"src.endpoint": rmqtest.Second(t), "source.cluster.alias": "A", "target.cluster.alias": "B",
		"source.topics": topic, "emit.offset.syncs.enabled": "false"}
	for _, layout := range []rmqclient.TopicLayout{
		{Name: topic, ReadQueues: 4, WriteQueues: 2},
		{Name: topic, ReadQueues: 4, Perm: rmqclient.PermRead},
	} {
		require.NoError(t, a.UpdateTopic(ctx, layout))
		var logs logBuffer
		task, _ := startTask(t, cfg, nil, &logs, nil)
		got := pollUntil(t, task, 20)
		queues := map[int64]int{}
		for _, r := range got {
			queues[r.SourcePartition[replicator.PartQueue].(int64)]++
		}
		require.Equal(t, map[int64]int{0: 5, 1: 5, 2: 5, 3: 5}, queues, "layout %+v; log: %s", layout, logs.String())
	}
}
