package mysql

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

// coveredTable has a column of every type the row decoder covers, at several sizes and precisions.
const coveredTable = `CREATE TABLE covered (
	id INT PRIMARY KEY,
	ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
	i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
	f FLOAT, d DOUBLE,
	vc VARCHAR(20), vcl VARCHAR(300), c CHAR(10), cl CHAR(100), vb VARBINARY(20), bn BINARY(4),
	tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT, js JSON, tb TINYBLOB, b BLOB, mb MEDIUMBLOB, lb LONGBLOB,
	d1 DECIMAL(5,2), d2 DECIMAL(18,0), d3 DECIMAL(18,18), d4 DECIMAL(30,10), d5 DECIMAL(65,30), d6 DECIMAL(10,9),
	d7 DECIMAL(1,0), d8 DECIMAL(19,4),
	dt DATE, dtm0 DATETIME, dtm1 DATETIME(1), dtm3 DATETIME(3), dtm6 DATETIME(6),
	ts0 TIMESTAMP NULL DEFAULT NULL, ts2 TIMESTAMP(2) NULL DEFAULT NULL, ts6 TIMESTAMP(6) NULL DEFAULT NULL,
	tm0 TIME, tm1 TIME(1), tm2 TIME(2), tm3 TIME(3), tm4 TIME(4), tm5 TIME(5), tm6 TIME(6),
	y YEAR
) DEFAULT CHARSET=utf8mb4`

