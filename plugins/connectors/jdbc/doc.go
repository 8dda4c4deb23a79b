// Package jdbc holds jdbc-source and jdbc-sink, the SQL connectors for PostgreSQL and MySQL/MariaDB
// (drivers github.com/jackc/pgx/v5 and github.com/go-sql-driver/mysql through database/sql; no ORM).
// jdbc-source reads PostgreSQL's pages through pgx's own interface on the pool's connections, decoding each
// column's wire bytes into the value database/sql's pgx driver gives, or straight into its Connect value.
//
// jdbc-source reads tables (table.whitelist/table.blacklist, split over tasks) or one query, in bulk,
// incrementing, timestamp or timestamp+incrementing mode, and emits each row as a Connect Struct whose
// schema comes from the column metadata; the key is the primary key. Each table has one source partition
// whose offset is the last incrementing value and/or timestamp emitted (in timestamp mode with the primary
// key of its row when that key can order the rows of one timestamp), so a restart resumes after it.
// A timestamp query never reads the current unit of the timestamp columns' precision (the current second
// of a DATETIME), whose rows are not all written yet.
//
// jdbc-sink writes Struct records to tables named by table.name.format: insert, upsert or update, keys
// from the record key or value, tables created and widened on demand (auto.create, auto.evolve), null
// values deleting (delete.enabled). Every Put is one transaction; a record the database rejects
// (constraint, type) goes to the errant-record reporter and the others of the batch are written. With
// delivery.guarantee=exactly_once the queue offsets are stored in a table of the sink's own in the same
// transaction as the rows, and records at or below them are skipped when the broker redelivers them. They
// are keyed by the queue read (the record's OriginalTopic, not the topic transforms routed it to), and their
// names compare byte for byte as RocketMQ's do (a binary collation on MySQL/MariaDB).
//
// A page's records share memory: their structs' values come from blocks per page, and a key may be a window
// of its row's values. Nothing changes a record's values once Poll returns it (transforms make new structs).
//
// Invariants: identifiers are always quoted by the dialect (a topic named like SQL never becomes SQL);
// values are always bound as parameters; the password never appears in an error or a log (errors are
// scrubbed of it); an unreachable database is a RetriableError naming the server.
package jdbc
