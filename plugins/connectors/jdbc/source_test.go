package jdbc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/conf/cfgerr"
	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/jdbc"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

// startSource starts a connector and its first task on cfg, with positions from store.
func startSource(t *testing.T, cfg map[string]string, store *conformance.Positions) (*jdbc.SourceConnector, plugins.SourceTask, *conformance.ConnectorContext) {
	t.Helper()
	return startSourceLogging(t, cfg, store, nil)
}

// startSourceLogging is startSource with the task's log written to w (nil: discarded).
func startSourceLogging(t *testing.T, cfg map[string]string, store *conformance.Positions, w io.Writer) (*jdbc.SourceConnector, plugins.SourceTask, *conformance.ConnectorContext) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := jdbc.NewSourceConnector()
	cctx := conformance.ConnectorContextFor(t, c, cfg)
	require.NoError(t, c.Start(ctx, cctx, cfg))
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	task := c.NewSourceTask()
	sctx := conformance.SourceContextFor(t, c.Spec(), store, tcs[0])
	if w != nil {
		sctx.Log = slog.New(slog.NewTextHandler(w, nil))
	}
	require.NoError(t, task.Start(ctx, sctx, tcs[0]))
	t.Cleanup(func() { _ = task.Stop(context.Background()) })
	return c, task, cctx
}

func field(t *testing.T, r *schema.Record, name string) any {
	t.Helper()
	v, err := r.Value.(*schema.Struct).Get(name)
	require.NoError(t, err)
	return v
}

func fieldSchema(t *testing.T, r *schema.Record, name string) *schema.Schema {
	t.Helper()
	f, ok := r.ValueSchema.Field(name)
	require.True(t, ok, "field %s", name)
	return f.Schema
}

