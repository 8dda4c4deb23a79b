package rmqclient

import (
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"
)

// A queue hint n sends a message, and a batch whose first message has it, to queue n-1
// (modulo the queue count); a sharding key takes precedence.
func TestQueueHintPicksTheQueue(t *testing.T) {
	mqs := make([]*primitive.MessageQueue, 4)
	for i := range mqs {
		mqs[i] = &primitive.MessageQueue{Topic: "t", BrokerName: "b", QueueId: i}
	}
	var sel keySelector
	for hint, want := range map[int]int{1: 0, 3: 2, 4: 3, 6: 1} {
		pm, err := toPrimitive(&Message{Topic: "t", Body: []byte("x"), QueueHint: hint})
		require.NoError(t, err)
		require.Equal(t, want, sel.Select(pm, mqs, "").QueueId, "hint %d", hint)

		b, err := NewBatch(&Message{Topic: "t", Body: []byte("x"), QueueHint: hint}, &Message{Topic: "t", Body: []byte("y")})
		require.NoError(t, err)
		require.Equal(t, hint-1, b.queue)
	}
	b, err := NewBatch(&Message{Topic: "t", Body: []byte("x"), QueueHint: 2, ShardingKey: "k"})
	require.NoError(t, err)
	require.Equal(t, keyHash("k"), b.queue)
	b, err = NewBatch(&Message{Topic: "t", Body: []byte("x")}, &Message{Topic: "t", Body: []byte("y")})
	require.NoError(t, err)
	require.Equal(t, -1, b.queue)
}
