package scripts

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const dbLocalScript = "../../distribution/bin/db-local.sh"

// Fake MariaDB programs for db-local.sh, first on PATH. Each call is recorded in $FAKE_DB_CALLS.
// The server writes its pid file and socket and runs until SIGTERM; the client answers SELECT 1
// while the socket exists and records every other statement, failing it with FAKE_SQL_FAIL=1.
const (
	fakeInstallDB = `#!/bin/bash
for a in "$@"; do case "$a" in --datadir=*) datadir=${a#*=} ;; esac; done
echo install >>"$FAKE_DB_CALLS"
mkdir -p "$datadir/mysql"
`
	fakeMariadbd = `#!/bin/bash
for a in "$@"; do
  case "$a" in --pid-file=*) pidfile=${a#*=} ;; --socket=*) sock=${a#*=} ;; esac
done
echo "mariadbd $$" >>"$FAKE_DB_CALLS"
trap 'rm -f "$pidfile" "$sock"; exit 0' TERM
echo $$ >"$pidfile"
: >"$sock"
while :; do sleep 0.1; done
`
	fakeMariadbClient = `#!/bin/bash
while [ $# -gt 0 ]; do
  case "$1" in -S) sock=$2; shift ;; -e) sql=$2; shift ;; esac
  shift
done
[ -e "$sock" ] || { echo "ERROR 2002 (HY000): Can't connect to local server through socket '$sock'" >&2; exit 1; }
[ "$sql" = "SELECT 1" ] && exit 0
echo "sql $(echo $sql | tr -s ' \n' ' ')" >>"$FAKE_DB_CALLS"
if [ "${FAKE_SQL_FAIL:-}" = 1 ]; then echo "ERROR 1396 (HY000) at line 2: Operation CREATE USER failed" >&2; exit 1; fi
`
)

type fakeDB struct {
	dir, data, calls string
	env              []string
}

