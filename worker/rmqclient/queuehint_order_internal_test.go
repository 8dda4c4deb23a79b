package rmqclient

import (
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/stretchr/testify/require"
)

// TestQueueHintIgnoresRouteOrder: a queue hint or a key picks the same queue whatever order
// the route lists the topic's queues in. The client library lists them in the name server's
// order (broker registration or hash order, reordered by its own sort), which differs between
// name servers and after a broker registers again; a new list (a route change) is ordered
// anew, and the library's list is left as it was.
func TestQueueHintIgnoresRouteOrder(t *testing.T) {
	type queue struct {
		broker string
		id     int
	}
	mq := func(b string, id int) *primitive.MessageQueue {
		return &primitive.MessageQueue{Topic: "t", BrokerName: b, QueueId: id}
	}
	// By queue id, then broker: consecutive hints spread over the brokers.
	want := []queue{{"broker-a", 0}, {"broker-b", 0}, {"broker-c", 0}, {"broker-a", 1}, {"broker-b", 1}}
	routed := []*primitive.MessageQueue{mq("broker-c", 0), mq("broker-b", 0), mq("broker-b", 1), mq("broker-a", 0), mq("broker-a", 1)}
	other := []*primitive.MessageQueue{mq("broker-a", 1), mq("broker-a", 0), mq("broker-b", 1), mq("broker-c", 0), mq("broker-b", 0)}
	shrunk := []*primitive.MessageQueue{mq("broker-b", 1), mq("broker-a", 0), mq("broker-a", 1), mq("broker-b", 0)}
	var sel keySelector
	for hint := 1; hint <= 12; hint++ {
		pm, err := toPrimitive(&Message{Topic: "t", Body: []byte("x"), QueueHint: hint})
		require.NoError(t, err)
		for _, mqs := range [][]*primitive.MessageQueue{routed, other, routed} {
			got := sel.Select(pm, mqs, "")
			require.Equal(t, want[(hint-1)%len(want)], queue{got.BrokerName, got.QueueId}, "hint %d", hint)
		}
		// broker-c gone: the same order over the queues left.
		got := sel.Select(pm, shrunk, "")
		left := []queue{{"broker-a", 0}, {"broker-b", 0}, {"broker-a", 1}, {"broker-b", 1}}
		require.Equal(t, left[(hint-1)%len(left)], queue{got.BrokerName, got.QueueId}, "hint %d without broker-c", hint)
	}
	require.Equal(t, "broker-c", routed[0].BrokerName, "the library's list is left as it was")
}

// BenchmarkKeyedSelect: picking the queue of a keyed message reads the cached order.
func BenchmarkKeyedSelect(b *testing.B) {
	var mqs []*primitive.MessageQueue
	for _, broker := range []string{"broker-b", "broker-a"} {
		for id := range 8 {
			mqs = append(mqs, &primitive.MessageQueue{Topic: "t", BrokerName: broker, QueueId: id})
		}
	}
	pm, err := toPrimitive(&Message{Topic: "t", Body: []byte("x"), ShardingKey: "order-42"})
	require.NoError(b, err)
	var sel keySelector
	b.ReportAllocs()
	for b.Loop() {
		sel.Select(pm, mqs, "")
	}
}
