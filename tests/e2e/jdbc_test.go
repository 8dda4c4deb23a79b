package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/clustertest"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
	"github.com/rmqconnect/rmqconnect/worker/rmqclient"
)

// namedTopic creates topic name (4 queues) on the test broker.
func namedTopic(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, rmqtest.Client(t).CreateTopic(ctx, rmqclient.TopicSpec{Name: name, Queues: 4}))
	return name
}

func dbConn(db *dbtest.DB, kv ...string) map[string]string {
	cfg := map[string]string{"connection.url": db.JDBCURL(), "connection.user": db.User,
		"connection.password": db.Password}
	for i := 0; i < len(kv); i += 2 {
		cfg[kv[i]] = kv[i+1]
	}
	return cfg
}

// Column definitions of the round-trip table in each database: every common type.
const (
	pgTypes = `id BIGINT PRIMARY KEY, i2 SMALLINT, i4 INT NOT NULL, i8 BIGINT, dec NUMERIC(20,4), f4 REAL,
		f8 DOUBLE PRECISION, b BOOLEAN, s TEXT, vc VARCHAR(50), by BYTEA, d DATE, tm TIME(3), ts TIMESTAMP(3),
		tz TIMESTAMPTZ(3), u UUID, j JSONB`
	myTypes = "id BIGINT PRIMARY KEY, i2 SMALLINT, i4 INT NOT NULL, i8 BIGINT, `dec` DECIMAL(20,4), f4 FLOAT, " +
		"f8 DOUBLE, b BOOLEAN, s LONGTEXT, vc VARCHAR(50), `by` LONGBLOB, d DATE, tm TIME(3), ts DATETIME(3), " +
		"tz TIMESTAMP(3) NULL, u UUID, j JSON"
)

// pgRows inserts rows first..first+n-1 of the round-trip table (every 7th row all NULL but the key).
func pgRows(t *testing.T, db *dbtest.DB, table string, first, n int, extra bool) {
	t.Helper()
	var vals []string
	for i := first; i < first+n; i++ {
		if i%7 == 3 {
			vals = append(vals, fmt.Sprintf("(%d, NULL, %d, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)", i, i))
			continue
		}
		vals = append(vals, fmt.Sprintf(`(%d, %d, %d, %d, %d.%04d, %d.5, %d.125, %t, 'text %d — ünïcødé ✓ ''quoted''', 'v%d',
			'\x%02x00ff', DATE '2024-01-01' + %d, TIME '00:00:00.123' + interval '%d seconds',
			TIMESTAMP '2024-01-01 00:00:00.456' + interval '%d minutes', TIMESTAMPTZ '2024-06-01 12:00:00.789+02' + interval '%d hours',
			'00000000-0000-4000-8000-%012d', '{"n": %d, "tags": ["a", "b"]}')`,
			i, i%30000-15000, i, int64(i)*1e12, i*1000, i%10000, i, i, i%2 == 0, i, i, i%256, i%3000, i*7%86400, i, i, i, i))
	}
	if extra {
		for i := range vals {
			vals[i] = strings.TrimSuffix(vals[i], ")") + fmt.Sprintf(", 'x%d')", first+i)
		}
	}
	db.Exec(t, "INSERT INTO "+table+" VALUES "+strings.Join(vals, ", "))
}

func rowsEqual(t *testing.T, a, b *dbtest.DB, tableA, tableB string) {
	t.Helper()
	want := a.Query(t, "SELECT * FROM "+tableA+" ORDER BY id")
	got := b.Query(t, "SELECT * FROM "+tableB+" ORDER BY id")
	require.Equal(t, len(want), len(got), "row count")
	for i := range want {
		require.Equal(t, want[i], got[i], "row %d", i)
	}
}

// count returns the single integer a query returns, or -1 when it fails (a table not there yet).
func count(t *testing.T, db *dbtest.DB, query string) int64 {
	conn := db.Open(t)
	defer conn.Close()
	var n int64
	if err := conn.QueryRow(query).Scan(&n); err != nil {
		return -1
	}
	return n
}

