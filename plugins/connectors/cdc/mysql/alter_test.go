package mysql_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The clauses of one ALTER TABLE refer to the columns as they were before the statement: swapping two
// columns' names with CHANGE or RENAME COLUMN swaps them in the recorded schema too.
func TestAlterSwapsColumnNames(t *testing.T) {
	for _, alter := range []string{`ALTER TABLE t CHANGE a b INT, CHANGE b a INT`, `ALTER TABLE t RENAME COLUMN a TO b, RENAME COLUMN b TO a`} {
		t.Run(alter, func(t *testing.T) {
			h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
			h.exec(`CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT)`)
			task := h.start()
			h.exec(`INSERT INTO t VALUES (1, 10, 20)`)
			h.poll(task, 1, true)
			h.exec(alter, `INSERT INTO t (id, a, b) VALUES (2, 100, 200)`)
			got, err := h.pollUntil(task, 1, 10*time.Second)
			require.NoError(t, err)
			require.Equal(t, []string{h.topic("t") + " {id=2} c nil->{id=2,b=200,a=100}"}, describeAll(got))
		})
	}
}

// With binlog_row_metadata=MINIMAL the binlog has no column names to check the recorded schema against: a
// swap of two columns' names the schema missed would give each column the other's values.
func TestAlterSwapsColumnNamesMinimalMetadata(t *testing.T) {
	h, _ := privateServer(t)
	h.exec(`SET GLOBAL binlog_row_metadata = 'MINIMAL'`)
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, a INT, b INT)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1, 10, 20)`)
	h.poll(task, 1, true)
	h.exec(`ALTER TABLE t CHANGE a b INT, CHANGE b a INT`, `INSERT INTO t (id, a, b) VALUES (2, 100, 200)`)
	got, err := h.pollUntil(task, 1, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{h.topic("t") + " {id=2} c nil->{id=2,b=200,a=100}"}, describeAll(got))
}
