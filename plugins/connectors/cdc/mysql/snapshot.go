package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// table is one captured table's shape: its columns and envelope schemas.
type table struct {
	db, name string
	cols     []*column
	// visible is how many of cols are in the records: a system-versioned table's hidden row start and
	// end columns are last. end is the row end column's index, -1 for a table without system versioning.
	visible, end int
	t            *cdc.Table
}

func (t *task) newTable(db, name string, cols []*column, pk []string) (*table, error) {
	isKey := map[string]bool{}
	for _, k := range pk {
		isKey[k] = true
	}
	prefix := t.cfg.prefix + "." + db + "." + name
	rb := schema.StructBuilder().Name(prefix + ".Value")
	visible, end := len(cols), -1
	for i, c := range cols {
		if c.rowEnd {
			end = i
		}
		if c.hidden {
			visible = min(visible, i)
			continue
		}
		c.build(isKey[c.name])
		rb.Field(c.name, c.schema)
	}
	row, err := rb.Build()
	if err != nil {
		return nil, fmt.Errorf("row schema of %s.%s: %w", db, name, err)
	}
	ct, err := cdc.NewTable(t.cfg.prefix+t.cfg.delim+db+t.cfg.delim+name, prefix, row, pk, t.src)
	if err != nil {
		return nil, err
	}
	return &table{db: db, name: name, cols: cols, visible: visible, end: end, t: ct}, nil
}

// snapshot reads the captured tables in one consistent-snapshot transaction. The newest row is held
// back so the last one can carry the offset saying the snapshot is complete.
type snapshot struct {
	conn   *sql.Conn
	tables [][2]string
	i      int
	at     time.Time
	start  resumePoint
	cur    *table
	rows   *sql.Rows
	held   *heldRow
}

type heldRow struct {
	tb   *table
	vals []any
}

func (s *snapshot) close() {
	if s.rows != nil {
		_ = s.rows.Close()
	}
	if s.conn != nil {
		_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
		_ = s.conn.Close()
	}
}

func (t *task) beginSnapshot(ctx context.Context) error {
	conn, err := t.db.Conn(t.life)
	if err != nil {
		return err
	}
	s := &snapshot{conn: conn, at: time.Now()}
	for _, q := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			s.close()
			return fmt.Errorf("begin snapshot: %s: %w", q, err)
		}
	}
	// MariaDB reports the binlog position of the transaction's snapshot, with no global lock.
	var name, file string
	var pos int64
	if err := conn.QueryRowContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_file'").Scan(&name, &file); err != nil {
		s.close()
		return fmt.Errorf("read the snapshot's binlog file (needs MariaDB): %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_position'").Scan(&name, &pos); err != nil {
		s.close()
		return fmt.Errorf("read the snapshot's binlog position: %w", err)
	}
	var gtids sql.NullString
	if err := conn.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", file, pos).Scan(&gtids); err != nil {
		s.close()
		return fmt.Errorf("read the snapshot's GTID position: %w", err)
	}
	s.start = resumePoint{file: file, pos: uint32(pos), gtids: gtids.String}
	if s.tables, err = t.capturedTables(ctx, conn); err != nil {
		s.close()
		return err
	}
	if err := t.recordSchemas(ctx, conn, s.tables, s.start); err != nil {
		s.close()
		return err
	}
	t.snap = s
	t.log.Info("snapshot started", "tables", len(s.tables), "file", file, "pos", pos, "gtids", gtids.String)
	return nil
}

// recordSchemas reads the schemas of tables and writes them to the history as the whole
// schema at position at (a snapshot, or a start without history).
func (t *task) recordSchemas(ctx context.Context, q rowQueryer, tables [][2]string, at resumePoint) error {
	e := historyEntry{File: at.file, Pos: at.pos, GTIDs: at.gtids, Reset: true}
	for _, tb := range tables {
		ts, err := readSchema(ctx, q, tb[0], tb[1])
		if err != nil {
			return err
		}
		if !ts.Dropped {
			e.Tables = append(e.Tables, ts)
		}
	}
	if err := t.hist.write(ctx, e); err != nil {
		return plugins.Retriable(err)
	}
	t.schemas.apply(e)
	t.lastReset = time.Now()
	return nil
}

