package jdbc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

var wideItem = schema.StructBuilder().Name("item").
	Field("id", schema.Int64Schema).
	Field("name", schema.OptionalStringSchema).
	Field("qty", schema.OptionalInt32Schema).
	MustBuild()

func wide(topic string, id int64) *schema.Record {
	return schema.NewRecord(topic, nil, nil, wideItem, schema.NewStruct(wideItem).MustPut("id", id).MustPut("name", "w").
		MustPut("qty", int32(3)))
}

// An ALTER TABLE of auto.evolve that times out waiting for a lock another session holds fails the Put,
// retriably, and reports no record: the record is not at fault, and the Put's batch is redelivered.
func TestSinkDDLLockTimeoutFailsThePut(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		cfg := connCfg(db)
		// The sink's sessions give up waiting for a lock soon.
		if db.Kind == dbtest.Postgres {
			cfg["connection.url"] = db.DSN() + "&lock_timeout=200"
		} else {
			cfg["connection.url"] = db.DSN() + "&lock_wait_timeout=1"
		}
		cfg["auto.create"], cfg["auto.evolve"] = "true", "true"
		task, sctx := startSink(t, cfg)
		put(t, task, item("evolve_locked", 0, 1, "one"))

		locker := db.Open(t)
		defer locker.Close()
		conn, err := locker.Conn(context.Background())
		require.NoError(t, err)
		defer conn.Close()
		lock := []string{"BEGIN", "LOCK TABLE evolve_locked IN ACCESS EXCLUSIVE MODE"}
		if db.Kind != dbtest.Postgres {
			lock = []string{"BEGIN", "SELECT * FROM evolve_locked"} // holds a metadata lock until the transaction ends
		}
		for _, s := range lock {
			_, err := conn.ExecContext(context.Background(), s)
			require.NoError(t, err, s)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = task.Put(ctx, []*schema.Record{wide("evolve_locked", 2)})
		require.Error(t, err)
		require.True(t, plugins.IsRetriable(err), "a lock timeout is transient: %v", err)
		recs, _ := sctx.Reporter.Reported()
		require.Empty(t, recs, "nothing is reported against the record")
		_, err = conn.ExecContext(context.Background(), "ROLLBACK")
		require.NoError(t, err)

		put(t, task, wide("evolve_locked", 2)) // the redelivered batch, once the lock is gone
		recs, _ = sctx.Reporter.Reported()
		require.Empty(t, recs)
		require.Equal(t, map[int64]any{1: "one", 2: "w"}, names(t, db, "evolve_locked"))
	})
}

// A DDL failure that is not the record's (here ALTER TABLE on a view the sink was pointed at) fails the Put
// instead of sending the record to the dead-letter queue.
func TestSinkDDLFailureIsNotABadRecord(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE under (id BIGINT PRIMARY KEY, name VARCHAR(50))", "CREATE VIEW seen_through AS SELECT id, name FROM under")
		cfg := connCfg(db)
		cfg["auto.evolve"] = "true"
		task, sctx := startSink(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := task.Put(ctx, []*schema.Record{wide("seen_through", 1)})
		require.Error(t, err)
		require.ErrorContains(t, err, "alter table seen_through")
		recs, _ := sctx.Reporter.Reported()
		require.Empty(t, recs)
	})
}

// pk.fields naming no field of a struct key is the record's fault, told in words (rather than a
// statement such as ON CONFLICT () that the database refuses).
func TestSinkPKFieldsNamingNoKeyField(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE keyed (id BIGINT PRIMARY KEY, name VARCHAR(50))")
		cfg := connCfg(db)
		cfg["insert.mode"], cfg["pk.mode"], cfg["pk.fields"] = "upsert", "record_key", "nope"
		task, sctx := startSink(t, cfg)
		keySchema := schema.StructBuilder().Field("id", schema.Int64Schema).MustBuild()
		valSchema := schema.StructBuilder().Field("name", schema.OptionalStringSchema).MustBuild()
		r := schema.NewRecord("keyed", keySchema, schema.NewStruct(keySchema).MustPut("id", int64(1)), valSchema,
			schema.NewStruct(valSchema).MustPut("name", "a"))
		put(t, task, r)
		recs, errs := sctx.Reporter.Reported()
		require.Len(t, recs, 1)
		require.ErrorContains(t, errs[0], "pk.fields")
		require.ErrorContains(t, errs[0], "[id]", "names the key's fields")
		require.Empty(t, names(t, db, "keyed"))
	})
}

// Two tasks of one connector whose first records reach a new table at the same time (a new deployment with
// tasks.max > 1 and auto.create) both create it; PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe
// against a concurrent creator (a unique violation on pg_type), so the one that loses finds the table
// made and goes on.
func TestSinkConcurrentAutoCreate(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		cfg := connCfg(db)
		cfg["auto.create"] = "true"
		a, _ := startSink(t, cfg)
		b, _ := startSink(t, cfg)
		for round := range 30 {
			topic := fmt.Sprintf("race_%d", round)
			errs := make(chan error, 2)
			for i, task := range []plugins.SinkTask{a, b} {
				go func() { errs <- task.Put(context.Background(), []*schema.Record{item(topic, int64(i), int64(i), "x")}) }()
			}
			require.NoError(t, <-errs, "round %d", round)
			require.NoError(t, <-errs, "round %d", round)
			require.Len(t, db.Query(t, "SELECT id FROM "+q(db, topic)), 2, "both records written")
		}
	})
}
