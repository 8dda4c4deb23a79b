package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"github.com/stretchr/testify/require"
)

// newTestDistributed is a Distributed without a broker: its folds, claims bookkeeping and
// connector runtimes work; whatever it reports lands in d.reports.
func newTestDistributed(t *testing.T, stopTimeout time.Duration) *Distributed {
	t.Helper()
	return newTestDistributedLogging(t, stopTimeout, quiet())
}

// newTestDistributedLogging is newTestDistributed logging to log.
func newTestDistributedLogging(t *testing.T, stopTimeout time.Duration, log *slog.Logger) *Distributed {
	t.Helper()
	d, err := NewDistributed(DistributedConfig{ClusterID: "c1", StandaloneConfig: StandaloneConfig{
		WorkerID: "w1", StoreDir: t.TempDir(), StopTimeout: stopTimeout}, Lease: time.Hour}, nil, nil, log)
	require.NoError(t, err)
	d.engine.start(context.Background())
	d.members = []string{"w1"}
	d.lastRenew = time.Now()
	return d
}

// hungTask puts a claimed task into rt that never returns until release is closed.
func hungTask(rt *connRuntime, id int, gen int64) (release chan struct{}) {
	done := make(chan struct{})
	rt.mu.Lock()
	rt.tasks[id] = &taskRuntime{id: id, gen: gen, cancel: func() {}, done: done,
		state: restapi.StateInfo{State: restapi.StateRunning, WorkerID: rt.e.cfg.WorkerID}, reported: restapi.StateInfo{State: restapi.StateRunning, WorkerID: rt.e.cfg.WorkerID}}
	rt.mu.Unlock()
	return done
}

func drainReports(d *Distributed) []statusRecord {
	d.reportMu.Lock()
	defer d.reportMu.Unlock()
	var out []statusRecord
	for _, k := range d.pendingOrder {
		out = append(out, d.pending[k])
	}
	d.pending, d.pendingOrder = map[taskKey]statusRecord{}, nil
	return out
}

// Two tasks that ignore their cancellation must not hold a stop up past the deadline
// (a deadline channel shared by both fired for the first only).
func TestAwaitStoppedAbandonsEveryHungTask(t *testing.T) {
	d := newTestDistributed(t, 20*time.Millisecond)
	rt := newConnRuntime(d.engine, "c", &parsedConfig{raw: map[string]string{}}, nil)
	a, b := hungTask(rt, 0, 1), hungTask(rt, 1, 2)
	defer close(a)
	defer close(b)
	returned := make(chan []*taskRuntime, 1)
	go func() { returned <- rt.awaitStopped(rt.tasksByID([]int{0, 1})) }()
	select {
	case abandoned := <-returned:
		require.Len(t, abandoned, 2)
	case <-time.After(30 * time.Second):
		t.Fatal("awaitStopped still waits for hung tasks long after the stop timeout")
	}
}