// Every common column type becomes the Connect type a downstream tool expects, with its value exact.
func TestSourceColumnTypes(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		if db.Kind == dbtest.Postgres {
			db.Exec(t, `CREATE TABLE types (id BIGINT PRIMARY KEY, i2 SMALLINT NOT NULL, i4 INT, dec NUMERIC(20,4),
				f4 REAL, f8 DOUBLE PRECISION, b BOOLEAN, s TEXT, vc VARCHAR(20), by BYTEA, d DATE, tm TIME(3),
				ts TIMESTAMP(3), tz TIMESTAMPTZ(3), u UUID, j JSONB)`,
				`INSERT INTO types VALUES (1, -2, 3, 12345678901234.5678, 1.5, 2.25, true, 'héllo', 'v', '\x00ff',
				'2024-02-29', '13:14:15.678', '2024-02-29 13:14:15.678', '2024-02-29 13:14:15.678+02',
				'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}')`,
				`INSERT INTO types (id, i2) VALUES (2, 0)`)
		} else {
			db.Exec(t, `CREATE TABLE types (id BIGINT PRIMARY KEY, i2 SMALLINT NOT NULL, i4 INT, `+"`dec`"+` DECIMAL(20,4),
				f4 FLOAT, f8 DOUBLE, b BOOLEAN, s TEXT, vc VARCHAR(20), `+"`by`"+` VARBINARY(10), d DATE, tm TIME(3),
				ts DATETIME(3), tz TIMESTAMP(3) NULL, u UUID, j JSON)`,
				`INSERT INTO types VALUES (1, -2, 3, 12345678901234.5678, 1.5, 2.25, true, 'héllo', 'v', x'00ff',
				'2024-02-29', '13:14:15.678', '2024-02-29 13:14:15.678', '2024-02-29 11:14:15.678',
				'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}')`,
				`INSERT INTO types (id, i2) VALUES (2, 0)`)
		}
		// Rows 3 and 4 repeat rows 1 and 2. In pages of one row, the first page is converted after it
		// is read, the later ones (read ahead) as they are scanned: both ways give the same values.
		cols := "i2, i4, dec, f4, f8, b, s, vc, by, d, tm, ts, tz, u, j"
		if db.Kind != dbtest.Postgres {
			cols = strings.NewReplacer("dec", "`dec`", "by", "`by`").Replace(cols)
		}
		db.Exec(t, "INSERT INTO types SELECT id + 2, "+cols+" FROM types")
		cfg := connCfg(db)
		cfg["mode"] = "incrementing"
		cfg["incrementing.column.name"] = "id"
		cfg["table.whitelist"] = "types"
		cfg["batch.max.rows"] = "1"
		_, task, _ := startSource(t, cfg, nil)
		recs := conformance.PollN(t, task, 4, 10*time.Second)
		for i := range 2 {
			a, b := recs[i].Value.(*schema.Struct), recs[i+2].Value.(*schema.Struct)
			for j, f := range recs[i].ValueSchema.Fields {
				if f.Name != "id" {
					require.Equal(t, a.GetIndex(j), b.GetIndex(j), "row %d, %s", i+1, f.Name)
				}
			}
			require.Equal(t, recs[i].ValueSchema, recs[i+2].ValueSchema)
		}
		r := recs[0]
		require.Equal(t, "types", r.Topic)
		require.Equal(t, int16(-2), field(t, r, "i2"))
		require.False(t, fieldSchema(t, r, "i2").Optional, "NOT NULL column")
		require.True(t, fieldSchema(t, r, "i4").Optional)
		require.Equal(t, int32(3), field(t, r, "i4"))
		require.Equal(t, schema.DecimalName, fieldSchema(t, r, "dec").Name)
		require.Equal(t, "12345678901234.5678", field(t, r, "dec").(schema.Decimal).String())
		require.Equal(t, float32(1.5), field(t, r, "f4"))
		require.Equal(t, 2.25, field(t, r, "f8"))
		require.Equal(t, true, field(t, r, "b"))
		require.Equal(t, "héllo", field(t, r, "s"))
		require.Equal(t, "v", field(t, r, "vc"))
		require.Equal(t, []byte{0, 0xff}, field(t, r, "by"))
		require.Equal(t, schema.DateName, fieldSchema(t, r, "d").Name)
		require.Equal(t, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), field(t, r, "d"))
		require.Equal(t, schema.TimeName, fieldSchema(t, r, "tm").Name)
		require.Equal(t, time.Date(1970, 1, 1, 13, 14, 15, 678e6, time.UTC), field(t, r, "tm"))
		require.Equal(t, schema.TimestampName, fieldSchema(t, r, "ts").Name)
		require.Equal(t, time.Date(2024, 2, 29, 13, 14, 15, 678e6, time.UTC), field(t, r, "ts"))
		require.Equal(t, time.Date(2024, 2, 29, 11, 14, 15, 678e6, time.UTC), field(t, r, "tz"), "with time zone: the instant")
		require.Equal(t, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", field(t, r, "u"))
		require.JSONEq(t, `{"a": [1, 2]}`, field(t, r, "j").(string))
		require.Equal(t, int64(1), r.Key.(*schema.Struct).GetIndex(0))
		for _, f := range []string{"i4", "dec", "f4", "f8", "b", "s", "by", "d", "tm", "ts", "tz", "u", "j"} {
			require.Nil(t, field(t, recs[1], f), "NULL %s", f)
		}
		require.NoError(t, r.Value.(*schema.Struct).Validate())
		require.NoError(t, recs[1].Value.(*schema.Struct).Validate())
	})
}

