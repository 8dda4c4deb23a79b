// Package mysql is mysql-cdc: a change-data-capture source reading the MySQL/MariaDB binary log (ROW
// events, through github.com/go-mysql-org/go-mysql) and writing Debezium change events.
//
// Invariants: every row event is decoded with the schema (columns, types, primary key) the schema
// history holds for its position: a RocketMQ topic with the captured tables' schemas at the snapshot
// and after every DDL, written before any later event is decoded and read back at start up to the
// stored position, so events written before a DDL decode with the old shape also on a replay after a
// restart, whatever binlog_row_metadata the server logs. Each TABLE_MAP event is checked against that
// schema; a mismatch fails the task. Offsets name the start of the event's transaction (GTID set
// before it, and file/position) and the row's number in it; a restart or reconnect resumes at that
// transaction and skips the rows already emitted. The initial snapshot reads the tables in a
// consistent-snapshot transaction whose binlog position the server reports (MariaDB's
// binlog_snapshot_file/position), so streaming starts exactly where it ends. Row images are read on
// the binlog reader's goroutine, ahead of Poll, by the connector's own row decoder when it covers every
// column of the table (rowdecode.go) and otherwise by go-mysql and then converted: either way into the
// values the conversion of go-mysql's values makes (ahead.go).
package mysql