// capturedTables lists the captured base tables.
func (t *task) capturedTables(ctx context.Context, q rowQueryer) ([][2]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var db, tb string
		if err := rows.Scan(&db, &tb); err != nil {
			return nil, err
		}
		if t.cfg.captured(db, tb) {
			out = append(out, [2]string{db, tb})
		}
	}
	return out, rows.Err()
}

type rowQueryer interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// readSchema reads a table's columns and primary key from information_schema; a table that
// does not exist comes back Dropped.
func readSchema(ctx context.Context, q rowQueryer, db, name string) (tableSchema, error) {
	ts := tableSchema{DB: db, Table: name}
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, COALESCE(NUMERIC_SCALE, 0),
		COALESCE(CHARACTER_SET_NAME, ''), COALESCE(GENERATION_EXPRESSION, '') = 'ROW END' FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, db, name)
	if err != nil {
		return ts, fmt.Errorf("columns of %s.%s: %w", db, name, err)
	}
	for rows.Next() {
		var c colDef
		if err := rows.Scan(&c.Name, &c.DataType, &c.ColumnType, &c.Scale, &c.Charset, &c.RowEnd); err != nil {
			rows.Close()
			return ts, err
		}
		ts.Columns = append(ts.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ts, fmt.Errorf("columns of %s.%s: %w", db, name, err)
	}
	if len(ts.Columns) == 0 {
		ts.Dropped = true
		return ts, nil
	}
	rows, err = q.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, db, name)
	if err != nil {
		return ts, fmt.Errorf("primary key of %s.%s: %w", db, name, err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return ts, err
		}
		ts.PK = append(ts.PK, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ts, fmt.Errorf("primary key of %s.%s: %w", db, name, err)
	}
	rows, err = q.QueryContext(ctx, `SELECT COALESCE(TABLE_COLLATION, ''), TABLE_TYPE FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, db, name)
	if err != nil {
		return ts, fmt.Errorf("character set of %s.%s: %w", db, name, err)
	}
	versioned := false
	for rows.Next() {
		var coll, typ string
		if err := rows.Scan(&coll, &typ); err != nil {
			rows.Close()
			return ts, err
		}
		ts.Charset, versioned = charsetOf(coll), typ == "SYSTEM VERSIONED"
	}
	rows.Close()
	if versioned {
		ts.systemVersioned()
	}
	return ts, rows.Err()
}

// tableOf builds (once per schema) the captured table a schema describes.
func (t *task) tableOf(ts *tableSchema) (*table, error) {
	if tb := t.schemas.built[ts.id()]; tb != nil {
		return tb, nil
	}
	cols := make([]*column, len(ts.Columns))
	for i, c := range ts.Columns {
		ctype := strings.ToLower(c.ColumnType)
		unsigned := strings.Contains(ctype, "unsigned")
		col := &column{name: c.Name, kind: kindFromDataType(c.DataType, unsigned), unsigned: unsigned, scale: c.Scale,
			width: widthOf(c.DataType)}
		switch strings.ToLower(c.DataType) {
		case "enum":
			col.enum = members(c.ColumnType)
		case "set":
			col.set = members(c.ColumnType)
		}
		col.setCharset(c.Charset)
		col.setBinaryText(c.DataType)
		col.rowEnd, col.hidden = c.RowEnd, c.Hidden
		cols[i] = col
	}
	tb, err := t.newTable(ts.DB, ts.Table, cols, ts.PK)
	if err != nil {
		return nil, err
	}
	t.schemas.built[ts.id()] = tb
	return tb, nil
}

// widthOf is the byte width of an integer column's binlog value.
func widthOf(dataType string) int {
	switch strings.ToLower(dataType) {
	case "tinyint":
		return 1
	case "smallint":
		return 2
	case "mediumint":
		return 3
	case "int", "integer":
		return 4
	}
	return 8
}

// members parses the quoted members of an enum('a','b”c') or set(...) column type.
func members(columnType string) []string {
	out := []string{}
	open := strings.IndexByte(columnType, '(')
	if open < 0 {
		return out
	}
	s := columnType[open+1:]
	for i := 0; i < len(s); i++ {
		if s[i] != '\'' {
			continue
		}
		var b strings.Builder
		j := i + 1
		for ; j < len(s); j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
				b.WriteByte(s[j])
				continue
			}
			if s[j] == '\'' {
				if j+1 < len(s) && s[j+1] == '\'' {
					b.WriteByte('\'')
					j++
					continue
				}
				break
			}
			b.WriteByte(s[j])
		}
		out = append(out, b.String())
		i = j
	}
	return out
}

func quoteID(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func (t *task) pollSnapshot(ctx context.Context) ([]*schema.Record, error) {
	s := t.snap
	var out []*schema.Record
	for len(out) < t.cfg.maxBatch {
		if s.rows == nil {
			if s.i >= len(s.tables) {
				return t.finishSnapshot(out)
			}
			db, name := s.tables[s.i][0], s.tables[s.i][1]
			ts := t.schemas.tables[db+"."+name]
			if ts == nil {
				return nil, fmt.Errorf("snapshot of %s.%s: the table has no recorded schema", db, name)
			}
			tb, err := t.tableOf(ts)
			if err != nil {
				return nil, err
			}
			s.cur = tb
			names := make([]string, tb.visible)
			for i, c := range tb.cols[:tb.visible] {
				names[i] = quoteID(c.name)
			}
			if s.rows, err = s.conn.QueryContext(t.life, "SELECT "+strings.Join(names, ", ")+" FROM "+quoteID(db)+"."+quoteID(name)); err != nil {
				return nil, fmt.Errorf("snapshot of %s.%s: %w", db, name, err)
			}
		}
		if !s.rows.Next() {
			err := s.rows.Err()
			_ = s.rows.Close()
			s.rows = nil
			if err != nil {
				return nil, fmt.Errorf("snapshot of %s.%s: %w", s.cur.db, s.cur.name, err)
			}
			s.i++
			continue
		}
		raw := make([]sql.RawBytes, s.cur.visible)
		dst := make([]any, len(raw))
		for i := range raw {
			dst[i] = &raw[i]
		}
		if err := s.rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("snapshot of %s.%s: %w", s.cur.db, s.cur.name, err)
		}
		vals := make([]any, len(raw))
		for i, b := range raw {
			if b == nil {
				continue
			}
			v, err := s.cur.cols[i].value([]byte(b))
			if err != nil {
				return nil, fmt.Errorf("snapshot of %s.%s: %w", s.cur.db, s.cur.name, err)
			}
			vals[i] = v
		}
		if s.held != nil {
			recs, err := t.snapshotRecords(s.held, false)
			if err != nil {
				return nil, err
			}
			out = append(out, recs...)
		}
		s.held = &heldRow{tb: s.cur, vals: vals}
	}
	return out, nil
}

func (t *task) finishSnapshot(out []*schema.Record) ([]*schema.Record, error) {
	s := t.snap
	if s.held != nil {
		recs, err := t.snapshotRecords(s.held, true)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	s.close()
	t.snap = nil
	t.resume = s.start
	t.log.Info("snapshot done", "tables", len(s.tables))
	return out, nil
}

func (t *task) snapshotRecords(h *heldRow, last bool) ([]*schema.Record, error) {
	s := t.snap
	flag := "true"
	off := s.start.offset(0)
	if last {
		flag = "last"
	} else {
		off[OffsetSnapshot] = true
	}
	src, err := t.src.Struct(cdc.SourceInfo{Connector: "mysql", Name: t.cfg.prefix, Ts: s.at, Snapshot: flag, DB: h.tb.db,
		Table: h.tb.name, Position: []any{int64(0), s.start.gtids, s.start.file, int64(s.start.pos), int32(0)}})
	if err != nil {
		return nil, err
	}
	return h.tb.t.Records(cdc.Event{Op: cdc.OpRead, After: h.vals, Source: src, Partition: t.partition, Offset: off,
		Now: time.Now()}, false)
}
