package scripts

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// postmaster.pid naming a live process that is no postgres of this data directory (the
// postmaster's pid reused after a crash) is no running server: status says stopped, stop leaves
// the process alone, and start starts PostgreSQL. The process runs as the user PostgreSQL runs
// as, the one `pg_ctl status` and postgres itself can see alive. Needs PostgreSQL installed.
func TestDBLocalPostgresPidReusedByAnotherProcess(t *testing.T) {
	if _, err := exec.LookPath("pg_ctl"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl"); len(m) == 0 {
			t.Skip("PostgreSQL is not installed")
		}
	}
	// Under the system temporary directory: the postgres user must reach it when we are root.
	data, err := os.MkdirTemp("", "db-local-pg-")
	require.NoError(t, err)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DB_") {
			env = append(env, kv)
		}
	}
	port := strconv.Itoa(freeTCPPort(t))
	env = append(env, "DB_DATA_DIR="+data, "DB_PG_PORT="+port)
	run := func(args ...string) (string, int) {
		t.Helper()
		return runCmd(t, env, "bash", append([]string{dbLocalScript}, args...)...)
	}
	t.Cleanup(func() {
		_, _ = run("stop", "postgres")
		_ = os.RemoveAll(data)
	})

	out, code := run("start", "postgres")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "postgres started")
	pidFile := filepath.Join(data, "pg-"+port, "data", "postmaster.pid")
	lockFile, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	fi, err := os.Stat(pidFile)
	require.NoError(t, err)
	out, code = run("status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "postgres: running")
	out, code = run("stop", "postgres")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "postgres stopped")

	other := exec.Command("sleep", "300")
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		require.NoError(t, err)
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		other.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	require.NoError(t, other.Start())
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	// The lock file a postmaster killed with -9 leaves, its pid now the other process's.
	_, rest, _ := strings.Cut(string(lockFile), "\n")
	require.NoError(t, os.WriteFile(pidFile, []byte(strconv.Itoa(other.Process.Pid)+"\n"+rest), 0o600))
	st := fi.Sys().(*syscall.Stat_t)
	require.NoError(t, os.Chown(pidFile, int(st.Uid), int(st.Gid)))

	out, code = run("status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "postgres: stopped")
	out, code = run("stop", "postgres")
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "postgres stopped")
	require.True(t, alive(other.Process.Pid), "stop signalled a process that is no postgres of this directory")

	out, code = run("start", "postgres")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "postgres started")
	out, code = run("status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "postgres: running")
	out, code = run("stop", "postgres")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "postgres stopped")
	require.NoFileExists(t, pidFile)
	require.True(t, alive(other.Process.Pid))
}