// coveredRows are rows of edge values for coveredTable, by column; the columns left out are NULL.
var coveredRows = []map[string]string{
	{"id": "1"},
	{"id": "2", "ti": "0", "tiu": "0", "si": "0", "siu": "0", "mi": "0", "miu": "0", "i": "0", "iu": "0", "bi": "0", "biu": "0",
		"f": "0", "d": "0", "vc": "''", "vcl": "''", "c": "''", "cl": "''", "vb": "''", "bn": "''", "tt": "''", "tx": "''",
		"mt": "''", "lt": "''", "js": "'{}'", "tb": "''", "b": "''", "mb": "''", "lb": "''", "d1": "0", "d2": "0", "d3": "0",
		"d4": "0", "d5": "0", "d6": "0", "d7": "0", "d8": "0", "dt": "'0000-00-00'", "dtm0": "'0000-00-00 00:00:00'",
		"dtm1": "'0000-00-00 00:00:00'", "dtm3": "'0000-00-00 00:00:00.000'", "dtm6": "'0000-00-00 00:00:00'",
		"ts0": "'0000-00-00 00:00:00'", "ts2": "'0000-00-00 00:00:00'", "tm0": "'00:00:00'", "tm1": "'00:00:00.0'",
		"tm6": "'00:00:00'", "y": "0"},
	{"id": "3", "ti": "-128", "tiu": "255", "si": "-32768", "siu": "65535", "mi": "-8388608", "miu": "16777215",
		"i": "-2147483648", "iu": "4294967295", "bi": "-9223372036854775808", "biu": "18446744073709551615",
		"f": "-3.40282e38", "d": "-1.7976931348623157e308", "vc": "'日本語テキスト😀'", "vcl": "REPEAT('é', 300)",
		"c": "'ß'", "cl": "REPEAT('字', 100)", "vb": "X'00FF00'", "bn": "X'01'", "tt": "REPEAT('a', 255)",
		"tx": "REPEAT('ü', 30000)", "mt": "REPEAT('m', 70000)", "lt": "REPEAT('l', 100000)", "js": "'[1, \"ü\"]'",
		"tb": "X'00'", "b": "REPEAT(X'FE', 60000)", "mb": "REPEAT('x', 200000)", "lb": "REPEAT(X'00AB', 150000)",
		"d1": "-999.99", "d2": "-999999999999999999", "d3": "-0.999999999999999999",
		"d4": "-12345678901234567890.0123456789", "d5": "-" + strings.Repeat("9", 35) + "." + strings.Repeat("9", 30),
		"d6": "-9.000000001", "d7": "-9", "d8": "-123456789012345.6789", "dt": "'1000-01-01'",
		"dtm0": "'1000-01-01 00:00:00'", "dtm1": "'1000-01-01 00:00:00.1'", "dtm3": "'1969-12-31 23:59:59.999'",
		"dtm6": "'0001-01-01 00:00:00.000001'", "ts0": "'1970-01-01 00:00:01'", "ts2": "'1970-01-01 00:00:01.01'",
		"ts6": "'1970-01-01 00:00:01.000001'", "tm0": "'-838:59:59'", "tm1": "'-00:00:00.1'", "tm2": "'-00:00:01.01'",
		"tm3": "'-12:34:56.789'", "tm4": "'-01:02:03.0004'", "tm5": "'-00:00:00.00001'", "tm6": "'-838:59:59.999999'",
		"y": "1901"},
	{"id": "4", "ti": "127", "tiu": "1", "si": "32767", "siu": "1", "mi": "8388607", "miu": "1", "i": "2147483647",
		"iu": "1", "bi": "9223372036854775807", "biu": "9223372036854775808", "f": "3.40282e38",
		"d": "1.7976931348623157e308", "vc": "'x'", "vcl": "REPEAT('€', 299)", "c": "'abcdefghij'", "cl": "'short'",
		"vb": "X'7F'", "bn": "X'01020304'", "tt": "'é'", "tx": "'t'", "mt": "'m'", "lt": "'l'", "js": "'null'",
		"tb": "REPEAT(X'AA', 255)", "b": "X'00'", "mb": "X'01'", "lb": "X'02'", "d1": "999.99",
		"d2": "999999999999999999", "d3": "0.999999999999999999", "d4": "99999999999999999999.9999999999",
		"d5": strings.Repeat("9", 35) + "." + strings.Repeat("9", 30), "d6": "0.000000001", "d7": "9",
		"d8": "999999999999999.9999", "dt": "'9999-12-31'", "dtm0": "'9999-12-31 23:59:59'",
		"dtm1": "'9999-12-31 23:59:59.9'", "dtm3": "'2024-02-29 12:00:00.5'", "dtm6": "'9999-12-31 23:59:59.999999'",
		"ts0": "'2038-01-19 03:14:07'", "ts2": "'2038-01-19 03:14:07.99'", "ts6": "'2038-01-19 03:14:07.999999'",
		"tm0": "'838:59:59'", "tm1": "'00:00:00.9'", "tm2": "'23:59:59.99'", "tm3": "'00:00:00.001'",
		"tm4": "'100:00:00.0001'", "tm5": "'00:00:01.00001'", "tm6": "'838:59:59.999999'", "y": "2155"},
	{"id": "5", "ti": "-1", "tiu": "128", "si": "-1", "siu": "32768", "mi": "-1", "miu": "8388608", "i": "-1",
		"iu": "2147483648", "bi": "-1", "biu": "1", "f": "1.5", "d": "-0.1", "vc": "' padded '", "vcl": "'a'",
		"c": "'  '", "cl": "'😀😀'", "vb": "X'00'", "bn": "X'00000000'", "d1": "0.01", "d2": "1", "d3": "0.000000000000000001",
		"d4": "0.0000000001", "d5": "-0.000000000000000000000000000001", "d6": "-0.5", "d7": "0", "d8": "-0.0001",
		"dt": "'0001-01-01'", "dtm0": "'1970-01-01 00:00:00'", "dtm1": "'2000-01-01 00:00:00.0'",
		"dtm3": "'2020-06-15 08:09:10.010'", "dtm6": "'1999-12-31 23:59:59.5'", "ts0": "'2001-09-09 01:46:40'",
		"ts2": "'2020-01-01 00:00:00.5'", "ts6": "'2020-01-01 00:00:00.123456'", "tm0": "'-00:00:01'",
		"tm1": "'-00:00:01.0'", "tm2": "'-00:00:00.01'", "tm3": "'-00:00:00.999'", "tm4": "'-00:00:00.9999'",
		"tm5": "'-00:00:00.99999'", "tm6": "'-00:00:00.5'", "y": "1970"},
}

