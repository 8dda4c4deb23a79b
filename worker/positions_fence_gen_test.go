package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// claimAt makes claim gen of task id of connector c (incarnation 1) by worker (this one's
// process when worker is w1) the record in force.
func claimAt(t *testing.T, h *claimHarness, id int, worker string, gen, prev int64) {
	t.Helper()
	proc := "p-" + worker
	if worker == h.d.cfg.WorkerID {
		proc = h.d.proc
	}
	appendAndApply(t, h.d.statusLog, statusRecord{Cluster: "c1", Connector: "c", Task: id, Inc: 1, State: restapi.StateRunning,
		Worker: worker, Proc: proc, Gen: gen, Claim: true, Prev: prev})
	h.d.mu.Lock()
	r, ok := h.d.status.task("c", 1, id)
	h.d.mu.Unlock()
	require.True(t, ok)
	require.Equal(t, gen, r.Gen)
}

func positionsCount(q *memQueue) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.records)
}

// TestPositionsOfAReplacedClaimAreNotWritten: a run whose claim (generation 5) another
// worker's claim (6) has replaced appends no more commits to the position topic; a run whose
// claim is in force commits, also once its worker's lease lapsed (a stopping worker renews
// it no more while its tasks stop, and their last commits, made before their releases, are
// what the next holders resume from; a claim taken from it meanwhile fences it as above).
func TestPositionsOfAReplacedClaimAreNotWritten(t *testing.T) {
	h := newClaimHarnessOf(t, true)
	claimAt(t, h, 0, "w1", 5, 0)
	old := forTask(clusterPositions{d: h.d, inc: 1, gen: 5}, 0)
	commit := func(n int64) error {
		return old.Put("c", []plugins.PartitionPosition{{Partition: partP, Offset: map[string]any{"n": n}}})
	}
	require.NoError(t, commit(1), "the claim is in force")

	h.d.mu.Lock()
	h.d.lastRenew = time.Now().Add(-2 * h.d.cfg.Lease)
	h.d.mu.Unlock()
	require.NoError(t, commit(2), "the last commit of a run whose lease lapsed while it stopped")
	before := positionsCount(h.positions)
	h.d.mu.Lock()
	h.d.lastRenew = time.Now()
	h.d.mu.Unlock()

	claimAt(t, h, 0, "w2", 6, 5)
	require.ErrorIs(t, commit(3), errPositionsFenced)
	require.Equal(t, before, positionsCount(h.positions), "the replaced run's commit was appended")
	got, err := old.Get("c", partP)
	require.NoError(t, err)
	require.Equal(t, int64(2), got["n"])
}

// TestPositionsRefusedForANewerGeneration: a run whose claim is in force but whose
// partition holds a position of a higher generation (another task's claim) learns it as
// errClaimBehind, naming the partition and both generations; a run whose claim was
// replaced meanwhile learns errPositionsFenced.
func TestPositionsRefusedForANewerGeneration(t *testing.T) {
	h := newClaimHarnessOf(t, true)
	claimAt(t, h, 0, "w1", 5, 0)
	claimAt(t, h, 1, "w2", 7, 0)
	appendAndApply(t, h.d.positionLog, positionRecord{Cluster: "c1", Connector: "c", Inc: 1, Gen: 7,
		Positions: []positionEntry{{Partition: partP, Offset: map[string]any{"n": int64(9)}}}})

	ps := forTask(clusterPositions{d: h.d, inc: 1, gen: 5}, 0)
	other := map[string]any{"file": "q"}
	err := ps.Put("c", []plugins.PartitionPosition{{Partition: partP, Offset: map[string]any{"n": int64(2)}},
		{Partition: other, Offset: map[string]any{"n": int64(2)}}})
	require.ErrorIs(t, err, errClaimBehind)
	require.ErrorIs(t, err, errStale)
	require.ErrorContains(t, err, `partition {"file":"p"} holds generation 7`)
	require.ErrorContains(t, err, "from generation 5")
	got, gerr := ps.Get("c", other)
	require.NoError(t, gerr)
	require.Equal(t, int64(2), got["n"], "the commit's other partitions are stored")

	h.d.mu.Lock()
	delete(h.d.status.Tasks["c"], 0) // replaced between the write and the fold's answer
	h.d.mu.Unlock()
	err = ps.Put("c", []plugins.PartitionPosition{{Partition: partP, Offset: map[string]any{"n": int64(3)}}})
	require.ErrorIs(t, err, errPositionsFenced)
}