func waitRows(t *testing.T, db *dbtest.DB, table string, n int, what string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return count(t, db, "SELECT count(*) FROM "+table) >= int64(n)
	}, 2*time.Minute, 100*time.Millisecond, "%s: fewer than %d rows in %s (%d)", what, n, table,
		count(t, db, "SELECT count(*) FROM "+table))
}

// startLoggedWorker is startWorker that prints the worker's log when the test fails.
func startLoggedWorker(t *testing.T, dir string, port int) *workerProc {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", readFile(dir+"/worker.log"))
		}
	})
	return startWorker(t, dir, port)
}

// TestJDBCRoundTripPostgresMariaDB: a PostgreSQL table with every common type → jdbc-source → RocketMQ →
// jdbc-sink → MariaDB, then MariaDB → RocketMQ → a second PostgreSQL table, through a real worker; the
// final table equals the first row for row. A column added to the source table mid-stream appears in
// the MariaDB table (auto.evolve) and comes back.
func TestJDBCRoundTripPostgresMariaDB(t *testing.T) {
	rmqtest.Require(t)
	pg, my := dbtest.New(t, dbtest.Postgres), dbtest.New(t, dbtest.MariaDB)
	pg.Exec(t, "CREATE TABLE src ("+pgTypes+")")
	my.Exec(t, "CREATE TABLE dst ("+myTypes+")")
	pgRows(t, pg, "src", 0, 300, false)

	prefix := rmqtest.Name(t, "t") + "_"
	there, back := namedTopic(t, prefix+"src"), namedTopic(t, prefix+"dst")
	dir := t.TempDir()
	w := startLoggedWorker(t, dir, clustertest.FreePort(t))
	createConnector(t, w, "pg-src", dbConn(pg, "connector.class", "jdbc-source", "mode", "incrementing",
		"incrementing.column.name", "id", "table.whitelist", "src", "topic.prefix", prefix, "poll.interval.ms", "100",
		"batch.max.rows", "50"))
	createConnector(t, w, "my-sink", dbConn(my, "connector.class", "org.apache.rocketmq.connect.jdbc.connector.JdbcSinkConnector",
		"connect.topicnames", there, "table.name.format", "dst", "insert.mode", "upsert", "pk.mode", "record_value",
		"pk.fields", "id", "auto.evolve", "true", "max.tasks", "2", "task.group.id", rmqtest.Group(t)+"a"))
	waitRows(t, my, "dst", 300, "PostgreSQL → MariaDB")

	// Mid-stream: a new column in the source table.
	pg.Exec(t, "ALTER TABLE src ADD COLUMN extra VARCHAR(20)")
	pgRows(t, pg, "src", 300, 100, true)
	require.Eventually(t, func() bool {
		return count(t, my, "SELECT count(extra) FROM dst") == 100
	}, 2*time.Minute, 100*time.Millisecond, "the new column reaches MariaDB")
	waitRows(t, my, "dst", 400, "after the new column")

	pg.Exec(t, "CREATE TABLE back ("+pgTypes+", extra VARCHAR(20))")
	createConnector(t, w, "my-src", dbConn(my, "connector.class", "jdbc-source", "mode", "incrementing",
		"incrementing.column.name", "id", "table.whitelist", "dst", "topic.prefix", prefix, "poll.interval.ms", "100"))
	createConnector(t, w, "pg-sink", dbConn(pg, "connector.class", "jdbc-sink", "connect.topicnames", back,
		"table.name.format", "back", "insert.mode", "upsert", "pk.mode", "record_value", "pk.fields", "id",
		"task.group.id", rmqtest.Group(t)+"b"))
	waitRows(t, pg, "back", 400, "MariaDB → PostgreSQL")
	rowsEqual(t, pg, pg, "src", "back")
	w.Stop(t, 90*time.Second)
}