// otherTable has columns the row decoder does not cover.
const otherTable = `CREATE TABLE other (id INT PRIMARY KEY, e ENUM('a','b'), s SET('x','y'), bt BIT(10), v VARCHAR(5))`

// capturedEvent is a row event of the test's tables as the hook left it, with its bytes.
type capturedEvent struct {
	e    *replication.RowsEvent
	data []byte
	pos  int
	own  bool // the row decoder read it
}

// The row decoder gives exactly what the library's decoding and the conversion give, for every row image of
// inserts, updates (full and minimal images) and deletes of rows of edge values and of random values of
// every type it covers; a
// table with a type it does not cover goes through the library; a table guessed wrong is decoded by the
// library on take.
func TestRowDecoderMatchesLibrary(t *testing.T) {
	db := dbtest.New(t, dbtest.MariaDB)
	conn := db.Open(t)
	defer conn.Close()
	conn.SetMaxOpenConns(1) // one session: its sql_mode and binlog_row_image hold for every statement
	ctx := context.Background()
	var file string
	var pos uint32
	var a1, a2 any
	require.NoError(t, conn.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &a1, &a2))
	exec := func(stmts ...string) {
		t.Helper()
		for _, s := range stmts {
			_, err := conn.ExecContext(ctx, s)
			require.NoError(t, err, s)
		}
	}
	exec("SET SESSION sql_mode = ''", "SET SESSION time_zone = '+00:00'", coveredTable, otherTable)
	for _, r := range coveredRows {
		var cols, vals []string
		for c, v := range r {
			cols, vals = append(cols, c), append(vals, v)
		}
		exec(fmt.Sprintf("INSERT INTO covered (%s) VALUES (%s)", strings.Join(cols, ", "), strings.Join(vals, ", ")))
	}
	rng := rand.New(rand.NewPCG(17, 4))
	for first := 100; first < 400; first += 50 {
		exec("INSERT INTO covered VALUES " + strings.Join(randomCoveredRows(rng, first, 50), ", "))
	}
	exec("INSERT INTO other VALUES (1, 'b', 'x,y', b'1010101010', 'v'), (2, NULL, '', b'0', NULL)",
		"UPDATE covered SET ti = ti - 1, vc = CONCAT('u', id), d4 = -d4, dtm6 = '2001-02-03 04:05:06.7' WHERE id > 2",
		"UPDATE covered SET tm3 = '01:01:01.001', lb = NULL WHERE id <= 2",
		"SET SESSION binlog_row_image = 'MINIMAL'",
		"UPDATE covered SET d5 = 1.5, tiu = 7 WHERE id >= 4",
		"DELETE FROM covered WHERE id = 5",
		"SET SESSION binlog_row_image = 'NOBLOB'",
		"UPDATE covered SET si = 5, mb = 'new' WHERE id = 3",
		"SET SESSION binlog_row_image = 'FULL'",
		"UPDATE other SET v = 'w'",
		"DELETE FROM covered")
	var endFile string
	var end uint32
	require.NoError(t, conn.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&endFile, &end, &a1, &a2))

	tk := &task{cfg: &config{prefix: "t", delim: "."}, src: newSource(), schemas: newSchemas()}
	tables := map[string]*table{}
	for _, name := range []string{"covered", "other"} {
		ts, err := readSchema(ctx, conn, db.Name, name)
		require.NoError(t, err)
		tables[name], err = tk.tableOf(&ts)
		require.NoError(t, err)
	}

	a := newAhead()
	var mu sync.Mutex
	captured := map[*replication.RowsEvent]*capturedEvent{}
	hook := func(e *replication.RowsEvent, data []byte) error {
		p, err := e.DecodeHeader(data) // again in decode: the header is the library's, read twice alike
		if err != nil {
			return err
		}
		if e.Table != nil && string(e.Table.Schema) == db.Name {
			a.publish(e.TableID, tables[string(e.Table.Table)])
		}
		if err := a.decode(e, data); err != nil {
			return err
		}
		a.mu.Lock()
		c, own := a.done[e]
		a.mu.Unlock()
		mu.Lock()
		captured[e] = &capturedEvent{e: e, data: data, pos: p, own: own && c.data != nil}
		mu.Unlock()
		return nil
	}
	f := fnv.New32a()
	_, _ = f.Write([]byte(db.Name))
	port, err := strconv.Atoi(db.Port)
	require.NoError(t, err)
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{ServerID: 200000 + f.Sum32()%1000000,
		Flavor: gmysql.MariaDBFlavor, Host: db.Host, Port: uint16(port), User: db.User, Password: db.Password,
		TimestampStringLocation: time.UTC, Logger: slog.New(slog.DiscardHandler), RowsEventDecodeFunc: hook})
	defer syncer.Close()
	st, err := syncer.StartSync(gmysql.Position{Name: file, Pos: pos})
	require.NoError(t, err)

	var images, ownEvents, otherEvents, guessedWrong, partial int
	for k := 0; ; k++ {
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		ev, err := st.GetEvent(rctx)
		cancel()
		require.NoError(t, err)
		if re, ok := ev.Event.(*replication.RowsEvent); ok && string(re.Table.Schema) == db.Name {
			mu.Lock()
			c := captured[re]
			mu.Unlock()
			require.NotNil(t, c)
			tb := tables[string(re.Table.Table)]
			if tb.name == "other" {
				require.False(t, c.own, "a table with a type the decoder does not cover goes through the library")
				otherEvents++
			} else {
				require.True(t, c.own, "the decoder covers every column of %s", tb.name)
				ownEvents++
			}
			if !allSet(re.ColumnBitmap1, len(tb.cols)) || (re.ColumnBitmap2 != nil && !allSet(re.ColumnBitmap2, len(tb.cols))) {
				partial++
			}
			images += checkEvent(t, a, c, tb, k%2 == 1)
			if k%2 == 1 && c.own {
				guessedWrong++
			}
		}
		if _, ok := ev.Event.(*replication.XIDEvent); ok && ev.Header.LogPos >= end {
			break
		}
	}
	require.Positive(t, ownEvents)
	require.Positive(t, otherEvents)
	require.Positive(t, guessedWrong)
	require.Positive(t, partial, "minimal row images")
	t.Logf("%d row images compared: %d events read by the decoder (%d of them taken for another table), %d by the "+
		"library; %d events of partial images", images, ownEvents, guessedWrong, otherEvents, partial)
}

