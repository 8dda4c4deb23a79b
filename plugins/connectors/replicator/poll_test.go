package replicator_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/replicator"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestPollGroupsQueues: a poll that reads several source queues returns each queue's
// messages together and in order (the engine cuts a send batch wherever the target queue
// changes, so interleaved runs of 32 made four times as many sends).
func TestPollGroupsQueues(t *testing.T) {
	topic := rmqtest.SecondTopic(t, 4)
	p, err := rmqtest.SecondClient(t).NewProducer("poll-groups", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	const n = 400
	for i := 0; i < n; i += 100 {
		var msgs []*rmqclient.Message
		for j := i; j < i+100; j++ {
			msgs = append(msgs, &rmqclient.Message{Topic: topic, Body: fmt.Appendf(nil, "msg %d", j)})
		}
		_, err := p.Send(context.Background(), msgs...)
		require.NoError(t, err)
	}

	c := replicator.NewSourceConnector()
	cfg := map[string]string{"src.endpoint": rmqtest.Second(t), "source.cluster.alias": "A", "target.cluster.alias": "B",
		"source.topics": topic, "emit.offset.syncs.enabled": "false", "poll.batch.size": "1000"}
	require.NoError(t, c.Start(context.Background(), conformance.ConnectorContextFor(t, c, cfg), cfg))
	defer c.Stop(context.Background())
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	require.Len(t, tcs, 1)
	task := c.NewSourceTask()
	require.NoError(t, task.Start(context.Background(), conformance.SourceContextFor(t, c.Spec(), nil, tcs[0]), tcs[0]))
	defer task.Stop(context.Background())

	var got int
	queues := map[int64]bool{} // the queues whose run has ended
	last, lastOff := int64(-1), int64(-1)
	for got < n {
		recs, err := task.Poll(context.Background())
		require.NoError(t, err)
		last, lastOff = -1, -1
		clear(queues)
		for _, r := range recs {
			q := r.SourcePartition[replicator.PartQueue].(int64)
			off := r.Offset()[replicator.OffsetNext].(int64)
			if q != last {
				require.False(t, queues[q], "queue %d's messages are split within one batch", q)
				if last >= 0 {
					queues[last] = true
				}
				last, lastOff = q, -1
			}
			require.Greater(t, off, lastOff, "queue %d out of order", q)
			lastOff = off
			got++
		}
	}
	require.Equal(t, n, got)
}
