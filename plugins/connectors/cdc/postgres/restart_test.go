package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/plugins/conformance"
	"github.com/rmqconnect/rmqconnect/plugins/connectors/cdc/postgres"
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
)

// privateServer runs a PostgreSQL of this test's own with db-local.sh (the shared test server must not be
// restarted under other tests) and returns its port and a function running db-local.sh with an action.
func privateServer(t *testing.T) (string, func(action string)) {
	dbtest.Require(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	require.NoError(t, l.Close())
	// Not t.TempDir: its parent is private, and initdb runs as the postgres user.
	dir, err := os.MkdirTemp("", "rmqconnect-cdc-restart-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	script, err := filepath.Abs("../../../../distribution/bin/db-local.sh")
	require.NoError(t, err)
	run := func(action string) {
		cmd := exec.Command("bash", script, action, "postgres")
		cmd.Env = append(os.Environ(), "DB_DATA_DIR="+dir, "DB_PG_PORT="+port, "DB_USER=connect",
			"DB_PASSWORD=restart-secret", "DB_DATABASE=connect", "DB_WATCH_LOCK=")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "db-local.sh %s postgres: %s", action, out)
	}
	run("start")
	t.Cleanup(func() { run("stop") })
	return port, run
}

// A real server restart mid-stream: the task rides it out (reconnecting while the server is down) and
// resumes with nothing lost, including the changes made while the task was cut off.
func TestServerRestartResumes(t *testing.T) {
	port, run := privateServer(t)
	dsn := fmt.Sprintf("postgres://connect:restart-secret@127.0.0.1:%s/connect?sslmode=disable", port)
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	exec := func(s string) {
		_, err := db.Exec(s)
		require.NoError(t, err, s)
	}
	exec("CREATE TABLE t (id INT PRIMARY KEY)")
	cfg := map[string]string{"database.hostname": "127.0.0.1", "database.port": port, "database.user": "connect",
		"database.password": "restart-secret", "database.dbname": "connect", "database.sslmode": "disable",
		"topic.prefix": "srv", "snapshot.mode": "never", "poll.interval.ms": "100", "retriable.restart.connector.wait.ms": "200"}
	c := postgres.NewConnector()
	ctx := context.Background()
	require.NoError(t, c.Start(ctx, conformance.ConnectorContextFor(t, c, cfg), cfg))
	tcs, _ := c.TaskConfigs(1)
	task := c.NewSourceTask()
	store := conformance.NewPositions()
	require.NoError(t, task.Start(ctx, conformance.SourceContextFor(t, c.Spec(), store, tcs[0]), tcs[0]))
	t.Cleanup(func() { _ = task.Stop(context.Background()) })
	h := &harness{t: t, store: store}

	exec("INSERT INTO t VALUES (1)")
	got := h.poll(task, 1, true)
	run("stop")
	// Polls while the server is down return nothing and no error.
	for i := 0; i < 3; i++ {
		recs, err := task.Poll(ctx)
		require.NoError(t, err)
		require.Empty(t, recs)
	}
	run("start")
	require.Eventually(t, func() bool { _, err := db.Exec("INSERT INTO t VALUES (2)"); return err == nil }, 30*time.Second, 100*time.Millisecond)
	exec("INSERT INTO t VALUES (3)")
	got = append(got, h.poll(task, 2, true)...)
	require.Equal(t, []string{"srv-public-t {id=1} c nil->{id=1}", "srv-public-t {id=2} c nil->{id=2}",
		"srv-public-t {id=3} c nil->{id=3}"}, describeAll(got))
	h.quiet(task)
}
