package worker

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigFoldEpochs(t *testing.T) {
	s := newConfigState()
	cfg := func(v string) map[string]string { return map[string]string{"k": v} }
	require.NoError(t, s.apply(0, configRecord{Type: recConnector, Name: "a", Config: cfg("1")}))
	c := s.Connectors["a"]
	assert.Equal(t, int64(1), c.Epoch)
	assert.Equal(t, int64(1), c.Inc)
	assert.Equal(t, restapi.TargetStarted, c.Target)

	// A second create of the same name loses.
	assert.ErrorIs(t, s.apply(1, configRecord{Type: recConnector, Name: "a", Config: cfg("x")}), restapi.ErrAlreadyExists)
	assert.Equal(t, "1", s.Connectors["a"].Config["k"])

	// Tasks are accepted for the epoch in force only.
	require.NoError(t, s.apply(2, configRecord{Type: recTasks, Name: "a", Epoch: 1, Tasks: []map[string]string{cfg("t0")}}))
	assert.Equal(t, int64(3), s.Connectors["a"].TasksVersion)

	// Two updates based on epoch 1: the first wins, the second is stale.
	require.NoError(t, s.apply(3, configRecord{Type: recConnector, Name: "a", Config: cfg("2"), Base: 1}))
	assert.ErrorIs(t, s.apply(4, configRecord{Type: recConnector, Name: "a", Config: cfg("3"), Base: 1}), errStale)
	c = s.Connectors["a"]
	assert.Equal(t, "2", c.Config["k"])
	assert.Equal(t, int64(4), c.Epoch)
	assert.Equal(t, int64(1), c.Inc, "an update keeps the incarnation")
	assert.Nil(t, c.Tasks, "a new config drops the old epoch's tasks")

	// Tasks computed for the old epoch arrive late: ignored.
	assert.ErrorIs(t, s.apply(5, configRecord{Type: recTasks, Name: "a", Epoch: 1, Tasks: []map[string]string{cfg("old")}}), errStale)
	require.NoError(t, s.apply(6, configRecord{Type: recTasks, Name: "a", Epoch: 4, Tasks: []map[string]string{cfg("t0"), cfg("t1")}}))
	v := s.Connectors["a"].TasksVersion
	// Republished unchanged: the version stays, so running tasks are not restarted.
	require.NoError(t, s.apply(7, configRecord{Type: recTasks, Name: "a", Epoch: 4, Tasks: []map[string]string{cfg("t0"), cfg("t1")}}))
	assert.Equal(t, v, s.Connectors["a"].TasksVersion)

	// Stop drops the tasks; a target for another incarnation is not found.
	require.NoError(t, s.apply(8, configRecord{Type: recTarget, Name: "a", Inc: 1, Target: restapi.TargetStopped}))
	assert.Nil(t, s.Connectors["a"].Tasks)
	assert.ErrorIs(t, s.apply(9, configRecord{Type: recTasks, Name: "a", Epoch: 4, Tasks: []map[string]string{cfg("t0")}}), errStale)
	assert.ErrorIs(t, s.apply(10, configRecord{Type: recTarget, Name: "a", Inc: 99, Target: restapi.TargetStarted}), restapi.ErrNotFound)

	// Delete, then re-create: a new incarnation; a late delete of the old one misses it.
	require.NoError(t, s.apply(11, configRecord{Type: recDelete, Name: "a", Inc: 1}))
	assert.NotContains(t, s.Connectors, "a")
	assert.ErrorIs(t, s.apply(12, configRecord{Type: recConnector, Name: "a", Config: cfg("4"), Base: 4}), errStale)
	require.NoError(t, s.apply(13, configRecord{Type: recConnector, Name: "a", Config: cfg("5"), Target: restapi.TargetPaused}))
	assert.Equal(t, int64(14), s.Connectors["a"].Inc)
	assert.Equal(t, restapi.TargetPaused, s.Connectors["a"].Target)
	assert.ErrorIs(t, s.apply(14, configRecord{Type: recDelete, Name: "a", Inc: 1}), restapi.ErrNotFound)
	assert.Contains(t, s.Connectors, "a")
	assert.Error(t, s.apply(15, configRecord{Type: "bogus", Name: "a"}))
}

