package jdbc_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

// readBoth reads table's rows in bulk mode (database/sql) and in incrementing mode by id (pgx's own
// interface, pages of one row so that both the first page, converted after it is read, and the pages read
// ahead, converted as they are scanned, are seen).
func readBoth(t *testing.T, db *dbtest.DB, table string, n int) (bulk, inc []*schema.Record) {
	t.Helper()
	cfg := connCfg(db)
	cfg["table.whitelist"] = table
	cfg["poll.interval.ms"] = "3600000"
	_, task, _ := startSource(t, cfg, nil)
	bulk = conformance.PollN(t, task, n, 10*time.Second)
	cfg["mode"] = "incrementing"
	cfg["incrementing.column.name"] = "id"
	cfg["batch.max.rows"] = "1"
	_, task, _ = startSource(t, cfg, nil)
	inc = conformance.PollN(t, task, n, 10*time.Second)
	return bulk, inc
}

// PostgreSQL types that pgx decodes in binary only into types of its own (arrays, interval, inet, cidr,
// ranges, …), and enums and domains, are read in every mode, with the values bulk mode gives.
func TestSourcePostgresTypesAlikeInEveryMode(t *testing.T) {
	db := dbtest.New(t, dbtest.Postgres)
	db.Exec(t, "CREATE TYPE mood AS ENUM ('sad', 'happy')", "CREATE DOMAIN tags AS TEXT[]",
		"CREATE DOMAIN posint AS INT CHECK (VALUE > 0)",
		`CREATE TABLE odd (id BIGINT PRIMARY KEY, arr TEXT[], iarr INT[], iv INTERVAL, ip INET, net CIDR, m mood,
			tg tags, p posint, r INT4RANGE, mac MACADDR, pt POINT, tz TIMETZ, tm TIME, bits VARBIT(8), js JSON, jb JSONB,
			x XML, money MONEY, u UUID, d DATE)`,
		`INSERT INTO odd VALUES (1, '{a,"b c",NULL}', '{1,2,3}', '1 day 02:00:00', '10.0.0.1', '10.0.0.0/8', 'happy',
			'{x,y}', 7, '[1,5)', '08:00:2b:01:02:03', '(1.5,2)', '13:14:15.678+02', '13:14:15.678', B'101', '{"a": 1}',
			'{"b": [2]}', '<x>y</x>', 12.34, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29')`,
		"INSERT INTO odd (id) VALUES (2)", "INSERT INTO odd SELECT id + 2, arr, iarr, iv, ip, net, m, tg, p, r, mac, pt, tz, tm, "+
			"bits, js, jb, x, money, u, d FROM odd")
	bulk, inc := readBoth(t, db, "odd", 4)
	for i := range 4 {
		require.Equal(t, bulk[i].ValueSchema, inc[i].ValueSchema, "row %d", i+1)
		a, b := bulk[i].Value.(*schema.Struct), inc[i].Value.(*schema.Struct)
		for j, f := range bulk[i].ValueSchema.Fields {
			require.Equal(t, a.GetIndex(j), b.GetIndex(j), "row %d, %s", i+1, f.Name)
		}
	}
	r := inc[0]
	require.Equal(t, `{a,"b c",NULL}`, field(t, r, "arr"))
	require.Equal(t, "{1,2,3}", field(t, r, "iarr"))
	require.Equal(t, "1 day 02:00:00", field(t, r, "iv"))
	require.Equal(t, "10.0.0.1", field(t, r, "ip"))
	require.Equal(t, "10.0.0.0/8", field(t, r, "net"))
	require.Equal(t, "happy", field(t, r, "m"))
	require.Equal(t, "{x,y}", field(t, r, "tg"))
	require.Equal(t, int32(7), field(t, r, "p"), "a domain is its base type")
	require.Equal(t, "[1,5)", field(t, r, "r"))
	require.Equal(t, time.Date(1970, 1, 1, 11, 14, 15, 678e6, time.UTC), field(t, r, "tz"))
	require.Equal(t, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), field(t, r, "d"))
}

// PostgreSQL 15 allows a negative scale (NUMERIC(5,-2) keeps hundreds): the column is a Decimal of scale 0
// (a negative scale is no portable Connect Decimal: Avro refuses it) with the exact value, in every mode.
func TestSourcePostgresNumericNegativeScale(t *testing.T) {
	db := dbtest.New(t, dbtest.Postgres)
	db.Exec(t, "CREATE TABLE neg (id BIGINT PRIMARY KEY, n NUMERIC(5,-2), big NUMERIC(30,-3), pos NUMERIC(4,6))",
		"INSERT INTO neg VALUES (1, 12345, 123456789012345678901234567000, 0.001234), (2, -9951, -5000, -0.000001)")
	bulk, inc := readBoth(t, db, "neg", 2)
	for _, recs := range [][]*schema.Record{bulk, inc} {
		for _, f := range []string{"n", "big"} {
			s := fieldSchema(t, recs[0], f)
			require.Equal(t, schema.DecimalName, s.Name)
			scale, err := schema.DecimalScale(s)
			require.NoError(t, err)
			require.Equal(t, int32(0), scale, f)
		}
		scale, err := schema.DecimalScale(fieldSchema(t, recs[0], "pos"))
		require.NoError(t, err)
		require.Equal(t, int32(6), scale, "a scale above the precision is kept")
		require.Equal(t, "12300", field(t, recs[0], "n").(schema.Decimal).String())
		require.Equal(t, "123456789012345678901234567000", field(t, recs[0], "big").(schema.Decimal).String())
		require.Equal(t, "0.001234", field(t, recs[0], "pos").(schema.Decimal).String())
		require.Equal(t, "-10000", field(t, recs[1], "n").(schema.Decimal).String())
		require.Equal(t, "-5000", field(t, recs[1], "big").(schema.Decimal).String())
		require.Equal(t, "-0.000001", field(t, recs[1], "pos").(schema.Decimal).String())
	}
}
