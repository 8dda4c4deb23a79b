package worker

import (
	"github.com/rmqconnect/rmqconnect/worker/restapi"
	"maps"
	"slices"
	"time"
)

// The connector runtime's distributed-mode operations. In a cluster every worker keeps a
// connRuntime for every connector of the config topic; what it runs of it (the connector
// plugin, some tasks, or nothing) is set by syncDistributed from the assignment.

// desiredConn is what the assignment and the config topic ask of a connector on this worker.
type desiredConn struct {
	target       restapi.TargetState
	ownConn      bool
	tasks        []map[string]string
	tasksVersion int64
	ownTasks     map[int]bool
}

// syncDistributed moves the runtime to d. Tasks that leave this worker stop first and are
// then released (status UNASSIGNED), so their new owner can claim them: stop before start.
func (rt *connRuntime) syncDistributed(d desiredConn) {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return
	}
	rt.target = d.target
	newTasks := d.tasksVersion != rt.tasksVersion
	var all []int
	for id := range rt.tasks {
		all = append(all, id)
	}
	rt.mu.Unlock()
	if newTasks {
		rt.stopTaskSet(all, restapi.StateUnassigned)
		rt.mu.Lock()
		rt.taskCfgs, rt.tasksVersion, rt.tasks = d.tasks, d.tasksVersion, map[int]*taskRuntime{}
		rt.mu.Unlock()
	}
	rt.mu.Lock()
	rt.ownConn, rt.ownTasks = d.ownConn, maps.Clone(d.ownTasks)
	connRunning := rt.connRunning
	var notMine, running []int
	for id, t := range rt.tasks {
		if !t.isDone() {
			running = append(running, id)
			if !d.ownTasks[id] {
				notMine = append(notMine, id)
			}
		}
	}
	rt.mu.Unlock()

	switch d.target {
	case restapi.TargetStarted:
		rt.stopTaskSet(notMine, restapi.StateUnassigned)
		if !d.ownConn {
			rt.releaseConnector()
		} else if !connRunning || d.tasksVersion == 0 {
			rt.startConnector() // (re)publishes the task configs when they are missing
		} else {
			rt.setConnState(restapi.StateRunning, "")
		}
		rt.startTasks()
	case restapi.TargetPaused:
		rt.stopTaskSet(running, restapi.StatePaused)
		if d.ownConn {
			rt.setConnState(restapi.StatePaused, "")
		} else {
			rt.releaseConnector()
		}
	case restapi.TargetStopped:
		rt.stopTaskSet(running, restapi.StateUnassigned)
		if d.ownConn {
			rt.stopConnector()
			rt.setConnState(restapi.StateStopped, "")
		} else {
			rt.releaseConnector()
		}
	}
}

// releaseConnector stops the connector plugin here (its unit went to another worker) and
// forgets what was reported, so that taking the unit back reports its state again. When
// this worker had reported a state for the connector, it writes the release (UNASSIGNED):
// the status topic then no longer names it a holder of the connector unit (placementInForce).
func (rt *connRuntime) releaseConnector() {
	rt.stopConnector()
	rt.mu.Lock()
	rt.state = restapi.StateInfo{State: restapi.StateUnassigned, WorkerID: rt.e.cfg.WorkerID}
	var rec *statusRecord
	if rt.reported.State != "" && rt.reported.State != restapi.StateUnassigned {
		rec = &statusRecord{Connector: rt.name, Task: -1, Inc: rt.inc, State: restapi.StateUnassigned, Worker: rt.e.cfg.WorkerID}
	}
	rt.reported = restapi.StateInfo{}
	rt.mu.Unlock()
	if rec != nil {
		rt.e.place.report(*rec)
	}
}

