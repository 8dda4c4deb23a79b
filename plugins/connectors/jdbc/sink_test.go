package jdbc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/jdbc"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

func startSink(t *testing.T, cfg map[string]string) (plugins.SinkTask, *conformance.SinkContext) {
	t.Helper()
	c := jdbc.NewSinkConnector()
	require.NoError(t, c.Validate(cfg))
	task := c.NewSinkTask()
	sctx := conformance.SinkContextFor(t, c.Spec(), cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, task.Start(ctx, sctx, cfg))
	t.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task, sctx
}

func put(t *testing.T, task plugins.SinkTask, recs ...*schema.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, task.Put(ctx, recs))
	require.NoError(t, task.Flush(ctx, nil))
}

var itemSchema = schema.StructBuilder().Name("item").
	Field("id", schema.Int64Schema).
	Field("name", schema.OptionalStringSchema).
	MustBuild()

func item(topic string, offset int64, id int64, name any) *schema.Record {
	st := schema.NewStruct(itemSchema).MustPut("id", id).MustPut("name", name)
	r := schema.NewRecord(topic, nil, nil, itemSchema, st)
	r.QueueID, r.QueueOffset, r.BrokerName = 0, offset, "broker-a"
	return r
}

// names returns id → name of a two-column table.
func names(t *testing.T, db *dbtest.DB, table string) map[int64]any {
	t.Helper()
	out := map[int64]any{}
	for _, row := range db.Query(t, "SELECT id, name FROM "+q(db, table)) {
		id, ok := row[0].(int64)
		require.True(t, ok, "id %T", row[0])
		name := row[1]
		if b, ok := name.([]byte); ok {
			name = string(b)
		}
		out[id] = name
	}
	return out
}

// A record the database rejects (a duplicate key, a NULL in a NOT NULL column) goes to the errant-record
// reporter with the SQL error, and the rest of its batch is written.
func TestSinkBadRowsGoToTheReporterAndTheRestIsWritten(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL)")
		cfg := connCfg(db)
		task, sctx := startSink(t, cfg)
		put(t, task, item("items", 0, 1, "one"))
		put(t, task, item("items", 1, 2, "two"), item("items", 2, 1, "dup"), item("items", 3, 3, nil),
			item("items", 4, 4, "four"))
		require.Equal(t, map[int64]any{1: "one", 2: "two", 4: "four"}, names(t, db, "items"))
		recs, errs := sctx.Reporter.Reported()
		require.Len(t, recs, 2)
		require.Equal(t, int64(2), recs[0].QueueOffset)
		require.Equal(t, int64(3), recs[1].QueueOffset)
		require.Contains(t, errs[0].Error(), "items")
	})
}

// With errors.tolerance=none the reporter refuses, and the Put fails without writing any of its rows.
func TestSinkBadRowWithoutToleranceFailsThePut(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL)")
		task, sctx := startSink(t, connCfg(db))
		sctx.Reporter.Fail = true
		err := task.Put(context.Background(), []*schema.Record{item("items", 0, 1, "a"), item("items", 1, 2, nil)})
		require.Error(t, err)
		require.False(t, plugins.IsRetriable(err))
		require.Empty(t, names(t, db, "items"), "the failed Put's transaction is rolled back")
	})
}

func TestSinkUpsertUpdateAndDelete(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		cfg := connCfg(db)
		cfg["insert.mode"] = "upsert"
		cfg["pk.mode"] = "record_key"
		cfg["auto.create"] = "true"
		cfg["delete.enabled"] = "true"
		keySchema := schema.StructBuilder().Field("id", schema.Int64Schema).MustBuild()
		valSchema := schema.StructBuilder().Field("name", schema.OptionalStringSchema).MustBuild()
		rec := func(id int64, name any) *schema.Record {
			k := schema.NewStruct(keySchema).MustPut("id", id)
			if name == nil {
				return schema.NewRecord("kv", keySchema, k, valSchema, nil)
			}
			return schema.NewRecord("kv", keySchema, k, valSchema, schema.NewStruct(valSchema).MustPut("name", name))
		}
		task, _ := startSink(t, cfg)
		put(t, task, rec(1, "a"), rec(2, "b"), rec(1, "a2"), rec(3, "c"), rec(2, nil))
		put(t, task, rec(1, "a3")) // the same row again: upsert is idempotent
		require.Equal(t, map[int64]any{1: "a3", 3: "c"}, names(t, db, "kv"))

		cfg["insert.mode"] = "update"
		cfg["delete.enabled"] = "false"
		task, _ = startSink(t, cfg)
		put(t, task, rec(3, "c2"), rec(9, "absent"), rec(1, nil))
		require.Equal(t, map[int64]any{1: "a3", 3: "c2"}, names(t, db, "kv"), "update never inserts; a tombstone without delete.enabled is ignored")
	})
}