// timestamp+incrementing reads new rows and rows updated later, resumes from a committed position, and
// waits timestamp.delay.interval.ms before reading a fresh timestamp.
func TestSourceTimestampIncrementing(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE ev (id "+autoInc(db)+", name VARCHAR(20), updated TIMESTAMP(3) NOT NULL)",
			"INSERT INTO ev (name, updated) VALUES ('a', '2020-01-01 00:00:00'), ('b', '2020-01-01 00:00:00'), ('c', '2020-01-02 00:00:00')")
		cfg := connCfg(db)
		cfg["mode"] = "timestamp+incrementing"
		cfg["incrementing.column.name"] = "id"
		cfg["timestamp.column.name"] = "updated"
		cfg["table.whitelist"] = "ev"
		cfg["topic.prefix"] = "t."
		cfg["poll.interval.ms"] = "10"
		cfg["batch.max.rows"] = "1"
		store := conformance.NewPositions()
		_, task, _ := startSource(t, cfg, store)
		recs := conformance.PollN(t, task, 3, 10*time.Second)
		require.Equal(t, []any{"a", "b", "c"}, []any{field(t, recs[0], "name"), field(t, recs[1], "name"), field(t, recs[2], "name")})
		require.Equal(t, "t.ev", recs[0].Topic)
		store.Commit(recs[0]) // a restart after only "a" was acked: "b", sharing its timestamp, is not lost
		require.NoError(t, task.Stop(context.Background()))

		db.Exec(t, "UPDATE ev SET name = 'a2', updated = '2020-01-03 00:00:00' WHERE id = 1")
		_, task, _ = startSource(t, cfg, store)
		recs = conformance.PollN(t, task, 3, 10*time.Second)
		require.Equal(t, []any{"b", "c", "a2"}, []any{field(t, recs[0], "name"), field(t, recs[1], "name"), field(t, recs[2], "name")})

		cfg["timestamp.delay.interval.ms"] = "3600000"
		db.Exec(t, "INSERT INTO ev (name, updated) VALUES ('late', '2020-01-04 00:00:00'), ('now', CURRENT_TIMESTAMP)")
		_, task, _ = startSource(t, cfg, conformance.NewPositions())
		recs = conformance.PollN(t, task, 4, 10*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		for ctx.Err() == nil {
			more, err := task.Poll(ctx)
			if ctx.Err() == nil {
				require.NoError(t, err)
			}
			recs = append(recs, more...)
		}
		var got []any
		for _, r := range recs {
			got = append(got, field(t, r, "name"))
		}
		require.Equal(t, []any{"b", "c", "a2", "late"}, got, "the row of the last hour waits for the delay")
	})
}

// bulk reads the whole table every poll; query mode reads the query's rows into topic.prefix.
func TestSourceBulkAndQuery(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE kv (k INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO kv VALUES (1, 'x'), (2, 'y'), (3, 'z')")
		cfg := connCfg(db)
		cfg["table.whitelist"] = "kv"
		cfg["poll.interval.ms"] = "10"
		cfg["batch.max.rows"] = "2"
		_, task, _ := startSource(t, cfg, nil)
		recs := conformance.PollN(t, task, 6, 10*time.Second)
		for i, r := range recs[:6] {
			require.Equal(t, int32(i%3+1), field(t, r, "k"), "record %d: the table twice over", i)
		}

		qcfg := connCfg(db)
		qcfg["query"] = "SELECT k, v FROM kv WHERE v <> 'y'"
		qcfg["mode"] = "incrementing"
		qcfg["incrementing.column.name"] = "k"
		qcfg["topic.prefix"] = "picked"
		_, task, _ = startSource(t, qcfg, nil)
		recs = conformance.PollN(t, task, 2, 10*time.Second)
		require.Equal(t, "picked", recs[0].Topic)
		require.Equal(t, int32(1), field(t, recs[0], "k"))
		require.Equal(t, int32(3), field(t, recs[1], "k"))
	})
}

