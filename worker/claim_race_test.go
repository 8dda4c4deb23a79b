package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// racingQueue is a status queue that stores rival, once, just before the first claim of
// worker w1 it is given: another worker's record written between w1's checks and its claim.
type racingQueue struct {
	*memQueue
	rival statusRecord
	once  sync.Once
}

func (q *racingQueue) send(ctx context.Context, key string, body []byte) (int64, error) {
	var r statusRecord
	if json.Unmarshal(body, &r) == nil && r.Claim && r.Worker == "w1" {
		var err error
		q.once.Do(func() {
			rival, _ := json.Marshal(q.rival)
			_, err = q.memQueue.send(ctx, key, rival)
		})
		if err != nil {
			return 0, err
		}
	}
	return q.memQueue.send(ctx, key, body)
}

// racingHarness is barrierHarness (task configs of version 7, w2 a live member) on a
// status queue that stores rival just before this worker's first claim.
func racingHarness(t *testing.T, rival statusRecord, log *slog.Logger) *claimHarness {
	t.Helper()
	return asBarrierHarness(claimHarnessWith(t, newTestDistributedLogging(t, 5*time.Second, log),
		&racingQueue{memQueue: &memQueue{}, rival: rival}))
}

// claimRacing claims task 0 on a racingHarness whose rival is w2's claim of task 1 for task
// configs of version ver.
func claimRacing(t *testing.T, ver int64) (*claimHarness, <-chan claimResult) {
	t.Helper()
	h, done, _ := claimRacingLogging(t, ver, quiet())
	return h, done
}

// claimRacingLogging is claimRacing logging to log; cancel ends the claim's context.
func claimRacingLogging(t *testing.T, ver int64, log *slog.Logger) (*claimHarness, <-chan claimResult, context.CancelFunc) {
	t.Helper()
	rival := w2Task(1, restapi.StateRunning, 3, ver)
	rival.Claim = true
	h := racingHarness(t, rival, log)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return h, claimAsync(h, ctx, 0), cancel
}

// waitSettling waits until task 0's claim by this worker is in force and claim has not
// returned a second later: it waits for the rival in settleClaim.
func waitSettling(t *testing.T, h *claimHarness, done <-chan claimResult) statusRecord {
	t.Helper()
	require.Eventually(t, func() bool {
		r, ok := h.inForce()
		return ok && h.d.mine(r) && r.Claim
	}, 30*time.Second, 5*time.Millisecond, "the claim was never written")
	select {
	case r := <-done:
		t.Fatalf("task 0 claimed for its start (gen %d, err %v) while task 1 of older task configs, claimed meanwhile, runs on w2",
			r.gen, r.err)
	case <-time.After(time.Second):
	}
	mine, _ := h.inForce()
	require.False(t, released(mine.State), "the claim of the newer task configs was released while it waited")
	return mine
}

// TestClaimOfNewConfigsWaitsForAnOlderClaimWrittenMeanwhile: a worker that has not read the
// new task configs yet claims a task of the old ones (version 5, task 1 on w2) after this
// worker checked for such tasks and before its claim of version 7 was written. Both claims
// are in force; the claim of the new configs waits, in force, until the old task is
// released, and only then returns (its task starts). It used to return at once, and both
// tasks ran until w2 reconciled.
func TestClaimOfNewConfigsWaitsForAnOlderClaimWrittenMeanwhile(t *testing.T) {
	h, done := claimRacing(t, 5)
	mine := waitSettling(t, h, done)

	appendAndApply(t, h.d.statusLog, w2Task(1, restapi.StateUnassigned, 3, 5))
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, mine.Gen, r.gen, "the claim that waited is the one the task runs under")
	rec, _ := h.inForce()
	require.Equal(t, mine, rec)
}

