package jdbc

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

// TestMySQLDriverPageMatchesDatabaseSQL: a page read through the driver's own interface (mysqlScan) has
// the columns, values and positions of the same page read through database/sql (scanRows), unconverted and
// converted as it is scanned, for every common MySQL type, NULLs and the edge values of each.
func TestMySQLDriverPageMatchesDatabaseSQL(t *testing.T) {
	db := dbtest.New(t, dbtest.MariaDB)
	db.Exec(t, "CREATE TABLE types (id BIGINT PRIMARY KEY, upd DATETIME(3) NOT NULL, i1 TINYINT, i2 SMALLINT NOT NULL, "+
		"i4 INT, u8 BIGINT UNSIGNED, `dec` DECIMAL(20,4), d2 DECIMAL(65,30), f4 FLOAT, f8 DOUBLE, b BOOLEAN, "+
		"bits BIT(12), s TEXT, vc VARCHAR(20), ch CHAR(3), e ENUM('x','y'), st SET('p','q'), `by` VARBINARY(10), "+
		"bl BLOB, d DATE, tm TIME(3), ts DATETIME(3), tz TIMESTAMP(3) NULL, yr YEAR, u UUID, j JSON)",
		"INSERT INTO types VALUES (1, '2024-02-29 13:14:15.678', -128, -2, 3, 18446744073709551615, "+
			"12345678901234.5678, -0.000000000000000000000000000001, 1.5, 2.25, true, b'101010101010', 'héllo', 'v', "+
			"'ab', 'y', 'p,q', x'00ff', x'deadbeef', '2024-02-29', '00:00:00.000', '9999-12-31 23:59:59.999', "+
			"'2024-02-29 11:14:15.678', 2024, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}')",
		"INSERT INTO types (id, upd, i2) VALUES (2, '2024-02-29 13:14:15.678', 0)",
		"INSERT INTO types VALUES (300, '1970-01-01 00:00:01', 127, 32767, -2147483648, 0, -99999999999999.9999, 0, "+
			"-1e-30, 1e308, false, b'0', '', '', '', 'x', '', x'', x'', '1000-01-01', '23:59:59.999', "+
			"'1000-01-01 00:00:00', NULL, 1901, '00000000-0000-0000-0000-000000000000', '[]')")
	cfg := map[string]string{"name": "c-" + db.Name, "connection.url": db.JDBCURL(), "connection.user": db.User,
		"connection.password": db.Password, "mode": "timestamp+incrementing", "incrementing.column.name": "id",
		"timestamp.column.name": "upd", "table.whitelist": "types", "task.tables": "types"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	task := NewSourceTask()
	require.NoError(t, task.Start(ctx, conformance.SourceContextFor(t, NewSourceConnector().Spec(), nil, cfg), cfg))
	defer func() { _ = task.Stop(context.Background()) }()
	q := task.queriers[0]
	const stmt = "SELECT * FROM types WHERE id > ? AND upd > ? ORDER BY id"
	args := []any{int64(0), time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}

	viaSQL := func(rc *rowConv) *page {
		rows, err := task.db.QueryContext(ctx, stmt, args...)
		require.NoError(t, err)
		defer rows.Close()
		pg := task.scanRows(q, rows, 0, rc)
		require.NoError(t, pg.err)
		return pg
	}
	viaDriver := func(rc *rowConv) *page {
		pg := task.mysqlScan(ctx, q, 0, rc, stmt, args)
		require.NoError(t, pg.err)
		return pg
	}
	rows := 3
	same := func(a, b *page, what string) {
		t.Helper()
		require.Equal(t, a.cols, b.cols, what)
		require.Equal(t, a.len(), b.len(), what)
		require.Equal(t, rows, a.len(), what)
		for i := range a.len() {
			for j, v := range a.row(i) {
				w := b.row(i)[j]
				require.IsType(t, v, w, "%s: row %d, %s", what, i, a.cols[j].name)
				require.True(t, schema.Equal(v, w), "%s: row %d, %s: %#v vs %#v", what, i, a.cols[j].name, v, w)
			}
		}
		require.Equal(t, a.pos, b.pos, what)
	}

	raw := viaSQL(nil)
	same(raw, viaDriver(nil), "unconverted")
	require.NoError(t, task.prepare(ctx, q, raw.cols))
	conv := viaSQL(q.rc)
	require.NotNil(t, conv.rc, "converted as scanned")
	same(conv, viaDriver(q.rc), "converted")
	// The page's values are its own: a second read (the driver's buffers reused) leaves them as they were.
	first := viaDriver(q.rc)
	_ = viaDriver(q.rc)
	same(conv, first, "after another read")

	// Pages of many rows, more than the driver's buffers hold: the bytes of each row's values stay its own.
	db.Exec(t, "DELETE FROM types", "INSERT INTO types (id, upd, i2, `by`, bl, s, `dec`) "+
		"SELECT seq, '2024-01-01', 0, UNHEX(LEFT(SHA2(seq, 256), 20)), UNHEX(SHA2(seq, 512)), SHA2(seq, 256), seq / 7 FROM seq_1_to_3000")
	rows = 3000
	raw = viaSQL(nil)
	same(raw, viaDriver(nil), "unconverted, 3000 rows")
	same(viaSQL(q.rc), viaDriver(q.rc), "converted, 3000 rows")
}