// TestJDBCConstraintViolationGoesToDLQ: rows the sink's table refuses (a CHECK constraint) land in the
// dead-letter queue with the SQL error, as the messages their topic held (the sink reports them itself,
// after conversion); every other row of their batches is written. A replay sends those messages again,
// which the sink refuses again for the same reason (a rendering of the converted record, which the DLQ
// used to hold, would fail in the converter instead).
func TestJDBCConstraintViolationGoesToDLQ(t *testing.T) {
	rmqtest.Require(t)
	pg, my := dbtest.New(t, dbtest.Postgres), dbtest.New(t, dbtest.MariaDB)
	pg.Exec(t, "CREATE TABLE orders (id INT PRIMARY KEY, qty INT NOT NULL)")
	my.Exec(t, "CREATE TABLE orders (id INT PRIMARY KEY, qty INT NOT NULL CHECK (qty >= 0))")
	var vals []string
	bad := 0
	for i := 1; i <= 200; i++ {
		qty := i
		if i%25 == 0 {
			qty, bad = -i, bad+1
		}
		vals = append(vals, fmt.Sprintf("(%d, %d)", i, qty))
	}
	pg.Exec(t, "INSERT INTO orders VALUES "+strings.Join(vals, ", "))
	prefix := rmqtest.Name(t, "t") + "_"
	topic := namedTopic(t, prefix+"orders")
	dlq := namedTopic(t, prefix+"dlq")
	w := startLoggedWorker(t, t.TempDir(), clustertest.FreePort(t))
	createConnector(t, w, "orders-src", dbConn(pg, "connector.class", "jdbc-source", "mode", "incrementing",
		"incrementing.column.name", "id", "table.whitelist", "orders", "topic.prefix", prefix))
	createConnector(t, w, "orders-sink", dbConn(my, "connector.class", "jdbc-sink", "connect.topicnames", topic,
		"table.name.format", "orders", "errors.tolerance", "all", "errors.deadletterqueue.topic.name", dlq,
		"task.group.id", rmqtest.Group(t)))
	waitRows(t, my, "orders", 200-bad, "good rows")
	type dlqRecord struct {
		ID               string `json:"id"`
		Stage            string `json:"stage"`
		ExceptionMessage string `json:"exception_message"`
		BodyPreview      string `json:"body_preview"`
		Body             []byte `json:"body"`
	}
	var page struct {
		Records []dlqRecord `json:"records"`
	}
	require.Eventually(t, func() bool {
		return w.Call(t, "GET", "/connectors/orders-sink/dlq", nil, &page) == http.StatusOK && len(page.Records) >= bad
	}, time.Minute, 200*time.Millisecond, "DLQ records")
	require.Len(t, page.Records, bad)
	require.Contains(t, page.Records[0].ExceptionMessage, "CONSTRAINT")
	for _, r := range page.Records {
		var one dlqRecord
		require.Equal(t, http.StatusOK, w.Call(t, "GET", "/connectors/orders-sink/dlq/"+r.ID, nil, &one))
		require.True(t, json.Valid(one.Body), "the DLQ holds the message as its topic held it (JSON), not %q", one.Body)
		require.Contains(t, string(one.Body), `"qty":-`)
	}
	rows := my.Query(t, "SELECT count(*) FROM orders WHERE qty < 0")
	require.EqualValues(t, 0, rows[0][0])
	require.Len(t, my.Query(t, "SELECT id FROM orders"), 200-bad, "every good row, nothing else")

	var res struct {
		Replayed []string `json:"replayed"`
	}
	require.Equal(t, http.StatusOK, w.Call(t, "POST", "/connectors/orders-sink/dlq/replay", map[string]any{"all": true}, &res))
	require.Len(t, res.Replayed, bad)
	require.Eventually(t, func() bool {
		return w.Call(t, "GET", "/connectors/orders-sink/dlq", nil, &page) == http.StatusOK && len(page.Records) >= 2*bad
	}, time.Minute, 200*time.Millisecond, "the replayed rows refused again")
	require.Len(t, page.Records, 2*bad)
	for _, r := range page.Records {
		require.Equal(t, "TASK_PUT", r.Stage, "refused by the table again, not by the converter")
		require.Contains(t, r.ExceptionMessage, "CONSTRAINT")
	}
	w.Stop(t, 90*time.Second)
}

