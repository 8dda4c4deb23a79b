package replicator_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/replicator"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestCheckpointAppliesOffsetZero: a group that has read none of a source queue (committed
// at its first message, or never committed) is set on the target at the first replicated
// message's offset, 0 here — an offset a map's zero value must not pass for "already set".
func TestCheckpointAppliesOffsetZero(t *testing.T) {
	ctx := context.Background()
	a, b := rmqtest.SecondClient(t), rmqtest.Client(t)
	src, target, syncs := rmqtest.SecondTopic(t, 2), rmqtest.Topic(t, 2), rmqtest.Topic(t, 1)
	committed, never := rmqtest.Group(t), rmqtest.Group(t)

	send := func(c *rmqclient.Client, topic string, bodies ...[]byte) {
		p, err := c.NewProducer("ckpt-test", rmqclient.ProducerOptions{})
		require.NoError(t, err)
		defer p.Close()
		for _, body := range bodies {
			_, err := p.Send(ctx, &rmqclient.Message{Topic: topic, Body: body})
			require.NoError(t, err)
		}
	}
	send(a, src, []byte("x"), []byte("y"), []byte("z"), []byte("w"))
	send(b, target, []byte("x"), []byte("y"), []byte("z"), []byte("w"))
	sqs, err := a.TopicQueues(ctx, src)
	require.NoError(t, err)
	tqs, err := b.TopicQueues(ctx, target)
	require.NoError(t, err)
	require.Len(t, tqs, len(sqs))
	var bodies [][]byte
	for i, q := range sqs {
		s, err := json.Marshal(replicator.OffsetSync{Cluster: "A", Topic: src, Broker: q.BrokerName, Queue: q.QueueID,
			TargetTopic: target, TargetBroker: tqs[i].BrokerName, TargetQueue: tqs[i].QueueID})
		require.NoError(t, err)
		bodies = append(bodies, s)
		require.NoError(t, a.SetGroupOffset(ctx, committed, q, 0))
	}
	send(b, syncs, bodies...)

	c := replicator.NewCheckpointConnector()
	cfg := map[string]string{"src.endpoint": rmqtest.Second(t), "dest.endpoint": rmqtest.NameServer(t),
		"source.cluster.alias": "A", "target.cluster.alias": "B", "source.topics": src,
		"offset.syncs.topic": syncs, "checkpoints.topic": rmqtest.Topic(t, 1),
		"sync.gids": committed + "," + never, "sync.group.offsets.enabled": "true", "emit.checkpoints.interval": "100ms"}
	require.NoError(t, c.Start(ctx, conformance.ConnectorContextFor(t, c, cfg), cfg))
	defer c.Stop(ctx)
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	task := c.NewSourceTask()
	require.NoError(t, task.Start(ctx, conformance.SourceContextFor(t, c.Spec(), nil, tcs[0]), tcs[0]))
	defer task.Stop(ctx)

	// A broker may report a queue's end before it has indexed the last sends: the syncs can take
	// more than one poll to be read.
	var recs int
	require.Eventually(t, func() bool {
		got, err := task.Poll(ctx)
		if err != nil {
			t.Errorf("poll: %v", err)
			return true
		}
		recs += len(got)
		return recs >= 2*len(sqs)
	}, 30*time.Second, 10*time.Millisecond, "a checkpoint for each group and source queue")
	require.Equal(t, 2*len(sqs), recs)
	for _, g := range []string{committed, never} {
		for _, q := range tqs {
			var off int64
			var found bool
			require.Eventually(t, func() bool {
				off, found, err = b.GroupOffset(ctx, g, q)
				return err == nil && found
			}, 10*time.Second, 50*time.Millisecond, "group %s has no offset in %s on the target", g, q)
			require.Zero(t, off)
		}
	}
}