// checkEvent compares an event's rows as the hook left them, taken for tb (or, with wrong, for another
// table, which makes take put the library's values back or decode them with the library), with the
// library's decoding of its bytes and the conversion, and returns the number of row images compared.
func checkEvent(t *testing.T, a *ahead, c *capturedEvent, tb *table, wrong bool) int {
	t.Helper()
	got := make([][]any, len(c.e.Rows)) // a conversion in place is undone by a wrong take: a copy
	for i, row := range c.e.Rows {
		got[i] = slices.Clone(row)
	}
	taken := tb
	if wrong {
		other := *tb
		taken = &other
	}
	ok, err := a.take(c.e, taken, new(cdc.Slab))
	require.NoError(t, err)
	require.Equal(t, !wrong, ok)
	if !wrong {
		require.NoError(t, c.e.DecodeData(c.pos, c.data))
	}
	lib := c.e.Rows
	require.Len(t, got, len(lib))
	for i, raw := range lib {
		want, err := tb.decode(raw, nil)
		require.NoError(t, err)
		for j := range want {
			require.True(t, sameValue(want[j], got[i][j]), "row image %d column %s: library %#v, decoder %#v",
				i, tb.cols[j].name, want[j], got[i][j])
		}
	}
	return len(lib)
}

func allSet(bitmap []byte, n int) bool {
	for i := range n {
		if !bitSet(bitmap, i) {
			return false
		}
	}
	return true
}

// sameValue reports whether two row values are the same value of the same type; decimals are equal at the
// same scale whatever the representation of their unscaled value.
func sameValue(want, got any) bool {
	if wd, ok := want.(schema.Decimal); ok {
		gd, ok := got.(schema.Decimal)
		return ok && wd.Scale == gd.Scale && wd.Unscaled.Cmp(gd.Unscaled) == 0
	}
	return reflect.DeepEqual(want, got)
}

