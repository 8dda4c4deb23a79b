// Package scheduler decides placement: which worker runs which connector and task. Its
// allocation core is a pure, deterministic function of (members, connectors, tasks), so
// every worker computes the same assignment without a leader; it performs no I/O, starts
// no goroutines and keeps no state between calls.
//
// A Unit is a connector (Task == ConnectorTask) or one of its tasks. A Strategy maps sorted
// worker ids to sorted units; New selects one by name:
//
//   - "consistent-hash" (the default): github.com/buraksezer/consistent with xxhash gives each
//     unit a preferred worker, and a bounded-load pass keeps every worker within
//     LoadBound(units, workers) = ceil(1.25 × average) and each connector's tasks within
//     SpreadBound(tasks, workers) = ceil(1.5 × tasks/workers) + 1 per worker, moving as few units
//     off their preferred worker as it can. A join or leave moves close to MinMoves units when
//     workers hold more than a handful of units each.
//   - "round-robin": RocketMQ Connect's DefaultAllocateConnAndTaskStrategy, for comparison:
//     perfectly balanced, but a join or leave moves nearly every unit.
//
// Invariants every strategy keeps: the same input in any order gives the same Assignment; every
// unit is assigned exactly once; every member is a key of the result; an empty member list is an
// error wrapping ErrNoMembers and a repeated member or unit is an error too. Diff turns two
// assignments into per-worker stop and start lists for a stop-before-start handover.
package scheduler
