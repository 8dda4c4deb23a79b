package worker

import (
	"github.com/rmqconnect/rmqconnect/scheduler"
	"github.com/rmqconnect/rmqconnect/worker/restapi"
)

// placementInForce is the placement the status topic records, for the sticky strategy's
// Rebalance: each unit of conns under the live worker (of members, member ids) that holds
// it. A task is held by the worker of its record in force (its claim, or what its holder
// reported since) unless that record released it as UNASSIGNED or STOPPED; a PAUSED task
// stays where it was paused. A connector is held by each live worker whose last record for
// its incarnation is not UNASSIGNED (releaseConnector writes that when the unit leaves);
// where two still claim it, Rebalance keeps it on one. Records of another incarnation and of
// workers that have left count for nothing: their units are free. It reads only the folds,
// so workers that have read the same records compute the same placement.
func placementInForce(members []string, conns map[string]clusterConnector, st *statusState) scheduler.Assignment {
	current := scheduler.Assignment{}
	for name, c := range conns {
		for w, r := range st.Connectors[name] {
			if r.Inc == c.Inc && r.State != restapi.StateUnassigned && holderLive(r, members) {
				current[w] = append(current[w], scheduler.Unit{Connector: name, Task: scheduler.ConnectorTask})
			}
		}
		for id := range c.Tasks {
			r, ok := st.task(name, c.Inc, id)
			if ok && r.State != restapi.StateUnassigned && r.State != restapi.StateStopped && holderLive(r, members) {
				current[r.Worker] = append(current[r.Worker], scheduler.Unit{Connector: name, Task: id})
			}
		}
	}
	return current
}

// inForceMark is what placementInForce reads of the unit a status record is about: for a
// task, its record in force (holder, incarnation, whether it holds the task); for a
// connector, whether r's worker holds it.
type inForceMark struct {
	worker, proc string
	inc          int64
	holds, known bool
}

func inForceMarkOf(st *statusState, r statusRecord) inForceMark {
	if r.Task == scheduler.ConnectorTask {
		cur, ok := st.Connectors[r.Connector][r.Worker]
		return inForceMark{worker: cur.Worker, proc: cur.Proc, inc: cur.Inc, known: ok, holds: ok && cur.State != restapi.StateUnassigned}
	}
	cur, ok := st.Tasks[r.Connector][r.Task]
	return inForceMark{worker: cur.Worker, proc: cur.Proc, inc: cur.Inc, known: ok,
		holds: ok && cur.State != restapi.StateUnassigned && cur.State != restapi.StateStopped}
}
