package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/mysql"
	"github.com/rmqconnect/rmqconnect/schema"
)

// The snapshot reads the tables (op r, last marked), then inserts, updates and deletes on three tables
// stream with full before and after images, each delete followed by a tombstone; an excluded table is
// never read.
func TestSnapshotThenChanges(t *testing.T) {
	h := newHarness(t, nil)
	h.cfg["table.exclude.list"] = h.db.Name + `\.skipped`
	h.exec(`CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))`,
		`CREATE TABLE b (id BIGINT UNSIGNED PRIMARY KEY, n TINYINT UNSIGNED NOT NULL, d DECIMAL(10,2), e ENUM('x','y'), ts DATETIME(3))`,
		`CREATE TABLE c (k1 INT, k2 VARCHAR(10), v BLOB, PRIMARY KEY (k2, k1))`,
		`CREATE TABLE skipped (id INT PRIMARY KEY)`,
		`INSERT INTO a VALUES (1, 'one'), (2, 'two')`, `INSERT INTO b VALUES (1, 200, 12.5, 'y', '2024-02-29 01:02:03.456')`,
		`INSERT INTO c VALUES (1, 'x', 'bytes')`, `INSERT INTO skipped VALUES (1)`)
	task := h.start()
	a, b, c := h.topic("a"), h.topic("b"), h.topic("c")
	snap := h.poll(task, 4, true)
	require.Equal(t, []string{
		a + " {id=1} r nil->{id=1,v=one}",
		a + " {id=2} r nil->{id=2,v=two}",
		b + " {id=1} r nil->{id=1,n=200,d=12.50,e=y,ts=2024-02-29T01:02:03.456}",
		c + " {k2=x,k1=1} r nil->{k1=1,k2=x,v=bytes}",
	}, describeAll(snap))

	h.exec(`INSERT INTO a VALUES (3, 'three')`,
		`BEGIN`, `UPDATE a SET v = 'uno' WHERE id = 1`, `UPDATE b SET n = n + 1, e = 'x'`, `DELETE FROM a WHERE id = 2`,
		`INSERT INTO skipped VALUES (2)`, `COMMIT`,
		`UPDATE c SET v = 'more' WHERE k1 = 1`,
		`DELETE FROM c`)
	got := h.poll(task, 8, true)
	require.Equal(t, []string{
		a + " {id=3} c nil->{id=3,v=three}",
		a + " {id=1} u {id=1,v=one}->{id=1,v=uno}",
		b + " {id=1} u {id=1,n=200,d=12.50,e=y,ts=2024-02-29T01:02:03.456}->{id=1,n=201,d=12.50,e=x,ts=2024-02-29T01:02:03.456}",
		a + " {id=2} d {id=2,v=two}->nil",
		a + " {id=2} tombstone",
		c + " {k2=x,k1=1} u {k1=1,k2=x,v=bytes}->{k1=1,k2=x,v=more}",
		c + " {k2=x,k1=1} d {k1=1,k2=x,v=more}->nil",
		c + " {k2=x,k1=1} tombstone",
	}, describeAll(got))
	// Snapshot and binlog give the same schemas.
	require.True(t, snap[2].ValueSchema.Equal(got[2].ValueSchema), "%s\n%s", snap[2].ValueSchema, got[2].ValueSchema)
	h.quiet(task)
}

// A column added mid-stream: rows before the ALTER decode with the old columns and rows after with the
// new, also when a restarted task reads them again from the stored position.
func TestColumnAddedMidStream(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))`, `INSERT INTO t VALUES (9, 'before')`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1, 'a')`)
	first := h.poll(task, 1, true)
	h.exec(`ALTER TABLE t ADD COLUMN n INT DEFAULT 7`, `INSERT INTO t VALUES (2, 'b', 8)`, `UPDATE t SET v = 'c' WHERE id = 1`)
	tp := h.topic("t")
	want := []string{
		tp + " {id=2} c nil->{id=2,v=b,n=8}",
		tp + " {id=1} u {id=1,v=a,n=7}->{id=1,v=c,n=7}",
	}
	require.Equal(t, []string{tp + " {id=1} c nil->{id=1,v=a}"}, describeAll(first))
	require.Equal(t, want, describeAll(h.poll(task, 2, false)))
	require.NoError(t, task.Stop(context.Background()))
	// Only the first insert's position was stored: a new task reads the rest again, with the new shape.
	task = h.start()
	require.Equal(t, want, describeAll(h.poll(task, 2, true)))
	h.quiet(task)
}

// A restart resumes inside a transaction: rows already stored are skipped, the rest arrive once.
func TestResumeMidTransaction(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only", "tombstones.on.delete": "false"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`)
	task := h.start()
	h.exec(`BEGIN`, `INSERT INTO t VALUES (1)`, `INSERT INTO t VALUES (2)`, `INSERT INTO t VALUES (3)`, `COMMIT`)
	recs := h.poll(task, 3, false)
	h.store.Commit(recs[0])
	h.store.Commit(recs[1])
	require.NoError(t, task.Stop(context.Background()))
	h.exec(`DELETE FROM t WHERE id = 1`)
	task = h.start()
	tp := h.topic("t")
	require.Equal(t, []string{tp + " {id=3} c nil->{id=3}", tp + " {id=1} d {id=1}->nil"}, describeAll(h.poll(task, 2, true)))
	h.quiet(task)
}

