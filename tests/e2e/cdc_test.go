package e2e

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/rmqconnect/rmqconnect/tests/dbtest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// canonical renders a query's rows as text, so rows of two databases compare equal.
func canonical(t *testing.T, db *dbtest.DB, query string) []string {
	t.Helper()
	var out []string
	for _, row := range db.Query(t, query) {
		parts := make([]string, len(row))
		for i, v := range row {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

// mixedWorkload inserts, updates and deletes rows of items (ids 1..n), in single statements and in
// multi-statement transactions, so every key sees several changes in order.
func mixedWorkload(t *testing.T, db *dbtest.DB, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		db.Exec(t, fmt.Sprintf("INSERT INTO items VALUES (%d, 'item %d', %d, %d.%02d)", i, i, i%17, i, i%100))
	}
	for i := from; i < from+n; i += 3 {
		db.Exec(t, fmt.Sprintf("UPDATE items SET qty = qty + 100, name = 'renamed %d' WHERE id = %d", i, i))
	}
	for i := from; i < from+n; i += 5 {
		db.Exec(t, fmt.Sprintf("DELETE FROM items WHERE id = %d", i))
	}
	// A key deleted and inserted again, and updated twice in one transaction.
	db.Exec(t, fmt.Sprintf("INSERT INTO items VALUES (%d, 'again', 1, 0.50)", from))
	if db.Kind == dbtest.Postgres {
		db.Exec(t, fmt.Sprintf("BEGIN; UPDATE items SET qty = 7 WHERE id = %d; UPDATE items SET qty = 8 WHERE id = %d; COMMIT", from+1, from+1))
	} else {
		db.Exec(t, fmt.Sprintf("UPDATE items SET qty = 7 WHERE id = %d", from+1), fmt.Sprintf("UPDATE items SET qty = 8 WHERE id = %d", from+1))
	}
}

// TestCDCReplicatesTables: PostgreSQL → postgres-cdc → RocketMQ → ExtractNewRecordState → jdbc-sink →
// MariaDB, and MariaDB → mysql-cdc → RocketMQ → ExtractNewRecordState → jdbc-sink → PostgreSQL, through
// a real worker and broker: after a mixed workload of inserts, updates and deletes (some before the
// connectors start, read by the snapshot), each target table equals its source row for row.
func TestCDCReplicatesTables(t *testing.T) {
	rmqtest.Require(t)
	pg, my := dbtest.New(t, dbtest.Postgres), dbtest.New(t, dbtest.MariaDB)
	pgDst, myDst := dbtest.New(t, dbtest.Postgres), dbtest.New(t, dbtest.MariaDB)
	pg.Exec(t, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, qty INT NOT NULL, price NUMERIC(10,2))")
	my.Exec(t, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100), qty INT NOT NULL, price DECIMAL(10,2))")
	myDst.Exec(t, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100), qty INT NOT NULL, price DECIMAL(10,2))")
	pgDst.Exec(t, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, qty INT NOT NULL, price NUMERIC(10,2))")
	// The slot keeps the source database from being dropped once the worker is gone.
	t.Cleanup(func() {
		conn := pg.Open(t)
		defer conn.Close()
		_, _ = conn.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", pg.Name)
	})
	mixedWorkload(t, pg, 1, 30)
	mixedWorkload(t, my, 1, 30)

	pgPrefix, myPrefix := rmqtest.Name(t, "pg"), rmqtest.Name(t, "my")
	pgTopic := namedTopic(t, pgPrefix+"-public-items")
	myTopic := namedTopic(t, myPrefix+"-"+my.Name+"-items")
	w := startLoggedWorker(t, t.TempDir(), freePort(t))
	// Keys and values travel as JSON with their schemas, so the sink gets the key struct (pk.mode=record_key).
	unwrap := []string{"key.converter", "json", "value.converter", "json", "transforms", "unwrap", "transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState",
		"transforms.unwrap.delete.handling.mode", "none"}
	createConnector(t, w, "pg-cdc", map[string]string{"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
		"database.hostname": pg.Host, "database.port": pg.Port, "database.user": pg.User, "database.password": pg.Password,
		"database.dbname": pg.Name, "database.sslmode": "disable", "topic.prefix": pgPrefix, "slot.name": pg.Name,
		"publication.name": "cdc_pub", "ordering.msg.enable": "true", "poll.interval.ms": "100",
		"key.converter": "json", "value.converter": "json"})
	createConnector(t, w, "my-cdc", map[string]string{"connector.class": "mysql-cdc",
		"database.hostname": my.Host, "database.port": my.Port, "database.user": my.User, "database.password": my.Password,
		"database.include.list": my.Name, "database.server.id": "4242", "topic.prefix": myPrefix,
		"ordering.msg.enable": "true", "poll.interval.ms": "100", "key.converter": "json", "value.converter": "json"})
	createConnector(t, w, "to-maria", dbConn(myDst, append([]string{"connector.class", "jdbc-sink",
		"connect.topicnames", pgTopic, "table.name.format", "items", "insert.mode", "upsert", "pk.mode", "record_key",
		"delete.enabled", "true", "task.group.id", rmqtest.Group(t) + "a", "ordering.msg.enable", "true"}, unwrap...)...))
	createConnector(t, w, "to-pg", dbConn(pgDst, append([]string{"connector.class", "jdbc-sink",
		"connect.topicnames", myTopic, "table.name.format", "items", "insert.mode", "upsert", "pk.mode", "record_key",
		"delete.enabled", "true", "task.group.id", rmqtest.Group(t) + "b", "ordering.msg.enable", "true"}, unwrap...)...))

	// Streaming: more of the same once the connectors run.
	mixedWorkload(t, pg, 100, 60)
	mixedWorkload(t, my, 100, 60)
	pg.Exec(t, "UPDATE items SET price = price + 1 WHERE id % 2 = 0")
	my.Exec(t, "UPDATE items SET price = price + 1 WHERE id % 2 = 0")
	// A primary-key change: the replica must drop the old row, not keep it beside the new one.
	pg.Exec(t, "UPDATE items SET id = id + 1000 WHERE id = 3")
	my.Exec(t, "UPDATE items SET id = id + 1000 WHERE id = 3")

	const q = "SELECT id, name, qty, price FROM items ORDER BY id"
	for _, pair := range []struct {
		what     string
		src, dst *dbtest.DB
	}{{"PostgreSQL → MariaDB", pg, myDst}, {"MariaDB → PostgreSQL", my, pgDst}} {
		want := canonical(t, pair.src, q)
		require.Eventually(t, func() bool { return strings.Join(canonical(t, pair.dst, q), "\n") == strings.Join(want, "\n") },
			2*time.Minute, 200*time.Millisecond, "%s: target never equalled the source\nwant %v\ngot  %v", pair.what, want,
			canonical(t, pair.dst, q))
	}
	w.stop(t)
}

