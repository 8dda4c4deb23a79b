package jdbc

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// ensureTable makes sure table has a column for every field r writes: it creates a missing table
// (auto.create) and adds missing columns (auto.evolve), or fails naming what is missing.
func (t *SinkTask) ensureTable(ctx context.Context, table tableID, r *schema.Record) error {
	fields := t.recordFields(r)
	info := t.tables[table]
	if info != nil && allKnown(info, fields) {
		return nil
	}
	info, err := t.readTable(ctx, table)
	if err != nil {
		return err
	}
	if info == nil {
		if !t.sc.autoCreate {
			return fmt.Errorf("%w: table %s does not exist and auto.create is false", ErrBadRecord, table)
		}
		// A CREATE TABLE that fails while the table comes to exist lost a race with another task creating
		// it, which PostgreSQL's IF NOT EXISTS does not cover (23505 on pg_type_typname_nsp_index, or
		// 42710): the table is there, so go on.
		cerr := t.createTable(ctx, table, fields)
		if info, err = t.readTable(ctx, table); err != nil {
			if cerr != nil {
				return cerr
			}
			return err
		}
		switch {
		case info == nil && cerr != nil:
			return cerr
		case info == nil:
			return fmt.Errorf("jdbc-sink: table %s not found after CREATE TABLE", table)
		}
	}
	for _, f := range fields {
		if info.has(f.name) {
			continue
		}
		if !t.sc.autoEvolve {
			return fmt.Errorf("%w: table %s has no column %s and auto.evolve is false", ErrBadRecord, table, f.name)
		}
		typ, err := t.d.sqlType(f.schema, false)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.name, err)
		}
		stmt := "ALTER TABLE " + t.d.table(table) + " ADD COLUMN " + t.d.quote(f.name) + " " + typ + " NULL"
		if _, err := t.db.ExecContext(ctx, stmt); err != nil {
			// Another task may have added it meanwhile.
			if again, rerr := t.readTable(ctx, table); rerr == nil && again != nil && again.has(f.name) {
				info = again
				continue
			}
			return t.sc.target.wrap("alter table "+table.String(), err)
		}
		info.add(f.name)
	}
	t.tables[table] = info
	return nil
}

type recField struct {
	name   string
	schema *schema.Schema
	key    bool
}

// recordFields lists the columns r writes, key columns first, with their schemas.
func (t *SinkTask) recordFields(r *schema.Record) []recField {
	var out []recField
	seen := map[string]bool{}
	addStruct := func(st *schema.Struct, only []string, key bool) {
		for _, f := range st.Schema().Fields {
			if len(only) > 0 && !contains(only, f.Name) || seen[f.Name] {
				continue
			}
			seen[f.Name] = true
			out = append(out, recField{name: f.Name, schema: f.Schema, key: key})
		}
	}
	value, _ := r.Value.(*schema.Struct)
	switch t.sc.pkMode {
	case PKRecordKey:
		if ks, ok := r.Key.(*schema.Struct); ok && ks != nil {
			addStruct(ks, t.sc.pkFields, true)
		} else {
			name := "__connect_key"
			if len(t.sc.pkFields) > 0 {
				name = t.sc.pkFields[0]
			}
			s := r.KeySchema
			if s == nil {
				s = schemaOfPrimitive(r.Key)
			}
			if s != nil {
				seen[name] = true
				out = append(out, recField{name: name, schema: s, key: true})
			}
		}
	case PKRecordValue:
		if value != nil {
			only := t.sc.pkFields
			if len(only) == 0 {
				only = value.Schema().FieldNames()
			}
			addStruct(value, only, true)
		}
	}
	if value != nil {
		addStruct(value, nil, false)
	}
	return out
}

func allKnown(info *tableInfo, fields []recField) bool {
	for _, f := range fields {
		if !info.has(f.name) {
			return false
		}
	}
	return true
}