func TestStatusFoldClaims(t *testing.T) {
	s := newStatusState()
	rec := func(w string, gen int64, st restapi.State) statusRecord {
		return statusRecord{Connector: "c", Task: 0, Inc: 1, State: st, Worker: w, Gen: gen}
	}
	require.NoError(t, s.apply(rec("w1", 1, restapi.StateRunning)))
	// w2 and w3 race for generation 2: the first record wins.
	require.NoError(t, s.apply(rec("w2", 2, restapi.StateRunning)))
	assert.ErrorIs(t, s.apply(rec("w3", 2, restapi.StateRunning)), errStale)
	// The former holder's late report is stale.
	assert.ErrorIs(t, s.apply(rec("w1", 1, restapi.StateFailed)), errStale)
	r, ok := s.task("c", 1, 0)
	require.True(t, ok)
	assert.Equal(t, "w2", r.Worker)
	assert.Equal(t, restapi.StateRunning, r.State)
	// The holder's own updates apply.
	require.NoError(t, s.apply(rec("w2", 2, restapi.StateUnassigned)))
	r, _ = s.task("c", 1, 0)
	assert.True(t, released(r.State))
	assert.Equal(t, int64(2), s.MaxGen["c"])
	// Another incarnation's record is not this one's.
	_, ok = s.task("c", 2, 0)
	assert.False(t, ok)
	// Connector records: kept per worker, for the newest incarnation.
	require.NoError(t, s.apply(statusRecord{Connector: "c", Task: -1, Inc: 1, State: restapi.StateFailed, Worker: "w9"}))
	require.NoError(t, s.apply(statusRecord{Connector: "c", Task: -1, Inc: 2, State: restapi.StateRunning, Worker: "w1"}))
	require.NoError(t, s.apply(statusRecord{Connector: "c", Task: -1, Inc: 2, State: restapi.StateRunning, Worker: "w2"}))
	assert.True(t, errors.Is(s.apply(statusRecord{Connector: "c", Task: -1, Inc: 1, State: restapi.StateFailed, Worker: "w1"}), errStale))
	assert.Equal(t, restapi.StateRunning, s.Connectors["c"]["w1"].State)
	assert.Equal(t, restapi.StateRunning, s.Connectors["c"]["w2"].State)
	assert.NotContains(t, s.Connectors["c"], "w9", "a report about an older incarnation is dropped")
}

func TestPositionFoldGenerations(t *testing.T) {
	s := newPositionState()
	pos := func(n float64) []positionEntry {
		return []positionEntry{{Partition: map[string]any{"file": "f"}, Offset: map[string]any{"line": n}}}
	}
	require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 1, Gen: 3, Positions: pos(10)}))
	require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 1, Gen: 4, Positions: pos(20)}))
	// The former owner (generation 3) commits late: ignored.
	assert.ErrorIs(t, s.apply(positionRecord{Connector: "c", Inc: 1, Gen: 3, Positions: pos(15)}), errStale)
	all := s.all("c", 1)
	require.Len(t, all, 1)
	assert.Equal(t, int64(20), all[0].Offset["line"])
	// The offsets API overrides whatever generation.
	require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 1, Gen: adminGen, Positions: pos(5)}))
	assert.Equal(t, int64(5), s.all("c", 1)[0].Offset["line"])
	// Another incarnation sees nothing; clearing drops the positions for good.
	assert.Empty(t, s.all("c", 2))
	require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 1, Clear: true}))
	assert.Empty(t, s.all("c", 1))
	assert.ErrorIs(t, s.apply(positionRecord{Connector: "c", Inc: 1, Gen: 9, Positions: pos(30)}), errStale)
	require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 7, Gen: 1, Positions: pos(1)}))
	assert.Len(t, s.all("c", 7), 1)
	// A null offset removes the partition.
	require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 7, Gen: 1,
		Positions: []positionEntry{{Partition: map[string]any{"file": "f"}}}}))
	assert.Empty(t, s.all("c", 7))
}

