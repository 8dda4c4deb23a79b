// Package mysql is mysql-cdc: a change-data-capture source reading the MySQL/MariaDB binary log (ROW
// events, through github.com/go-mysql-org/go-mysql) and writing Debezium change events.
//
// Invariants: every row event is decoded with the columns its own TABLE_MAP event describes (names,
// types, signedness, charsets, primary key: the server must log binlog_row_metadata=FULL), so events
// written before a DDL decode with the old shape and after it with the new, also on a replay after a
// restart — no schema history is needed. Offsets name the start of the event's transaction (GTID set
// before it, and file/position) and the row's number in it; a restart or reconnect resumes at that
// transaction and skips the rows already emitted. The initial snapshot reads the tables in a
// consistent-snapshot transaction whose binlog position the server reports (MariaDB's
// binlog_snapshot_file/position), so streaming starts exactly where it ends.
package mysql