// TestCheckpointHoldsAGroupBehindAMove: source queue S0 was copied to target queue Q0, then
// moved to Q1 (which also holds S1's copies) from its message 5 on, stored there at offset 2.
// A group that has read S0 only up to 3 and S1 up to 3 gets S0's checkpoint on Q0 and one on
// Q1 at S0's first copy there, and is set on Q1 at that copy, not at S1's translation past
// it: failing over, it reads every one of S0's moved messages.
func TestCheckpointHoldsAGroupBehindAMove(t *testing.T) {
	ctx := context.Background()
	a, b := rmqtest.SecondClient(t), rmqtest.Client(t)
	src, target, syncs := rmqtest.SecondTopic(t, 2), rmqtest.Topic(t, 2), rmqtest.Topic(t, 1)
	group := rmqtest.Group(t)

	sqs, err := a.TopicQueues(ctx, src)
	require.NoError(t, err)
	require.Len(t, sqs, 2)
	tqs, err := b.TopicQueues(ctx, target)
	require.NoError(t, err)
	require.Len(t, tqs, 2)
	send := func(c *rmqclient.Client, topic string, msgs ...*rmqclient.Message) {
		p, err := c.NewProducer("ckpt-move", rmqclient.ProducerOptions{HashByKey: true})
		require.NoError(t, err)
		defer p.Close()
		for _, m := range msgs {
			m.Topic = topic
			_, err := p.Send(ctx, m)
			require.NoError(t, err)
		}
	}
	// Ten messages on every queue of both topics, so the offsets below exist.
	var copies []*rmqclient.Message
	for i := range 20 {
		copies = append(copies, &rmqclient.Message{Body: []byte("x"), QueueHint: 1 + i%2})
	}
	send(a, src, copies...)
	send(b, target, copies...)
	s0, s1, q0, q1 := sqs[0], sqs[1], tqs[0], tqs[1]
	sync := func(s rmqclient.Queue, up int64, q rmqclient.Queue, down int64) *rmqclient.Message {
		body, err := json.Marshal(replicator.OffsetSync{Cluster: "A", Topic: src, Broker: s.BrokerName, Queue: s.QueueID,
			Upstream: up, TargetTopic: target, TargetBroker: q.BrokerName, TargetQueue: q.QueueID, Downstream: down})
		require.NoError(t, err)
		return &rmqclient.Message{Body: body}
	}
	// In this order on the one queue of the syncs topic: whenever S1's last sync has been read,
	// S0's move has been read too.
	send(b, syncs, sync(s0, 0, q0, 0), sync(s0, 5, q1, 2), sync(s1, 0, q1, 0), sync(s1, 3, q1, 6))
	require.NoError(t, a.SetGroupOffset(ctx, group, s0, 3))
	require.NoError(t, a.SetGroupOffset(ctx, group, s1, 3))

	c := replicator.NewCheckpointConnector()
	cfg := map[string]string{"src.endpoint": rmqtest.Second(t), "dest.endpoint": rmqtest.NameServer(t),
		"source.cluster.alias": "A", "target.cluster.alias": "B", "source.topics": src,
		"offset.syncs.topic": syncs, "checkpoints.topic": rmqtest.Topic(t, 1),
		"sync.gids": group, "sync.group.offsets.enabled": "true", "emit.checkpoints.interval": "100ms"}
	require.NoError(t, c.Start(ctx, conformance.ConnectorContextFor(t, c, cfg), cfg))
	defer c.Stop(ctx)
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	task := c.NewSourceTask()
	require.NoError(t, task.Start(ctx, conformance.SourceContextFor(t, c.Spec(), nil, tcs[0]), tcs[0]))
	defer task.Stop(ctx)

	type path struct{ from, to int } // source queue id → target queue id
	got := map[path]int64{}          // → the checkpoint's downstream offset
	var cps []replicator.Checkpoint
	require.Eventually(t, func() bool {
		recs, err := task.Poll(ctx)
		if err != nil {
			t.Errorf("poll: %v", err)
			return true
		}
		for _, r := range recs {
			var cp replicator.Checkpoint
			if err := json.Unmarshal(r.Value.([]byte), &cp); err != nil {
				t.Errorf("checkpoint %s: %v", r.Value, err)
				return true
			}
			cps = append(cps, cp)
			got[path{cp.Queue, cp.TargetQueue}] = cp.Downstream
		}
		return got[path{s1.QueueID, q1.QueueID}] == 6
	}, 30*time.Second, 10*time.Millisecond, "S1's checkpoint from its last sync")
	for _, tc := range []struct {
		q    rmqclient.Queue
		want int64
	}{{q0, 1}, {q1, 2}} {
		q, want := tc.q, tc.want
		var off int64
		require.Eventually(t, func() bool {
			var found bool
			off, found, err = b.GroupOffset(ctx, group, q)
			return err == nil && found
		}, 10*time.Second, 50*time.Millisecond, "group %s has no offset in %s on the target", group, q)
		require.Equal(t, want, off, "group %s in %s on the target", group, q)
	}
	require.Equal(t, map[path]int64{
		{s0.QueueID, q0.QueueID}: 1, // just after S0's message 0, its nearest sync
		{s0.QueueID, q1.QueueID}: 2, // S0's first copy on Q1
		{s1.QueueID, q1.QueueID}: 6,
	}, got)
	for _, cp := range cps {
		require.Equal(t, int64(3), cp.Upstream, "the group's source offset: %+v", cp)
	}
}
