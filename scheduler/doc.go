// Package scheduler decides placement: which worker runs which connector and task. Its
// allocation core is a pure, deterministic function of (members, connectors, tasks), so
// every worker computes the same assignment without a leader; it performs no I/O.
package scheduler