// Two records of one upsert chunk whose keys differ in Go but are equal in the table (a TIMESTAMP(0) key
// column, two readings within one second): PostgreSQL refuses such a statement (21000, "ON CONFLICT DO
// UPDATE command cannot affect row a second time"), so the chunk is written row by row, in order, and
// the later record wins, as an upsert of the two one after the other would have it.
func TestSinkUpsertKeysEqualOnlyInTheDatabase(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		ts := "TIMESTAMP(0)"
		if db.Kind == dbtest.MariaDB {
			ts = "DATETIME(0)"
		}
		db.Exec(t, "CREATE TABLE readings (sensor BIGINT NOT NULL, at "+ts+" NOT NULL, v BIGINT, PRIMARY KEY (sensor, at))")
		cfg := connCfg(db)
		cfg["insert.mode"], cfg["pk.mode"], cfg["pk.fields"] = "upsert", "record_value", "sensor,at"
		task, sctx := startSink(t, cfg)
		sc := schema.StructBuilder().Field("sensor", schema.Int64Schema).Field("at", schema.TimestampSchema()).
			Field("v", schema.Int64Schema).MustBuild()
		rec := func(off int64, at time.Time, v int64) *schema.Record {
			r := schema.NewRecord("readings", nil, nil, sc, schema.NewStruct(sc).MustPut("sensor", int64(1)).
				MustPut("at", at).MustPut("v", v))
			r.QueueID, r.QueueOffset, r.BrokerName = 0, off, "broker-a"
			return r
		}
		base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
		put(t, task, rec(0, base.Add(100*time.Millisecond), 1), rec(1, base.Add(300*time.Millisecond), 2),
			rec(2, base.Add(1200*time.Millisecond), 3))
		recs, _ := sctx.Reporter.Reported()
		require.Empty(t, recs)
		var got []any
		for _, row := range db.Query(t, "SELECT v FROM readings ORDER BY at") {
			got = append(got, row[0])
		}
		require.Equal(t, []any{int64(2), int64(3)}, got, "one row per second, the later reading of a second kept")
	})
}

// upsert on a table with a second unique key, a record colliding with another row on it: PostgreSQL's
// ON CONFLICT (key) refuses the record, which is reported; MariaDB's ON DUPLICATE KEY UPDATE fires on
// any unique key, so the record updates the row it collides with, its own row is never written, and
// nothing is reported (as with Confluent's MySQL dialect). docs/connectors.md tells users so.
func TestSinkUpsertWithASecondUniqueKey(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(50) UNIQUE)")
		cfg := connCfg(db)
		cfg["insert.mode"], cfg["pk.mode"], cfg["pk.fields"] = "upsert", "record_value", "id"
		task, sctx := startSink(t, cfg)
		put(t, task, item("items", 0, 1, "alice"))
		put(t, task, item("items", 1, 2, "alice")) // a new row whose name collides with row 1's
		recs, _ := sctx.Reporter.Reported()
		require.Equal(t, map[int64]any{1: "alice"}, names(t, db, "items"), "row 2 is not written")
		if db.Kind == dbtest.Postgres {
			require.Len(t, recs, 1, "the colliding record is reported")
		} else {
			require.Empty(t, recs, "MariaDB updated row 1 (to what it held) instead")
		}
	})
}

// A field the table lacks becomes a nullable column with auto.evolve; without it the record is reported.
func TestSinkAutoEvolveAddsColumns(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		cfg := connCfg(db)
		cfg["auto.create"] = "true"
		cfg["pk.mode"] = "record_value"
		cfg["pk.fields"] = "id"
		task, sctx := startSink(t, cfg)
		put(t, task, item("evolving", 0, 1, "one"))
		wide := schema.StructBuilder().Field("id", schema.Int64Schema).Field("name", schema.OptionalStringSchema).
			Field("qty", schema.Int32Schema).MustBuild()
		w := schema.NewRecord("evolving", nil, nil, wide, schema.NewStruct(wide).MustPut("id", int64(2)).
			MustPut("name", "two").MustPut("qty", int32(7)))
		put(t, task, w)
		recs, _ := sctx.Reporter.Reported()
		require.Len(t, recs, 1, "without auto.evolve the wider record is reported")

		cfg["auto.evolve"] = "true"
		task, sctx = startSink(t, cfg)
		put(t, task, w)
		recs, _ = sctx.Reporter.Reported()
		require.Empty(t, recs)
		rows := db.Query(t, "SELECT id, qty FROM "+q(db, "evolving")+" ORDER BY id")
		require.Len(t, rows, 2)
		require.Nil(t, rows[0][1], "the old row has NULL in the new column")
		require.EqualValues(t, 7, rows[1][1])
	})
}

// On MySQL and MariaDB, whose column names are case-insensitive, a field differing from its
// column only in case writes that column: auto.evolve tried to add it again, which failed, and
// every such record was reported.
func TestSinkColumnCaseOnMariaDB(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		if db.Kind != dbtest.MariaDB {
			t.Skip("PostgreSQL column names are case-sensitive when quoted")
		}
		db.Exec(t, "CREATE TABLE cased (id BIGINT PRIMARY KEY, name VARCHAR(20))")
		cfg := connCfg(db)
		cfg["auto.evolve"] = "true"
		cfg["pk.mode"] = "record_value"
		cfg["pk.fields"] = "ID"
		task, sctx := startSink(t, cfg)
		upper := schema.StructBuilder().Field("ID", schema.Int64Schema).Field("Name", schema.OptionalStringSchema).MustBuild()
		put(t, task, schema.NewRecord("cased", nil, nil, upper, schema.NewStruct(upper).MustPut("ID", int64(1)).MustPut("Name", "one")))
		recs, _ := sctx.Reporter.Reported()
		require.Empty(t, recs)
		rows := db.Query(t, "SELECT id, name FROM cased")
		require.Len(t, rows, 1)
		require.EqualValues(t, 1, rows[0][0])
	})
}

