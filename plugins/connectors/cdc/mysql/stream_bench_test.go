package mysql

import (
	"bytes"
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

// BenchmarkStreamInsertsParsed is the binlog reader's and Poll's work per streamed insert (op = one row):
// go-mysql's parser reads a write-rows event of the bench table (100 rows, made from the fixture's rows)
// through the task's RowsEventDecodeFunc, then Poll's part makes the records. library turns the row
// decoder off (go-mysql decodes, the rows are converted in place), as before it; decoder is the task as it
// is. Only the packet reading from the server is left out.
func BenchmarkStreamInsertsParsed(b *testing.B) {
	const rows = 100
	for _, side := range []string{"library", "decoder"} {
		b.Run(side, func(b *testing.B) {
			t, tb, ev, h := streamFixture(b, rows)
			a := newAhead()
			t.str.ahead = a
			a.publish(1, tb)
			p, event := benchParser(b, ev.Rows, a, side == "library")
			delete(t.str.checked, 1)
			out := make([]*schema.Record, 0, rows)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				be, err := p.Parse(event)
				if err != nil {
					b.Fatal(err)
				}
				re := be.Event.(*replication.RowsEvent)
				t.str.checked[1] = checkedMap{tme: re.Table, tb: tb}
				t.beginTx(h, nil)
				if out, err = t.rows(out[:0], h, re); err != nil {
					b.Fatal(err)
				}
				t.commitTx(h)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/event")
		})
	}
}

// benchParser is a go-mysql parser that has read a format description and the bench table's table map,
// decoding row events with a's decode (or, with library, the library's decoding and the conversion in
// place), and a write-rows event of rows for it.
func benchParser(b testing.TB, rows [][]any, a *ahead, library bool) (*replication.BinlogParser, []byte) {
	p := replication.NewBinlogParser()
	p.SetFlavor(gmysql.MariaDBFlavor)
	p.SetTimestampStringLocation(time.UTC)
	decode := a.decode
	if library {
		decode = func(e *replication.RowsEvent, data []byte) error {
			if err := e.Decode(data); err != nil {
				return err
			}
			a.convert(e)
			return nil
		}
	}
	p.SetRowsEventDecodeFunc(decode)
	// A format description of a server old enough to have no checksums, with 8-byte post-headers (6-byte
	// table ids).
	fde := binary.LittleEndian.AppendUint16(nil, 4)
	fde = append(fde, make([]byte, 50)...)
	copy(fde[2:], "5.0.0")
	fde = binary.LittleEndian.AppendUint32(fde, 0)
	fde = append(fde, replication.EventHeaderSize)
	fde = append(fde, bytes.Repeat([]byte{8}, 40)...)
	tme := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 'd', 'b', 0, 2, 'e', 'v', 0, 4,
		gmysql.MYSQL_TYPE_LONGLONG, gmysql.MYSQL_TYPE_VARCHAR, gmysql.MYSQL_TYPE_NEWDECIMAL, gmysql.MYSQL_TYPE_LONGLONG,
		4, 100, 0, 12, 2, // metadata: VARCHAR(100), DECIMAL(12,2)
		0x0f} // nullable columns
	write := append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 4, 0x0f}, encodeBenchRows(rows)...)
	for _, ev := range []struct {
		typ  replication.EventType
		body []byte
	}{{replication.FORMAT_DESCRIPTION_EVENT, fde}, {replication.TABLE_MAP_EVENT, tme}} {
		if _, err := p.Parse(benchEvent(ev.typ, ev.body)); err != nil {
			b.Fatal(err)
		}
	}
	return p, benchEvent(replication.WRITE_ROWS_EVENTv1, write)
}

// benchEvent is a binlog event: a header, then body.
func benchEvent(typ replication.EventType, body []byte) []byte {
	h := binary.LittleEndian.AppendUint32(nil, uint32(time.Now().Unix()))
	h = append(h, byte(typ))
	h = binary.LittleEndian.AppendUint32(h, 1) // server id
	h = binary.LittleEndian.AppendUint32(h, uint32(replication.EventHeaderSize+len(body)))
	h = binary.LittleEndian.AppendUint32(h, 1000) // next position
	h = binary.LittleEndian.AppendUint16(h, 0)    // flags
	return append(h, body...)
}