// TestJDBCKillMidStreamExactlyOnce: the worker is killed with SIGKILL while the exactly-once sink writes
// a topic into MariaDB, and started again: every row is in the table exactly once, although the table has
// no key (the sink skips what the broker redelivers). The topic is filled by jdbc-source from PostgreSQL
// first, and that connector deleted, so duplicates could only come from the sink.
func TestJDBCKillMidStreamExactlyOnce(t *testing.T) {
	rmqtest.Require(t)
	t.Setenv("RMQCONNECT_LOGLEVEL", "info")
	pg, my := dbtest.New(t, dbtest.Postgres), dbtest.New(t, dbtest.MariaDB)
	pg.Exec(t, "CREATE TABLE ev (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL)")
	my.Exec(t, "CREATE TABLE ev (id BIGINT NOT NULL, payload LONGTEXT NOT NULL)")
	const total = 20000
	pg.Exec(t, fmt.Sprintf("INSERT INTO ev (payload) SELECT 'payload-' || g FROM generate_series(1, %d) g", total))
	prefix := rmqtest.Name(t, "t") + "_"
	topic := namedTopic(t, prefix+"ev")
	dir := t.TempDir()
	port := clustertest.FreePort(t)
	w := startLoggedWorker(t, dir, port)
	createConnector(t, w, "ev-src", dbConn(pg, "connector.class", "jdbc-source", "mode", "incrementing",
		"incrementing.column.name", "id", "table.whitelist", "ev", "topic.prefix", prefix, "batch.max.rows", "500"))
	require.Eventually(t, func() bool { return queuedMessages(t, topic) >= total }, 2*time.Minute, 50*time.Millisecond)
	require.Equal(t, http.StatusNoContent, w.Call(t, "DELETE", "/connectors/ev-src", nil, nil))
	require.EqualValues(t, total, queuedMessages(t, topic), "the source sent every row once")

	createConnector(t, w, "ev-sink", dbConn(my, "connector.class", "jdbc-sink", "connect.topicnames", topic,
		"table.name.format", "ev", "delivery.guarantee", "exactly_once", "ordering.msg.enable", "true",
		"max.tasks", "2", "batch.size", "200", "task.group.id", rmqtest.Group(t)))
	require.Eventually(t, func() bool { return count(t, my, "SELECT count(*) FROM ev") >= total/4 }, 2*time.Minute,
		10*time.Millisecond)
	w.Kill()
	killedAt := count(t, my, "SELECT count(*) FROM ev")
	require.Less(t, killedAt, int64(total), "the kill must happen mid-stream")

	w = startLoggedWorker(t, dir, port) // the sink comes back from the store
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sink rows %d, sink offsets %v", count(t, my, "SELECT count(*) FROM ev"),
				my.Query(t, "SELECT queue_id, next_offset FROM rmqconnect_sink_offsets"))
		}
	})
	waitRows(t, my, "ev", total, "after the restart")
	time.Sleep(2 * time.Second) // let a replayed tail land, if any, before counting duplicates
	rows := my.Query(t, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM ev")
	require.EqualValues(t, []any{int64(total), int64(total), int64(1), int64(total)}, rows[0],
		"every row exactly once (killed at %d rows)", killedAt)
	w.Stop(t, 90*time.Second)
}

// queuedMessages sums the messages stored in the queues of topic.
func queuedMessages(t *testing.T, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := rmqtest.Client(t)
	qs, err := c.TopicQueues(ctx, topic)
	require.NoError(t, err)
	var n int64
	for _, q := range qs {
		lo, hi, err := c.QueueOffsets(ctx, q)
		require.NoError(t, err)
		n += hi - lo
	}
	return n
}
