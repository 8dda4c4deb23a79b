package scripts

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rmqconnect/rmqconnect/tests/localserver"
)

// fakeRMQScript stands in for rocketmq-local.sh in `make test-go`: its name server and broker are
// sleep processes with pid files in $RMQ_DATA_DIR/run, as the real script keeps them. Each call is
// recorded in $FAKE_RMQ_CALLS, each process started in $FAKE_RMQ_CALLS.pids. FAKE_RMQ_BROKER_FAILS=1 makes start fail half-way: the name server
// runs, the broker never comes up.
const fakeRMQScript = `#!/bin/bash
set -u
run=$RMQ_DATA_DIR/run
echo "$1 $RMQ_NAMESRV_PORT ${RMQ_CLEAN_STORE:-0}" >>"$FAKE_RMQ_CALLS"
alive() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }
launch() { mkdir -p "$run"; sleep 600 </dev/null >/dev/null 2>&1 8>&- 9>&- & echo $! >"$run/$1.pid"; echo $! >>"$FAKE_RMQ_CALLS.pids"; }
case "$1" in
  start)
    if alive namesrv && alive broker; then echo "rocketmq-local: already running" >&2; exit 0; fi
    launch namesrv
    if [ "${FAKE_RMQ_BROKER_FAILS:-}" = 1 ]; then echo "rocketmq-local: broker not ready after 90s" >&2; exit 1; fi
    launch broker
    echo "rocketmq-local: ready in 0s" >&2
    echo "127.0.0.1:$RMQ_NAMESRV_PORT" ;;
  stop)
    for n in broker namesrv; do
      if alive "$n"; then kill "$(cat "$run/$n.pid")"; fi
      rm -f "$run/$n.pid"
    done
    echo "rocketmq-local: stopped" >&2 ;;
esac
`

// fakeMakeGoScript stands in for the go command of test-go-run: it records each call with the
// RMQ_NAMESRV it got, and whether the broker's users lock was held meanwhile.
const fakeMakeGoScript = `#!/bin/bash
held=free
flock -xn "$FAKE_USERS" true || held=held
echo "$1 RMQ_NAMESRV=${RMQ_NAMESRV:-} users=$held" >>"$FAKE_GO_CALLS"
if [ "$1" = list ]; then echo github.com/rmqconnect/rmqconnect/conf; fi
exit 0
`

// testBroker is one make test-go's fake broker in a temporary data directory.
type testBroker struct {
	dir, data, calls, goCalls string
	env                       []string
}

