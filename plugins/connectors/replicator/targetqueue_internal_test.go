package replicator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// A source queue's target queue index is a function of its topic, broker name and queue id
// among its topic's queues: the same whatever order the name server listed the queues in
// (route order differs between name servers, brokers and restarts), on a restart (a new
// connector over the same queues) and for any task count. Queue ids repeat per broker
// (broker-a#0 and broker-b#0 are two queues); a topic's queues are numbered by broker name,
// then queue id.
func TestTargetQueueIndexIgnoresListOrder(t *testing.T) {
	q := func(topic, broker string, id int) rmqclient.Queue {
		return rmqclient.Queue{Topic: topic, BrokerName: broker, QueueID: id}
	}
	// As a name server may route them: brokers in registration or hash order.
	listed := []rmqclient.Queue{
		q("orders", "broker-b", 0), q("orders", "broker-b", 1), q("orders", "broker-a", 0), q("orders", "broker-a", 1),
		q("orders", "broker-a", 2), q("audit", "broker-b", 0), q("audit", "broker-a", 0),
	}
	want := map[rmqclient.Queue]int{
		q("orders", "broker-a", 0): 0, q("orders", "broker-a", 1): 1, q("orders", "broker-a", 2): 2,
		q("orders", "broker-b", 0): 3, q("orders", "broker-b", 1): 4,
		q("audit", "broker-a", 0): 0, q("audit", "broker-b", 0): 1,
	}
	configs := func(qs []rmqclient.Queue, tasks int) []map[string]string {
		c := &SourceConnector{cfg: map[string]string{"connector.class": SourceName}, queues: qs}
		tcs, err := c.TaskConfigs(tasks)
		require.NoError(t, err)
		return tcs
	}
	indexes := func(tcs []map[string]string) map[rmqclient.Queue]int {
		got := map[rmqclient.Queue]int{}
		for _, tc := range tcs {
			var tqs []taskQueue
			require.NoError(t, json.Unmarshal([]byte(tc[keyQueues]), &tqs))
			for _, tq := range tqs {
				got[q(tq.Topic, tq.Broker, tq.Queue)] = tq.Index
			}
		}
		return got
	}
	rng := rand.New(rand.NewPCG(1, 2))
	orders := [][]rmqclient.Queue{listed, slices.Clone(listed), append(slices.Clone(listed), listed[0])}
	slices.Reverse(orders[1])
	for range 20 {
		o := slices.Clone(listed)
		rng.Shuffle(len(o), func(i, j int) { o[i], o[j] = o[j], o[i] })
		orders = append(orders, o)
	}
	for _, tasks := range []int{1, 2, 3, 16} {
		first := configs(listed, tasks)
		require.Equal(t, want, indexes(first), "%d tasks", tasks)
		for _, o := range orders {
			require.Equal(t, first, configs(o, tasks), "%d tasks, queues listed as %v", tasks, o)
		}
	}
}

// moveTask is a task with one source queue, committing as the engine does: records acked in
// poll order, each with where the target stored it.
type moveTask struct {
	*sourceTask
	qs   *queueState
	logs *bytes.Buffer
}

func newMoveTask(t *testing.T, ordered, emitSyncs bool) moveTask {
	t.Helper()
	logs := &bytes.Buffer{}
	task := &sourceTask{log: slog.New(slog.NewTextHandler(logs, nil)), sel: &selection{srcAlias: "A", syncsTopic: "syncs"},
		ordered: ordered, emitSyncs: emitSyncs, lagMax: 100, byKey: map[srcQueue]*queueState{}}
	require.NoError(t, task.declareMetrics(conformance.NewMetrics(), []string{"orders"}))
	q := rmqclient.Queue{Topic: "orders", BrokerName: "broker-a", QueueID: 1}
	qs := &queueState{q: q, label: q.Topic, ackedUp: -1, syncedUp: -1,
		part: map[string]any{PartCluster: "A", PartTopic: q.Topic, PartBroker: q.BrokerName, PartQueue: int64(q.QueueID)}}
	task.queues = []*queueState{qs}
	task.byKey[srcQueue{"A", q.Topic, q.BrokerName, q.QueueID}] = qs
	return moveTask{task, qs, logs}
}

// ack commits source messages [from, to) as stored from downstream on target queue broker#queue.
func (m moveTask) ack(t *testing.T, from, to int64, broker string, queue int, downstream int64) {
	t.Helper()
	for up := from; up < to; up++ {
		next := nextOffset(up + 1)
		r := &schema.Record{SourcePartition: m.qs.part, LazyOffset: &next, Topic: "A_orders", QueueID: -1}
		md := &plugins.RecordMetadata{Topic: "A_orders", BrokerName: broker, QueueID: queue, QueueOffset: downstream + up - from}
		require.NoError(t, m.CommitRecord(context.Background(), r, md))
	}
}

// syncs returns the offset syncs the next poll would send.
func (m moveTask) syncs(t *testing.T) []OffsetSync {
	t.Helper()
	var out []OffsetSync
	for _, r := range m.withSyncs(nil) {
		s, err := decodeSync(r.Value.([]byte))
		require.NoError(t, err)
		out = append(out, s)
	}
	return out
}

