package mysql_test

import (
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
	"github.com/rmqconnect/rmqconnect/tests/dbtest"
	"github.com/rmqconnect/rmqconnect/tests/rmqtest"
)

// privateServer runs a MariaDB of this test's own with db-local.sh (the shared test server must not be
// restarted under other tests) and returns a harness on its database and a function running db-local.sh
// with an action.
func privateServer(t *testing.T) (*harness, func(action string)) {
	dbtest.Require(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	require.NoError(t, l.Close())
	dir := t.TempDir()
	script, err := filepath.Abs("../../../../distribution/bin/db-local.sh")
	require.NoError(t, err)
	const user, password, database = "connect", "restart-secret", "connect"
	run := func(action string) {
		cmd := exec.Command("bash", script, action, "mariadb")
		cmd.Env = append(os.Environ(), "DB_DATA_DIR="+dir, "DB_MYSQL_PORT="+port, "DB_USER="+user,
			"DB_PASSWORD="+password, "DB_DATABASE="+database, "DB_WATCH_LOCK=")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "db-local.sh %s mariadb: %s", action, out)
	}
	run("start")
	t.Cleanup(func() { run("stop") })
	db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(127.0.0.1:%s)/%s", user, password, port, database))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	h := &harness{t: t, sql: db, store: conformance.NewPositions(),
		db: &dbtest.DB{Kind: dbtest.MariaDB, Name: database, Host: "127.0.0.1", Port: port, User: user, Password: password},
		cfg: map[string]string{"database.hostname": "127.0.0.1", "database.port": port, "database.user": user,
			"database.password": password, "database.server.id": "4242", "topic.prefix": "srv",
			"database.include.list": database, "snapshot.mode": "schema_only", "poll.interval.ms": "100",
			"retriable.restart.connector.wait.ms": "200", "schema.history.internal.rocketmq.namesrv": rmqtest.NameServer(t),
			"schema.history.internal.rocketmq.topic": rmqtest.Name(t, "hist")}}
	return h, run
}

// A real server restart mid-stream (not only a killed connection): the task rides it out, reconnecting
// while the server is down, and resumes with nothing lost or repeated, including the changes made after
// the server came back and before the task reconnected.
func TestServerRestartResumes(t *testing.T) {
	h, run := privateServer(t)
	h.exec(`CREATE TABLE t (id INT PRIMARY KEY)`)
	task := h.start()
	h.exec(`INSERT INTO t VALUES (1)`)
	got := h.poll(task, 1, true)

	run("stop")
	for range 3 { // polls while the server is down return nothing and no error
		recs, err := task.Poll(t.Context())
		require.NoError(t, err)
		for _, r := range recs {
			require.Contains(t, r.Topic, "heartbeat", "only heartbeats while the server is down")
		}
	}
	run("start")
	require.Eventually(t, func() bool { _, err := h.sql.Exec(`INSERT INTO t VALUES (2)`); return err == nil },
		30*time.Second, 100*time.Millisecond)
	h.exec(`INSERT INTO t VALUES (3)`, `UPDATE t SET id = 4 WHERE id = 1`)
	got = append(got, h.poll(task, 5, true)...)
	tp := h.topic("t")
	require.Equal(t, []string{tp + " {id=1} c nil->{id=1}", tp + " {id=2} c nil->{id=2}", tp + " {id=3} c nil->{id=3}",
		tp + " {id=1} d {id=1}->nil", tp + " {id=1} tombstone", tp + " {id=4} c nil->{id=4}"}, describeAll(got))
	h.quiet(task)
}
