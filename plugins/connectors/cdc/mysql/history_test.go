package mysql_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/mysql"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// With binlog_row_metadata=MINIMAL (no column names in the binlog), columns added, dropped and renamed
// mid-stream decode with the shape each row was written under: live, and again after a restart that
// resumes from a position before the DDLs, when the catalog already has the newest shape and the
// schemas come from the history topic.
func TestDDLWithMinimalRowMetadata(t *testing.T) {
	h, _ := privateServer(t)
	h.cfg["snapshot.mode"] = "initial"
	h.exec(`SET GLOBAL binlog_row_metadata = 'MINIMAL'`)
	var meta string
	require.NoError(t, h.sql.QueryRow(`SELECT @@global.binlog_row_metadata`).Scan(&meta))
	require.Equal(t, "MINIMAL", meta)
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b INT, c INT UNSIGNED, e ENUM('x','y'))`,
		`INSERT INTO t VALUES (1, 'one', 10, 4000000000, 'y')`)
	task := h.start()
	tp := h.topic("t")
	snap := h.poll(task, 1, true)
	require.Equal(t, []string{tp + " {id=1} r nil->{id=1,a=one,b=10,c=4000000000,e=y}"}, describeAll(snap))

	h.exec(`INSERT INTO t VALUES (2, 'two', 20, 30, 'x')`)
	require.Equal(t, []string{tp + " {id=2} c nil->{id=2,a=two,b=20,c=30,e=x}"}, describeAll(h.poll(task, 1, true)))
	h.exec(
		`ALTER TABLE t ADD COLUMN d VARCHAR(5) DEFAULT 'dd' AFTER a`,
		`INSERT INTO t VALUES (3, 'three', 'd3', 33, 4000000001, 'x')`,
		`ALTER TABLE t DROP COLUMN b`,
		`INSERT INTO t VALUES (4, 'four', 'd4', 44, 'y')`,
		`ALTER TABLE t RENAME COLUMN c TO cc`,
		`UPDATE t SET cc = 31 WHERE id = 2`,
	)
	want := []string{
		tp + " {id=3} c nil->{id=3,a=three,d=d3,b=33,c=4000000001,e=x}",
		tp + " {id=4} c nil->{id=4,a=four,d=d4,c=44,e=y}",
		tp + " {id=2} u {id=2,a=two,d=dd,cc=30,e=x}->{id=2,a=two,d=dd,cc=31,e=x}",
	}
	require.Equal(t, want, describeAll(h.poll(task, 3, false)))
	h.quiet(task)
	require.NoError(t, task.Stop(context.Background()))

	// The stored position is the insert of id 2, before every DDL: a new task replays them.
	task = h.start()
	require.Equal(t, want, describeAll(h.poll(task, 3, true)))
	h.quiet(task)
	require.NoError(t, task.Stop(context.Background()))

	// Stored past the DDLs now: a restart starts with the newest shape.
	h.exec(`INSERT INTO t VALUES (5, 'five', 'd5', 55, 'x')`)
	task = h.start()
	require.Equal(t, []string{tp + " {id=5} c nil->{id=5,a=five,d=d5,cc=55,e=x}"}, describeAll(h.poll(task, 1, true)))
	h.quiet(task)
}

// A table dropped and created again with other columns, and a table renamed, decode with the right
// shapes across a restart from before the changes.
func TestDropRecreateAndRenameTable(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, v INT)`, `CREATE TABLE r (id INT PRIMARY KEY)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1, 10)`)
	first := h.poll(task, 1, true)
	h.exec(`DROP TABLE t`, `CREATE TABLE t (k VARCHAR(5) PRIMARY KEY, w VARCHAR(5), x INT)`,
		`INSERT INTO t VALUES ('a', 'b', 1)`, `RENAME TABLE r TO r2`, `INSERT INTO r2 VALUES (7)`)
	tp := h.topic("t")
	require.Equal(t, []string{tp + " {id=1} c nil->{id=1,v=10}"}, describeAll(first))
	want := []string{tp + " {k=a} c nil->{k=a,w=b,x=1}", h.topic("r2") + " {id=7} c nil->{id=7}"}
	require.Equal(t, want, describeAll(h.poll(task, 2, false)))
	require.NoError(t, task.Stop(context.Background()))
	task = h.start()
	require.Equal(t, want, describeAll(h.poll(task, 2, true)))
	h.quiet(task)
}

// A deleted history topic with a stored position fails the start with an error naming the topic and the
// way out; snapshot.mode=schema_only then records the current schemas at the stored position and goes on.
func TestSchemaHistoryDeleted(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "initial"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`, `INSERT INTO t VALUES (1)`)
	task := h.start()
	h.poll(task, 1, true)
	require.NoError(t, task.Stop(context.Background()))
	topic := h.cfg["schema.history.internal.rocketmq.topic"]
	require.NoError(t, rmqtest.Client(t).DeleteTopic(t.Context(), topic))

	_, err := h.tryStart()
	require.ErrorIs(t, err, mysql.ErrSchemaHistory)
	require.Contains(t, err.Error(), topic)
	require.Contains(t, err.Error(), "snapshot.mode=when_needed")

	h.cfg["snapshot.mode"] = "schema_only"
	h.exec(`INSERT INTO t VALUES (2)`)
	task = h.start()
	got := describeAll(h.poll(task, 1, true))
	require.Equal(t, []string{h.topic("t") + " {id=2} c nil->{id=2}"}, got)
	require.False(t, strings.Contains(strings.Join(got, ""), " r "), "no snapshot records")
	h.quiet(task)
}