// A column added to a table mid-stream appears in the next records' schema; a table created while the
// connector runs is found and the tasks are reconfigured; tables are split over the tasks.
func TestSourceSchemaChangesAndNewTables(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE b (id INT PRIMARY KEY)",
			"CREATE TABLE skip_me (id INT PRIMARY KEY)", "INSERT INTO a VALUES (1)")
		cfg := connCfg(db)
		cfg["mode"] = "incrementing"
		cfg["incrementing.column.name"] = "id"
		cfg["table.blacklist"] = "skip_me"
		cfg["table.poll.interval.ms"] = "20"
		cfg["poll.interval.ms"] = "10"
		c, task, cctx := startSource(t, cfg, nil)
		tcs, err := c.TaskConfigs(5)
		require.NoError(t, err)
		require.Len(t, tcs, 2)
		require.ElementsMatch(t, []string{"a", "b"}, []string{tcs[0]["task.tables"], tcs[1]["task.tables"]})
		tcs, err = c.TaskConfigs(1)
		require.NoError(t, err)
		require.Equal(t, "a,b", tcs[0]["task.tables"])

		recs := conformance.PollN(t, task, 1, 10*time.Second)
		require.Equal(t, []string{"id"}, recs[0].ValueSchema.FieldNames())
		db.Exec(t, "ALTER TABLE a ADD COLUMN extra VARCHAR(10)", "INSERT INTO a VALUES (2, 'new')")
		recs = conformance.PollN(t, task, 1, 10*time.Second)
		require.Equal(t, []string{"id", "extra"}, recs[0].ValueSchema.FieldNames())
		require.Equal(t, "new", field(t, recs[0], "extra"))

		db.Exec(t, "CREATE TABLE c (id INT PRIMARY KEY)")
		require.Eventually(t, func() bool { return cctx.Reconfigurations() > 0 }, 10*time.Second, 10*time.Millisecond)
		tcs, err = c.TaskConfigs(1)
		require.NoError(t, err)
		require.Equal(t, "a,b,c", tcs[0]["task.tables"])
	})
}

func TestSourceValidate(t *testing.T) {
	c := jdbc.NewSourceConnector()
	base := map[string]string{"connection.url": "jdbc:postgresql://h/d"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	require.NoError(t, c.Validate(base))
	for _, tt := range []struct {
		cfg map[string]string
		key string
	}{
		{with("mode", "incrementing"), "incrementing.column.name"},
		{with("mode", "timestamp"), "timestamp.column.name"},
		{with("query", "SELECT 1", "table.whitelist", "a"), "query"},
		{with("query", "SELECT 1"), "topic.prefix"},
		{with("table.whitelist", "a", "table.blacklist", "b"), "table.blacklist"},
		{with("connection.url", "jdbc:oracle:thin:@x"), "connection.url"},
		{with("mode", "sometimes"), "mode"},
	} {
		err := c.Validate(tt.cfg)
		require.ErrorIs(t, err, cfgerr.ErrInvalid, "%v", tt.cfg)
		require.Contains(t, err.Error(), tt.key)
	}
	s := jdbc.NewSinkConnector()
	err := s.Validate(map[string]string{"connection.url": "jdbc:mysql://h/d", "insert.mode": "upsert"})
	require.ErrorIs(t, err, cfgerr.ErrInvalid)
	require.True(t, strings.Contains(err.Error(), "pk.mode"))
	err = s.Validate(map[string]string{"connection.url": "jdbc:mysql://h/d", "delete.enabled": "true", "pk.mode": "record_value"})
	require.ErrorContains(t, err, "delete.enabled")
	require.NoError(t, s.Validate(map[string]string{"jdbcUrl": "jdbc:mysql://h/d", "jdbcPassword": "x"}),
		"RocketMQ Connect's key names are aliases")
	eos := map[string]string{"connection.url": "jdbc:mysql://h/d", "delivery.guarantee": "exactly_once"}
	require.ErrorContains(t, s.Validate(eos), "ordering.msg.enable", "exactly-once needs ordered delivery per queue")
	eos["ordering.msg.enable"] = "true"
	require.NoError(t, s.Validate(eos))
}

// Full pages are read ahead while the last one is delivered: rows still come exactly once and in order,
// rows inserted while a read-ahead is in flight are not skipped, a restart from a position in the middle
// of a page resumes right after it, and Stop with a read-ahead in flight leaks nothing (TestMain's goleak).
func TestSourceReadAheadKeepsOrderAndPosition(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE ra (id "+autoInc(db)+", v INT NOT NULL)")
		insert := func(from, to int) {
			var vals []string
			for i := from; i <= to; i++ {
				vals = append(vals, "("+strconv.Itoa(i)+")")
			}
			db.Exec(t, "INSERT INTO ra (v) VALUES "+strings.Join(vals, ", "))
		}
		insert(1, 35)
		cfg := connCfg(db)
		cfg["mode"] = "incrementing"
		cfg["incrementing.column.name"] = "id"
		cfg["table.whitelist"] = "ra"
		cfg["poll.interval.ms"] = "10"
		cfg["batch.max.rows"] = "10"
		store := conformance.NewPositions()
		_, task, _ := startSource(t, cfg, store)
		ids := func(recs []*schema.Record) []int64 {
			var out []int64
			for _, r := range recs {
				out = append(out, field(t, r, "id").(int64))
			}
			return out
		}
		seq := func(from, to int64) []int64 {
			var out []int64
			for i := from; i <= to; i++ {
				out = append(out, i)
			}
			return out
		}
		first := conformance.PollN(t, task, 10, 10*time.Second) // the next page is now being read ahead
		insert(36, 40)
		rest := conformance.PollN(t, task, 30, 10*time.Second)
		require.Equal(t, seq(1, 40), ids(append(first, rest...)), "every row once, in order")
		store.Commit(first[6]) // acknowledged up to id 7, inside the first page
		require.NoError(t, task.Stop(context.Background()))

		_, task, _ = startSource(t, cfg, store)
		again := conformance.PollN(t, task, 33, 10*time.Second)
		require.Equal(t, seq(8, 40), ids(again), "resumes right after the committed row")
		_, task, _ = startSource(t, cfg, conformance.NewPositions())
		_ = conformance.PollN(t, task, 10, 10*time.Second)
		require.NoError(t, task.Stop(context.Background()), "stop with a read-ahead in flight")
	})
}

