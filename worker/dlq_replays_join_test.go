package worker

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// dlqMsg is DLQ message off of queue q of broker b, stored at stored (Unix ms).
func dlqMsg(b string, q int, off, stored int64) *rmqclient.ReceivedMessage {
	return &rmqclient.ReceivedMessage{Queue: rmqclient.Queue{BrokerName: b, QueueID: q}, Offset: off, StoreTime: time.UnixMilli(stored)}
}

// TestDLQReplaysOfManyCallsStayOneRunPerQueue: replays of the records a DLQ received since
// the previous replay (a replay of every record every 5 minutes for a week, on 8 queues)
// keep a run per queue, shown with the latest call's time; every record replayed is still
// known, and a re-created topic's records at the same offsets are not. Each call used to
// add a run per queue (16,128 here).
func TestDLQReplaysOfManyCallsStayOneRunPerQueue(t *testing.T) {
	const calls, queues, per = 7 * 24 * 12, 8, 2
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &dlqReplays{}
	var last time.Time
	for c := range calls {
		last = t0.Add(time.Duration(c) * 5 * time.Minute)
		for q := range queues {
			for k := range per {
				off := int64(c*per + k)
				d.add("dlq", dlqID{broker: "b", queue: q, offset: off}, 1000+off, 0, restapi.ReplayInfo{At: last, MsgID: "m"})
			}
		}
	}
	const n = calls * per
	require.Len(t, d.Queues, queues)
	for k, q := range d.Queues {
		require.Equal(t, []replayRun{{From: 0, To: n, At: last, Stored: 1000 + n - 1}}, q.Runs, k)
	}
	for _, off := range []int64{0, 1, n / 2, n - 1} {
		for q := range queues {
			require.True(t, d.replayed("dlq", dlqMsg("b", q, off, 1000+off)), off)
			require.False(t, d.replayed("dlq", dlqMsg("b", q, off, 1000+n+off)), "a re-created topic's record %d", off)
		}
	}
	require.False(t, d.replayed("dlq", dlqMsg("b", 0, n, 1000+n)), "not replayed yet")
	require.False(t, d.prune("dlq", map[string]int64{"b:0": 0}))
	require.True(t, d.prune("dlq", map[string]int64{"b:0": n / 2}))
	require.Equal(t, []replayRun{{From: n / 2, To: n, At: last, Stored: 1000 + n - 1}}, d.Queues["b:0"].Runs)
}

// TestDLQReplaysOfAReCreatedTopicStayApart: a record of a former incarnation of the DLQ
// topic whose replay is recorded late, next to the replays of the topic created again, is
// not joined to them: joined, the next replay of the new topic's record at its offset would
// drop them (a run reaching past a record, of messages all stored before it, is of a former
// topic), and the new topic's records replayed would be sent again.
func TestDLQReplaysOfAReCreatedTopicStayApart(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := func(off int64) dlqID { return dlqID{broker: "b", offset: off} }
	d := &dlqReplays{}
	for off := range int64(10) {
		d.add("dlq", id(off), 100+off, 0, restapi.ReplayInfo{At: t0})
	}
	// The topic created again: its records 0-4 replayed, then the former one's record 5,
	// then the new one's.
	for off := range int64(5) {
		d.add("dlq", id(off), 500+off, 0, restapi.ReplayInfo{At: t0.Add(time.Hour)})
	}
	d.add("dlq", id(5), 105, 0, restapi.ReplayInfo{At: t0})
	require.False(t, d.replayed("dlq", dlqMsg("b", 0, 5, 505)))
	d.add("dlq", id(5), 505, 0, restapi.ReplayInfo{At: t0.Add(2 * time.Hour)})
	for off := range int64(6) {
		require.True(t, d.replayed("dlq", dlqMsg("b", 0, off, 500+off)), "the new topic's record %d", off)
	}
	require.Equal(t, []replayRun{{From: 0, To: 6, At: t0.Add(2 * time.Hour), Stored: 505}}, d.Queues["b:0"].Runs)
	for off := int64(6); off < 10; off++ {
		require.False(t, d.replayed("dlq", dlqMsg("b", 0, off, 500+off)), off)
	}
}

// TestDLQReplaysPruneJoinsTheRunsOfEveryCall: runs that touch, kept apart by call (as a
// fold or dlq-replays.json may hold them), are joined by the next prune, which reports it;
// runs stored out of offset order stay apart.
func TestDLQReplaysPruneJoinsTheRunsOfEveryCall(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	d := &dlqReplays{Topic: "dlq", Queues: map[string]*queueReplays{
		"b:0": {Runs: []replayRun{{0, 3, at(0), 102}, {3, 5, at(2), 104}, {5, 6, at(1), 105}, {6, 8, at(3), 50}, {9, 10, at(4), 60}}},
	}}
	require.True(t, d.prune("dlq", nil))
	require.Equal(t, []replayRun{{0, 6, at(2), 105}, {6, 8, at(3), 50}, {9, 10, at(4), 60}}, d.Queues["b:0"].Runs)
	require.False(t, d.prune("dlq", nil))

	// The fold joins them at the floor record a replay writes for it.
	s := newConfigState()
	require.NoError(t, s.apply(0, configRecord{Type: recConnector, Name: "a",
		Config: map[string]string{"errors.deadletterqueue.topic.name": "dlq"}}))
	s.Connectors["a"].Replayed = &dlqReplays{Topic: "dlq", Queues: map[string]*queueReplays{
		"b:0": {Runs: []replayRun{{0, 3, at(0), 102}, {3, 5, at(2), 104}}},
	}}
	cp := s.Connectors["a"].Replayed.clone()
	require.True(t, cp.prune("dlq", map[string]int64{"b:0": 0}), "a replay writes a floor record")
	require.NoError(t, s.apply(1, configRecord{Type: recReplayFloor, Name: "a", Inc: 1,
		Floors: &replayFloors{Topic: "dlq", Queues: map[string]int64{"b:0": 0}}}))
	require.Equal(t, cp.Queues, s.Connectors["a"].Replayed.Queues)
	require.Equal(t, []replayRun{{0, 5, at(2), 104}}, cp.Queues["b:0"].Runs)
}

