// Package scheduler decides placement: which worker runs which connector and task. Its
// allocation core is a deterministic function of (members, connectors, tasks), so
// every worker computes the same assignment without a leader; it performs no I/O, starts
// no goroutines and keeps no state between calls.
//
// A Unit is a connector (Task == ConnectorTask) or one of its tasks. A Strategy maps sorted
// worker ids to sorted units; New selects one by name:
//
//   - "consistent-hash": github.com/buraksezer/consistent with xxhash gives each
//     unit its first choice, and deferred acceptance under per-worker caps keeps every worker within
//     FloorBound(units, workers) = floor(0.75 × average) (at least 1: no idle worker when units >=
//     workers) and LoadBound(units, workers) = ceil(1.25 × average), and each connector's tasks within
//     SpreadBound(tasks, workers) per worker (distinct workers while tasks <= workers/2). A join or
//     leave moves about 1.4 × MinMoves in total over many shapes, single events more where workers
//     hold a few units each.
//   - "sticky" (NewSticky; the default): Rebalance(members, units, current) also takes the placement in
//     force, keeps units where they are while the bounds allow and moves what must move: every bound of
//     the consistent-hash strategy, floor(average) as the floor, a connector's tasks on distinct workers
//     while tasks <= workers, and no join or leave above 2.5 × MinMoves over the tests' random shapes
//     (about 1.0 × in total). The distributed worker runs it (allocTaskStrategy=sticky, the default), giving it
//     the placement in force the status topic records (task claims, connector records and releases).
//   - "round-robin": RocketMQ Connect's DefaultAllocateConnAndTaskStrategy, for comparison:
//     perfectly balanced, but a join or leave moves nearly every unit.
//
// Invariants every strategy keeps: the same input in any order gives the same Assignment; every
// unit is assigned exactly once; every member is a key of the result; an empty member list is an
// error wrapping ErrNoMembers and a repeated member or unit is an error too. The package
// computes assignments only: each worker moves its own units to a new one (worker/reconcile.go), and
// claims order the handover of a moved unit, stop before start (worker/claims.go).
package scheduler
