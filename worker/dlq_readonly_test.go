package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestReadOnlyDLQIsReadAndNotRecreated: a DLQ topic an operator made read-only still lists
// and shows its records, and a write to it fails naming the reason instead of re-creating
// the topic writable. Its records used to read as "no DLQ" (only writable queues were read),
// and the next DLQ write re-created it read-write with one queue.
func TestReadOnlyDLQIsReadAndNotRecreated(t *testing.T) {
	topic := rmqtest.Topic(t, 1)
	dlq := rmqtest.Topic(t, 2)
	env := startHerder(t, t.TempDir())
	defer env.stop(t)
	ctx := context.Background()
	client := rmqtest.Client(t)
	_, err := env.h.CreateConnector(ctx, "s", map[string]string{"connector.class": "mem-sink", "test.id": rmqtest.Name(t, "st"),
		"connect.topicnames": topic, "task.group.id": rmqtest.Group(t), "errors.tolerance": "all",
		"errors.deadletterqueue.topic.name": dlq}, "")
	require.NoError(t, err)
	p, err := client.NewProducer("readonly", rmqclient.ProducerOptions{})
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Send(ctx, &rmqclient.Message{Topic: dlq, Body: []byte("kept"), Properties: map[string]string{ErrHeaderTopic: topic}})
	require.NoError(t, err)
	recs := waitDLQ(t, env.h, "s", 1)

	require.NoError(t, client.UpdateTopic(ctx, rmqclient.TopicLayout{Name: dlq, ReadQueues: 2, WriteQueues: 2, Perm: rmqclient.PermRead}))
	page, err := env.h.DLQList(ctx, "s", "", 10)
	require.NoError(t, err)
	require.Len(t, page.Records, 1, "the read-only DLQ still lists its record")
	got, err := env.h.DLQGet(ctx, "s", recs[0].ID)
	require.NoError(t, err)
	require.Equal(t, "kept", string(got.Body))

	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = env.h.dlqSend(sctx, &rmqclient.Message{Topic: dlq, Body: []byte("new")})
	require.ErrorContains(t, err, "no writable queue")
	require.ErrorContains(t, err, dlq)
	_, err = client.TopicQueues(ctx, dlq)
	require.ErrorIs(t, err, rmqclient.ErrNoRoute, "the topic stays read-only")
	qs, err := client.ReadableQueues(ctx, dlq)
	require.NoError(t, err)
	require.Len(t, qs, 2, "the topic keeps its queues")
}
