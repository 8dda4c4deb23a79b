package jdbc_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/jdbc"
	"github.com/rmqconnect/rmqconnect/plugins/transforms"
	"github.com/rmqconnect/rmqconnect/schema"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

// eoCfg is the config of an exactly-once sink on db.
func eoCfg(db *dbtest.DB) map[string]string {
	cfg := connCfg(db)
	cfg["delivery.guarantee"], cfg["ordering.msg.enable"] = "exactly_once", "true"
	return cfg
}

// oldOffsetsTable is the offsets table as earlier versions created it (and as a DBA may have copied it):
// its name columns take the database's default collation.
const oldOffsetsTable = "CREATE TABLE rmqconnect_sink_offsets (connector VARCHAR(255) NOT NULL, " +
	"topic VARCHAR(255) NOT NULL, broker VARCHAR(255) NOT NULL, queue_id INT NOT NULL, next_offset BIGINT NOT NULL, " +
	"PRIMARY KEY (connector, topic, broker, queue_id))"

// RegexRouter merging two topics into one table (shards orders_0, orders_1 → table orders) leaves each
// record's Topic at orders: the exactly-once offsets are kept per queue read, by the record's
// OriginalTopic, so queue 0 of each shard has its own watermark, and a restart resumes each queue read.
func TestSinkExactlyOnceRoutedTopicsKeepTheirOwnOffsets(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE orders (id BIGINT, name VARCHAR(50))")
		cfg := eoCfg(db)
		task, _ := startSink(t, cfg)
		router := &transforms.RegexRouter{}
		require.NoError(t, router.Configure(map[string]string{"regex": `orders_\d+`, "replacement": "orders"}))
		routed := func(topic string, off, id int64) *schema.Record {
			r := item(topic, off, id, fmt.Sprint(topic, "@", off))
			r.OriginalTopic = topic // as the engine sets it, before the transforms
			r, err := router.Apply(r)
			require.NoError(t, err)
			require.Equal(t, "orders", r.Topic)
			return r
		}
		var shard0, shard1 []*schema.Record
		for i := range 10 {
			shard0 = append(shard0, routed("orders_0", int64(i), int64(i)))
		}
		for i := range 5 {
			shard1 = append(shard1, routed("orders_1", int64(i), int64(100+i)))
		}
		put(t, task, shard0...)
		put(t, task, shard1...)
		require.Len(t, db.Query(t, "SELECT id FROM orders"), 15, "every record of both shards, once")
		require.NoError(t, task.Stop(context.Background()))

		_, sctx := startSink(t, cfg)
		require.Equal(t, map[plugins.Queue]int64{
			{Topic: "orders_0", BrokerName: "broker-a", QueueID: 0}: 10,
			{Topic: "orders_1", BrokerName: "broker-a", QueueID: 0}: 5,
		}, sctx.Resets(), "a restart resumes each queue read")
	})
}

// Two RocketMQ topics whose names differ only in case are two sets of queues, and connectors whose names
// differ only in case are two connectors: the offsets table keeps them apart on a MariaDB whose default
// collation ignores case (a stock server's utf8mb4_general_ci; the harness's server runs utf8mb4_bin).
func TestSinkExactlyOnceNamesDifferingInCaseKeepTheirOwnOffsets(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		if db.Kind == dbtest.MariaDB {
			db.Exec(t, "ALTER DATABASE "+q(db, db.Name)+" CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
		}
		db.Exec(t, "CREATE TABLE items (id BIGINT, name VARCHAR(50))")
		cfg := eoCfg(db)
		cfg["table.name.format"] = "items"
		task, _ := startSink(t, cfg)
		var lower, upper []*schema.Record
		for i := range 10 {
			lower = append(lower, item("orders", int64(i), int64(i), fmt.Sprint("l", i)))
		}
		for i := range 5 {
			upper = append(upper, item("Orders", int64(i), int64(100+i), fmt.Sprint("u", i)))
		}
		put(t, task, lower...)
		put(t, task, upper...)
		require.Len(t, db.Query(t, "SELECT id FROM items"), 15, "every record of both topics, once")

		other := eoCfg(db)
		other["name"] = "C-" + db.Name // cfg's name in other case
		other["table.name.format"] = "items"
		task2, _ := startSink(t, other)
		put(t, task2, item("orders", 0, 200, "other connector"))
		require.Len(t, db.Query(t, "SELECT id FROM items"), 16, "the other connector's first record")
	})
}