// TestSnapshotRoundTrip: a snapshot record of each fold, adopted by another worker, gives
// the same fold; complete readers ignore snapshot records.
func TestSnapshotRoundTrip(t *testing.T) {
	src := &Distributed{config: newConfigState(), status: newStatusState(), posState: newPositionState()}
	require.NoError(t, src.config.apply(0, configRecord{Type: recConnector, Name: "a", Config: map[string]string{"k": "v"}, Req: "p-1"}))
	require.NoError(t, src.config.apply(1, configRecord{Type: recTasks, Name: "a", Epoch: 1, Tasks: []map[string]string{{"t": "0"}}, Req: "p-2"}))
	require.NoError(t, src.status.apply(statusRecord{Connector: "a", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: "w1", Gen: 3}))
	require.NoError(t, src.status.apply(statusRecord{Connector: "a", Task: -1, Inc: 1, State: restapi.StateRunning, Worker: "w2"}))
	require.NoError(t, src.posState.apply(positionRecord{Connector: "a", Inc: 1, Gen: 3,
		Positions: []positionEntry{{Partition: map[string]any{"f": "x"}, Offset: map[string]any{"n": int64(7)}}}}))
	dst := &Distributed{config: newConfigState(), status: newStatusState(), posState: newPositionState()}
	snaps := dst.snapshotters()
	for i := range 3 {
		body, err := src.snapshotBody(i, snapshotHeader{Through: 9})
		require.NoError(t, err)
		through, ok := snaps[i].through(body)
		require.True(t, ok)
		require.Equal(t, int64(9), through)
		require.NoError(t, snaps[i].adopt(body))
	}
	assert.Equal(t, src.config, dst.config)
	assert.Equal(t, src.status, dst.status)
	assert.Equal(t, src.posState.all("a", 1), dst.posState.all("a", 1))
	// Applied as ordinary records (a complete reader), snapshots change nothing.
	body, _ := src.snapshotBody(0, snapshotHeader{Through: 9})
	var cr configRecord
	require.NoError(t, json.Unmarshal(body, &cr))
	require.NoError(t, dst.config.apply(20, cr))
	assert.Equal(t, src.config, dst.config)
}

// TestClaimsCompareAndSet: a claim applies only over the generation its writer saw in
// force; records of an older incarnation never override a newer one's.
func TestClaimsCompareAndSet(t *testing.T) {
	s := newStatusState()
	claim := func(w string, prev, gen int64) statusRecord {
		return statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: w, Gen: gen, Prev: prev, Claim: true}
	}
	require.NoError(t, s.apply(claim("x", 0, 1)))
	// y saw nothing in force (a stale view) and picked a higher generation: refused.
	assert.ErrorIs(t, s.apply(claim("y", 0, 7)), errStale)
	require.NoError(t, s.apply(statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateUnassigned, Worker: "x", Gen: 1}))
	// Two workers saw generation 1 released; the first claim wins, the second is refused
	// even with a higher generation.
	require.NoError(t, s.apply(claim("y", 1, 2)))
	assert.ErrorIs(t, s.apply(claim("z", 1, 3)), errStale)
	r, _ := s.task("c", 1, 0)
	assert.Equal(t, "y", r.Worker)
	// A record of an older incarnation is stale, whatever its generation.
	require.NoError(t, s.apply(statusRecord{Connector: "c", Task: 0, Inc: 5, State: restapi.StateRunning, Worker: "y", Gen: 4, Prev: 2, Claim: true}))
	assert.ErrorIs(t, s.apply(statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: "x", Gen: 9}), errStale)
	r, ok := s.task("c", 5, 0)
	require.True(t, ok)
	assert.Equal(t, int64(4), r.Gen)
}

