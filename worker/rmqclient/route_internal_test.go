package rmqclient

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmqconnect/rmqconnect/worker/rmqclient/internal/remoting"
)

// TestMergeRoutesJoinsEveryNameServersView: the routes of several name servers are joined so
// that one that lags (restarted, knowing only the brokers that registered again) cannot
// shrink the route; where they differ on one broker, the joined queue data has the most read
// queues, the most write queues and every permission; a broker's addresses are those of the
// first route that has it.
func TestMergeRoutesJoinsEveryNameServersView(t *testing.T) {
	qd := func(broker string, read, write, perm int) remoting.QueueData {
		return remoting.QueueData{BrokerName: broker, ReadQueueNums: read, WriteQueueNums: write, Perm: perm}
	}
	bd := func(broker, master string) remoting.BrokerData {
		return remoting.BrokerData{Cluster: "c", BrokerName: broker, Addrs: map[string]string{"0": master}}
	}
	rw := PermRead | PermWrite
	cases := []struct {
		name   string
		routes []*remoting.TopicRoute
		want   *remoting.TopicRoute
	}{
		{
			name:   "one name server: its route as it is",
			routes: []*remoting.TopicRoute{{Queues: []remoting.QueueData{qd("b", 2, 1, PermRead), qd("a", 4, 4, rw)}, Brokers: []remoting.BrokerData{bd("b", "B"), bd("a", "A")}}},
			want:   &remoting.TopicRoute{Queues: []remoting.QueueData{qd("b", 2, 1, PermRead), qd("a", 4, 4, rw)}, Brokers: []remoting.BrokerData{bd("b", "B"), bd("a", "A")}},
		},
		{
			name: "a restarted name server knows one broker: the other's broker is kept",
			routes: []*remoting.TopicRoute{
				{Queues: []remoting.QueueData{qd("a", 4, 4, rw)}, Brokers: []remoting.BrokerData{bd("a", "A")}},
				{Queues: []remoting.QueueData{qd("b", 4, 4, rw), qd("a", 4, 4, rw)}, Brokers: []remoting.BrokerData{bd("b", "B"), bd("a", "A")}},
			},
			want: &remoting.TopicRoute{Queues: []remoting.QueueData{qd("a", 4, 4, rw), qd("b", 4, 4, rw)}, Brokers: []remoting.BrokerData{bd("a", "A"), bd("b", "B")}},
		},
		{
			name: "conflicting queue data: the most queues of each kind and every permission",
			routes: []*remoting.TopicRoute{
				{Queues: []remoting.QueueData{qd("a", 4, 2, PermRead)}, Brokers: []remoting.BrokerData{bd("a", "A")}},
				{Queues: []remoting.QueueData{qd("a", 2, 4, PermWrite)}, Brokers: []remoting.BrokerData{bd("a", "A")}},
			},
			want: &remoting.TopicRoute{Queues: []remoting.QueueData{qd("a", 4, 4, rw)}, Brokers: []remoting.BrokerData{bd("a", "A")}},
		},
		{
			name: "a shrink still reaching the name servers: the larger layout until all have it",
			routes: []*remoting.TopicRoute{
				{Queues: []remoting.QueueData{qd("a", 4, 2, PermRead)}, Brokers: []remoting.BrokerData{bd("a", "A")}},
				{Queues: []remoting.QueueData{qd("a", 4, 4, rw)}, Brokers: []remoting.BrokerData{bd("a", "A")}},
			},
			want: &remoting.TopicRoute{Queues: []remoting.QueueData{qd("a", 4, 4, rw)}, Brokers: []remoting.BrokerData{bd("a", "A")}},
		},
		{
			name: "a broker's master at two addresses: the first route's",
			routes: []*remoting.TopicRoute{
				{Queues: []remoting.QueueData{qd("a", 1, 1, rw)}, Brokers: []remoting.BrokerData{bd("a", "A2")}},
				{Queues: []remoting.QueueData{qd("a", 8, 8, rw)}, Brokers: []remoting.BrokerData{bd("a", "A1")}},
			},
			want: &remoting.TopicRoute{Queues: []remoting.QueueData{qd("a", 8, 8, rw)}, Brokers: []remoting.BrokerData{bd("a", "A2")}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, mergeRoutes(tc.routes)); diff != "" {
				t.Errorf("mergeRoutes (-want +got):\n%s", diff)
			}
		})
	}
}