// TestClaimOfOldConfigsYieldsToANewerClaimWrittenMeanwhile: this worker, which has not read
// the new task configs (version 9) yet, claims a task of version 7 just after w2 claimed one
// of version 9. Once its claim is in force it sees w2's: it releases the claim without
// starting the task and waits, until its config topic shows the new configs
// (errTasksChanged). It used to start the task, and both ran until this worker reconciled.
func TestClaimOfOldConfigsYieldsToANewerClaimWrittenMeanwhile(t *testing.T) {
	h, done := claimRacing(t, 9)
	require.Eventually(t, func() bool {
		r, ok := h.inForce()
		return ok && h.d.mine(r) && released(r.State)
	}, 30*time.Second, 5*time.Millisecond, "the claim of the older task configs was not released")
	rec, _ := h.inForce()
	require.Equal(t, int64(7), rec.Ver)
	select {
	case r := <-done:
		t.Fatalf("task 0 of older task configs claimed (gen %d, err %v) while task 1 of newer ones runs on w2", r.gen, r.err)
	case <-time.After(time.Second):
	}
	released, _ := h.inForce()
	require.Equal(t, rec, released, "a second claim was written while task 1 of newer task configs runs on w2")

	h.d.mu.Lock()
	h.d.config.Connectors["c"] = &clusterConnector{Config: map[string]string{}, Target: restapi.TargetStarted, Epoch: 1, Inc: 1,
		Tasks: []map[string]string{{}, {}}, TasksVersion: 9}
	h.d.mu.Unlock()
	r := <-done
	require.ErrorIs(t, r.err, errTasksChanged)
}

// TestSettlingClaimReleasedWhenStoppedOrChanged: a claim kept in force while its task waits
// for a task of older configs claimed meanwhile is released when the task is stopped or its
// task configs change; also after more status records than the status log remembers the
// outcomes of (the release used to wait for the claim's outcome, and was never written).
func TestSettlingClaimReleasedWhenStoppedOrChanged(t *testing.T) {
	for _, c := range []struct {
		name string
		want error
	}{{"stopped", context.Canceled}, {"task configs changed", errTasksChanged}} {
		t.Run(c.name, func(t *testing.T) {
			h, done, cancel := claimRacingLogging(t, 5, quiet())
			mine := waitSettling(t, h, done)
			for gen := range int64(1100) {
				appendAndApply(t, h.d.statusLog, statusRecord{Cluster: "c1", Connector: "other", Task: 0, Inc: 1,
					State: restapi.StateRunning, Worker: "w2", Proc: "p2", Gen: gen + 1})
			}
			if c.want == errTasksChanged {
				h.d.mu.Lock()
				h.d.config.Connectors["c"] = &clusterConnector{Config: map[string]string{}, Target: restapi.TargetStarted, Epoch: 1,
					Inc: 1, Tasks: []map[string]string{{}, {}}, TasksVersion: 9}
				h.d.mu.Unlock()
			} else {
				cancel()
			}
			r := <-done
			require.ErrorIs(t, r.err, c.want)
			h.waitReleased(t, mine.Gen, "the claim kept in force while it waited was not released")
			rec, _ := h.inForce()
			require.Equal(t, int64(7), rec.Ver)
		})
	}
}

// TestSettlingClaimWaitsOnlySoLong: a claim kept in force while its task waits for a task
// of older configs claimed meanwhile that is never released waits only what is left of
// otherConfigsWait, then returns, with a warning naming the task it was claimed over.
func TestSettlingClaimWaitsOnlySoLong(t *testing.T) {
	prev := otherConfigsWait
	otherConfigsWait = 2 * time.Second
	t.Cleanup(func() { otherConfigsWait = prev })
	logs := &syncBuffer{}
	h, done, _ := claimRacingLogging(t, 5, slog.New(slog.NewTextHandler(logs, nil)))
	mine := waitSettling(t, h, done)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, mine.Gen, r.gen)
	require.Contains(t, logs.String(), "records they still send may be sent twice")
	require.Contains(t, logs.String(), "task 1 on w2 (RUNNING, tasks version 5)")
}