// The decoder reads only what it covers: any other binlog type, or metadata or a captured column that
// disagrees with it, leaves the table to the library.
func TestRowPlanFallsBack(t *testing.T) {
	covered := []struct {
		typ  byte
		meta uint16
		c    column
	}{
		{gmysql.MYSQL_TYPE_LONG, 0, column{kind: kInt32, width: 4}},
		{gmysql.MYSQL_TYPE_LONG, 0, column{kind: kInt64, width: 4, unsigned: true}},
		{gmysql.MYSQL_TYPE_NEWDECIMAL, 12<<8 | 2, column{kind: kDecimal, scale: 2}},
		{gmysql.MYSQL_TYPE_STRING, uint16(gmysql.MYSQL_TYPE_STRING)<<8 | 40, column{kind: kString}},
		{gmysql.MYSQL_TYPE_BLOB, 4, column{kind: kBytes}},
		{gmysql.MYSQL_TYPE_TIME2, 6, column{kind: kString}},
	}
	for _, c := range covered {
		_, ok := planColumn(c.typ, c.meta, &c.c)
		require.True(t, ok, "type %d meta %d %+v", c.typ, c.meta, c.c)
	}
	uncovered := []struct {
		why  string
		typ  byte
		meta uint16
		c    column
	}{
		{"BIT", gmysql.MYSQL_TYPE_BIT, 1<<8 | 2, column{kind: kBit}},
		{"ENUM", gmysql.MYSQL_TYPE_STRING, uint16(gmysql.MYSQL_TYPE_ENUM)<<8 | 1, column{kind: kString}},
		{"SET", gmysql.MYSQL_TYPE_STRING, uint16(gmysql.MYSQL_TYPE_SET)<<8 | 1, column{kind: kString}},
		{"an enum column", gmysql.MYSQL_TYPE_STRING, uint16(gmysql.MYSQL_TYPE_STRING)<<8 | 4, column{kind: kString, enum: []string{"a"}}},
		{"JSON", gmysql.MYSQL_TYPE_JSON, 4, column{kind: kString}},
		{"GEOMETRY", gmysql.MYSQL_TYPE_GEOMETRY, 4, column{kind: kString}},
		{"old DECIMAL", gmysql.MYSQL_TYPE_DECIMAL, 0, column{kind: kDecimal}},
		{"old TIME", gmysql.MYSQL_TYPE_TIME, 0, column{kind: kString}},
		{"old DATETIME", gmysql.MYSQL_TYPE_DATETIME, 0, column{kind: kTimestamp}},
		{"old TIMESTAMP", gmysql.MYSQL_TYPE_TIMESTAMP, 0, column{kind: kTimestamp}},
		{"NEWDATE", gmysql.MYSQL_TYPE_NEWDATE, 0, column{kind: kDate}},
		{"a decimal's scale", gmysql.MYSQL_TYPE_NEWDECIMAL, 12<<8 | 2, column{kind: kDecimal, scale: 3}},
		{"a decimal's precision", gmysql.MYSQL_TYPE_NEWDECIMAL, 70<<8 | 2, column{kind: kDecimal, scale: 2}},
		{"an integer's width", gmysql.MYSQL_TYPE_LONG, 0, column{kind: kInt32, width: 3}},
		{"an integer's kind", gmysql.MYSQL_TYPE_LONG, 0, column{kind: kInt32, width: 4, unsigned: true}},
		{"FLOAT as DOUBLE", gmysql.MYSQL_TYPE_FLOAT, 0, column{kind: kFloat64}},
		{"a blob's length width", gmysql.MYSQL_TYPE_BLOB, 5, column{kind: kBytes}},
		{"fractional digits", gmysql.MYSQL_TYPE_DATETIME2, 7, column{kind: kTimestamp}},
		{"a date as text", gmysql.MYSQL_TYPE_DATE, 0, column{kind: kString}},
	}
	for _, c := range uncovered {
		_, ok := planColumn(c.typ, c.meta, &c.c)
		require.False(t, ok, c.why)
	}
	tme := &replication.TableMapEvent{ColumnCount: 2, ColumnType: []byte{gmysql.MYSQL_TYPE_LONG, gmysql.MYSQL_TYPE_BIT},
		ColumnMeta: []uint16{0, 1}}
	tb := &table{cols: []*column{{kind: kInt32, width: 4}, {kind: kBit}}}
	require.Nil(t, newRowPlan(tme, tb).cols, "one uncovered column: the table goes to the library")
	tb.cols[1] = &column{kind: kInt32, width: 4}
	tme.ColumnType[1] = gmysql.MYSQL_TYPE_LONG
	require.NotNil(t, newRowPlan(tme, tb).cols)
	tme.ColumnCount = 3
	require.Nil(t, newRowPlan(tme, tb).cols, "the table map and the table disagree")

	require.NotNil(t, rowsEventFields.typ, "go-mysql's RowsEvent has no eventType: the decoder reads nothing")
	require.NotNil(t, rowsEventFields.compressed, "go-mysql's RowsEvent has no compressed: the decoder reads nothing")
}