// TestOffsetsFloorCoversStoredGenerations: an offsets change's floor is above every
// generation the position fold holds, also when the status fold knows none of them.
func TestOffsetsFloorCoversStoredGenerations(t *testing.T) {
	h := newClaimHarnessOf(t, true)
	appendAndApply(t, h.d.positionLog, positionRecord{Cluster: "c1", Connector: "c", Inc: 1, Gen: 7,
		Positions: []positionEntry{{Partition: partP, Offset: map[string]any{"n": int64(9)}}}})
	admin := clusterPositions{d: h.d, inc: 1, gen: adminGen}
	require.NoError(t, admin.Put("c", []plugins.PartitionPosition{{Partition: partP, Offset: map[string]any{"n": int64(0)}}}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, h.d.positionLog.sync(ctx))
	h.d.mu.Lock()
	floor := h.d.posState.Connectors["c"].Floor
	h.d.mu.Unlock()
	require.GreaterOrEqual(t, floor, int64(7))
}

// TestTaskRunCommitsOnlyUnderItsClaim: a source task run by its supervisor commits its
// positions under its claim: its graceful stop's last commit is stored, while a run that
// another worker's claim fenced stores none (its stop's last commit came after the newer
// claim).
func TestTaskRunCommitsOnlyUnderItsClaim(t *testing.T) {
	for _, fenced := range []bool{false, true} {
		t.Run(fmt.Sprintf("fenced=%v", fenced), func(t *testing.T) {
			d, err := NewDistributed(DistributedConfig{ClusterID: "c1", StandaloneConfig: StandaloneConfig{
				WorkerID: "w1", StoreDir: t.TempDir(), StopTimeout: 5 * time.Second, CommitInterval: time.Hour},
				Lease: time.Hour}, rmqtest.Client(t), testRegistry(), quiet())
			require.NoError(t, err)
			t.Cleanup(func() { _ = d.Close() })
			d.engine.start(context.Background())
			d.members = []string{"w1"}
			d.lastRenew = time.Now()
			h := claimHarnessOn(t, d, true)

			cfg := map[string]string{"connector.class": "mem-source", "test.id": rmqtest.Name(t, "s"), "count": "1000000000",
				"connect.topicname": rmqtest.Topic(t, 1)}
			pc, _, err := validateConnectorConfig(testRegistry(), "src", cfg, connectorDefaults{keyConverter: "string", valueConverter: "string"}, noSecrets{})
			require.NoError(t, err)
			rt := newConnRuntime(d.engine, "src", pc, nil)
			rt.inc, rt.target = 1, restapi.TargetStarted
			rt.taskCfgs, rt.ownTasks = []map[string]string{{"task": "0", "count": cfg["count"], "test.id": cfg["test.id"]}}, map[int]bool{0: true}
			d.engine.adopt(rt)
			rt.startTasks()
			var run *taskRuntime
			require.Eventually(t, func() bool {
				rt.mu.Lock()
				defer rt.mu.Unlock()
				run = rt.tasks[0]
				return run != nil && run.gen != 0 && run.counters.recordsWritten.Load() > 0
			}, time.Minute, 10*time.Millisecond, "the task never sent")
			rt.mu.Lock()
			gen := run.gen
			rt.mu.Unlock()

			if fenced {
				appendAndApply(t, d.statusLog, statusRecord{Cluster: "c1", Connector: "src", Task: 0, Inc: 1, State: restapi.StateRunning,
					Worker: "w2", Proc: "p2", Gen: gen + 1, Claim: true, Prev: gen})
				select {
				case <-run.done:
				case <-time.After(time.Minute):
					t.Fatal("the fenced task did not stop")
				}
			} else {
				rt.stopTaskSet([]int{0}, restapi.StateUnassigned)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			require.NoError(t, d.positionLog.sync(ctx))
			h.d.mu.Lock()
			cp := h.d.posState.Connectors["src"]
			h.d.mu.Unlock()
			if fenced {
				require.Nil(t, cp, "the fenced run's last commit was stored")
				return
			}
			require.NotNil(t, cp, "the graceful stop's last commit was not stored")
			require.Equal(t, gen, cp.MaxGen)
		})
	}
}

// TestPositionsBelowAnOffsetsFloorClaimAgain: a run whose claim is in force but older than
// an offsets change's floor (a resume through another worker raced the change) learns it as
// errClaimBehind, so that its restart claims the task above the floor and resumes from the
// changed offsets, instead of failing under the same claim on every restart.
func TestPositionsBelowAnOffsetsFloorClaimAgain(t *testing.T) {
	h := newClaimHarnessOf(t, true)
	claimAt(t, h, 0, "w1", 5, 0)
	appendAndApply(t, h.d.positionLog, positionRecord{Cluster: "c1", Connector: "c", Inc: 1, Gen: adminGen, Floor: 5,
		Positions: []positionEntry{{Partition: partP, Offset: map[string]any{"n": int64(0)}}}})
	ps := forTask(clusterPositions{d: h.d, inc: 1, gen: 5}, 0)
	err := ps.Put("c", []plugins.PartitionPosition{{Partition: partP, Offset: map[string]any{"n": int64(4)}}})
	require.ErrorIs(t, err, errClaimBehind)
	require.ErrorIs(t, err, errBelowFloor)
}