// The binlog connection killed mid-stream: the task reconnects on its own, nothing lost or repeated.
func TestConnectionLossResumes(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1)`)
	first := h.poll(task, 1, true)
	rows, err := h.sql.Query(`SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'`)
	require.NoError(t, err)
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Close())
	require.NotEmpty(t, ids)
	for _, id := range ids {
		_, _ = h.sql.Exec("KILL CONNECTION " + id) // other tests' dumps reconnect just the same
	}
	h.exec(`INSERT INTO t VALUES (2)`, `INSERT INTO t VALUES (3)`)
	rest := h.poll(task, 2, true)
	tp := h.topic("t")
	require.Equal(t, []string{tp + " {id=1} c nil->{id=1}", tp + " {id=2} c nil->{id=2}", tp + " {id=3} c nil->{id=3}"},
		describeAll(append(first, rest...)))
	h.quiet(task)
}

// A stored position whose binlog is gone fails the task, saying what happened and what to do;
// snapshot.mode=when_needed takes a new snapshot instead.
func TestBinlogPurgedFails(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`, `INSERT INTO t VALUES (1)`)
	part := map[string]any{"server": "srv"}
	h.store.Set(part, map[string]any{"file": "binlog.000000", "pos": int64(4), "gtids": "", "row": int64(0)})
	_, err := h.tryStart()
	require.True(t, errors.Is(err, mysql.ErrBinlogPurged), "%v", err)
	require.Contains(t, err.Error(), "binlog.000000")
	require.Contains(t, err.Error(), "snapshot.mode=when_needed")

	h.cfg["snapshot.mode"] = "when_needed"
	task := h.start()
	got := h.poll(task, 1, true)
	require.Equal(t, []string{h.topic("t") + " {id=1} r nil->{id=1}"}, describeAll(got))
}

// Heartbeats carry the position forward while only uncaptured tables change.
func TestHeartbeatAdvancesPosition(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only", "heartbeat.interval.ms": "1"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`, `CREATE TABLE other (id INT PRIMARY KEY)`)
	h.cfg["table.include.list"] = h.db.Name + `\.t`
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1)`)
	h.poll(task, 1, true)
	part := map[string]any{"server": "srv"}
	before, err := h.store.Position(context.Background(), part)
	require.NoError(t, err)
	h.exec(`INSERT INTO other VALUES (1)`)
	var hb *schema.Record
	for hb == nil {
		recs, err := task.Poll(context.Background())
		require.NoError(t, err)
		for _, r := range recs {
			require.True(t, strings.HasPrefix(r.Topic, "__debezium-heartbeat-srv"), r.Topic)
			hb = r
		}
	}
	require.NotEqual(t, before, hb.SourceOffset)
	require.EqualValues(t, 0, hb.SourceOffset["row"])
}

// A transaction with a savepoint, its positions stored part way through and the task restarted: the rest
// of it comes, once. The savepoint ended the tracked transaction, and the restart skipped its later rows.
func TestSavepointTransactionResumes(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only", "max.batch.size": "2"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB`)
	task := h.start()
	tx, err := h.sql.Begin()
	require.NoError(t, err)
	for _, s := range []string{`INSERT INTO t VALUES (1)`, `SAVEPOINT s1`, `INSERT INTO t VALUES (2)`, `INSERT INTO t VALUES (3)`} {
		_, err := tx.Exec(s)
		require.NoError(t, err, s)
	}
	require.NoError(t, tx.Commit())
	first := h.poll(task, 2, true) // rows 1 and 2 stored; 3 not
	require.NoError(t, task.Stop(context.Background()))

	again := h.start()
	rest := h.poll(again, 1, true)
	tp := h.topic("t")
	require.Equal(t, []string{tp + " {id=1} c nil->{id=1}", tp + " {id=2} c nil->{id=2}", tp + " {id=3} c nil->{id=3}"},
		describeAll(append(first, rest...)))
	h.quiet(again)
}

// The connector's user refused on a reconnect (its password changed): the task fails, saying so, instead
// of retrying in silence for ever.
func TestAccessDeniedOnReconnectFails(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
	user := "cdc_" + strings.ReplaceAll(h.db.Name, "-", "_")
	h.exec(`CREATE USER '`+user+`'@'%' IDENTIFIED BY 'first'`,
		`GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '`+user+`'@'%'`)
	t.Cleanup(func() { _, _ = h.sql.Exec(`DROP USER '` + user + `'@'%'`) })
	h.cfg["database.user"], h.cfg["database.password"] = user, "first"
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1)`)
	h.poll(task, 1, true)
	h.exec(`ALTER USER '` + user + `'@'%' IDENTIFIED BY 'second'`)
	rows, err := h.sql.Query(`SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?`, user)
	require.NoError(t, err)
	var ids []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Close())
	require.NotEmpty(t, ids)
	for _, id := range ids {
		_, _ = h.sql.Exec("KILL CONNECTION " + id)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		require.True(t, time.Now().Before(deadline), "the task went on polling")
		_, err := task.Poll(context.Background())
		if err != nil {
			require.ErrorIs(t, err, mysql.ErrAccessDenied)
			require.ErrorContains(t, err, user)
			return
		}
	}
}
