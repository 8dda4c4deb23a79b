package mysql

import (
	"fmt"
	"slices"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
)

// streamFixture is a task streaming the bench table of tests/bench (BIGINT key, VARCHAR, DECIMAL(12,2),
// BIGINT) without a server, and a row event of n inserts into it.
func streamFixture(t testing.TB, n int) (*task, *table, *replication.RowsEvent, *replication.EventHeader) {
	tk := &task{cfg: &config{prefix: "bench", delim: "."}, src: newSource(), partition: map[string]any{PartitionServer: "bench"}}
	tb, err := tk.newTable("db", "ev", []*column{
		{name: "id", kind: kInt64, width: 8}, {name: "name", kind: kString}, {name: "amount", kind: kDecimal, scale: 2},
		{name: "at", kind: kInt64, width: 8}}, []string{"id"})
	require.NoError(t, err)
	tme := &replication.TableMapEvent{TableID: 1, Schema: []byte("db"), Table: []byte("ev"), ColumnCount: 4,
		ColumnType: []byte{gmysql.MYSQL_TYPE_LONGLONG, gmysql.MYSQL_TYPE_VARCHAR, gmysql.MYSQL_TYPE_NEWDECIMAL, gmysql.MYSQL_TYPE_LONGLONG}}
	ev := &replication.RowsEvent{TableID: 1, Table: tme}
	for i := range n {
		ev.Rows = append(ev.Rows, []any{int64(i), fmt.Sprintf("name %d", i), fmt.Sprintf("%d.%02d", i, i%100), time.Now().UnixNano()})
	}
	tk.str = &stream{file: "binlog.000001", checked: map[uint64]checkedMap{1: {tme: tme, tb: tb}}}
	h := &replication.EventHeader{Timestamp: uint32(time.Now().Unix()), ServerID: 1, LogPos: 1000, EventSize: 100}
	return tk, tb, ev, h
}

// rawRows copies an event's rows: the library's values, before a conversion in place.
func rawRows(ev *replication.RowsEvent) [][]any {
	out := make([][]any, len(ev.Rows))
	for i, r := range ev.Rows {
		out[i] = slices.Clone(r)
	}
	return out
}

// Rows converted ahead are used only for the table they were converted for, once; otherwise, and after a
// failed conversion, the library's values are back in the event for Poll.
func TestAheadTakesOnlyItsTable(t *testing.T) {
	_, tb, ev, _ := streamFixture(t, 3)
	raw := rawRows(ev)
	a := newAhead()
	take := func(e *replication.RowsEvent, tb *table) bool {
		ok, err := a.take(e, tb, new(cdc.Slab))
		require.NoError(t, err)
		return ok
	}
	a.convert(ev)
	require.False(t, take(ev, tb), "nothing published for the table id: nothing converted")
	require.Equal(t, raw, ev.Rows)

	a.publish(1, tb)
	a.convert(ev)
	require.True(t, take(ev, tb))
	for i, row := range raw {
		want, err := tb.decode(row, nil)
		require.NoError(t, err)
		require.Equal(t, want, ev.Rows[i])
	}
	require.False(t, take(ev, tb), "taken once")
	ev.Rows = rawRows(&replication.RowsEvent{Rows: raw})

	a.convert(ev)
	other := *tb
	require.False(t, take(ev, &other), "resolved to another table (a DDL in between): Poll converts")
	require.Equal(t, raw, ev.Rows, "the library's values are back")
	require.Empty(t, a.done)

	bad := &replication.RowsEvent{TableID: 1, Table: ev.Table, Rows: [][]any{
		{int64(1), "a", "1.50", int64(2)}, {int64(1), "a", "not a number", int64(2)}}}
	badRaw := rawRows(bad)
	a.convert(bad)
	require.False(t, take(bad, tb))
	require.Equal(t, badRaw, bad.Rows, "the rows converted before the failure are back too")
	renamed := &replication.RowsEvent{TableID: 1, Table: &replication.TableMapEvent{Schema: []byte("db"), Table: []byte("other")},
		Rows: ev.Rows}
	a.convert(renamed)
	require.False(t, take(renamed, tb), "the table id now names another table")
	require.Equal(t, raw, ev.Rows)
}