// fuzzPlan reads a column of every covered type and size.
func fuzzPlan() *rowPlan {
	type col struct {
		typ  byte
		meta uint16
		c    column
	}
	cols := []col{
		{gmysql.MYSQL_TYPE_TINY, 0, column{kind: kInt16, width: 1}},
		{gmysql.MYSQL_TYPE_SHORT, 0, column{kind: kInt32, width: 2, unsigned: true}},
		{gmysql.MYSQL_TYPE_INT24, 0, column{kind: kInt32, width: 3}},
		{gmysql.MYSQL_TYPE_LONG, 0, column{kind: kInt64, width: 4, unsigned: true}},
		{gmysql.MYSQL_TYPE_LONGLONG, 0, column{kind: kInt64, width: 8}},
		{gmysql.MYSQL_TYPE_YEAR, 0, column{kind: kInt32}},
		{gmysql.MYSQL_TYPE_FLOAT, 4, column{kind: kFloat32}},
		{gmysql.MYSQL_TYPE_DOUBLE, 8, column{kind: kFloat64}},
		{gmysql.MYSQL_TYPE_NEWDECIMAL, 5<<8 | 2, column{kind: kDecimal, scale: 2}},
		{gmysql.MYSQL_TYPE_NEWDECIMAL, 18<<8 | 18, column{kind: kDecimal, scale: 18}},
		{gmysql.MYSQL_TYPE_NEWDECIMAL, 65<<8 | 30, column{kind: kDecimal, scale: 30}},
		{gmysql.MYSQL_TYPE_VARCHAR, 20, column{kind: kString}},
		{gmysql.MYSQL_TYPE_VARCHAR, 300, column{kind: kBytes}},
		{gmysql.MYSQL_TYPE_STRING, uint16(gmysql.MYSQL_TYPE_STRING)<<8 | 40, column{kind: kString}},
		{gmysql.MYSQL_TYPE_STRING, 0xce<<8 | 0xfc, column{kind: kString}}, // CHAR(255) of 4-byte characters: 1020 bytes
		{gmysql.MYSQL_TYPE_BLOB, 1, column{kind: kString}},
		{gmysql.MYSQL_TYPE_BLOB, 2, column{kind: kBytes}},
		{gmysql.MYSQL_TYPE_BLOB, 3, column{kind: kString}},
		{gmysql.MYSQL_TYPE_BLOB, 4, column{kind: kBytes}},
		{gmysql.MYSQL_TYPE_DATE, 0, column{kind: kDate}},
		{gmysql.MYSQL_TYPE_DATETIME2, 6, column{kind: kTimestamp}},
		{gmysql.MYSQL_TYPE_DATETIME2, 1, column{kind: kTimestamp}},
		{gmysql.MYSQL_TYPE_TIMESTAMP2, 3, column{kind: kTimestamp}},
		{gmysql.MYSQL_TYPE_TIME2, 0, column{kind: kString}},
		{gmysql.MYSQL_TYPE_TIME2, 2, column{kind: kString}},
		{gmysql.MYSQL_TYPE_TIME2, 4, column{kind: kString}},
		{gmysql.MYSQL_TYPE_TIME2, 6, column{kind: kString}},
	}
	tme := &replication.TableMapEvent{ColumnCount: uint64(len(cols))}
	tb := &table{}
	for _, c := range cols {
		tme.ColumnType = append(tme.ColumnType, c.typ)
		tme.ColumnMeta = append(tme.ColumnMeta, c.meta)
		cc := c.c
		tb.cols = append(tb.cols, &cc)
	}
	p := newRowPlan(tme, tb)
	if p.cols == nil {
		panic("fuzz plan not covered")
	}
	return p
}