// A task that did not stop keeps its claim: no release is written while it runs (its
// next owner would start it meanwhile), no claim of this worker takes it for another run,
// and repairClaims leaves it alone; once it returns, the release is written.
func TestAbandonedTaskKeepsItsClaimUntilItReturns(t *testing.T) {
	d := newTestDistributed(t, 10*time.Millisecond)
	rt := newConnRuntime(d.engine, "c", &parsedConfig{raw: map[string]string{}}, nil)
	rt.inc = 7
	d.engine.adopt(rt)
	claim := statusRecord{Connector: "c", Task: 0, Inc: 7, State: restapi.StateRunning, Worker: "w1", Proc: d.proc, Gen: 3, Claim: true}
	require.NoError(t, d.status.apply(claim))
	release := hungTask(rt, 0, 3)

	rt.stopTaskSet([]int{0}, restapi.StateUnassigned)
	for _, r := range drainReports(d) {
		require.False(t, released(r.State), "task released while it still runs: %+v", r)
	}
	d.repairClaims()
	for _, r := range drainReports(d) {
		require.False(t, released(r.State), "repairClaims released a task that still runs: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := d.claim(ctx, rt, 0)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "claimed again for a new run while the old one runs")

	close(release)
	var got []statusRecord
	require.Eventually(t, func() bool { got = append(got, drainReports(d)...); return len(got) > 0 }, 30*time.Second, 5*time.Millisecond,
		"the task returned but its release was never written")
	require.Equal(t, restapi.StateUnassigned, got[0].State)
	require.Equal(t, int64(3), got[0].Gen)
	close(d.leaving)
	d.crew.close()
}

// A cache of the fold is not used once a store topic was recreated, even when the new
// topic has grown past the offsets the cache covers.
func TestClusterCacheRejectedAfterTopicRecreated(t *testing.T) {
	d := newTestDistributed(t, time.Second)
	d.cfg.ConfigTopic, d.cfg.StatusTopic, d.cfg.PositionTopic = "cfg", "st", "pos"
	d.configLog, d.statusLog, d.positionLog = &storeLog{topic: "cfg"}, &storeLog{topic: "st"}, &storeLog{topic: "pos"}
	topics := map[int]map[int64][]byte{
		0: {0: []byte(`{"type":"connector","name":"a"}`), 1: []byte(`{"type":"target","name":"a"}`)},
		1: {0: []byte(`{"connector":"a","task":0}`)},
		2: {},
	}
	for i, l := range []*storeLog{d.configLog, d.statusLog, d.positionLog} {
		l.next = int64(len(topics[i]))
		if l.next > 0 {
			l.last = markOf(l.next-1, topics[i][l.next-1])
		}
	}
	d.config.Connectors["a"] = &clusterConnector{Config: map[string]string{}, Target: restapi.TargetStarted, Epoch: 1, Inc: 1}
	d.saveCache()
	recordAt := func(i int, off int64) ([]byte, error) { return topics[i][off], nil }
	maxOff := [3]int64{5, 5, 5}

	fresh := newTestDistributed(t, time.Second)
	fresh.cfg, fresh.configLog, fresh.statusLog, fresh.positionLog = d.cfg, d.configLog, d.statusLog, d.positionLog
	require.Equal(t, [3]int64{2, 1, 0}, fresh.loadCache([3]int64{}, maxOff, recordAt), "the same topics: the cache is used")
	require.Contains(t, fresh.config.Connectors, "a")

	// Recreated: other records at the same offsets (and more of them).
	topics[0][1] = []byte(`{"type":"connector","name":"b"}`)
	fresh = newTestDistributed(t, time.Second)
	fresh.cfg, fresh.configLog, fresh.statusLog, fresh.positionLog = d.cfg, d.configLog, d.statusLog, d.positionLog
	require.Equal(t, [3]int64{}, fresh.loadCache([3]int64{}, maxOff, recordAt), "a recreated topic: the cache is not used")
	require.Empty(t, fresh.config.Connectors)
}

// Two clusters that share the store topics (the default names) do not see each other's
// connectors, claims or positions, nor adopt each other's snapshots.
func TestRecordsOfAnotherClusterAreIgnored(t *testing.T) {
	d := newTestDistributed(t, time.Second) // cluster c1
	rec := func(v any) []byte { b, err := json.Marshal(v); require.NoError(t, err); return b }
	require.ErrorIs(t, d.applyConfig(0, rec(configRecord{Cluster: "c2", Type: recConnector, Name: "theirs", Config: map[string]string{}})), errForeignRecord)
	require.NoError(t, d.applyConfig(1, rec(configRecord{Cluster: "c1", Type: recConnector, Name: "ours", Config: map[string]string{}})))
	require.NoError(t, d.applyConfig(2, rec(configRecord{Type: recConnector, Name: "legacy", Config: map[string]string{}})), "records from before clusters were recorded are kept")
	require.ElementsMatch(t, []string{"ours", "legacy"}, slices.Collect(maps.Keys(d.config.Connectors)))

	require.ErrorIs(t, d.applyStatus(0, rec(statusRecord{Cluster: "c2", Connector: "ours", Task: 0, Inc: 2, State: restapi.StateRunning, Worker: "x", Gen: 9, Claim: true})), errForeignRecord)
	require.Empty(t, d.status.Tasks["ours"])
	require.ErrorIs(t, d.applyPosition(0, rec(positionRecord{Cluster: "c2", Connector: "ours", Inc: 2, Gen: 1,
		Positions: []positionEntry{{Partition: map[string]any{"f": "a"}, Offset: map[string]any{"p": 1}}}})), errForeignRecord)
	require.Empty(t, d.posState.Connectors)

	snaps := d.snapshotters()
	_, isSnap := snaps[0].through(rec(configRecord{Cluster: "c2", Type: recSnapshot, Snapshot: newConfigState(), snapshotHeader: snapshotHeader{Through: 3}}))
	require.False(t, isSnap, "another cluster's snapshot would replace this cluster's fold")
	_, isSnap = snaps[0].through(rec(configRecord{Cluster: "c1", Type: recSnapshot, Snapshot: newConfigState(), snapshotHeader: snapshotHeader{Through: 3}}))
	require.True(t, isSnap)
}

// A former process of this workerId, suspended past its expiry while a new one took its
// tasks over and then resumed, is fenced by the new process's claims although they carry
// its own worker id; and it does not take a task claimed by another live process of its
// id either.
func TestSameWorkerIDZombieIsFenced(t *testing.T) {
	zombie := newTestDistributed(t, time.Second)
	defer zombie.engine.stop(false) // waits for the fenced task's watcher
	zombie.proc = "old"
	rt := newConnRuntime(zombie.engine, "c", &parsedConfig{raw: map[string]string{}}, nil)
	rt.inc = 1
	zombie.engine.adopt(rt)
	require.NoError(t, zombie.status.apply(statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: "w1", Proc: "old", Gen: 5, Claim: true}))
	cancelled := make(chan struct{})
	rt.mu.Lock()
	rt.tasks[0] = &taskRuntime{id: 0, gen: 5, done: make(chan struct{}), cancel: func() { close(cancelled) }}
	rt.mu.Unlock()
	require.True(t, zombie.holds(rt, 0, 5))

	// The replacement (same workerId, another process) claims the task.
	takeover := statusRecord{Cluster: "c1", Connector: "c", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: "w1", Proc: "new", Gen: 6, Claim: true, Prev: 5}
	body, err := json.Marshal(takeover)
	require.NoError(t, err)
	require.NoError(t, zombie.applyStatus(10, body))
	select {
	case <-cancelled:
	default:
		t.Fatal("the resumed process keeps running a task its replacement claimed")
	}
	require.False(t, zombie.holds(rt, 0, 5))
	require.False(t, zombie.holds(rt, 0, 6), "a claim of another process is not this one's")

	// Both are members now: the zombie waits for the task instead of claiming it back.
	zombie.members = []string{"w1.new", "w1.old"}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = zombie.claim(ctx, rt, 0)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// The assignment is computed over worker ids: a restarted worker (a new incarnation)
// gets its units back.
func TestMemberIDsCarryTheIncarnation(t *testing.T) {
	require.Equal(t, "w1.ab12", memberID("w1", "ab12"))
	require.Equal(t, []string{"w1", "w2"}, workerIDs([]string{"w2.x", "w1.b", "w1.a"}))
	require.True(t, holderLive(statusRecord{Worker: "w1", Proc: "a"}, []string{"w1.a"}))
	require.False(t, holderLive(statusRecord{Worker: "w1", Proc: "a"}, []string{"w1.b"}))
	require.True(t, holderLive(statusRecord{Worker: "w1"}, []string{"w1.b"}), "a claim written before incarnations: by worker id")
}

// A worker whose lease has lapsed claims nothing, not even a released task: a process of this
// workerId suspended past its expiry and resumed took a task released to its replacement
// (TestDistributedSameIDZombie saw its claim in the status topic).
func TestLapsedLeaseClaimsNothing(t *testing.T) {
	d := newTestDistributed(t, time.Second)
	rt := newConnRuntime(d.engine, "c", &parsedConfig{raw: map[string]string{}}, nil)
	rt.inc = 1
	d.engine.adopt(rt)
	require.NoError(t, d.status.apply(statusRecord{Connector: "c", Task: 0, Inc: 1, State: restapi.StateUnassigned, Worker: "w2", Proc: "p2", Gen: 2}))
	d.mu.Lock()
	d.lastRenew = time.Now().Add(-2 * d.cfg.Lease)
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := d.claim(ctx, rt, 0)
	require.ErrorIs(t, err, context.DeadlineExceeded, "claimed a task with a lapsed lease")
}

// A runtime retired by a config change or delete stops its tasks after it left the engine's
// connectors: while a task still stops (up to the graceful stop timeout), repairClaims must
// leave its claim alone, as it does for a running one. It released it, so another worker
// could start the task before this one's final commit and Stop.
func TestRetiringTaskKeepsItsClaim(t *testing.T) {
	d := newTestDistributed(t, time.Minute)
	rt := newConnRuntime(d.engine, "c", &parsedConfig{raw: map[string]string{}}, nil)
	rt.inc = 7
	d.engine.adopt(rt)
	claim := statusRecord{Connector: "c", Task: 0, Inc: 7, State: restapi.StateRunning, Worker: "w1", Proc: d.proc, Gen: 3, Claim: true}
	require.NoError(t, d.status.apply(claim))
	stopped := hungTask(rt, 0, 3)

	retired := d.engine.retire(func(*connRuntime) bool { return false })
	require.Equal(t, []*connRuntime{rt}, retired)
	d.repairClaims()
	for _, r := range drainReports(d) {
		require.False(t, released(r.State), "repairClaims released a task that is still stopping: %+v", r)
	}

	close(stopped) // the task returned; its runtime is shut down
	d.engine.retired(rt)
	d.repairClaims()
	got := drainReports(d)
	require.Len(t, got, 1, "a claim left behind once it stopped is repaired")
	require.Equal(t, restapi.StateUnassigned, got[0].State)
	close(d.leaving)
	d.crew.close()
}
