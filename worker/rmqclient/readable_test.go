package rmqclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// A topic being drained keeps queues that producers no longer write and consumers still
// read: ReadableQueues lists them, TopicQueues (what a producer writes) does not.
func TestReadableQueuesIncludeDrainedQueues(t *testing.T) {
	c := rmqtest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topic := rmqtest.Topic(t, 4)
	ids := func(qs []rmqclient.Queue) []int {
		var out []int
		for _, q := range qs {
			out = append(out, q.QueueID)
		}
		return out
	}

	// Fewer write queues than read queues.
	require.NoError(t, c.UpdateTopic(ctx, rmqclient.TopicLayout{Name: topic, ReadQueues: 4, WriteQueues: 2}))
	w, err := c.TopicQueues(ctx, topic)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1}, ids(w))
	r, err := c.ReadableQueues(ctx, topic)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1, 2, 3}, ids(r))

	// Write permission wiped.
	require.NoError(t, c.UpdateTopic(ctx, rmqclient.TopicLayout{Name: topic, ReadQueues: 4, Perm: rmqclient.PermRead}))
	_, err = c.TopicQueues(ctx, topic)
	require.ErrorIs(t, err, rmqclient.ErrNoRoute)
	r, err = c.ReadableQueues(ctx, topic)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1, 2, 3}, ids(r))

	_, err = c.ReadableQueues(ctx, rmqtest.Name(t, "missing"))
	require.ErrorIs(t, err, rmqclient.ErrNoRoute)
	require.ErrorIs(t, c.UpdateTopic(ctx, rmqclient.TopicLayout{Name: "bad topic!"}), rmqclient.ErrInvalid)
}