func newTestBroker(t *testing.T) *testBroker {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	dir := t.TempDir()
	// XDG_CACHE_HOME moves the data directory too, so a Makefile that ignored RMQ_TEST_DATA_DIR
	// would still not touch the real test broker's.
	cache := filepath.Join(dir, "cache")
	b := &testBroker{dir: dir, data: filepath.Join(cache, "rmqconnect", "test-broker"),
		calls: filepath.Join(dir, "rmq.calls"), goCalls: filepath.Join(dir, "go.calls")}
	require.NoError(t, os.MkdirAll(filepath.Dir(b.data), 0o755))
	writeExec(t, dir, "rocketmq-local.sh", fakeRMQScript)
	writeExec(t, dir, "go", fakeMakeGoScript)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "RMQ_NAMESRV", k == "MAKEFLAGS", k == "MFLAGS", k == "MAKELEVEL", k == "MAKEOVERRIDES",
			k == "GOFLAGS", strings.HasPrefix(k, "RMQ_TEST_"):
		default:
			b.env = append(b.env, kv)
		}
	}
	b.env = append(b.env, "XDG_CACHE_HOME="+cache, "RMQ_TEST_DATA_DIR="+b.data, "RMQ_TEST_NAMESRV_PORT=1",
		"RMQ_TEST_BROKER_PORT=3", "FAKE_RMQ_CALLS="+b.calls, "FAKE_GO_CALLS="+b.goCalls, "FAKE_USERS="+b.data+".users")
	t.Cleanup(func() {
		for _, pid := range b.launched() {
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return b
}

func writeExec(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
	return p
}

// make runs `make test-go` with the fake go and rocketmq-local.sh and returns its output and exit code.
func (b *testBroker) make(t *testing.T, extra ...string) (string, int) {
	t.Helper()
	return runCmd(t, append(append([]string{}, b.env...), extra...), "make", "-C", "../..", "--no-print-directory", "test-go",
		"GO="+filepath.Join(b.dir, "go"), "RMQ="+filepath.Join(b.dir, "rocketmq-local.sh"))
}

// fake runs the fake rocketmq-local.sh directly, as a user starting the broker by hand.
func (b *testBroker) fake(t *testing.T, arg string) {
	t.Helper()
	out, code := runCmd(t, append(append([]string{}, b.env...), "RMQ_DATA_DIR="+b.data, "RMQ_NAMESRV_PORT=1"),
		"bash", filepath.Join(b.dir, "rocketmq-local.sh"), arg)
	require.Equal(t, 0, code, out)
}

func (b *testBroker) pid(name string) int {
	raw, err := os.ReadFile(filepath.Join(b.data, "run", name+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

// rmqCalls lists the fake rocketmq-local.sh's calls: "start" or "stop".
func (b *testBroker) rmqCalls(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(b.calls)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var calls []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		calls = append(calls, strings.Fields(l)[0])
	}
	return calls
}

// running lists the fake name servers and brokers still running.
func (b *testBroker) running() []int {
	var pids []int
	for _, pid := range b.launched() {
		if alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (b *testBroker) launched() []int {
	raw, _ := os.ReadFile(b.calls + ".pids")
	var pids []int
	for _, f := range strings.Fields(string(raw)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (b *testBroker) marker() string {
	raw, err := os.ReadFile(b.data + ".started-by-tests")
	if err != nil {
		return "(none)"
	}
	return strings.TrimSpace(string(raw))
}

// The tests ran against the broker, with the users lock held.
func (b *testBroker) requireTestsRan(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile(b.goCalls)
	require.NoError(t, err)
	require.Contains(t, string(raw), "test RMQ_NAMESRV=127.0.0.1:1 users=held")
}

func TestMakeTestGoStopsTheBrokerItStarted(t *testing.T) {
	b := newTestBroker(t)
	out, code := b.make(t)
	require.Equal(t, 0, code, out)
	b.requireTestsRan(t)
	require.Equal(t, "start 1 1\nstop 1 0\n", mustRead(t, b.calls), "started on the test ports with a clean store, then stopped")
	require.Empty(t, b.running())
	require.Equal(t, "(none)", b.marker())
}

// Another make test or go test still uses the broker: it is left running, with the marker that
// lets the last user stop it.
func TestMakeTestGoLeavesTheBrokerToItsOtherUsers(t *testing.T) {
	b := newTestBroker(t)
	users, err := localserver.Use(b.data + ".users")
	require.NoError(t, err)
	defer users.Close()

	out, code := b.make(t)
	require.Equal(t, 0, code, out)
	b.requireTestsRan(t)
	require.Equal(t, []string{"start"}, b.rmqCalls(t))
	ns := b.pid("namesrv")
	require.True(t, ns > 0 && alive(ns), "the broker still runs for the other user")
	require.Equal(t, strconv.Itoa(ns), b.marker(), "the last user out will stop it")

	// A second run joins the running broker and, while the other user stays, leaves it too.
	out, code = b.make(t)
	require.Equal(t, 0, code, out)
	require.Equal(t, []string{"start", "start"}, b.rmqCalls(t))
	require.True(t, alive(ns))

	// Once the other user is gone, the next run out stops it.
	require.NoError(t, users.Close())
	out, code = b.make(t)
	require.Equal(t, 0, code, out)
	require.Equal(t, []string{"start", "start", "start", "stop"}, b.rmqCalls(t))
	require.Empty(t, b.running())
	require.Equal(t, "(none)", b.marker())
}

// A broker that was running before (started by hand, or by tests before a restart of its name
// server) is not make test's to stop.
func TestMakeTestGoLeavesABrokerItDidNotStart(t *testing.T) {
	t.Run("started by hand", func(t *testing.T) {
		b := newTestBroker(t)
		b.fake(t, "start")
		ns := b.pid("namesrv")
		out, code := b.make(t)
		require.Equal(t, 0, code, out)
		b.requireTestsRan(t)
		require.Equal(t, []string{"start", "start"}, b.rmqCalls(t))
		require.True(t, alive(ns))
		require.Equal(t, "(none)", b.marker())
	})
	t.Run("marker of an earlier broker", func(t *testing.T) {
		b := newTestBroker(t)
		b.fake(t, "start")
		ns := b.pid("namesrv")
		writeFile(t, filepath.Dir(b.data), "test-broker.started-by-tests", "1\n")
		out, code := b.make(t)
		require.Equal(t, 0, code, out)
		require.Equal(t, []string{"start", "start"}, b.rmqCalls(t))
		require.True(t, alive(ns))
	})
}

// A start that fails half-way leaves nothing running.
func TestMakeTestGoCleansUpAFailedStart(t *testing.T) {
	b := newTestBroker(t)
	out, code := b.make(t, "FAKE_RMQ_BROKER_FAILS=1")
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "broker not ready")
	require.Equal(t, []string{"start", "stop"}, b.rmqCalls(t))
	require.Len(t, b.launched(), 1, "the name server was started")
	require.Empty(t, b.running(), "and stopped")
	require.NoFileExists(t, b.goCalls, "no test ran")
	require.Equal(t, "(none)", b.marker())
}

func TestMakeTestGoUsesRMQNamesrv(t *testing.T) {
	b := newTestBroker(t)
	out, code := b.make(t, "RMQ_NAMESRV=127.0.0.1:7")
	require.Equal(t, 0, code, out)
	require.Nil(t, b.rmqCalls(t))
	require.Contains(t, mustRead(t, b.goCalls), "test RMQ_NAMESRV=127.0.0.1:7")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(raw)
}