// The decoder never panics, whatever the bytes: it returns values or an error (and the library decodes).
func FuzzRowImages(f *testing.F) {
	p := fuzzPlan()
	all := []byte{0xff, 0xff, 0xff, 0xff}
	f.Add([]byte{}, all, []byte(nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0x07}, all, []byte(nil))       // every column null
	f.Add(make([]byte, 200), all, all)                            // zeros
	f.Add([]byte{0x00, 0x00, 0x00, 0x00, 0x80}, all, all)         // a short image
	f.Add([]byte{0xfe, 0xff, 0xff, 0x07, 0x85}, all, []byte(nil)) // one byte of a value, the rest null
	f.Add(bytesOf(0x80, 300), []byte{0x01, 0x00, 0x00, 0x04}, []byte{0x10, 0x20, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, body, present1, present2 []byte) {
		if present2 != nil && len(present2) == 0 {
			present2 = nil
		}
		rows, err := p.rows(body, present1, present2, nil)
		if err != nil {
			return
		}
		for _, row := range rows {
			if len(row) != len(p.cols) {
				t.Fatalf("a row of %d values, %d columns", len(row), len(p.cols))
			}
		}
	})
}

func bytesOf(b byte, n int) []byte { return []byte(strings.Repeat(string([]byte{b}), n)) }

// Through go-mysql's parser, the bench table's rows read by the row decoder are the library's rows
// converted (BenchmarkStreamInsertsParsed measures both).
func TestParsedRowsSame(t *testing.T) {
	_, tb, ev, _ := streamFixture(t, 100)
	var got [2][][]any
	for i, library := range []bool{true, false} {
		a := newAhead()
		a.publish(1, tb)
		p, event := benchParser(t, ev.Rows, a, library)
		be, err := p.Parse(event)
		require.NoError(t, err)
		re := be.Event.(*replication.RowsEvent)
		require.Equal(t, !library, a.done[re].data != nil, "read by the row decoder")
		ok, err := a.take(re, tb, new(cdc.Slab))
		require.NoError(t, err)
		require.True(t, ok)
		got[i] = re.Rows
	}
	require.Len(t, got[1], 100)
	for i := range got[0] {
		for j := range got[0][i] {
			require.True(t, sameValue(got[0][i][j], got[1][i][j]), "row %d column %d: %#v, %#v", i, j, got[0][i][j], got[1][i][j])
		}
	}
}

