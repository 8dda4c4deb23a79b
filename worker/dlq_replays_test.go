package worker

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// TestQueueReplayRuns: a queue's replays are runs of consecutive offsets replayed, by one
// call or by many: a replay next to a run extends it, one that fills a gap joins two, a
// replay again of a record leaves its run whole (shown with the latest call's time); runs
// whose messages were stored out of offset order stay apart; cut drops what is below a
// floor.
func TestQueueReplayRuns(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	run := func(from, to int64, at time.Time) replayRun { return replayRun{From: from, To: to, At: at} }
	var q queueReplays
	for _, off := range []int64{3, 1, 2, 0, 7, 5, 6} {
		q.add(off, t1, 0)
	}
	require.Equal(t, []replayRun{run(0, 4, t1), run(5, 8, t1)}, q.Runs)
	q.add(4, t2, 0)
	require.Equal(t, []replayRun{run(0, 8, t2)}, q.Runs, "the gap filled by a later call")
	q.add(4, t1, 0)
	require.Equal(t, []replayRun{run(0, 8, t2)}, q.Runs, "again, by an earlier call")
	q.add(9, t1, 0)
	q.add(8, t1, 0)
	require.Equal(t, []replayRun{run(0, 10, t2)}, q.Runs)
	for off := int64(0); off < 10; off++ {
		i, ok := q.find(off)
		require.True(t, ok, off)
		require.True(t, q.Runs[i].From <= off && off < q.Runs[i].To)
	}
	_, ok := q.find(10)
	require.False(t, ok)

	q.add(12, t1, 0)
	require.False(t, q.cut(0))
	require.True(t, q.cut(5))
	require.Equal(t, []replayRun{run(5, 10, t2), run(12, 13, t1)}, q.Runs)
	require.True(t, q.cut(100))
	require.Empty(t, q.Runs)

	// Store times: a run keeps its latest; a run whose messages were stored after those of
	// the run it touches above is of another incarnation of the topic.
	q.add(0, t1, 100)
	q.add(1, t1, 101)
	q.add(3, t1, 60)
	q.add(2, t2, 50)
	require.Equal(t, []replayRun{{From: 0, To: 2, At: t1, Stored: 101}, {From: 2, To: 4, At: t2, Stored: 60}}, q.Runs)
	require.False(t, q.joinAll())
}

// TestDLQReplaysOfARecreatedQueue: a record at an offset replayed before whose message was
// stored after the messages replayed there is of the topic deleted and created again: not
// replayed, in whatever order its records are replayed; and once one is, the former topic's
// runs reaching past it go.
func TestDLQReplaysOfARecreatedQueue(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &dlqReplays{}
	id := func(off int64) dlqID { return dlqID{broker: "b", queue: 0, offset: off} }
	for off := range int64(10) {
		d.add("dlq", id(off), 100+off, 0, restapi.ReplayInfo{At: at, MsgID: fmt.Sprint("m", off)})
	}
	msg := func(off, stored int64) *rmqclient.ReceivedMessage {
		return &rmqclient.ReceivedMessage{Queue: rmqclient.Queue{BrokerName: "b"}, Offset: off, StoreTime: time.UnixMilli(stored)}
	}
	info, ok := d.lookup("dlq", msg(3, 103))
	require.True(t, ok)
	require.Equal(t, restapi.ReplayInfo{At: at, MsgID: "m3"}, info)
	require.True(t, d.replayed("dlq", msg(3, 103)))
	require.False(t, d.replayed("dlq", msg(3, 500)), "stored later: another topic's record")
	require.False(t, d.replayed("other", msg(3, 103)), "another DLQ topic")

	// The topic created again; its record 12 is replayed first, then its record 4.
	later := at.Add(time.Hour)
	d.add("dlq", id(12), 512, 0, restapi.ReplayInfo{At: later, MsgID: "n12"})
	require.True(t, d.replayed("dlq", msg(12, 512)))
	for off := range int64(10) {
		require.False(t, d.replayed("dlq", msg(off, 500+off)), off)
	}
	d.add("dlq", id(4), 504, 0, restapi.ReplayInfo{At: later, MsgID: "n4"})
	require.Equal(t, []replayRun{{From: 4, To: 5, At: later, Stored: 504}, {From: 12, To: 13, At: later, Stored: 512}},
		d.Queues["b:0"].Runs, "the former topic's runs went")
	require.False(t, d.replayed("dlq", msg(3, 503)))

	d.add("dlq2", id(0), 600, 0, restapi.ReplayInfo{At: at})
	require.Equal(t, "dlq2", d.Topic)
	require.Len(t, d.Queues, 1, "the former DLQ topic's replays are dropped")
}

