// Package postgres is postgres-cdc: a change-data-capture source reading PostgreSQL's logical replication
// stream (pgoutput, through github.com/jackc/pglogrepl) and writing Debezium change events.
//
// Invariants: the publication and the replication slot are created when absent and never silently
// re-created once a position is stored (a missing one then fails the task, naming what was lost); the
// initial snapshot reads the tables through the snapshot the slot exported at creation, so streaming
// resumes exactly where the snapshot ends; the LSN is confirmed to the server only for transactions whose
// every record RocketMQ has acknowledged and only from Commit, after the engine stored the positions; a
// replay after a reconnect or restart skips the events already emitted, keyed by (commit LSN, event number).
package postgres
