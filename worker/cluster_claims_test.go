package worker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// claimHarness is a Distributed whose status and position logs are store queues in memory
// (memQueue), so the claim logic runs without a broker and under the race detector. The
// status log is read and folded as a worker does. The position log is read only with
// readPositions (and then only when this worker asks); otherwise a claim stored on the
// status topic is followed by a position record that is never read, so the claim's read of
// the position topic before it is written completes but the one after it (what a claimed
// task waits for before it starts) waits until the task is stopped.
type claimHarness struct {
	d  *Distributed
	rt *connRuntime
	// positions is the position topic's queue.
	positions *memQueue
}

// claimingQueue is a status queue that calls onClaim after storing a claim.
type claimingQueue struct {
	*memQueue
	onClaim func()
}

func (q claimingQueue) send(ctx context.Context, key string, body []byte) (int64, error) {
	off, err := q.memQueue.send(ctx, key, body)
	var r statusRecord
	if err == nil && json.Unmarshal(body, &r) == nil && r.Claim {
		q.onClaim()
	}
	return off, err
}

func newClaimHarness(t *testing.T) *claimHarness { return newClaimHarnessOf(t, false) }

func newClaimHarnessOf(t *testing.T, readPositions bool) *claimHarness {
	t.Helper()
	return claimHarnessOn(t, newTestDistributed(t, 5*time.Second), readPositions)
}

// claimHarnessOn makes d, a started test Distributed, the harness's.
func claimHarnessOn(t *testing.T, d *Distributed, readPositions bool) *claimHarness {
	t.Helper()
	var status storeQueue
	if readPositions {
		status = &memQueue{}
	}
	return claimHarnessWith(t, d, status)
}

// claimHarnessWith is claimHarnessOn with status as the status topic's queue, reading the
// position topic (readPositions); with status nil, it is claimHarnessOn without reading it.
func claimHarnessWith(t *testing.T, d *Distributed, status storeQueue) *claimHarness {
	t.Helper()
	readPositions := status != nil
	positions := &memQueue{}
	d.positionLog = newStoreLog("position", positions, quiet())
	if readPositions {
		d.statusLog = newStoreLog("status", status, quiet())
		// Read when this worker asks (its appends, a catch-up), so that a test can store
		// records (memQueue.send) that this worker has not read until it catches up.
		d.positionLog.idle = time.Hour
	} else {
		d.statusLog = newStoreLog("status", claimingQueue{&memQueue{}, func() {
			_, _ = positions.send(context.Background(), "", []byte(`{}`))
		}}, quiet())
	}
	d.appendStatus = d.statusLog.append

	logCtx, stopLog := context.WithCancel(context.Background())
	logDone := make(chan struct{})
	go func() { defer close(logDone); d.statusLog.run(logCtx, 0, 0, nil, d.applyStatus) }()
	posDone := make(chan struct{})
	if readPositions {
		go func() { defer close(posDone); d.positionLog.run(logCtx, 0, 0, nil, d.applyPosition) }()
	} else {
		close(posDone)
	}
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); d.statusWriter() }()
	t.Cleanup(func() {
		d.reportMu.Lock()
		d.reportsClosed, d.flushBy = true, time.Now().Add(flushTimeout)
		d.reportMu.Unlock()
		d.wakeWriter()
		<-writerDone
		stopLog()
		<-logDone
		<-posDone
		d.engine.crew.close()
	})

	rt := newConnRuntime(d.engine, "c", &parsedConfig{raw: map[string]string{}}, nil)
	rt.inc, rt.target = 1, restapi.TargetStarted
	rt.taskCfgs, rt.ownTasks = []map[string]string{{}}, map[int]bool{0: true}
	d.engine.adopt(rt)
	return &claimHarness{d: d, rt: rt, positions: positions}
}

// inForce returns the record in force for task 0 of connector c.
func (h *claimHarness) inForce() (statusRecord, bool) {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	r, ok := h.d.status.Tasks["c"][0]
	return r, ok
}

// waitReleased waits until the status topic shows task 0 released by this worker under gen.
func (h *claimHarness) waitReleased(t *testing.T, gen int64, why string) {
	t.Helper()
	require.Eventually(t, func() bool {
		r, _ := h.inForce()
		return r.Gen == gen && h.d.mine(r) && released(r.State)
	}, 30*time.Second, 5*time.Millisecond, why)
}

// TestTaskStoppedWhileClaimingIsReleased: a task stopped after its claim was written but
// before it started (here, while it waits to catch up with the position topic) releases
// that claim. The claim used to stay in force with nothing running: once this worker left
// (a rolling restart), its next owner took the task from a holder that had never released
// it, which TestDistributedJoinAndRollingRestart's history check reported as an overlap.
func TestTaskStoppedWhileClaimingIsReleased(t *testing.T) {
	h := newClaimHarness(t)
	h.rt.startTasks()
	var claim statusRecord
	require.Eventually(t, func() bool {
		r, ok := h.inForce()
		claim = r
		return ok && h.d.mine(r) && r.Claim
	}, 30*time.Second, 5*time.Millisecond, "the task was never claimed")

	h.rt.stopTaskSet([]int{0}, restapi.StateUnassigned) // the task moves away before it started
	h.waitReleased(t, claim.Gen, "a claim whose run never started is still in force")
}

// TestStoppingWorkerReleasesClaimsWithoutARun: a claim of this incarnation that is in
// force although no run of the task exists here (its writer could not learn that it was
// stored) is released by the stopping worker before it leaves, not left for the others
// to take from a worker that is gone.
func TestStoppingWorkerReleasesClaimsWithoutARun(t *testing.T) {
	h := newClaimHarness(t)
	d := h.d
	rec := statusRecord{Cluster: d.cfg.ClusterID, Connector: "c", Task: 0, Inc: 1, State: restapi.StateRunning, Worker: d.cfg.WorkerID,
		Proc: d.proc, Gen: 4, Claim: true}
	body, err := json.Marshal(rec)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = d.statusLog.append(ctx, "c", body)
	require.NoError(t, err)
	require.Eventually(t, func() bool { r, _ := h.inForce(); return r.Gen == 4 }, 30*time.Second, 5*time.Millisecond)

	d.stopReleasing()
	h.waitReleased(t, 4, "the stopping worker left a claim held that nothing runs")
}