// An offsets table whose name columns ignore case (created by an earlier version, or by a DBA from its
// statement, on a database defaulting to a _ci collation) is altered to compare bytes when the sink's user
// may alter it, keeping its rows; otherwise the sink starts as before and warns, naming the statement.
func TestSinkExactlyOnceCaseInsensitiveOffsetsTable(t *testing.T) {
	setUp := func(t *testing.T) (*dbtest.DB, map[string]string) {
		db := dbtest.New(t, dbtest.MariaDB)
		db.Exec(t, "ALTER DATABASE "+q(db, db.Name)+" CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
			"CREATE TABLE items (id BIGINT, name VARCHAR(50))", oldOffsetsTable)
		cfg := eoCfg(db)
		cfg["table.name.format"] = "items"
		db.Exec(t, "INSERT INTO rmqconnect_sink_offsets VALUES ('"+cfg["name"]+"', 'orders', 'broker-a', 0, 7)")
		return db, cfg
	}
	collations := func(t *testing.T, db *dbtest.DB) map[string]string {
		out := map[string]string{}
		for _, row := range db.Query(t, "SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS "+
			"WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'rmqconnect_sink_offsets' AND COLLATION_NAME IS NOT NULL", db.Name) {
			out[fmt.Sprintf("%s", row[0])] = fmt.Sprintf("%s", row[1])
		}
		return out
	}

	t.Run("altered", func(t *testing.T) {
		db, cfg := setUp(t)
		task, sctx := startSink(t, cfg)
		require.Equal(t, map[plugins.Queue]int64{{Topic: "orders", BrokerName: "broker-a", QueueID: 0}: 7}, sctx.Resets(),
			"the stored offsets are kept")
		require.Equal(t, map[string]string{"connector": "utf8mb4_bin", "topic": "utf8mb4_bin", "broker": "utf8mb4_bin"},
			collations(t, db))
		put(t, task, item("orders", 7, 1, "l"), item("Orders", 0, 2, "u"))
		require.Len(t, db.Query(t, "SELECT id FROM items"), 2)
	})

	t.Run("not permitted", func(t *testing.T) {
		db, cfg := setUp(t)
		user := dmlOnlyUser(t, db, "items", "rmqconnect_sink_offsets")
		cfg["connection.user"], cfg["connection.password"] = user, dmlPassword
		var logs bytes.Buffer
		task := jdbc.NewSinkConnector().NewSinkTask()
		sctx := conformance.SinkContextFor(t, jdbc.NewSinkConnector().Spec(), cfg)
		sctx.Log = slog.New(slog.NewTextHandler(&logs, nil))
		t.Cleanup(func() { _ = task.Stop(context.Background()) })
		require.NoError(t, task.Start(context.Background(), sctx, cfg), "the table works as it is")
		require.Contains(t, logs.String(), "level=WARN")
		require.Contains(t, logs.String(), "ALTER TABLE `rmqconnect_sink_offsets` MODIFY `connector` varchar(255) "+
			"CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL", "the warning names the fix")
		require.Equal(t, map[string]string{"connector": "utf8mb4_general_ci", "topic": "utf8mb4_general_ci",
			"broker": "utf8mb4_general_ci"}, collations(t, db))
		put(t, task, item("orders", 7, 1, "l"))
		require.Len(t, db.Query(t, "SELECT id FROM items"), 1)
	})
}

const dmlPassword = "dml-secret"

// dmlOnlyUser creates a user that may select, insert and update the rows of tables and do nothing else
// (what docs/connectors.md says the exactly-once sink needs on its offsets table; on PostgreSQL 15 nobody
// may create in schema public but its owner), and returns its name.
func dmlOnlyUser(t *testing.T, db *dbtest.DB, tables ...string) string {
	user := "dml_" + db.Name[len(db.Name)-8:]
	if db.Kind == dbtest.Postgres {
		db.Exec(t, "CREATE ROLE "+user+" LOGIN PASSWORD '"+dmlPassword+"'")
		t.Cleanup(func() { db.Exec(t, "DROP OWNED BY "+user, "DROP ROLE "+user) })
		db.Exec(t, "REVOKE CREATE ON SCHEMA public FROM PUBLIC", "GRANT USAGE ON SCHEMA public TO "+user)
		for _, tbl := range tables {
			db.Exec(t, "GRANT SELECT, INSERT, UPDATE ON "+tbl+" TO "+user)
		}
		return user
	}
	db.Exec(t, "CREATE USER '"+user+"'@'%' IDENTIFIED BY '"+dmlPassword+"'")
	t.Cleanup(func() { db.Exec(t, "DROP USER '"+user+"'@'%'") })
	for _, tbl := range tables {
		db.Exec(t, "GRANT SELECT, INSERT, UPDATE ON "+q(db, db.Name)+"."+tbl+" TO '"+user+"'@'%'")
	}
	return user
}

// A least-privilege sink user: the DBA created the destination table and the offsets table and granted
// the user DML on them, nothing else. The exactly-once task starts (it creates the offsets table only when
// it is missing) and writes.
func TestSinkExactlyOnceWithADMLOnlyUser(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE items (id BIGINT, name VARCHAR(50))", oldOffsetsTable)
		user := dmlOnlyUser(t, db, "items", "rmqconnect_sink_offsets")
		cfg := eoCfg(db)
		cfg["connection.user"], cfg["connection.password"] = user, dmlPassword
		task := jdbc.NewSinkConnector().NewSinkTask()
		sctx := conformance.SinkContextFor(t, jdbc.NewSinkConnector().Spec(), cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := task.Start(ctx, sctx, cfg)
		t.Cleanup(func() { _ = task.Stop(context.Background()) })
		require.NoError(t, err, "the tables exist and the user may write them")
		put(t, task, item("items", 0, 1, "one"))
		put(t, task, item("items", 0, 1, "one"), item("items", 1, 2, "two"))
		require.Len(t, db.Query(t, "SELECT id FROM items"), 2)
	})
}

// The tasks of a new exactly-once connector start together, each creating the missing offsets table; on
// PostgreSQL, whose CREATE TABLE IF NOT EXISTS is not safe against a concurrent creator, the ones that
// lose find the table made and start.
func TestSinkExactlyOnceTasksStartingTogether(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *dbtest.DB) {
		cfg := eoCfg(db)
		for round := range 10 {
			db.Exec(t, "DROP TABLE IF EXISTS rmqconnect_sink_offsets")
			errs := make(chan error, 3)
			for range cap(errs) {
				task := jdbc.NewSinkConnector().NewSinkTask()
				sctx := conformance.SinkContextFor(t, jdbc.NewSinkConnector().Spec(), cfg)
				t.Cleanup(func() { _ = task.Stop(context.Background()) })
				go func() { errs <- task.Start(context.Background(), sctx, cfg) }()
			}
			for range cap(errs) {
				require.NoError(t, <-errs, "round %d", round)
			}
		}
	})
}