// A column added while full pages are being read ahead: the pages already read keep their columns, the
// chain stops at the first page with the new ones, and every row still comes once and in order.
func TestSourceReadAheadAcrossColumnChange(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE rc (id "+autoInc(db)+", v INT NOT NULL)")
		insert := func(n int) {
			vals := make([]string, n)
			for i := range vals {
				vals[i] = "(" + strconv.Itoa(i) + ")"
			}
			db.Exec(t, "INSERT INTO rc (v) VALUES "+strings.Join(vals, ", "))
		}
		insert(20)
		cfg := connCfg(db)
		cfg["mode"] = "incrementing"
		cfg["incrementing.column.name"] = "id"
		cfg["table.whitelist"] = "rc"
		cfg["poll.interval.ms"] = "10"
		cfg["batch.max.rows"] = "5"
		_, task, _ := startSource(t, cfg, nil)
		first := conformance.PollN(t, task, 5, 10*time.Second) // pages after it are being read ahead
		db.Exec(t, "ALTER TABLE rc ADD COLUMN extra INT")
		insert(20)
		rest := conformance.PollN(t, task, 35, 10*time.Second)
		all := append(first, rest...)
		for i, r := range all {
			require.Equal(t, int64(i+1), field(t, r, "id"), "row %d", i)
		}
		require.Equal(t, []string{"id", "v", "extra"}, all[len(all)-1].ValueSchema.FieldNames())
	})
}