func (t *taskRuntime) isDone() bool {
	if t.done == nil {
		return true
	}
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// stopTaskSet stops the given tasks (graceful, then abandoned after the stop timeout),
// removes them and reports state for those that were claimed, releasing the claim when
// state is UNASSIGNED or PAUSED. A task abandoned because it did not return keeps its
// claim until it does (linger): releasing it would let its next owner start it while it
// still runs here.
func (rt *connRuntime) stopTaskSet(ids []int, state restapi.State) {
	if len(ids) == 0 {
		return
	}
	tasks := rt.tasksByID(ids)
	for _, t := range tasks {
		t.cancel()
	}
	abandoned := rt.awaitStopped(tasks)
	var recs []statusRecord
	type lingering struct {
		t       *taskRuntime
		release *statusRecord
	}
	var linger []lingering
	rt.mu.Lock()
	for _, t := range tasks {
		t.state = restapi.StateInfo{State: state, WorkerID: rt.e.cfg.WorkerID}
		rec := rt.taskRecordLocked(t)
		if slices.Contains(abandoned, t) {
			linger = append(linger, lingering{t, rec})
		} else if rec != nil {
			recs = append(recs, *rec)
		}
		if state != restapi.StatePaused {
			delete(rt.tasks, t.id)
		}
	}
	rt.mu.Unlock()
	for _, r := range recs {
		rt.e.place.report(r)
	}
	for _, l := range linger {
		rt.e.place.linger(rt.name, l.t.id, l.t.done, l.release)
	}
}

// fenceTask stops task id at once, without reporting, when it runs here under a claim
// older than gen: another worker has claimed it, so this one must not act for it. It
// reports whether it stopped the task.
func (rt *connRuntime) fenceTask(id int, gen int64) bool {
	rt.mu.Lock()
	t, ok := rt.tasks[id]
	stale := ok && t.gen != 0 && t.gen < gen && !t.isDone()
	if stale {
		t.gen = 0 // nothing it says from now on is reported
		delete(rt.tasks, id)
	}
	rt.mu.Unlock()
	if !stale {
		return false
	}
	rt.log.Warn("task claimed by another worker; stopping it here", "task", id, "claim", gen)
	t.cancel()
	rt.e.crew.Go(func() {
		select {
		case <-t.done:
		case <-time.After(rt.e.cfg.StopTimeout + time.Second):
			rt.log.Error("fenced task did not stop within the graceful stop timeout", "task", id)
		}
	})
	return true
}

// restartDistributed carries out a restart record on this worker: the connector plugin
// restarts where it runs (publishing task configs again), and the tasks the request
// names restart where they run (claiming again).
func (rt *connRuntime) restartDistributed(req restapi.RestartRequest) {
	rt.opMu.Lock()
	rt.mu.Lock()
	target, ownConn, connFailed := rt.target, rt.ownConn, rt.state.State == restapi.StateFailed
	var ids []int
	if req.IncludeTasks {
		for id, t := range rt.tasks {
			if !req.OnlyFailed || t.state.State == restapi.StateFailed {
				ids = append(ids, id)
			}
		}
	}
	closed := rt.closed
	rt.mu.Unlock()
	if target != restapi.TargetStarted || closed {
		rt.opMu.Unlock()
		return
	}
	if ownConn && (!req.OnlyFailed || connFailed) {
		rt.setConnState(restapi.StateRestarting, "")
		rt.stopConnector()
		if rt.reresolve() {
			rt.startConnector()
		}
	}
	slices.Sort(ids)
	rt.restartTasksLocked(ids)
	rt.opMu.Unlock()
}

// restartTasksLocked stops and starts the given tasks of this worker again, their configs
// resolved again (an explicit restart); opMu is held.
func (rt *connRuntime) restartTasksLocked(ids []int) {
	tasks := rt.tasksByID(ids)
	rt.forgetTaskConfigs(tasks...)
	for _, t := range tasks {
		rt.setTaskState(t, restapi.StateRestarting, "")
		t.cancel()
	}
	for _, t := range rt.awaitStopped(tasks) {
		rt.mu.Lock()
		if rt.tasks[t.id] == t {
			delete(rt.tasks, t.id) // a new run claims the task once the abandoned one has returned
		}
		rt.mu.Unlock()
		rt.e.place.linger(rt.name, t.id, t.done, nil)
	}
	rt.startTasks()
}

// restartTaskDistributed restarts task id if it runs here.
func (rt *connRuntime) restartTaskDistributed(id int) {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	rt.restartTasksLocked([]int{id})
}

// shutdownReleasing stops the connector and its tasks for good (delete, config change,
// worker stop) and releases the tasks' claims and the connector unit, so their next owner
// need not wait and is the only holder the status topic names.
func (rt *connRuntime) shutdownReleasing() {
	rt.opMu.Lock()
	defer rt.opMu.Unlock()
	rt.mu.Lock()
	rt.closed = true
	ids := slices.Collect(maps.Keys(rt.tasks))
	rt.mu.Unlock()
	rt.stopTaskSet(ids, restapi.StateUnassigned)
	rt.releaseConnector()
}