// readTable reads table's columns; nil when it does not exist.
func (t *SinkTask) readTable(ctx context.Context, table tableID) (*tableInfo, error) {
	cols, err := t.d.columns(ctx, t.db, table)
	if err != nil {
		return nil, t.sc.target.wrap("read columns of "+table.String(), err)
	}
	if len(cols) == 0 {
		return nil, nil
	}
	// MySQL and MariaDB match column names without regard to case: a record's field ID writes
	// column id, and adding ID beside it fails.
	info := &tableInfo{cols: map[string]bool{}, fold: t.d.kind == mysqlDialect}
	for _, c := range cols {
		info.add(c.Name)
	}
	return info, nil
}

// createTable runs CREATE TABLE IF NOT EXISTS for fields, with the key fields as the primary key.
func (t *SinkTask) createTable(ctx context.Context, table tableID, fields []recField) error {
	var defs, keys []string
	for _, f := range fields {
		typ, err := t.d.sqlType(f.schema, f.key)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.name, err)
		}
		null := " NULL"
		if f.key || !f.schema.Optional {
			null = " NOT NULL"
		}
		defs = append(defs, t.d.quote(f.name)+" "+typ+null)
		if f.key {
			keys = append(keys, t.d.quote(f.name))
		}
	}
	if len(keys) > 0 {
		defs = append(defs, "PRIMARY KEY ("+strings.Join(keys, ", ")+")")
	}
	stmt := "CREATE TABLE IF NOT EXISTS " + t.d.table(table) + " (" + strings.Join(defs, ", ") + ")"
	if _, err := t.db.ExecContext(ctx, stmt); err != nil {
		return t.sc.target.wrap("create table "+table.String(), err)
	}
	return nil
}

// Exactly-once offsets: one row per (connector, topic, broker, queue) holding the next offset to write,
// where topic is the topic the records were read from (before transforms). RocketMQ names are compared
// byte for byte, so the name columns must be too: on MySQL and MariaDB they get a binary collation rather
// than the database's default, which usually ignores case.

func (t *SinkTask) offsetsTable() tableID { return parseTableID(t.sc.offsetsTable) }

// offsetNameCols are the offsets table's columns holding names.
var offsetNameCols = []string{"connector", "topic", "broker"}

// ensureOffsetsTable creates the offsets table when it does not exist; a table that exists (created by a
// DBA for a user that may only read and write its rows) is used as it is, after checkOffsetsCollation.
func (t *SinkTask) ensureOffsetsTable(ctx context.Context) error {
	id := t.offsetsTable()
	cols, err := t.d.columns(ctx, t.db, id)
	if err != nil {
		return t.sc.target.wrap("read columns of "+id.String(), err)
	}
	if len(cols) > 0 {
		return t.checkOffsetsCollation(ctx, id)
	}
	name := "VARCHAR(255)"
	if t.d.kind == mysqlDialect {
		name += " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
	}
	var defs []string
	for _, c := range offsetNameCols {
		defs = append(defs, t.d.quote(c)+" "+name+" NOT NULL")
	}
	defs = append(defs, t.d.quote("queue_id")+" INT NOT NULL", t.d.quote("next_offset")+" BIGINT NOT NULL",
		"PRIMARY KEY ("+t.d.quote("connector")+", "+t.d.quote("topic")+", "+t.d.quote("broker")+", "+t.d.quote("queue_id")+")")
	create := "CREATE TABLE IF NOT EXISTS " + t.d.table(id) + " (" + strings.Join(defs, ", ") + ")"
	if _, err := t.db.ExecContext(ctx, create); err != nil {
		// Another task of the connector may have created it meanwhile (see ensureTable).
		if cols, rerr := t.d.columns(ctx, t.db, id); rerr != nil || len(cols) == 0 {
			return t.sc.target.wrap("create offsets table", err)
		}
	}
	return nil
}

