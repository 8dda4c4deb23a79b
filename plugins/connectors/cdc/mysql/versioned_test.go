package mysql_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A system-versioned table is captured by the snapshot and streamed as its current rows change: an
// update and a delete of a current row, not the history rows the server keeps.
func TestSystemVersionedTable(t *testing.T) {
	h := newHarness(t, nil)
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING`, `INSERT INTO t VALUES (1, 1), (2, 2)`)
	task := h.start()
	snap, err := h.pollUntil(task, 2, 10*time.Second)
	require.NoError(t, err)
	h.exec(`UPDATE t SET v = 10 WHERE id = 1`, `DELETE FROM t WHERE id = 2`, `INSERT INTO t VALUES (3, 3)`)
	got, err := h.pollUntil(task, 3, 10*time.Second)
	require.NoError(t, err)
	tp := h.topic("t")
	require.Equal(t, []string{tp + " {id=1} r nil->{id=1,v=1}", tp + " {id=2} r nil->{id=2,v=2}"}, describeAll(snap))
	require.Equal(t, []string{tp + " {id=1} u {id=1,v=1}->{id=1,v=10}", tp + " {id=2} d {id=2,v=2}->nil", tp + " {id=2} tombstone",
		tp + " {id=3} c nil->{id=3,v=3}"}, describeAll(got))

	// Created, given a column and made versioned while streaming; explicit row start and end columns.
	h.exec(`CREATE TABLE s (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING`, `INSERT INTO s VALUES (1, 1)`)
	conn, err := h.sql.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	for _, q := range []string{`SET SESSION system_versioning_alter_history = KEEP`, `ALTER TABLE s ADD w INT`} {
		_, err := conn.ExecContext(t.Context(), q)
		require.NoError(t, err)
	}
	h.exec(`UPDATE s SET v = 2, w = 3`, `DELETE FROM s`,
		`CREATE TABLE p (id INT PRIMARY KEY, v INT)`, `ALTER TABLE p ADD SYSTEM VERSIONING`, `UPDATE p SET v = 1`, `INSERT INTO p VALUES (1, 1)`,
		`UPDATE p SET v = 2`,
		`CREATE TABLE e (id INT PRIMARY KEY, v INT, rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START, re TIMESTAMP(6) GENERATED ALWAYS AS ROW END, `+
			`PERIOD FOR SYSTEM_TIME (rs, re)) WITH SYSTEM VERSIONING`, `INSERT INTO e (id, v) VALUES (1, 1)`, `DELETE FROM e`)
	got, err = h.pollUntil(task, 9, 10*time.Second)
	require.NoError(t, err)
	ts, tp, te := h.topic("s"), h.topic("p"), h.topic("e")
	require.Len(t, got, 9)
	require.Equal(t, []string{ts + " {id=1} c nil->{id=1,v=1}", ts + " {id=1} u {id=1,v=1,w=<nil>}->{id=1,v=2,w=3}",
		ts + " {id=1} d {id=1,v=2,w=3}->nil", ts + " {id=1} tombstone", tp + " {id=1} c nil->{id=1,v=1}",
		tp + " {id=1} u {id=1,v=1}->{id=1,v=2}"}, describeAll(got[:6]))
	require.Equal(t, te+" {id=1} d", describe(got[7])[:len(te)+9])
}

// A system-versioned table whose row start and end columns are named in its DDL is read from the
// catalog (snapshot, a table without history) as it is: its named columns are its row start and end,
// and no hidden ones are added. information_schema names them in GENERATION_EXPRESSION, not EXTRA: read
// from EXTRA, two phantom columns were added and every change failed the task on the column count.
func TestSystemVersionedTableWithNamedRowColumns(t *testing.T) {
	h := newHarness(t, nil)
	h.exec(`CREATE TABLE n (id INT PRIMARY KEY, v INT, rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START, `+
		`re TIMESTAMP(6) GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME (rs, re)) WITH SYSTEM VERSIONING`,
		`INSERT INTO n (id, v) VALUES (1, 1), (2, 2)`)
	task := h.start()
	snap, err := h.pollUntil(task, 2, 10*time.Second)
	require.NoError(t, err)
	require.Len(t, snap, 2)
	h.exec(`UPDATE n SET v = 10 WHERE id = 1`, `DELETE FROM n WHERE id = 2`)
	got, err := h.pollUntil(task, 3, 10*time.Second)
	require.NoError(t, err)
	tp := h.topic("n")
	require.Len(t, got, 3)
	require.Equal(t, tp+" {id=1} u", describe(got[0])[:len(tp)+9])
	require.Equal(t, tp+" {id=2} d", describe(got[1])[:len(tp)+9])
}