// TestCDCWorkerKilledMidStream: the worker running postgres-cdc and jdbc-sink is killed with SIGKILL while
// changes flow and started again on the same store: the MariaDB table still ends equal to the PostgreSQL one
// (the slot kept what was not confirmed; replays arrive in order per key).
func TestCDCWorkerKilledMidStream(t *testing.T) {
	rmqtest.Require(t)
	pg, myDst := dbtest.New(t, dbtest.Postgres), dbtest.New(t, dbtest.MariaDB)
	pg.Exec(t, "CREATE TABLE items (id INT PRIMARY KEY, name TEXT, qty INT NOT NULL, price NUMERIC(10,2))")
	myDst.Exec(t, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100), qty INT NOT NULL, price DECIMAL(10,2))")
	t.Cleanup(func() {
		conn := pg.Open(t)
		defer conn.Close()
		_, _ = conn.Exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", pg.Name)
		time.Sleep(200 * time.Millisecond)
		_, _ = conn.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", pg.Name)
	})
	prefix := rmqtest.Name(t, "pg")
	topic := namedTopic(t, prefix+"-public-items")
	dir, port := t.TempDir(), freePort(t)
	w := startLoggedWorker(t, dir, port)
	createConnector(t, w, "pg-cdc", map[string]string{"connector.class": "postgres-cdc",
		"database.hostname": pg.Host, "database.port": pg.Port, "database.user": pg.User, "database.password": pg.Password,
		"database.dbname": pg.Name, "database.sslmode": "disable", "topic.prefix": prefix, "slot.name": pg.Name,
		"ordering.msg.enable": "true", "poll.interval.ms": "100", "key.converter": "json", "value.converter": "json"})
	createConnector(t, w, "to-maria", dbConn(myDst, "connector.class", "jdbc-sink", "connect.topicnames", topic,
		"table.name.format", "items", "insert.mode", "upsert", "pk.mode", "record_key", "delete.enabled", "true",
		"task.group.id", rmqtest.Group(t), "ordering.msg.enable", "true", "key.converter", "json", "value.converter", "json",
		"transforms", "unwrap", "transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState",
		"transforms.unwrap.delete.handling.mode", "none"))

	conn := pg.Open(t)
	defer conn.Close()
	var g errgroup.Group
	var progress atomic.Int64
	g.Go(func() error {
		for i := 0; i < 2000; i++ {
			progress.Store(int64(i))
			time.Sleep(3 * time.Millisecond) // changes keep flowing for several seconds
			stmts := []string{fmt.Sprintf("INSERT INTO items VALUES (%d, 'item %d', %d, %d.50)", i, i, i%17, i)}
			if i%3 == 0 && i > 0 {
				stmts = append(stmts, fmt.Sprintf("UPDATE items SET qty = qty + 100 WHERE id = %d", i-1))
			}
			if i%5 == 0 && i > 1 {
				stmts = append(stmts, fmt.Sprintf("DELETE FROM items WHERE id = %d", i-2))
			}
			for _, s := range stmts {
				if _, err := conn.Exec(s); err != nil {
					return err
				}
			}
		}
		return nil
	})
	require.Eventually(t, func() bool { return count(t, myDst, "SELECT count(*) FROM items") >= 200 }, 2*time.Minute,
		20*time.Millisecond)
	w.kill()
	require.Less(t, progress.Load(), int64(1999), "the kill must happen while changes flow")
	w = startLoggedWorker(t, dir, port) // both connectors come back from the store
	require.NoError(t, g.Wait())
	const q = "SELECT id, name, qty, price FROM items ORDER BY id"
	want := canonical(t, pg, q)
	require.Eventually(t, func() bool { return strings.Join(canonical(t, myDst, q), "\n") == strings.Join(want, "\n") },
		2*time.Minute, 200*time.Millisecond, "the MariaDB table never equalled the PostgreSQL one after the kill")
	w.stop(t)
}
