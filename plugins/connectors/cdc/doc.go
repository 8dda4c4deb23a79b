// Package cdc holds what the change-data-capture sources share: the Debezium change-event envelope (key =
// primary key; value = before, after, source, op, ts_ms) built as Connect Structs with schemas, and the
// tombstone that follows a delete. The envelope's field names and op codes are Debezium's, so consumers of
// Debezium data (and its ExtractNewRecordState transform, which plugins/transforms provides as
// ExtractNewRecordState) read these records unchanged. The database-specific sources live in cdc/postgres and
// cdc/mysql.
package cdc