// A column added while the table is idle (its rows all delivered, nothing read ahead): the next Poll's own
// query returns the new columns, although the connections hold the query prepared for the old ones.
func TestSourceColumnChangeWhileIdle(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE ci (id "+autoInc(db)+", v INT NOT NULL)", "INSERT INTO ci (v) VALUES (1), (2)")
		cfg := connCfg(db)
		cfg["mode"] = "incrementing"
		cfg["incrementing.column.name"] = "id"
		cfg["table.whitelist"] = "ci"
		cfg["poll.interval.ms"] = "10"
		cfg["batch.max.rows"] = "5"
		_, task, _ := startSource(t, cfg, nil)
		_ = conformance.PollN(t, task, 2, 10*time.Second)
		for range 5 { // the query after id 2, prepared on both connections
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			recs, err := task.Poll(ctx)
			cancel()
			require.NoError(t, err)
			require.Empty(t, recs)
		}
		db.Exec(t, "ALTER TABLE ci ADD COLUMN extra INT", "INSERT INTO ci (v, extra) VALUES (3, 7)")
		recs := conformance.PollN(t, task, 1, 10*time.Second)
		require.Equal(t, int64(3), field(t, recs[0], "id"))
		require.Equal(t, []string{"id", "v", "extra"}, recs[0].ValueSchema.FieldNames())
	})
}

// A record's key has the primary key's columns in the key's order, with the row's values, wherever the
// columns are in the row: one column, consecutive columns, columns out of row order, columns apart. Pages of
// two rows, so that both the first page and pages read ahead are checked.
func TestSourceKeys(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE k1 (v INT NOT NULL, seq BIGINT PRIMARY KEY, w INT)",
			"CREATE TABLE k2 (seq BIGINT NOT NULL, a INT, b INT, v INT, PRIMARY KEY (a, b))",
			"CREATE TABLE k3 (seq BIGINT NOT NULL, a INT, b INT, v INT, PRIMARY KEY (b, a))",
			"CREATE TABLE k4 (seq BIGINT NOT NULL, a INT, v INT, b INT, PRIMARY KEY (a, b))")
		for i := 1; i <= 5; i++ {
			db.Exec(t, fmt.Sprintf("INSERT INTO k1 VALUES (%d, %d, %d)", 100*i, i, 7*i))
			for _, tb := range []string{"k2", "k3"} {
				db.Exec(t, fmt.Sprintf("INSERT INTO %s VALUES (%d, %d, %d, %d)", tb, i, i, 10*i, 100*i))
			}
			db.Exec(t, fmt.Sprintf("INSERT INTO k4 VALUES (%d, %d, %d, %d)", i, i, 100*i, 10*i))
		}
		cfg := connCfg(db)
		cfg["mode"] = "incrementing"
		cfg["incrementing.column.name"] = "seq"
		cfg["table.whitelist"] = "k1,k2,k3,k4"
		cfg["poll.interval.ms"] = "10"
		cfg["batch.max.rows"] = "2"
		_, task, _ := startSource(t, cfg, nil)
		byTable := map[string][]*schema.Record{}
		for _, r := range conformance.PollN(t, task, 20, 20*time.Second) {
			byTable[r.Topic] = append(byTable[r.Topic], r)
		}
		want := map[string][]string{"k1": {"seq"}, "k2": {"a", "b"}, "k3": {"b", "a"}, "k4": {"a", "b"}}
		for table, cols := range want {
			recs := byTable[table]
			require.Len(t, recs, 5, table)
			for i, r := range recs {
				require.Equal(t, int64(i+1), field(t, r, "seq"), "%s row %d", table, i)
				key := r.Key.(*schema.Struct)
				require.Same(t, r.KeySchema, key.Schema(), table)
				require.Equal(t, cols, r.KeySchema.FieldNames(), table)
				require.Equal(t, table+".Key", r.KeySchema.Name)
				require.NoError(t, key.Validate(), table)
				for j, c := range cols {
					require.Equal(t, field(t, r, c), key.GetIndex(j), "%s row %d key %s", table, i, c)
					f, _ := r.ValueSchema.Field(c)
					require.Equal(t, f.Schema, r.KeySchema.Fields[j].Schema, "%s key %s", table, c)
				}
			}
		}
	})
}