// A row event's records are the same whether its rows were converted ahead or by Poll.
func TestRowsSameWithAhead(t *testing.T) {
	tk, tb, ev, h := streamFixture(t, 5)
	tk.beginTx(h, nil)
	want, err := tk.rows(nil, h, ev)
	require.NoError(t, err)

	tk.str.ahead = newAhead()
	tk.str.ahead.publish(1, tb)
	tk.str.ahead.convert(ev)
	require.IsType(t, schema.Decimal{}, ev.Rows[0][2], "converted in place")
	tk.beginTx(h, nil)
	got, err := tk.rows(nil, h, ev)
	require.NoError(t, err)
	require.Empty(t, tk.str.ahead.done)
	require.Len(t, got, len(want))
	for i := range want {
		require.True(t, want[i].Key.(*schema.Struct).Equal(got[i].Key.(*schema.Struct)))
		wv, gv := want[i].Value.(*schema.Struct), got[i].Value.(*schema.Struct)
		for _, f := range []string{"before", "after", "source", "op"} {
			w, _ := wv.Get(f)
			g, _ := gv.Get(f)
			require.True(t, schema.Equal(w, g), "record %d field %s", i, f)
		}
		require.Equal(t, want[i].Offset(), got[i].Offset())
	}
}

// Each transaction has a table map of its own: the row decoder's plan of the previous one reads its events
// when the columns are the same, and a new plan is made when they are not (a wider VARCHAR here, whose
// length then takes two bytes).
func TestRowPlanFollowsTableMaps(t *testing.T) {
	_, tb, ev, _ := streamFixture(t, 3)
	want := make([][]any, len(ev.Rows))
	for i, row := range ev.Rows {
		var err error
		want[i], err = tb.decode(row, nil)
		require.NoError(t, err)
	}
	a := newAhead()
	a.publish(1, tb)
	p, write := benchParser(t, ev.Rows, a, false)
	parse := func(typ replication.EventType, body []byte) *replication.BinlogEvent {
		e, err := p.Parse(benchEvent(typ, body))
		require.NoError(t, err)
		return e
	}
	tableMap := func(varchar uint16) []byte {
		return []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 'd', 'b', 0, 2, 'e', 'v', 0, 4,
			gmysql.MYSQL_TYPE_LONGLONG, gmysql.MYSQL_TYPE_VARCHAR, gmysql.MYSQL_TYPE_NEWDECIMAL, gmysql.MYSQL_TYPE_LONGLONG,
			4, byte(varchar), byte(varchar >> 8), 12, 2, 0x0f}
	}
	read := func(varchar uint16, write []byte) *rowPlan {
		parse(replication.TABLE_MAP_EVENT, tableMap(varchar))
		e, err := p.Parse(write)
		require.NoError(t, err)
		re := e.Event.(*replication.RowsEvent)
		ok, err := a.take(re, tb, new(cdc.Slab))
		require.NoError(t, err)
		require.True(t, ok, "read by the row decoder")
		require.Equal(t, want, re.Rows)
		return a.plans[1]
	}
	first := read(100, write)
	require.Same(t, first, read(100, write), "same columns: the plan is kept")
	require.Equal(t, len(want), first.lastRows)

	wide := []byte{1, 0, 0, 0, 0, 0, 0, 0, 4, 0x0f} // the rows with two-byte VARCHAR lengths
	for _, r := range ev.Rows {
		row := encodeBenchRows([][]any{r})
		wide = append(append(append(wide, row[:10]...), 0), row[10:]...)
	}
	next := read(300, benchEvent(replication.WRITE_ROWS_EVENTv1, wide))
	require.NotSame(t, first, next, "another VARCHAR length: a new plan")
	require.Equal(t, len(want), next.lastRows)
}
