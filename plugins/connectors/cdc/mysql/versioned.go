package mysql

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
)

// systemVersioned completes the schema of a system-versioned table: the row start and end columns MariaDB
// adds when the table names none (PERIOD FOR SYSTEM_TIME), and a primary key without the row end, which
// MariaDB adds to it.
func (ts *tableSchema) systemVersioned() {
	end := slices.IndexFunc(ts.Columns, func(c colDef) bool { return c.RowEnd })
	if end < 0 {
		ts.Columns = append(ts.Columns,
			colDef{Name: "row_start", DataType: "timestamp", ColumnType: "timestamp(6)", Hidden: true},
			colDef{Name: "row_end", DataType: "timestamp", ColumnType: "timestamp(6)", Hidden: true, RowEnd: true})
		end = len(ts.Columns) - 1
	}
	ts.PK = slices.DeleteFunc(ts.PK, func(k string) bool { return strings.EqualFold(k, ts.Columns[end].Name) })
}

// versionedChange is the change of a system-versioned table's row images (its hidden columns left out):
// the server writes a history row for an update and turns a deleted row into history, and only the changes
// of current rows are records. ok is false for a change of history rows only.
func (tb *table) versionedChange(op cdc.Op, before, after []any) (cdc.Op, []any, []any, bool) {
	curBefore, curAfter := before != nil && tb.current(before), after != nil && tb.current(after)
	switch {
	case op == cdc.OpCreate && !curAfter, op == cdc.OpDelete && !curBefore, op == cdc.OpUpdate && !curBefore:
		return op, nil, nil, false
	case op == cdc.OpUpdate && !curAfter: // a current row made history: deleted
		op, after = cdc.OpDelete, nil
	}
	if before != nil {
		before = before[:tb.visible]
	}
	if after != nil {
		after = after[:tb.visible]
	}
	return op, before, after, true
}

// current reports whether a system-versioned table's row is current: its row end is the largest value, a
// TIMESTAMP's (2038-01-19 03:14:07.999999 UTC, or later where the server allows later timestamps) or a
// transaction id's (2^64-1, wrapped).
func (tb *table) current(row []any) bool {
	switch v := row[tb.end].(type) {
	case time.Time:
		return v.Unix() >= math.MaxInt32
	case int64:
		return v == -1
	}
	return false
}
