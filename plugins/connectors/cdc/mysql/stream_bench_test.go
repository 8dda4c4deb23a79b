package mysql

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/rmqconnect/rmqconnect/schema"
)

// BenchmarkStreamInserts is the task's own cost per streamed insert (op = one row): turning rows the binlog
// decoder made (the bench table of tests/bench: BIGINT key, VARCHAR, DECIMAL(12,2), BIGINT) into records,
// 100 rows per row event, without a server. The library's decoding, which a raw reader pays too, is not in it.
func BenchmarkStreamInserts(b *testing.B) {
	const rows = 100
	t := &task{cfg: &config{prefix: "bench", delim: "."}, src: newSource(), partition: map[string]any{PartitionServer: "bench"}}
	tb, err := t.newTable("db", "ev", []*column{
		{name: "id", kind: kInt64, width: 8}, {name: "name", kind: kString}, {name: "amount", kind: kDecimal, scale: 2},
		{name: "at", kind: kInt64, width: 8}}, []string{"id"})
	if err != nil {
		b.Fatal(err)
	}
	tme := &replication.TableMapEvent{TableID: 1, Schema: []byte("db"), Table: []byte("ev"), ColumnCount: 4,
		ColumnType: []byte{gmysql.MYSQL_TYPE_LONGLONG, gmysql.MYSQL_TYPE_VARCHAR, gmysql.MYSQL_TYPE_NEWDECIMAL, gmysql.MYSQL_TYPE_LONGLONG}}
	ev := &replication.RowsEvent{TableID: 1, Table: tme}
	for i := range rows {
		ev.Rows = append(ev.Rows, []any{int64(i), fmt.Sprintf("name %d", i), fmt.Sprintf("%d.%02d", i, i%100), time.Now().UnixNano()})
	}
	t.str = &stream{file: "binlog.000001", gtids: nil, checked: map[uint64]checkedMap{1: {tme: tme, tb: tb}}}
	h := &replication.EventHeader{Timestamp: uint32(time.Now().Unix()), ServerID: 1, LogPos: 1000, EventSize: 100}
	out := make([]*schema.Record, 0, rows)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t.beginTx(h, nil)
		if out, err = t.rows(out[:0], h, ev); err != nil {
			b.Fatal(err)
		}
		t.commitTx(h)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/event")
}

// BenchmarkStreamInsertsAhead is BenchmarkStreamInserts with the rows converted ahead (in place, as on the
// binlog reader's goroutine) before Poll's part: op = one row through both. Each op first puts the library's
// values back in the row slices, which stands in for the library making them.
func BenchmarkStreamInsertsAhead(b *testing.B) {
	const rows = 100
	t, tb, ev, h := streamFixture(b, rows)
	raw := rawRows(ev)
	t.str.ahead = newAhead()
	t.str.ahead.publish(1, tb)
	out := make([]*schema.Record, 0, rows)
	var err error
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i, r := range raw {
			copy(ev.Rows[i], r)
		}
		t.str.ahead.convert(ev)
		t.beginTx(h, nil)
		if out, err = t.rows(out[:0], h, ev); err != nil {
			b.Fatal(err)
		}
		t.commitTx(h)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/event")
}

// BenchmarkStreamInsertsDecoded is BenchmarkStreamInserts with the rows read by the row decoder from the
// event's bytes (as on the binlog reader's goroutine) before Poll's part: op = one row through both. Unlike
// BenchmarkStreamInsertsAhead it includes reading the bytes, which the library's decoding does there
// otherwise.
func BenchmarkStreamInsertsDecoded(b *testing.B) {
	const rows = 100
	t, tb, ev, h := streamFixture(b, rows)
	ev.Table.ColumnMeta = []uint16{0, 100, 12<<8 | 2, 0}
	ev.ColumnCount = 4
	ev.ColumnBitmap1 = []byte{0x0f}
	body := encodeBenchRows(ev.Rows)
	a := newAhead()
	t.str.ahead = a
	a.publish(1, tb)
	p := newRowPlan(ev.Table, tb)
	if p.cols == nil {
		b.Fatal("bench table not covered by the row decoder")
	}
	check, err := p.rows(body, ev.ColumnBitmap1, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i, row := range ev.Rows {
		want, _ := tb.decode(row, nil)
		if fmt.Sprint(want) != fmt.Sprint(check[i]) {
			b.Fatalf("row %d: decoded %v, want %v", i, check[i], want)
		}
	}
	out := make([]*schema.Record, 0, rows)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := p.rows(body, ev.ColumnBitmap1, nil, &a.slab)
		if err != nil {
			b.Fatal(err)
		}
		ev.Rows = got
		a.done[ev] = converted{tb: tb, data: body}
		t.beginTx(h, nil)
		if out, err = t.rows(out[:0], h, ev); err != nil {
			b.Fatal(err)
		}
		t.commitTx(h)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/event")
}

// encodeBenchRows writes the fixture's rows (BIGINT, VARCHAR(100), DECIMAL(12,2) as text, BIGINT) as
// write-rows images of every column, none null.
func encodeBenchRows(rows [][]any) []byte {
	var out []byte
	for _, r := range rows {
		out = append(out, 0) // null bitmap
		out = binary.LittleEndian.AppendUint64(out, uint64(r[0].(int64)))
		s := r[1].(string)
		out = append(append(out, byte(len(s))), s...)
		out = appendBenchDecimal(out, r[2].(string))
		out = binary.LittleEndian.AppendUint64(out, uint64(r[3].(int64)))
	}
	return out
}

// appendBenchDecimal writes a non-negative DECIMAL(12,2): ten integer digits (one digit, then nine) and two
// fractional ones.
func appendBenchDecimal(out []byte, text string) []byte {
	intPart, frac, _ := strings.Cut(text, ".")
	n, _ := strconv.ParseUint(intPart, 10, 64)
	f, _ := strconv.ParseUint(frac, 10, 64)
	b := []byte{byte(n / 1e9)}
	b = binary.BigEndian.AppendUint32(b, uint32(n%1e9))
	b = append(b, byte(f))
	b[0] |= 0x80 // positive
	return append(out, b...)
}
