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
