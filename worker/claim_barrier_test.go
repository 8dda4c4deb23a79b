package worker

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// barrierHarness is a claim harness whose runtime runs task configs of version 7 (two
// tasks), with w2 (process p2) a live member.
func barrierHarness(t *testing.T) *claimHarness {
	t.Helper()
	return asBarrierHarness(newClaimHarnessOf(t, true))
}

// asBarrierHarness makes h's runtime run task configs of version 7 (two tasks), with w2
// (process p2) a live member.
func asBarrierHarness(h *claimHarness) *claimHarness {
	h.rt.mu.Lock()
	h.rt.tasksVersion, h.rt.taskCfgs = 7, []map[string]string{{}, {}}
	h.rt.mu.Unlock()
	h.d.mu.Lock()
	h.d.members = append(h.d.members, memberID("w2", "p2"))
	h.d.mu.Unlock()
	return h
}

// w2Task is a record of task id of connector c by w2's live process.
func w2Task(id int, state restapi.State, gen, ver int64) statusRecord {
	return statusRecord{Cluster: "c1", Connector: "c", Task: id, Inc: 1, State: state, Worker: "w2", Proc: "p2", Gen: gen, Ver: ver}
}

type claimResult struct {
	gen int64
	err error
}

func claimAsync(h *claimHarness, ctx context.Context, id int) <-chan claimResult {
	done := make(chan claimResult, 1)
	go func() {
		gen, err := h.d.claim(ctx, h.rt, id)
		done <- claimResult{gen, err}
	}()
	return done
}

// TestClaimWaitsForOlderTaskConfigs: a source partition can move to another task id when
// the task configs change; a task of the new configs (version 7) is not claimed while a
// task of older ones (version 5, here task 1 on w2) is held by a live worker, whatever
// its id: that task may still read the partition, and its last commit of it is certain
// only once it has released its claim. Once released, the task is claimed, stamped with
// its configs' version. It used to be claimed at once (task 0 itself was free), and both
// read the moved partition until w2 reconciled.
func TestClaimWaitsForOlderTaskConfigs(t *testing.T) {
	for _, shrink := range []bool{false, true} {
		name := "same task count"
		if shrink {
			name = "older task id beyond the new count"
		}
		t.Run(name, func(t *testing.T) {
			h := barrierHarness(t)
			old := 1
			if shrink {
				old = 3
			}
			appendAndApply(t, h.d.statusLog, w2Task(old, restapi.StateRunning, 3, 5))

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := claimAsync(h, ctx, 0)
			select {
			case r := <-done:
				t.Fatalf("task 0 claimed (gen %d, err %v) while task %d of older task configs runs on w2", r.gen, r.err, old)
			case <-time.After(time.Second):
			}
			_, held := h.inForce()
			require.False(t, held, "a claim was written while task %d of older task configs runs on w2", old)

			appendAndApply(t, h.d.statusLog, w2Task(old, restapi.StateUnassigned, 3, 5))
			r := <-done
			require.NoError(t, r.err)
			rec, ok := h.inForce()
			require.True(t, ok)
			require.True(t, h.d.mine(rec))
			require.Equal(t, r.gen, rec.Gen)
			require.Equal(t, int64(7), rec.Ver, "the claim does not carry its task configs' version")
		})
	}
}

// TestClaimIgnoresUnversionedAndReleasedRecords: a record without a version (written by a
// worker of an earlier release) and a released record of older task configs (a paused
// connector's task) hold no claim back, so neither a rolling upgrade nor a pause waits.
func TestClaimIgnoresUnversionedAndReleasedRecords(t *testing.T) {
	h := barrierHarness(t)
	appendAndApply(t, h.d.statusLog, w2Task(1, restapi.StateRunning, 3, 0))
	appendAndApply(t, h.d.statusLog, w2Task(2, restapi.StatePaused, 4, 5))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gen, err := h.d.claim(ctx, h.rt, 0)
	require.NoError(t, err)
	rec, ok := h.inForce()
	require.True(t, ok)
	require.Equal(t, gen, rec.Gen)
}

// TestClaimForChangedTaskConfigsStops: a task waiting to be claimed for task configs the
// config topic has replaced (the reconcile that stops it has not run yet) gives up with
// errTasksChanged and writes nothing. It used to claim and start the task of the old
// configs once free.
func TestClaimForChangedTaskConfigsStops(t *testing.T) {
	for _, c := range []struct {
		name     string
		inc, ver int64
	}{
		{"newer task configs", 1, 9},
		{"connector stopped", 1, 0},
		{"connector re-created", 2, 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := barrierHarness(t)
			h.d.mu.Lock()
			h.d.config.Connectors["c"] = &clusterConnector{Config: map[string]string{}, Target: restapi.TargetStarted, Epoch: c.inc,
				Inc: c.inc, Tasks: []map[string]string{{}}, TasksVersion: c.ver}
			h.d.mu.Unlock()
			before := h.d.statusLog.position()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := h.d.claim(ctx, h.rt, 0)
			require.ErrorIs(t, err, errTasksChanged)
			require.Equal(t, before, h.d.statusLog.position(), "a claim was written for replaced task configs")
		})
	}
}

