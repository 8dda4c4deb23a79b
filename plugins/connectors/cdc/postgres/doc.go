// Package postgres is postgres-cdc: a change-data-capture source reading PostgreSQL's logical replication
// stream (pgoutput, through github.com/jackc/pglogrepl) and writing Debezium change events.
//
// Invariants: the publication and the replication slot are created when absent and never silently
// re-created once a position is stored (a missing or invalidated one then fails the task, naming what was
// lost), and a filtered publication gains at each start the captured tables it lacks, never losing one
// (another reader may share it); the initial snapshot reads the tables through the snapshot the slot
// exported at creation, so streaming resumes exactly where the snapshot ends, and reads each table the
// publication publishes changes under by itself (a leaf partition, or a partitioned table under
// publish_via_partition_root; never an INHERITS parent's children's rows), so every row is read once, onto
// the topic its changes go to; the LSN is confirmed to the server only for transactions whose every record
// RocketMQ has acknowledged, and past a transaction with records only from Commit, after the engine stored
// the positions (a poll confirms progress that carries no record itself, so that a quiet slot does not hold
// the server's WAL); a replay after a reconnect or restart skips the events already emitted, keyed by
// (commit LSN, event number); a streamed record's key columns are those its Relation message flags (the
// catalog's only under REPLICA IDENTITY FULL or NOTHING, whose messages do not say), so a column renamed
// since never fails a replay; a record's key is never a placeholder: an unchanged TOASTed key value comes
// from the old key the server logs beside it, and a change whose key the WAL does not hold fails with
// ErrKeyUnavailable.
package postgres