func newFakeDB(t *testing.T) *fakeDB {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	writeExec(t, bin, "mariadb-install-db", fakeInstallDB)
	writeExec(t, bin, "mariadbd", fakeMariadbd)
	writeExec(t, bin, "mariadb", fakeMariadbClient)
	db := &fakeDB{dir: dir, data: filepath.Join(dir, "data"), calls: filepath.Join(dir, "calls")}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DB_") && !strings.HasPrefix(kv, "PATH=") {
			db.env = append(db.env, kv)
		}
	}
	db.env = append(db.env, "PATH="+bin+":"+os.Getenv("PATH"), "DB_DATA_DIR="+db.data,
		fmt.Sprintf("DB_MYSQL_PORT=%d", freeTCPPort(t)), "FAKE_DB_CALLS="+db.calls)
	t.Cleanup(func() {
		for _, pid := range db.servers(t) {
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return db
}

// run runs db-local.sh ARGS with the fake programs plus the extra environment and returns its combined
// output and exit code.
func (db *fakeDB) run(t *testing.T, extra []string, args ...string) (string, int) {
	t.Helper()
	return runCmd(t, append(append([]string{}, db.env...), extra...), "bash", append([]string{dbLocalScript}, args...)...)
}

// callsOf lists the recorded calls of a kind: "install", "mariadbd" or "sql".
func (db *fakeDB) callsOf(t *testing.T, kind string) []string {
	t.Helper()
	raw, err := os.ReadFile(db.calls)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if k, rest, _ := strings.Cut(l, " "); k == kind {
			out = append(out, rest)
		}
	}
	return out
}

// servers lists the pids of every fake mariadbd started.
func (db *fakeDB) servers(t *testing.T) []int {
	var pids []int
	for _, s := range db.callsOf(t, "mariadbd") {
		if pid, err := strconv.Atoi(s); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (db *fakeDB) requireNoServer(t *testing.T) {
	t.Helper()
	for _, pid := range db.servers(t) {
		require.Eventually(t, func() bool { return !alive(pid) }, 10*time.Second, 20*time.Millisecond, "mariadbd %d still runs", pid)
	}
}

// A first start whose CREATE USER fails reports the failure and stops the server; the next start
// creates the user (without installing again); once that succeeded, starts do not repeat it.
func TestDBLocalMariaDBFirstStartCompletesItsSetup(t *testing.T) {
	db := newFakeDB(t)
	out, code := db.run(t, []string{"FAKE_SQL_FAIL=1"}, "start", "mariadb")
	require.NotEqual(t, 0, code, out)
	require.NotContains(t, out, "mariadb started")
	require.Contains(t, out, "Operation CREATE USER failed")
	require.Contains(t, out, "could not create user connect")
	db.requireNoServer(t)
	require.Len(t, db.callsOf(t, "install"), 1)
	require.Len(t, db.callsOf(t, "sql"), 1)

	out, code = db.run(t, nil, "start", "mariadb")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "mariadb started")
	require.Len(t, db.callsOf(t, "install"), 1, "the data directory is not installed again")
	sql := db.callsOf(t, "sql")
	require.Len(t, sql, 2, "the user is created by the second start")
	require.Contains(t, sql[1], "CREATE OR REPLACE USER 'connect'@'%' IDENTIFIED BY 'connect-secret';")
	require.Contains(t, sql[1], "CREATE DATABASE IF NOT EXISTS `connect`;")

	out, code = db.run(t, nil, "stop", "mariadb")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "mariadb stopped")
	db.requireNoServer(t)
	out, code = db.run(t, nil, "start", "mariadb")
	require.Equal(t, 0, code, out)
	require.Len(t, db.callsOf(t, "sql"), 2, "a set-up data directory is not set up again")
	out, code = db.run(t, nil, "stop", "mariadb")
	require.Equal(t, 0, code, out)
}

// A server left running without its user (by a start that failed before there was a marker)
// is set up by the next start.
func TestDBLocalMariaDBRunningWithoutSetup(t *testing.T) {
	db := newFakeDB(t)
	out, code := db.run(t, nil, "start", "mariadb")
	require.Equal(t, 0, code, out)
	require.NoError(t, os.Remove(filepath.Join(db.data, fmt.Sprintf("mariadb-%s", db.port()), "initialised")))
	out, code = db.run(t, nil, "start", "mariadb")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "already running")
	require.Len(t, db.callsOf(t, "sql"), 2)
	require.Len(t, db.servers(t), 1)
	_, _ = db.run(t, nil, "stop", "mariadb")
}

func (db *fakeDB) port() string {
	for _, kv := range db.env {
		if v, ok := strings.CutPrefix(kv, "DB_MYSQL_PORT="); ok {
			return v
		}
	}
	return ""
}

// mariadbd.pid naming a process that is not this directory's mariadbd (its pid reused after a
// kill -9) is no running server: status says stopped, stop leaves the process alone, start starts.
func TestDBLocalMariaDBPidReusedByAnotherProcess(t *testing.T) {
	db := newFakeDB(t)
	other := exec.Command("sleep", "300")
	require.NoError(t, other.Start())
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	myDir := filepath.Join(db.data, "mariadb-"+db.port())
	require.NoError(t, os.MkdirAll(myDir, 0o755))
	writeFile(t, myDir, "mariadbd.pid", strconv.Itoa(other.Process.Pid)+"\n")

	out, code := db.run(t, nil, "status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "mariadb: stopped")
	out, code = db.run(t, nil, "stop", "mariadb")
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "mariadb stopped")
	require.True(t, alive(other.Process.Pid), "stop signalled a process that is no mariadbd of this directory")

	out, code = db.run(t, nil, "start", "mariadb")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "mariadb started")
	require.Len(t, db.servers(t), 1)
	out, code = db.run(t, nil, "status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "mariadb: running")
	out, code = db.run(t, nil, "stop", "mariadb")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "mariadb stopped")
	db.requireNoServer(t)
	require.True(t, alive(other.Process.Pid))
}
