package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestDLQReplaySendsARecordNamedTwiceOnce: a replay whose ids name one record twice (the
// same id repeated, or its full form and the earlier form) sends it once, force or not,
// and lists it once; without force it is not also listed as skipped.
func TestDLQReplaySendsARecordNamedTwiceOnce(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlq := rmqtest.Topic(t, 1)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	client := rmqtest.Client(t)
	_, err := env.h.CreateConnector(ctx, "s", map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "st"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}, "")
	require.NoError(t, err)
	p, err := client.NewProducer("dup", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Send(ctx, &rmqclient.Message{Topic: dlq, Body: []byte("once"), Properties: map[string]string{ErrHeaderTopic: topic}})
	require.NoError(t, err)
	id := brokerID(t, dlq, 0, 0)
	res, err := env.h.DLQReplay(ctx, "s", []string{id, id, "0-0"}, false)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Replayed)
	require.Empty(t, res.Skipped, "not replayed before this call")
	res, err = env.h.DLQReplay(ctx, "s", []string{"0-0", id}, true)
	require.NoError(t, err)
	require.Equal(t, []string{id}, res.Replayed, "sent and listed once")
	qs, err := client.TopicQueues(ctx, topic)
	require.NoError(t, err)
	var sent int64
	for _, q := range qs {
		_, maxOff, err := client.QueueOffsets(ctx, q)
		require.NoError(t, err)
		sent += maxOff
	}
	require.EqualValues(t, 2, sent, "one send per replay call")
}
