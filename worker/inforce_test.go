package worker

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/scheduler"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

func sortedAssignment(a scheduler.Assignment) scheduler.Assignment {
	for w := range a {
		slices.SortFunc(a[w], scheduler.Unit.Compare)
	}
	return a
}

// The placement in force names, for each unit, the live worker the status topic records
// holding it: task claims (a PAUSED task where it was paused), connector records not
// released; records of workers that left, of another process of a live worker id, of an
// older incarnation, and releases count for nothing.
func TestPlacementInForce(t *testing.T) {
	st := newStatusState()
	recs := []statusRecord{
		{Connector: "a", Task: -1, Inc: 1, State: restapi.StateRunning, Worker: "w1", Proc: "p1"},
		{Connector: "a", Task: -1, Inc: 1, State: restapi.StateUnassigned, Worker: "w2", Proc: "p2"}, // released
		{Connector: "a", Task: -1, Inc: 1, State: restapi.StateRunning, Worker: "w3", Proc: "p3"},    // left
		{Connector: "a", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: "w2", Proc: "p2", Gen: 1, Claim: true},
		{Connector: "a", Task: 1, Inc: 1, State: restapi.StateRunning, Worker: "w3", Proc: "p3", Gen: 2, Claim: true}, // left
		{Connector: "a", Task: 2, Inc: 1, State: restapi.StateRunning, Worker: "w1", Proc: "p1", Gen: 3, Claim: true},
		{Connector: "a", Task: 2, Inc: 1, State: restapi.StateUnassigned, Worker: "w1", Proc: "p1", Gen: 3},            // released
		{Connector: "b", Task: 0, Inc: 5, State: restapi.StateRunning, Worker: "w1", Proc: "old", Gen: 1, Claim: true}, // another process
		{Connector: "b", Task: 1, Inc: 5, State: restapi.StatePaused, Worker: "w2", Proc: "p2", Gen: 2},
		{Connector: "b", Task: -1, Inc: 5, State: restapi.StatePaused, Worker: "w2", Proc: "p2"},
		{Connector: "c", Task: -1, Inc: 1, State: restapi.StateRunning, Worker: "w1", Proc: "p1"}, // older incarnation
		{Connector: "c", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: "w1", Proc: "p1", Gen: 1, Claim: true},
	}
	for _, r := range recs {
		require.NoError(t, st.apply(r), "%+v", r)
	}
	conns := map[string]clusterConnector{
		"a": {Inc: 1, Tasks: make([]map[string]string, 3)},
		"b": {Inc: 5, Tasks: make([]map[string]string, 2)},
		"c": {Inc: 9, Tasks: make([]map[string]string, 1)},
	}
	got := sortedAssignment(placementInForce([]string{"w1.p1", "w2.p2"}, conns, st))
	require.Equal(t, scheduler.Assignment{
		"w1": {{Connector: "a", Task: scheduler.ConnectorTask}},
		"w2": {{Connector: "a", Task: 0}, {Connector: "b", Task: scheduler.ConnectorTask}, {Connector: "b", Task: 1}},
	}, got)

	// Once w3 is a member again (the same process), what it holds counts.
	got = sortedAssignment(placementInForce([]string{"w1.p1", "w2.p2", "w3.p3"}, conns, st))
	require.Equal(t, []scheduler.Unit{{Connector: "a", Task: scheduler.ConnectorTask}, {Connector: "a", Task: 1}}, got["w3"])
}

// A worker that gives a connector unit up writes the release, once: the status topic then
// names only the new holder, and the sticky strategy's placement in force has one holder.
func TestReleasedConnectorIsRecordedReleased(t *testing.T) {
	d := newTestDistributed(t, time.Second)
	rt := newConnRuntime(d.engine, "c", &parsedConfig{raw: map[string]string{}}, nil)
	rt.inc = 4
	d.engine.adopt(rt)
	conns := map[string]clusterConnector{"c": {Inc: 4}}
	conn := scheduler.Unit{Connector: "c", Task: scheduler.ConnectorTask}
	apply := func() []statusRecord {
		recs := drainReports(d)
		for _, r := range recs {
			require.NoError(t, d.status.apply(r))
		}
		return recs
	}

	rt.mu.Lock()
	rt.ownConn = true
	rt.mu.Unlock()
	rt.setConnState(restapi.StateRunning, "")
	require.Len(t, apply(), 1)
	require.Equal(t, []scheduler.Unit{conn}, placementInForce(d.members, conns, d.status)["w1"])

	rt.syncDistributed(desiredConn{target: restapi.TargetStarted}) // the unit went to another worker
	recs := apply()
	require.Len(t, recs, 1, "no release written")
	require.Equal(t, restapi.StateUnassigned, recs[0].State)
	require.Equal(t, int64(4), recs[0].Inc)
	require.Empty(t, placementInForce(d.members, conns, d.status)["w1"])

	rt.syncDistributed(desiredConn{target: restapi.TargetStarted})
	require.Empty(t, apply(), "released again")
}

