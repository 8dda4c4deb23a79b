package mysql_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins"
	"github.com/rmqconnect/rmqconnect/schema"
)

// startBehind starts a task, runs a 5000-row transaction and then stmts on one connection, and polls the
// 5000 rows and the next n, storing no position; it returns the task and the n records. The first
// transaction keeps Poll busy while the binlog reader parses the rest ahead.
func (h *harness) startBehind(n int, stmts ...string) (plugins.SourceTask, []*schema.Record) {
	h.t.Helper()
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`, `CREATE TABLE big (id INT PRIMARY KEY)`)
	task := h.start()
	ctx := context.Background()
	conn, err := h.sql.Conn(ctx)
	require.NoError(h.t, err)
	defer conn.Close()
	for _, s := range append([]string{`INSERT INTO big SELECT seq FROM seq_1_to_5000`}, stmts...) {
		_, err := conn.ExecContext(ctx, s)
		require.NoError(h.t, err, s)
	}
	return task, h.poll(task, 5000+n, false)[5000:]
}

// A restart inside the second transaction of a GTID domain first seen after the stream started resumes
// after the last stored transaction of that domain.
func TestGTIDNewDomainResume(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only", "tombstones.on.delete": "false"})
	task, recs := h.startBehind(4, `SET SESSION gtid_domain_id = 77`, `INSERT INTO t VALUES (1)`,
		`SET SESSION gtid_domain_id = 0`, `INSERT INTO t VALUES (2)`,
		`SET SESSION gtid_domain_id = 77`, `BEGIN`, `INSERT INTO t VALUES (3)`, `INSERT INTO t VALUES (4)`, `COMMIT`)
	for _, r := range recs[:3] { // rows 1..3 stored; 4 not
		h.store.Commit(r)
	}
	require.NoError(t, task.Stop(context.Background()))
	task = h.start()
	got, err := h.pollUntil(task, 2, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{h.topic("t") + " {id=4} c nil->{id=4}"}, describeAll(got))
}

// A second server id in domain 0 (a switchover to another primary, simulated with the session's server_id):
// a restart inside the second transaction of the new server resumes after the last stored one.
func TestGTIDNewServerResume(t *testing.T) {
	h := newHarness(t, map[string]string{"snapshot.mode": "schema_only", "tombstones.on.delete": "false"})
	task, recs := h.startBehind(4, `SET SESSION server_id = 2`, `INSERT INTO t VALUES (1)`,
		`BEGIN`, `INSERT INTO t VALUES (2)`, `INSERT INTO t VALUES (3)`, `COMMIT`, `INSERT INTO t VALUES (4)`)
	for _, r := range recs[:2] { // rows 1..2 stored; 3 and 4 not
		h.store.Commit(r)
	}
	require.NoError(t, task.Stop(context.Background()))
	task = h.start()
	got, err := h.pollUntil(task, 2, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, []string{h.topic("t") + " {id=3} c nil->{id=3}", h.topic("t") + " {id=4} c nil->{id=4}"}, describeAll(got))
}