// A topic named like SQL is a table name, never SQL.
func TestSinkIdentifiersAreQuoted(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE victim (id INT)")
		cfg := connCfg(db)
		cfg["auto.create"] = "true"
		topic := `x"; DROP TABLE victim; --` + "`"
		task, _ := startSink(t, cfg)
		put(t, task, item(topic, 0, 1, "one"))
		require.Len(t, db.Query(t, "SELECT * FROM victim"), 0, "victim still exists")
		require.Len(t, db.Query(t, "SELECT id FROM "+q(db, topic)), 1)
	})
}

// The exactly-once sink stores the next offset of each queue with the rows and skips what it already
// wrote when the broker redelivers it (as after a crash between the commit and the offset commit).
func TestSinkExactlyOnceSkipsRedeliveredRecords(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE items (id BIGINT, name VARCHAR(50))") // no key: a replay would duplicate
		cfg := connCfg(db)
		cfg["delivery.guarantee"], cfg["ordering.msg.enable"] = "exactly_once", "true"
		task, _ := startSink(t, cfg)
		var batch []*schema.Record
		for i := range 10 {
			batch = append(batch, item("items", int64(i), int64(i), fmt.Sprint(i)))
		}
		put(t, task, batch[:6]...)
		require.NoError(t, task.Stop(context.Background()))

		task, sctx := startSink(t, cfg) // a restart: the broker redelivers from offset 3
		require.Equal(t, map[plugins.Queue]int64{{Topic: "items", BrokerName: "broker-a", QueueID: 0}: 6}, sctx.Resets(),
			"the task asks the engine to resume after what it wrote")
		put(t, task, batch[3:]...)
		put(t, task, batch[8:]...)
		rows := db.Query(t, "SELECT id FROM items ORDER BY id")
		require.Len(t, rows, 10, "every record exactly once")
	})
}

// A queue that moves to another task (a rebalance) keeps exactly-once: the new owner, started before the
// old one's last write, reads the stored offsets in its transaction, not the ones it saw at start.
func TestSinkExactlyOnceAcrossTasks(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE items (id BIGINT, name VARCHAR(50))")
		cfg := connCfg(db)
		cfg["delivery.guarantee"], cfg["ordering.msg.enable"] = "exactly_once", "true"
		a, _ := startSink(t, cfg)
		b, _ := startSink(t, cfg)
		var batch []*schema.Record
		for i := range 10 {
			batch = append(batch, item("items", int64(i), int64(i), fmt.Sprint(i)))
		}
		put(t, a, batch[:6]...)
		put(t, b, batch[3:]...)
		require.Len(t, db.Query(t, "SELECT id FROM items"), 10, "every record exactly once")
	})
}

// One Put of records alternating between two topics and two value shapes writes each row to its topic's
// table with its own columns (the task reuses a table name and column list only while they match).
func TestSinkMixedTopicsAndShapesInOnePut(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		cfg := connCfg(db)
		cfg["auto.create"], cfg["auto.evolve"] = "true", "true"
		cfg["pk.mode"], cfg["pk.fields"] = "record_value", "id"
		task, sctx := startSink(t, cfg)
		wide := schema.StructBuilder().Field("id", schema.Int64Schema).Field("name", schema.OptionalStringSchema).
			Field("qty", schema.OptionalInt32Schema).MustBuild()
		wideRec := func(topic string, id int64, qty int32) *schema.Record {
			return schema.NewRecord(topic, nil, nil, wide, schema.NewStruct(wide).MustPut("id", id).
				MustPut("name", fmt.Sprint("w", id)).MustPut("qty", qty))
		}
		put(t, task, item("mix_a", 0, 1, "a1"), item("mix_b", 1, 1, "b1"), wideRec("mix_a", 2, 20),
			item("mix_a", 3, 3, "a3"), wideRec("mix_b", 2, 22), item("mix_b", 5, 3, "b3"))
		recs, _ := sctx.Reporter.Reported()
		require.Empty(t, recs)
		require.Equal(t, map[int64]any{1: "a1", 2: "w2", 3: "a3"}, names(t, db, "mix_a"))
		require.Equal(t, map[int64]any{1: "b1", 2: "w2", 3: "b3"}, names(t, db, "mix_b"))
		for table, want := range map[string]int64{"mix_a": 20, "mix_b": 22} {
			rows := db.Query(t, "SELECT qty FROM "+q(db, table)+" WHERE id = 2")
			require.Len(t, rows, 1)
			require.EqualValues(t, want, rows[0][0], table)
		}
	})
}
