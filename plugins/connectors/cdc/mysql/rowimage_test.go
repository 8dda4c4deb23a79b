package mysql_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/mysql"
)

// A change written with binlog_row_image MINIMAL (set for one statement or session by a privileged
// client, while the server's global setting is FULL) holds only some columns: the task fails naming
// the table and the setting, rather than emit it. It used to come out as a delete of a row of nulls, a
// tombstone and a create keyed by a null id.
func TestPartialRowImageFailsTheTask(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b INT)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1, 'keep', 5)`)
	h.poll(task, 1, true)
	h.exec(`SET STATEMENT binlog_row_image='MINIMAL' FOR UPDATE t SET b = 6 WHERE id = 1`)
	got, err := h.pollUntil(task, 1, 15*time.Second)
	require.ErrorIs(t, err, mysql.ErrServerConfig, "%v", describeAll(got))
	require.ErrorContains(t, err, "binlog_row_image")
	require.Empty(t, got)
}

// A FULL row image of a table with generated columns (VIRTUAL and PERSISTENT) is whole: it streams.
func TestFullRowImageWithGeneratedColumnsStreams(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only"})
	h.exec(`CREATE TABLE g (id INT PRIMARY KEY, a INT, v INT AS (a * 2) VIRTUAL, p INT AS (a + 1) PERSISTENT, b BLOB)`)
	task := h.start()
	h.exec(`INSERT INTO g (id, a, b) VALUES (1, 2, 'x')`, `UPDATE g SET a = 3 WHERE id = 1`, `DELETE FROM g`)
	got, err := h.pollUntil(task, 4, 15*time.Second)
	require.NoError(t, err)
	require.Len(t, got, 4, "create, update, delete and its tombstone: %v", describeAll(got))
}