// A source queue whose copies start landing on another target queue (the target topic's
// queues changed: a broker joined or left, a queue count changed) is logged, naming the source
// queue and both target queues, and an offset sync is written for its first message on the
// new queue: a group past the move translates onto the new queue from there, not onto the old
// queue (whose last sync may be offset.lag.max messages back).
func TestMovedTargetQueueIsSyncedAndLogged(t *testing.T) {
	sync := func(up int64, broker string, queue int, down int64) OffsetSync {
		return OffsetSync{Cluster: "A", Topic: "orders", Broker: "broker-a", Queue: 1, Upstream: up,
			TargetTopic: "A_orders", TargetBroker: broker, TargetQueue: queue, Downstream: down}
	}
	m := newMoveTask(t, true, true)
	m.ack(t, 0, 10, "broker-x", 2, 500)
	require.Equal(t, []OffsetSync{sync(0, "broker-x", 2, 500)}, m.syncs(t), "the first message is synced")
	require.NotContains(t, m.logs.String(), "moved")

	m.ack(t, 10, 15, "broker-y", 2, 70)
	require.Equal(t, []OffsetSync{sync(10, "broker-y", 2, 70)}, m.syncs(t), "the first message on the new queue is synced")
	require.Equal(t, 1, bytes.Count(m.logs.Bytes(), []byte("source queue moved to another target queue")), m.logs.String())
	require.Contains(t, m.logs.String(), "queue=orders@broker-a#1 from=A_orders@broker-x#2 to=A_orders@broker-y#2 upstream=10")

	m.ack(t, 15, 20, "broker-y", 3, 90)
	require.Equal(t, []OffsetSync{sync(15, "broker-y", 3, 90)}, m.syncs(t), "another queue id of the same broker is another queue")

	// Without syncs the move is logged all the same.
	m = newMoveTask(t, true, false)
	m.ack(t, 0, 3, "broker-x", 0, 0)
	m.ack(t, 3, 5, "broker-x", 1, 0)
	require.Empty(t, m.syncs(t))
	require.Contains(t, m.logs.String(), "from=A_orders@broker-x#0 to=A_orders@broker-x#1 upstream=3")

	// Without ordering the worker spreads a source queue over the target's queues: nothing moved.
	m = newMoveTask(t, false, false)
	for i := range int64(8) {
		m.ack(t, i, i+1, "broker-x", int(i%4), 0)
	}
	require.Empty(t, m.logs.String())
}

// A consumer behind a move must resume on every target queue its source queue moved to
// after its offset, at the first copy there (the sync written at the move), besides the
// queue its offset translates onto; one past a move resumes only on the queue it
// translates onto.
func TestAheadOfAMove(t *testing.T) {
	q := srcQueue{"A", "orders", "broker-a", 1}
	sync := func(up int64, queue int, down int64) OffsetSync {
		return OffsetSync{Cluster: "A", Topic: "orders", Broker: "broker-a", Queue: 1, Upstream: up,
			TargetTopic: "A_orders", TargetBroker: "broker-x", TargetQueue: queue, Downstream: down}
	}
	s := newSyncStore()
	for _, x := range []OffsetSync{sync(0, 0, 0), sync(100, 0, 100), sync(150, 1, 20), sync(250, 1, 120),
		sync(300, 2, 7), sync(320, 0, 400)} {
		s.add(x)
	}
	for _, tc := range []struct {
		next  int64
		from  int      // the target queue next translates onto
		ahead []string // target queue:downstream, in upstream order
	}{
		{0, 0, []string{"1:20", "2:7"}},
		{50, 0, []string{"1:20", "2:7"}},
		{150, 1, []string{"2:7", "0:400"}},
		{200, 1, []string{"2:7", "0:400"}},
		{300, 2, []string{"0:400"}},
		{320, 0, nil},
		{500, 0, nil},
	} {
		from, _, ok := s.translate(q, tc.next)
		require.True(t, ok)
		require.Equal(t, tc.from, from.TargetQueue, "next %d", tc.next)
		var got []string
		for _, a := range s.ahead(q, tc.next, from) {
			got = append(got, fmt.Sprintf("%d:%d", a.TargetQueue, a.Downstream))
		}
		require.Equal(t, tc.ahead, got, "next %d", tc.next)
	}
	first, ok := s.first(q)
	require.True(t, ok)
	require.Len(t, s.ahead(q, first.Upstream, first), 2, "a group that never read the queue resumes on every queue")
}

// Thinning keeps the sync of the first copy on a queue a source queue moved to, however old:
// without it, a consumer far behind the move would resume on the new queue at a later sync
// and skip the copies before it.
func TestSyncStoreThinningKeepsMoves(t *testing.T) {
	q := srcQueue{"A", "t", "", 0}
	s := newSyncStore()
	for i := int64(0); i < 3*maxSyncs; i++ {
		x := OffsetSync{Cluster: "A", Topic: "t", Upstream: i, TargetTopic: "x", Downstream: 10 * i}
		if i == 1001 {
			x.TargetQueue = 1
		}
		s.add(x)
	}
	require.LessOrEqual(t, len(s.m[q]), maxSyncs)
	from, _, ok := s.translate(q, 1000)
	require.True(t, ok)
	require.Equal(t, []OffsetSync{{Cluster: "A", Topic: "t", Upstream: 1001, TargetTopic: "x", TargetQueue: 1, Downstream: 10010}},
		s.ahead(q, 1000, from))
	after, _, ok := s.translate(q, 1002)
	require.True(t, ok)
	require.Equal(t, OffsetSync{Cluster: "A", Topic: "t", Upstream: 1002, TargetTopic: "x", Downstream: 10020}, after,
		"the first copy back on the old queue is kept too")
}
