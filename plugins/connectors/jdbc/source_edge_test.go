package jdbc_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/jdbc"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

// taskTables starts the connector with cfg and returns the tables of its single task.
func taskTables(t *testing.T, cfg map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := jdbc.NewSourceConnector()
	require.NoError(t, c.Start(ctx, conformance.ConnectorContextFor(t, c, cfg), cfg))
	defer c.Stop(context.Background())
	tcs, err := c.TaskConfigs(1)
	require.NoError(t, err)
	return tcs[0]["task.tables"]
}

// Rows whose incrementing column is NULL cannot be placed in id order: they are never read, and they
// neither hold the position back nor make the task read the same page again.
func TestIncrementingSkipsNullRows(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE nn (seq BIGINT, v INT)", "INSERT INTO nn VALUES (NULL, 1), (NULL, 2), (NULL, 3), (1, 4)")
		cfg := connCfg(db)
		cfg["mode"] = "incrementing"
		cfg["incrementing.column.name"] = "seq"
		cfg["table.whitelist"] = "nn"
		cfg["batch.max.rows"] = "2"
		cfg["poll.interval.ms"] = "50"
		var logs bytes.Buffer
		_, task, _ := startSourceLogging(t, cfg, nil, &logs)
		recs := pollQuiet(t, task, 1500*time.Millisecond)
		require.Equal(t, 1, len(recs), "records") // not Len: it would print thousands of records
		require.Equal(t, int32(4), field(t, recs[0], "v"))
		require.Equal(t, 1, strings.Count(logs.String(), "never read"), "one warning: %s", logs.String())
		require.Contains(t, logs.String(), "column=seq")
	})
}

// Rows whose timestamp column is NULL are never read in the timestamp modes (as documented).
func TestTimestampSkipsNullTimestampRows(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE nt (id INT PRIMARY KEY, ts "+tsType(db, 3)+" NULL)",
			"INSERT INTO nt VALUES (1, '2020-01-01 00:00:00'), (2, NULL)")
		for _, mode := range []string{"timestamp", "timestamp+incrementing"} {
			t.Run(mode, func(t *testing.T) {
				cfg := timestampCfg(db, "nt")
				cfg["mode"] = mode
				cfg["incrementing.column.name"] = "id"
				cfg["poll.interval.ms"] = "10"
				var logs bytes.Buffer
				_, task, _ := startSourceLogging(t, cfg, nil, &logs)
				recs := pollQuiet(t, task, 1*time.Second)
				require.Len(t, recs, 1)
				require.Equal(t, int32(1), field(t, recs[0], "id"))
				require.Equal(t, 1, strings.Count(logs.String(), "never read"), "one warning: %s", logs.String())
				require.Contains(t, logs.String(), "column=ts")
			})
		}
	})
}

// In timestamp+incrementing mode a row whose incrementing column is NULL is read: its timestamp orders
// it, as before rows without an id were left out of incrementing mode's queries; nothing is warned.
func TestTimestampIncrementingReadsRowsWithoutID(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE ni (seq BIGINT NULL, ts "+tsType(db, 3)+" NOT NULL)",
			"INSERT INTO ni VALUES (1, '2020-01-01 00:00:00'), (NULL, '2020-01-02 00:00:00')")
		cfg := timestampCfg(db, "ni")
		cfg["mode"] = "timestamp+incrementing"
		cfg["incrementing.column.name"] = "seq"
		cfg["poll.interval.ms"] = "10"
		var logs bytes.Buffer
		_, task, _ := startSourceLogging(t, cfg, nil, &logs)
		recs := pollQuiet(t, task, time.Second)
		require.Len(t, recs, 2)
		require.NotContains(t, logs.String(), "never read")
	})
}

// A table.blacklist entry qualified by the table's schema (PostgreSQL) or database (MariaDB) excludes it.
func TestBlacklistQualifiedEntry(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE keep (id INT PRIMARY KEY)", "CREATE TABLE secrets (id INT PRIMARY KEY)")
		qual, other := "public.secrets", "elsewhere.keep"
		if db.Kind != dbtest.Postgres {
			qual = db.Name + ".secrets"
		}
		cfg := connCfg(db)
		cfg["table.blacklist"] = qual + "," + other
		require.Equal(t, "keep", taskTables(t, cfg), "blacklisted %s; %s names another schema's table", qual, other)
	})
}

// A negative incrementing position (ids from a sequence started at its minimum) is read back at restart.
func TestNegativeIncrementingPositionRestarts(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE neg (id BIGINT PRIMARY KEY, v INT)",
			"INSERT INTO neg VALUES (-9000000000000000000, 1), (-8999999999999999999, 2)")
		cfg := connCfg(db)
		cfg["mode"] = "incrementing"
		cfg["incrementing.column.name"] = "id"
		cfg["table.whitelist"] = "neg"
		store := conformance.NewPositions()
		_, task, _ := startSource(t, cfg, store)
		recs := conformance.PollN(t, task, 2, 10*time.Second)
		store.Commit(recs[0])
		require.NoError(t, task.Stop(context.Background()))
		_, task, _ = startSource(t, cfg, store)
		recs = conformance.PollN(t, task, 1, 10*time.Second)
		require.Equal(t, int32(2), field(t, recs[0], "v"), "resumed after the committed position")
	})
}

// A partitioned PostgreSQL table is read through its parent only: each row once, on the parent's topic.
func TestPgPartitionedTableListedOnce(t *testing.T) {
	db := dbtest.New(t, dbtest.Postgres)
	db.Exec(t, "CREATE TABLE m (id INT, k INT, PRIMARY KEY (id, k)) PARTITION BY LIST (k)",
		"CREATE TABLE m_1 PARTITION OF m FOR VALUES IN (1)", "CREATE TABLE m_2 PARTITION OF m FOR VALUES IN (2)",
		"INSERT INTO m VALUES (1, 1), (2, 2)")
	cfg := connCfg(db)
	require.Equal(t, "m", taskTables(t, cfg))
	_, task, _ := startSource(t, cfg, nil)
	recs := pollQuiet(t, task, 1500*time.Millisecond)
	require.Len(t, recs, 2, "each row once")
	for _, r := range recs {
		require.Equal(t, "m", r.Topic)
	}
}

// A MariaDB system-versioned table is listed without a whitelist; its current rows are read.
func TestMariaDBSystemVersionedTableListed(t *testing.T) {
	db := dbtest.New(t, dbtest.MariaDB)
	db.Exec(t, "CREATE TABLE plain (id INT PRIMARY KEY)", "CREATE TABLE hist (id INT PRIMARY KEY) WITH SYSTEM VERSIONING",
		"INSERT INTO plain VALUES (1)", "INSERT INTO hist VALUES (1), (2)", "DELETE FROM hist WHERE id = 2")
	cfg := connCfg(db)
	require.Equal(t, "hist,plain", taskTables(t, cfg))
	cfg["table.whitelist"] = "hist"
	_, task, _ := startSource(t, cfg, nil)
	recs := pollQuiet(t, task, 1500*time.Millisecond)
	require.Len(t, recs, 1, "current rows only")
	require.Equal(t, int32(1), field(t, recs[0], "id"))
}