// checkOffsetsCollation makes the name columns of an existing MySQL or MariaDB offsets table compare
// bytes. A table created by an earlier version of the sink, or by a DBA from its statement, took the
// database's default collation: where that ignores case (utf8mb4_general_ci, MySQL 8's
// utf8mb4_0900_ai_ci), topics orders and Orders, or connectors Sink and sink, share rows, and the sink
// skips records. The columns are altered to their character set's _bin collation, keeping their type and
// rows (a case-insensitive primary key holds no two keys a binary one would equate). A user not allowed to
// alter the table gets the table as it is and a warning naming the statement that fixes it.
func (t *SinkTask) checkOffsetsCollation(ctx context.Context, id tableID) error {
	if t.d.kind != mysqlDialect {
		return nil
	}
	rows, err := t.db.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_TYPE, COALESCE(CHARACTER_SET_NAME, ''),
COALESCE(COLLATION_NAME, '') FROM information_schema.COLUMNS
WHERE TABLE_NAME = ? AND TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND COLUMN_NAME IN (?, ?, ?)
ORDER BY ORDINAL_POSITION`, id.Name, id.Schema, offsetNameCols[0], offsetNameCols[1], offsetNameCols[2])
	if err != nil {
		return t.sc.target.wrap("read columns of "+id.String(), err)
	}
	defer rows.Close()
	var mods, names []string
	for rows.Next() {
		var name, typ, charset, collation string
		if err := rows.Scan(&name, &typ, &charset, &collation); err != nil {
			return t.sc.target.wrap("read columns of "+id.String(), err)
		}
		// A binary string column has no collation; a text one compares bytes under a _bin collation.
		if collation == "" || collation == "binary" || strings.HasSuffix(collation, "_bin") {
			continue
		}
		names = append(names, name)
		mods = append(mods, "MODIFY "+t.d.quote(name)+" "+typ+" CHARACTER SET "+charset+" COLLATE "+charset+"_bin NOT NULL")
	}
	if err := rows.Err(); err != nil {
		return t.sc.target.wrap("read columns of "+id.String(), err)
	}
	if len(mods) == 0 {
		return nil
	}
	alter := "ALTER TABLE " + t.d.table(id) + " " + strings.Join(mods, ", ")
	if _, err := t.db.ExecContext(ctx, alter); err != nil {
		t.tctx.Logger().Warn("exactly-once offsets table compares names without regard to case", "table", id.String(),
			"columns", names, "risk", "topics or connectors whose names differ only in case share rows, and records are skipped",
			"fix", alter+" (as a user that may alter the table)", "err", err)
	}
	return nil
}

func (t *SinkTask) loadOffsets(ctx context.Context) (map[plugins.Queue]int64, error) {
	if err := t.ensureOffsetsTable(ctx); err != nil {
		return nil, err
	}
	tbl := t.d.table(t.offsetsTable())
	rows, err := t.db.QueryContext(ctx, "SELECT "+t.d.quote("topic")+", "+t.d.quote("broker")+", "+t.d.quote("queue_id")+
		", "+t.d.quote("next_offset")+" FROM "+tbl+" WHERE "+t.d.quote("connector")+" = "+t.d.placeholder(1), t.sc.connector)
	if err != nil {
		return nil, t.sc.target.wrap("read offsets", err)
	}
	defer rows.Close()
	out := map[plugins.Queue]int64{}
	for rows.Next() {
		var q plugins.Queue
		var next int64
		if err := rows.Scan(&q.Topic, &q.BrokerName, &q.QueueID, &next); err != nil {
			return nil, t.sc.target.wrap("read offsets", err)
		}
		out[q] = next
	}
	if err := rows.Err(); err != nil {
		return nil, t.sc.target.wrap("read offsets", err)
	}
	return out, nil
}

// ensureOffsetRows inserts a row (next offset 0) for each queue of records that has none yet, each in its
// own statement outside the data transaction, so that lockOffsets locks existing rows only: locking a
// missing row takes a gap lock in InnoDB, and two tasks inserting into one gap deadlock.
func (t *SinkTask) ensureOffsetRows(ctx context.Context, records []*schema.Record) error {
	cols := []string{t.d.quote("connector"), t.d.quote("topic"), t.d.quote("broker"), t.d.quote("queue_id"), t.d.quote("next_offset")}
	for _, r := range records {
		q := queueOf(r)
		if t.knownQueues[q] {
			continue
		}
		stmt := "INSERT INTO " + t.d.table(t.offsetsTable()) + " (" + strings.Join(cols, ", ") + ") VALUES (" +
			t.d.placeholder(1) + ", " + t.d.placeholder(2) + ", " + t.d.placeholder(3) + ", " + t.d.placeholder(4) + ", 0)"
		if t.d.kind == postgresDialect {
			stmt += " ON CONFLICT DO NOTHING"
		} else {
			stmt = strings.Replace(stmt, "INSERT INTO", "INSERT IGNORE INTO", 1)
		}
		if _, err := t.db.ExecContext(ctx, stmt, t.sc.connector, q.Topic, q.BrokerName, q.QueueID); err != nil {
			return t.sc.target.wrap("store offsets", err)
		}
		t.knownQueues[q] = true
	}
	return nil
}

// lockOffsets reads, and locks for the rest of tx, the stored offsets of the queues of records, into
// t.offsets.
func (t *SinkTask) lockOffsets(ctx context.Context, tx *sql.Tx, records []*schema.Record) error {
	seen := map[plugins.Queue]bool{}
	q := "SELECT " + t.d.quote("next_offset") + " FROM " + t.d.table(t.offsetsTable()) + " WHERE " +
		t.d.quote("connector") + " = " + t.d.placeholder(1) + " AND " + t.d.quote("topic") + " = " + t.d.placeholder(2) +
		" AND " + t.d.quote("broker") + " = " + t.d.placeholder(3) + " AND " + t.d.quote("queue_id") + " = " +
		t.d.placeholder(4) + " FOR UPDATE"
	for _, r := range records {
		queue := queueOf(r)
		if seen[queue] {
			continue
		}
		seen[queue] = true
		var next int64
		err := tx.QueryRowContext(ctx, q, t.sc.connector, queue.Topic, queue.BrokerName, queue.QueueID).Scan(&next)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return t.sc.target.wrap("read offsets", err)
		default:
			t.offsets[queue] = next
		}
	}
	return nil
}

// queueOf is the queue r was read from: its topic before transforms (OriginalTopic; Topic when a record
// does not carry it, such as one given to an out-of-process plugin), broker and queue ID. A transform
// routing several topics to one (RegexRouter merging shards into a table) leaves each queue its own.
func queueOf(r *schema.Record) plugins.Queue {
	return plugins.Queue{Topic: cmp.Or(r.OriginalTopic, r.Topic), BrokerName: r.BrokerName, QueueID: r.QueueID}
}

// unwritten drops the records an exactly-once sink has already written (redelivered after a crash).
func (t *SinkTask) unwritten(records []*schema.Record) []*schema.Record {
	if !t.sc.exactlyOnce || len(t.offsets) == 0 {
		return records
	}
	out := records[:0:0]
	for _, r := range records {
		if next, ok := t.offsets[queueOf(r)]; ok && r.QueueOffset < next {
			continue
		}
		out = append(out, r)
	}
	return out
}

// nextOffsets is the offsets after records: per queue, one past the highest offset seen.
func nextOffsets(cur map[plugins.Queue]int64, records []*schema.Record) map[plugins.Queue]int64 {
	next := map[plugins.Queue]int64{}
	for _, r := range records {
		q := queueOf(r)
		n := r.QueueOffset + 1
		if n > next[q] && n > cur[q] {
			next[q] = n
		}
	}
	return next
}

// storeOffsets upserts next in tx.
func (t *SinkTask) storeOffsets(ctx context.Context, tx *sql.Tx, next map[plugins.Queue]int64) error {
	cols := []string{t.d.quote("connector"), t.d.quote("topic"), t.d.quote("broker"), t.d.quote("queue_id"), t.d.quote("next_offset")}
	for q, n := range next {
		stmt := "INSERT INTO " + t.d.table(t.offsetsTable()) + " (" + strings.Join(cols, ", ") + ") VALUES (" +
			t.d.placeholder(1) + ", " + t.d.placeholder(2) + ", " + t.d.placeholder(3) + ", " + t.d.placeholder(4) + ", " +
			t.d.placeholder(5) + ")" + t.d.upsertClause(cols, 4)
		if _, err := tx.ExecContext(ctx, stmt, t.sc.connector, q.Topic, q.BrokerName, q.QueueID, n); err != nil {
			return t.sc.target.wrap("store offsets", err)
		}
	}
	return nil
}