// TestPositionResetThenCommit: the offsets API's reset (null offsets, adminGen) leaves the
// incarnation usable: the tasks' later commits apply.
func TestPositionResetThenCommit(t *testing.T) {
	s := newPositionState()
	part := map[string]any{"f": "x"}
	require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 1, Gen: 3, Positions: []positionEntry{{Partition: part, Offset: map[string]any{"n": int64(5)}}}}))
	require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 1, Gen: adminGen, Positions: []positionEntry{{Partition: part}}}))
	assert.Empty(t, s.all("c", 1))
	require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 1, Gen: 4, Positions: []positionEntry{{Partition: part, Offset: map[string]any{"n": int64(2)}}}}))
	require.Len(t, s.all("c", 1), 1)
}

// TestReplayRecords: a DLQ record's replay is taken once cluster-wide unless forced; a
// failed one can be given up and taken again.
func TestReplayRecords(t *testing.T) {
	s := newConfigState()
	require.NoError(t, s.apply(0, configRecord{Type: recConnector, Name: "a", Config: map[string]string{"k": "v"}}))
	take := func(id string, force bool) error {
		return s.apply(1, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: id, Force: force, Replay: &restapi.ReplayInfo{}})
	}
	require.NoError(t, take("0-1", false))
	assert.ErrorIs(t, take("0-1", false), restapi.ErrAlreadyExists, "a second worker does not send it again")
	require.NoError(t, s.apply(2, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "0-1", Replay: &restapi.ReplayInfo{MsgID: "m1"}}))
	assert.Equal(t, "m1", s.Connectors["a"].Replays["0-1"].MsgID)
	assert.ErrorIs(t, take("0-1", false), restapi.ErrAlreadyExists)
	require.NoError(t, take("0-1", true), "force replays again")
	require.NoError(t, take("0-2", false))
	require.NoError(t, s.apply(3, configRecord{Type: recReplay, Name: "a", Inc: 1, ReplayID: "0-2", Abandon: true, Replay: &restapi.ReplayInfo{}}))
	require.NoError(t, take("0-2", false), "a given-up replay can be taken again")
	// A config update keeps the records; another incarnation does not see them.
	require.NoError(t, s.apply(4, configRecord{Type: recConnector, Name: "a", Config: map[string]string{"k": "w"}, Base: 1}))
	assert.Contains(t, s.Connectors["a"].Replays, "0-1")
	assert.ErrorIs(t, s.apply(5, configRecord{Type: recReplay, Name: "a", Inc: 9, ReplayID: "0-3", Replay: &restapi.ReplayInfo{}}), restapi.ErrNotFound)
}

// A reset through the offsets API is not undone by a task of an earlier claim that is
// still stopping on some worker and commits afterwards; the next claim's commits apply.
func TestPositionResetFencesEarlierGenerations(t *testing.T) {
	s := newPositionState()
	part := map[string]any{"file": "a"}
	commit := func(gen, off int64) error {
		return s.apply(positionRecord{Connector: "c", Inc: 1, Gen: gen, Positions: []positionEntry{{Partition: part, Offset: map[string]any{"pos": off}}}})
	}
	require.NoError(t, commit(3, 10))
	require.NoError(t, s.apply(positionRecord{Connector: "c", Inc: 1, Gen: adminGen, Floor: 3, Positions: []positionEntry{{Partition: part}}}))
	require.Empty(t, s.all("c", 1))
	require.ErrorIs(t, commit(3, 20), errStale, "a stopping task undid the reset")
	require.Empty(t, s.all("c", 1))
	require.NoError(t, commit(4, 5))
	require.Len(t, s.all("c", 1), 1)
}

// A fold result no longer kept must not read as success: a claim whose record applied
// long ago (and may have lost) would otherwise start the task.
func TestWaitAppliedWithoutResultIsAnError(t *testing.T) {
	l := &storeLog{topic: "status", next: 5000, results: map[int64]error{4999: nil, 4998: errStale}, moved: make(chan struct{})}
	require.NoError(t, l.waitApplied(context.Background(), 4999))
	require.ErrorIs(t, l.waitApplied(context.Background(), 4998), errStale)
	require.ErrorIs(t, l.waitApplied(context.Background(), 12), errResultUnknown)
}