// TestDLQReplaysPrune: replays of records below their queue's floor go, with the legacy
// records (ids of the earlier form) below the floor of every queue of their number and the
// message ids shown for them; a queue without a floor keeps its replays.
func TestDLQReplaysPrune(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &dlqReplays{Legacy: map[string]restapi.ReplayInfo{
		"dlq/0-4/m": {At: at, MsgID: "x"}, "dlq/0-9/m": {At: at, MsgID: "x"}, "dlq/1-0/m": {At: at, MsgID: "x"},
		"0-2": {At: at, MsgID: "x"}, "other/0-1/m": {At: at, MsgID: "x"},
	}}
	for off := range int64(10) {
		for _, b := range []string{"a", "b"} {
			d.add("dlq", dlqID{broker: b, queue: 0, offset: off}, off, 0, restapi.ReplayInfo{At: at, MsgID: "m"})
		}
	}
	require.False(t, d.prune("dlq", map[string]int64{"a:0": 0}))
	require.True(t, d.prune("dlq", map[string]int64{"a:0": 5, "b:0": 8, "a:1": 3}))
	require.Equal(t, []replayRun{{From: 5, To: 10, At: at, Stored: 9}}, d.Queues["a:0"].Runs)
	require.Equal(t, []replayRun{{From: 8, To: 10, At: at, Stored: 9}}, d.Queues["b:0"].Runs)
	require.Equal(t, []string{"dlq/0-9/m"}, slices.Sorted(maps.Keys(d.Legacy)),
		"0-4 and 0-2 are below both queue 0s, 1-0 below the one queue 1 (other/0-1 went with the first replay of dlq)")
	for _, s := range d.Sent {
		require.NotContains(t, []string{"a:0:4", "b:0:7"}, s.ID)
	}
	require.True(t, d.prune("dlq", map[string]int64{"a:0": 10, "b:0": 10}))
	require.Empty(t, d.Queues)
	require.Empty(t, d.Sent)
}

// TestClusterReplayRecordsAreBoundedByTheDLQ: the config fold keeps a connector's done
// replays as runs, so a replay of thousands of records of a queue is one run and the
// snapshot stays small; a floor record drops the replays, done and taken, of records the
// broker deleted, and nothing else; a take of a record replayed is refused; a deleted
// connector's records go with it.
func TestClusterReplayRecordsAreBoundedByTheDLQ(t *testing.T) {
	s := newConfigState()
	dlq := map[string]string{"errors.deadletterqueue.topic.name": "dlq"}
	require.NoError(t, s.apply(0, configRecord{Type: recConnector, Name: "a", Config: dlq}))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 5000
	for i := range n {
		key := fmt.Sprintf("dlq/broker-%d:0:%d/m%d", i%2, i/2, i)
		require.NoError(t, s.apply(int64(i+1), configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: key, Stored: int64(i),
			Taker: "w1.p1", Replay: &restapi.ReplayInfo{At: at.Add(time.Duration(i) * time.Millisecond)}}))
		require.NoError(t, s.apply(int64(i+1), configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: key, Stored: int64(i),
			Replay: &restapi.ReplayInfo{At: at, MsgID: fmt.Sprint("sent", i)}}))
	}
	c := s.Connectors["a"]
	require.Empty(t, c.Replays, "no takes left")
	require.Len(t, c.Replayed.Queues, 2)
	require.Len(t, c.Replayed.Queues["broker-1:0"].Runs, 1)
	body, err := json.Marshal(configRecord{Type: recSnapshot, Snapshot: s})
	require.NoError(t, err)
	require.Less(t, len(body), 100<<10)
	_, ok := c.Replayed.run("dlq", dlqID{broker: "broker-0", queue: 0, offset: 0}, 0)
	require.True(t, ok, "the first replayed is still known")
	require.ErrorIs(t, s.apply(n+1, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "dlq/broker-0:0:0/m0",
		Taker: "w2.p2", Replay: &restapi.ReplayInfo{At: at}}), restapi.ErrAlreadyExists)

	// A take of a record, and a legacy done record, then the broker deletes broker-0's
	// records below 2000.
	require.NoError(t, s.apply(n+2, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "dlq/broker-0:0:9999/x",
		Taker: "w2.p2", Replay: &restapi.ReplayInfo{At: at}}))
	require.NoError(t, s.apply(n+3, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "dlq/0-5/y",
		Replay: &restapi.ReplayInfo{At: at, MsgID: "z"}}))
	require.NoError(t, s.apply(n+4, configRecord{Type: recReplayFloor, Name: "a", Inc: 1,
		Floors: &replayFloors{Topic: "dlq", Queues: map[string]int64{"broker-0:0": 2000, "broker-1:0": 0}}}))
	require.Equal(t, []replayRun{{From: 2000, To: n / 2, At: at, Stored: n - 2}}, c.Replayed.Queues["broker-0:0"].Runs)
	require.Equal(t, []replayRun{{From: 0, To: n / 2, At: at, Stored: n - 1}}, c.Replayed.Queues["broker-1:0"].Runs)
	require.Contains(t, c.Replays, "dlq/broker-0:0:9999/x", "a take of a record still held")
	require.Contains(t, c.Replays, "dlq/0-5/y", "broker-1's queue 0 may hold its record")
	require.NoError(t, s.apply(n+5, configRecord{Type: recReplayFloor, Name: "a", Inc: 1,
		Floors: &replayFloors{Topic: "dlq", Queues: map[string]int64{"broker-0:0": 20000, "broker-1:0": 6}}}))
	require.Empty(t, c.Replays)
	require.Empty(t, c.Takers)
	require.NotContains(t, c.Replayed.Queues, "broker-0:0")

	require.NoError(t, s.apply(n+6, configRecord{Type: recDelete, Name: "a", Inc: 1}))
	require.NoError(t, s.apply(n+7, configRecord{Type: recConnector, Name: "a", Config: dlq}))
	require.Nil(t, s.Connectors["a"].Replayed)
}