// noConnectorPlacement is the cluster placement whose task runs fail before they start.
type noConnectorPlacement struct{ clusterPlacement }

func (noConnectorPlacement) taskConnector(*connRuntime) (plugins.Connector, error) {
	return nil, errors.New("no connector here")
}

// TestTaskRecordsCarryTaskConfigsVersion: the records a run writes (here its release when
// it stops) carry the version of the task configs it was started for, so that a claimer
// of newer configs waits for them.
func TestTaskRecordsCarryTaskConfigsVersion(t *testing.T) {
	h := barrierHarness(t)
	h.rt.mu.Lock()
	h.rt.ownTasks = map[int]bool{0: true}
	h.rt.mu.Unlock()
	h.d.engine.place = noConnectorPlacement{clusterPlacement{h.d}}
	h.rt.startTasks()
	require.Eventually(t, func() bool {
		r, ok := h.inForce()
		return ok && h.d.mine(r)
	}, 30*time.Second, 5*time.Millisecond, "the task was never claimed")
	h.rt.stopTaskSet([]int{0}, restapi.StateUnassigned)
	require.Eventually(t, func() bool {
		r, _ := h.inForce()
		return h.d.mine(r) && released(r.State)
	}, 30*time.Second, 5*time.Millisecond, "the task was never released")
	r, _ := h.inForce()
	require.Equal(t, int64(7), r.Ver, "the release does not carry the task configs' version")
}

// TestClaimWaitsForOtherTaskConfigsOnlySoLong: a task of older task configs that never
// releases its claim (its worker's reconcile held up, or a release never written) keeps a
// task of the new configs waiting only otherConfigsWait; then it is claimed, so the
// connector cannot stall for good. So does a task of newer configs keep a claim of older
// ones waiting (a worker whose config topic lags for good).
func TestClaimWaitsForOtherTaskConfigsOnlySoLong(t *testing.T) {
	prev := otherConfigsWait
	otherConfigsWait = 1500 * time.Millisecond
	t.Cleanup(func() { otherConfigsWait = prev })
	for _, c := range []struct {
		name string
		ver  int64
	}{{"older", 5}, {"newer", 9}} {
		t.Run(c.name, func(t *testing.T) {
			h := barrierHarness(t)
			appendAndApply(t, h.d.statusLog, w2Task(1, restapi.StateRunning, 3, c.ver))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := claimAsync(h, ctx, 0)
			select {
			case r := <-done:
				t.Fatalf("task 0 claimed at once (gen %d, err %v) while task 1 of %s task configs runs on w2", r.gen, r.err, c.name)
			case <-time.After(500 * time.Millisecond):
			}
			r := <-done
			require.NoError(t, r.err)
			rec, ok := h.inForce()
			require.True(t, ok)
			require.True(t, h.d.mine(rec), "claimed after the bounded wait")
			require.Equal(t, r.gen, rec.Gen)
		})
	}
}

// TestUnusedClaimReleaseCarriesTaskConfigsVersion: a claim whose run was stopped before it
// started is released with the version of the task configs it was claimed for, like every
// other record of the task (the release used to carry none).
func TestUnusedClaimReleaseCarriesTaskConfigsVersion(t *testing.T) {
	h := barrierHarness(t)
	gen := h.d.claimGen("c")
	body, err := json.Marshal(statusRecord{Cluster: h.d.cfg.ClusterID, Connector: "c", Task: 0, Inc: 1, State: restapi.StateRunning,
		Worker: h.d.cfg.WorkerID, Proc: h.d.proc, Gen: gen, Claim: true, Ver: 7})
	require.NoError(t, err)
	off, err := h.d.statusLog.append(context.Background(), "c", body)
	require.NoError(t, err)
	h.d.releaseUnused(h.rt, 0, gen, 7, off)
	require.Eventually(t, func() bool {
		r, _ := h.inForce()
		return h.d.mine(r) && released(r.State)
	}, 30*time.Second, 5*time.Millisecond, "the claim was never released")
	r, _ := h.inForce()
	require.Equal(t, gen, r.Gen)
	require.Equal(t, int64(7), r.Ver, "the release does not carry the task configs' version")
}