// With the sticky strategy, reconcile gives Rebalance the placement in force: tasks stay
// with the live workers whose claims hold them, where Assign alone would move them.
func TestStickyReconcileKeepsUnitsWhereTheyRun(t *testing.T) {
	d := newTestDistributed(t, time.Second)
	d.engine.registry = fileRegistry(t) // the connector's class is unknown: reconcile builds no runtime
	d.configLog = &storeLog{}
	d.strategy = scheduler.NewSticky()
	d.members = []string{memberID("w1", d.proc), memberID("w2", "p2")}
	const tasks = 6
	d.config.Connectors["c"] = &clusterConnector{Config: map[string]string{"connector.class": "no-such-class"},
		Target: restapi.TargetStarted, Epoch: 1, Inc: 1, Tasks: make([]map[string]string, tasks), TasksVersion: 2}
	units := scheduler.Units("c", tasks)
	fresh, err := scheduler.NewSticky().Assign([]string{"w1", "w2"}, units)
	require.NoError(t, err)
	// The placement in force is the fresh one with every task on the other worker.
	procs := map[string]string{"w1": d.proc, "w2": "p2"}
	other := map[string]string{"w1": "w2", "w2": "w1"}
	want := map[scheduler.Unit]string{}
	for u, w := range fresh.Owners() {
		if u.IsConnector() {
			want[u] = w
			continue
		}
		w = other[w]
		want[u] = w
		require.NoError(t, d.status.apply(statusRecord{Connector: "c", Task: u.Task, Inc: 1, State: restapi.StateRunning,
			Worker: w, Proc: procs[w], Gen: int64(u.Task + 1), Claim: true}))
	}
	d.reconcile()
	d.mu.Lock()
	got := d.owners
	d.mu.Unlock()
	require.Equal(t, want, got, "Assign alone would give %v", fresh)
}

// A status record that changes the placement in force (a claim, a release, a connector
// record) makes the sticky strategy's workers reconcile: it is an input of Rebalance, and a
// unit released on its way to a worker whose view gave it elsewhere must not wait for the
// periodic reconcile (scheduler.TestStickyHandoverReconcilesOnPlacement). A record that
// leaves the placement as it was (a holder's state report) does not.
func TestStickyReconcilesWhenPlacementInForceMoves(t *testing.T) {
	kicked := func(d *Distributed) bool {
		select {
		case <-d.kick:
			return true
		default:
			return false
		}
	}
	apply := func(d *Distributed, r statusRecord) {
		t.Helper()
		body, err := json.Marshal(r)
		require.NoError(t, err)
		require.NoError(t, d.applyStatus(0, body))
	}
	d := newTestDistributed(t, time.Second)
	_, isSticky := d.strategy.(scheduler.Sticky)
	require.True(t, isSticky, "sticky is the default strategy")
	d.members = []string{memberID("w1", d.proc), memberID("w2", "p2")}
	kicked(d)
	for _, step := range []struct {
		r    statusRecord
		kick bool
	}{
		{statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: "w2", Proc: "p2", Gen: 1, Claim: true}, true},
		{statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateFailed, Worker: "w2", Proc: "p2", Gen: 1}, false},
		{statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: "w2", Proc: "p2", Gen: 1}, false},
		{statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateUnassigned, Worker: "w2", Proc: "p2", Gen: 1}, true},
		{statusRecord{Connector: "c", Task: -1, Inc: 1, State: restapi.StateRunning, Worker: "w2", Proc: "p2"}, true},
		{statusRecord{Connector: "c", Task: -1, Inc: 1, State: restapi.StateRunning, Worker: "w2", Proc: "p2"}, false},
		{statusRecord{Connector: "c", Task: -1, Inc: 1, State: restapi.StateUnassigned, Worker: "w2", Proc: "p2"}, true},
	} {
		apply(d, step.r)
		require.Equal(t, step.kick, kicked(d), "%+v", step.r)
	}

	d = newTestDistributed(t, time.Second)
	d.strategy = scheduler.NewConsistentHash() // a function of members and configs: no status input
	kicked(d)
	apply(d, statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: "w2", Proc: "p2", Gen: 1, Claim: true})
	require.False(t, kicked(d))
}