// randomCoveredRows are n rows of random values for coveredTable (ids from first), as SQL value tuples; one
// value in ten is NULL.
func randomCoveredRows(rng *rand.Rand, first, n int) []string {
	intIn := func(lo, hi int64) string { return strconv.FormatInt(lo+rng.Int64N(hi-lo+1), 10) }
	text := func(maxRunes int) string {
		runes := []rune("aZ09 _é字😀ß€'")
		var b strings.Builder
		for range rng.IntN(maxRunes + 1) {
			b.WriteRune(runes[rng.IntN(len(runes))])
		}
		return "'" + strings.ReplaceAll(b.String(), "'", "''") + "'"
	}
	hexBytes := func(max int) string {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return fmt.Sprintf("X'%X'", b)
	}
	decimal := func(prec, scale int) string {
		digits := func(n int) string {
			var b strings.Builder
			for range n {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
			return b.String()
		}
		s := digits(1 + rng.IntN(max(prec-scale, 1)))
		if prec == scale {
			s = "0"
		}
		if scale > 0 {
			s += "." + digits(rng.IntN(scale+1))
		}
		if rng.IntN(2) == 0 {
			s = "-" + s
		}
		return s
	}
	frac := func(digits int) string {
		if digits == 0 {
			return ""
		}
		return fmt.Sprintf(".%0*d", digits, rng.IntN(int(pow10[digits])))
	}
	date := func() string {
		return fmt.Sprintf("%04d-%02d-%02d", rng.IntN(10000), 1+rng.IntN(12), 1+rng.IntN(28))
	}
	clock := func() string { return fmt.Sprintf("%02d:%02d:%02d", rng.IntN(24), rng.IntN(60), rng.IntN(60)) }
	timestamp := func(digits int) string {
		tm := time.Unix(1+rng.Int64N(1<<31-2), 0).UTC()
		return "'" + tm.Format("2006-01-02 15:04:05") + frac(digits) + "'"
	}
	duration := func(digits int) string {
		sign := ""
		if rng.IntN(2) == 0 {
			sign = "-"
		}
		return fmt.Sprintf("'%s%d:%02d:%02d%s'", sign, rng.IntN(839), rng.IntN(60), rng.IntN(60), frac(digits))
	}
	gens := []func() string{
		func() string { return intIn(math.MinInt8, math.MaxInt8) }, func() string { return intIn(0, math.MaxUint8) },
		func() string { return intIn(math.MinInt16, math.MaxInt16) }, func() string { return intIn(0, math.MaxUint16) },
		func() string { return intIn(-1<<23, 1<<23-1) }, func() string { return intIn(0, 1<<24-1) },
		func() string { return intIn(math.MinInt32, math.MaxInt32) }, func() string { return intIn(0, math.MaxUint32) },
		func() string { return strconv.FormatInt(int64(rng.Uint64()), 10) },
		func() string { return strconv.FormatUint(rng.Uint64(), 10) },
		func() string { return strconv.FormatFloat(float64(float32(rng.NormFloat64()*1e6)), 'g', -1, 32) },
		func() string { return strconv.FormatFloat(rng.NormFloat64()*1e100, 'g', -1, 64) },
		func() string { return text(20) }, func() string { return text(300) }, func() string { return text(10) },
		func() string { return text(100) }, func() string { return hexBytes(20) }, func() string { return hexBytes(4) },
		func() string { return text(60) }, func() string { return text(2000) }, func() string { return text(3000) },
		func() string { return text(3000) }, func() string { return "'[" + intIn(0, 1000) + "]'" },
		func() string { return hexBytes(255) }, func() string { return hexBytes(3000) }, func() string { return hexBytes(3000) },
		func() string { return hexBytes(3000) },
		func() string { return decimal(5, 2) }, func() string { return decimal(18, 0) }, func() string { return decimal(18, 18) },
		func() string { return decimal(30, 10) }, func() string { return decimal(65, 30) }, func() string { return decimal(10, 9) },
		func() string { return decimal(1, 0) }, func() string { return decimal(19, 4) },
		func() string { return "'" + date() + "'" },
		func() string { return "'" + date() + " " + clock() + "'" },
		func() string { return "'" + date() + " " + clock() + frac(1) + "'" },
		func() string { return "'" + date() + " " + clock() + frac(3) + "'" },
		func() string { return "'" + date() + " " + clock() + frac(6) + "'" },
		func() string { return timestamp(0) }, func() string { return timestamp(2) }, func() string { return timestamp(6) },
		func() string { return duration(0) }, func() string { return duration(1) }, func() string { return duration(2) },
		func() string { return duration(3) }, func() string { return duration(4) }, func() string { return duration(5) },
		func() string { return duration(6) },
		func() string { return intIn(1901, 2155) },
	}
	rows := make([]string, n)
	for i := range rows {
		vals := []string{strconv.Itoa(first + i)}
		for _, g := range gens {
			if rng.IntN(10) == 0 {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, g())
			}
		}
		rows[i] = "(" + strings.Join(vals, ", ") + ")"
	}
	return rows
}