// TestClusterReplayRecordsOfRepeatedReplaysStayBounded: in the config fold, a replay of the
// new records every 5 minutes for a week on 8 queues keeps a run per queue, and the snapshot
// stays small (it used to hold a run per call and queue, about 1.5 MB); a record replayed is
// still refused a take, a re-created topic's record at its offset is not.
func TestClusterReplayRecordsOfRepeatedReplaysStayBounded(t *testing.T) {
	s := newConfigState()
	require.NoError(t, s.apply(0, configRecord{Type: recConnector, Name: "a",
		Config: map[string]string{"errors.deadletterqueue.topic.name": "dlq"}}))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const calls, queues = 7 * 24 * 12, 8
	off := int64(1)
	for c := range calls {
		at := t0.Add(time.Duration(c) * 5 * time.Minute)
		for q := range queues {
			key := fmt.Sprintf("dlq/broker-a:%d:%d/m", q, c)
			require.NoError(t, s.apply(off, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: key, Stored: int64(1000 + c),
				Taker: "w1.p1", Replay: &restapi.ReplayInfo{At: at}}))
			require.NoError(t, s.apply(off+1, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: key, Stored: int64(1000 + c),
				Replay: &restapi.ReplayInfo{At: at, MsgID: fmt.Sprint("sent", c, q)}}))
			off += 2
		}
	}
	c := s.Connectors["a"]
	require.Empty(t, c.Replays)
	require.Len(t, c.Replayed.Queues, queues)
	for k, q := range c.Replayed.Queues {
		require.Len(t, q.Runs, 1, k)
	}
	body, err := json.Marshal(configRecord{Type: recSnapshot, Snapshot: s})
	require.NoError(t, err)
	require.Less(t, len(body), 100<<10)
	require.ErrorIs(t, s.apply(off, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "dlq/broker-a:3:17/m", Stored: 1017,
		Taker: "w2.p2", Replay: &restapi.ReplayInfo{At: t0}}), restapi.ErrAlreadyExists)
	require.NoError(t, s.apply(off+1, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "dlq/broker-a:3:17/n", Stored: 1000 + calls,
		Taker: "w2.p2", Replay: &restapi.ReplayInfo{At: t0}}), "a re-created topic's record")
}

// TestClusterReplayOfAFormerDLQTopicFinishedLate: a replay of the connector's former DLQ
// topic that finishes after the topic was changed ends its take and leaves the replay
// records of the current topic alone: they used to be dropped for the former topic's, and
// their records replayed again.
func TestClusterReplayOfAFormerDLQTopicFinishedLate(t *testing.T) {
	const key = "errors.deadletterqueue.topic.name"
	s := newConfigState()
	require.NoError(t, s.apply(0, configRecord{Type: recConnector, Name: "a", Config: map[string]string{key: "dlqA"}}))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	take := func(off int64, id string) error {
		return s.apply(off, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: id, Stored: 100, Taker: "w1.p1",
			Replay: &restapi.ReplayInfo{At: t0}})
	}
	finish := func(off int64, id string) error {
		return s.apply(off, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: id, Stored: 100,
			Replay: &restapi.ReplayInfo{At: t0, MsgID: "sent"}})
	}
	require.NoError(t, take(1, "dlqA/b:0:0/m"))
	require.NoError(t, finish(2, "dlqA/b:0:0/m"))
	require.NoError(t, take(3, "dlqA/b:0:1/m"))

	// The DLQ topic changes while the replay of dlqA goes on; dlqB's records are replayed.
	require.NoError(t, s.apply(4, configRecord{Type: recConnector, Name: "a", Base: 1, Config: map[string]string{key: "dlqB"}}))
	for i := range 3 {
		id := fmt.Sprintf("dlqB/b:0:%d/m", i)
		require.NoError(t, take(int64(5+2*i), id))
		require.NoError(t, finish(int64(6+2*i), id))
	}
	c := s.Connectors["a"]
	want := c.Replayed.clone()
	require.Equal(t, "dlqB", want.Topic)

	require.NoError(t, finish(11, "dlqA/b:0:1/m"), "taken before the change")
	require.NoError(t, take(12, "dlqA/b:0:2/m"))
	require.Contains(t, c.Replays, "dlqA/b:0:2/m")
	require.NoError(t, finish(13, "dlqA/b:0:2/m"), "taken after the change")
	require.Empty(t, c.Replays, "the take ended")
	require.Empty(t, c.Takers)
	require.Equal(t, want, c.Replayed)
	for i := range 3 {
		require.ErrorIs(t, take(14, fmt.Sprintf("dlqB/b:0:%d/m", i)), restapi.ErrAlreadyExists, "dlqB's record %d was replayed", i)
	}
}
