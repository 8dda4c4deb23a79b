package scripts

import (
	"bytes"
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

	"github.com/rmqconnect/rmqconnect/conf"
)

const (
	distributedScript = "../../distribution/bin/connect-distributed.sh"
	standaloneScript  = "../../distribution/bin/connect-standalone.sh"
	shutdownScript    = "../../distribution/bin/connect-shutdown.sh"
)

// workers is one test's fake binary, pid and log directories.
type workers struct {
	records, run, logs string
	env                []string
}

func newWorkers(t *testing.T) *workers {
	t.Helper()
	dir := t.TempDir()
	w := &workers{records: filepath.Join(dir, "records"), run: filepath.Join(dir, "run"), logs: filepath.Join(dir, "logs")}
	require.NoError(t, os.Mkdir(w.records, 0o755))
	// The fake binary is this test binary as fakeWorker.
	self, err := os.Executable()
	require.NoError(t, err)
	bin := filepath.Join(dir, "rmqconnect")
	require.NoError(t, os.WriteFile(bin, []byte(fmt.Sprintf(fakeWorkerScript, w.records, self)), 0o755))
	// The caller's RMQCONNECT_* settings (a workerId, a pid directory) must not leak in.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RMQCONNECT_") {
			w.env = append(w.env, kv)
		}
	}
	w.env = append(w.env, "RMQCONNECT_BIN="+bin, "RMQCONNECT_PID_DIR="+w.run, "RMQCONNECT_LOG_DIR="+w.logs,
		"RMQCONNECT_STOP_TIMEOUT=30")
	t.Cleanup(func() {
		for _, pid := range w.started(t) {
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return w
}

// sh runs a script with the workers' environment plus extra variables and returns its combined output
// and exit code.
func (w *workers) sh(t *testing.T, extra []string, script string, args ...string) (string, int) {
	t.Helper()
	return runCmd(t, append(append([]string{}, w.env...), extra...), "bash", append([]string{script}, args...)...)
}

// start runs connect-distributed.sh --daemon ARGS, requires success and returns the pid recorded in
// the worker's pid file once the fake binary runs under it.
func (w *workers) start(t *testing.T, id string, args ...string) int {
	t.Helper()
	out, code := w.sh(t, nil, distributedScript, append([]string{"--daemon"}, args...)...)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "started worker "+id)
	pid := w.pid(t, "connect-distributed-"+id+".pid")
	w.args(t, pid)
	return pid
}

func (w *workers) pid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(w.run, file))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err, "pid file %s holds %q", file, b)
	return pid
}

// args waits until the fake binary with this pid has recorded its arguments and returns them.
func (w *workers) args(t *testing.T, pid int) []string {
	t.Helper()
	f := filepath.Join(w.records, strconv.Itoa(pid)+".args")
	require.Eventually(t, func() bool { _, err := os.Stat(f); return err == nil }, 10*time.Second, 20*time.Millisecond,
		"no fake rmqconnect runs as pid %d", pid)
	b, err := os.ReadFile(f)
	require.NoError(t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// started lists the pids of every fake binary this test has run.
func (w *workers) started(t *testing.T) []int {
	m, err := filepath.Glob(filepath.Join(w.records, "*.args"))
	require.NoError(t, err)
	var pids []int
	for _, f := range m {
		pid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(f), ".args"))
		require.NoError(t, err)
		pids = append(pids, pid)
	}
	return pids
}

// stoppedBySIGTERM reports whether the fake binary with this pid got SIGTERM and exited.
func (w *workers) stoppedBySIGTERM(pid int) bool {
	_, err := os.Stat(filepath.Join(w.records, strconv.Itoa(pid)+".stopped"))
	if err != nil {
		return false
	}
	// The shutdown script counts a worker stopped once its pid is no longer the worker's (its
	// command line is gone), which a process that is exiting reaches a moment before the
	// kernel shows it dead or a zombie: give it that moment.
	for deadline := time.Now().Add(5 * time.Second); alive(pid); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

func (w *workers) pidFiles(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(w.run, "*.pid"))
	require.NoError(t, err)
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// alive reports whether pid runs; a zombie (nothing reaps orphans in some containers) does not.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// The pid file and daemon log carry the workerId the worker itself loads (conf.Load), for every
// config format and for the environment override.
func TestDistributedFilesNamedAfterWorkerID(t *testing.T) {
	cases := []struct {
		name, file, content, envID string
		flag                       func(path string) []string
	}{
		{name: "yaml", file: "w.yaml", content: "workerId: worker-a\nhttpPort: 8090\n"},
		{name: "yaml quoted, comment, lower-case key", file: "w.yml",
			content: "# workerId: commented-out\nworkerid: \"worker-b\"   # the id\n"},
		{name: "yaml single quotes", file: "w.yaml", content: "workerId: 'worker-b2'\n"},
		{name: "properties", file: "w.properties", content: "# a comment\nworkerId=worker-c\nhttpPort=8090\n"},
		{name: "properties colon, spaces, CRLF", file: "w.properties", content: "httpPort = 8090\r\n  workerId : worker-d  \r\n"},
		{name: "conf, space separator", file: "w.conf", content: "workerId worker-e\n"},
		{name: "json", file: "w.json", content: "{\n  \"workerId\": \"worker-f\",\n  \"httpPort\": 8090\n}\n"},
		{name: "-c=path", file: "w.yaml", content: "workerId: worker-g\n",
			flag: func(p string) []string { return []string{"-c=" + p} }},
		{name: "--c path", file: "w.yaml", content: "workerId: worker-h\n",
			flag: func(p string) []string { return []string{"--c", p} }},
		{name: "environment overrides the file", file: "w.yaml", content: "workerId: worker-a\n", envID: "worker-env"},
		{name: "no workerId in the file", file: "w.yaml", content: "httpPort: 8090\n"},
		{name: "no config file", envID: "worker-only-env"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorkers(t)
			t.Setenv("RMQCONNECT_WORKERID", tc.envID)
			var path string
			var args []string
			if tc.file != "" {
				path = writeFile(t, t.TempDir(), tc.file, tc.content)
				args = []string{"-c", path}
				if tc.flag != nil {
					args = tc.flag(path)
				}
			}
			cfg, err := conf.Load(path)
			require.NoError(t, err)
			id := cfg.WorkerID

			out, code := w.sh(t, []string{"RMQCONNECT_WORKERID=" + tc.envID}, distributedScript, append([]string{"--daemon"}, args...)...)
			require.Equal(t, 0, code, out)
			log := filepath.Join(w.logs, "connect-distributed-"+id+".out")
			require.Contains(t, out, "started worker "+id)
			require.Contains(t, out, "log "+log)
			require.Equal(t, []string{"connect-distributed-" + id + ".pid"}, w.pidFiles(t))
			pid := w.pid(t, "connect-distributed-"+id+".pid")
			require.Equal(t, append([]string{"distributed"}, args...), w.args(t, pid))
			require.Eventually(t, func() bool {
				b, _ := os.ReadFile(log)
				return strings.Contains(string(b), "fake rmqconnect distributed")
			}, 10*time.Second, 20*time.Millisecond, "daemon log %s", log)

			out, code = w.sh(t, nil, shutdownScript, "--worker", id)
			require.Equal(t, 0, code, out)
			require.Contains(t, out, fmt.Sprintf("stopped pid %d (worker %s)", pid, id))
			require.True(t, w.stoppedBySIGTERM(pid))
			require.Empty(t, w.pidFiles(t))
		})
	}
}

func TestDistributedRefusesASecondStartOfOneWorker(t *testing.T) {
	w := newWorkers(t)
	cfg := writeFile(t, t.TempDir(), "w1.yaml", "workerId: worker-1\n")
	pid := w.start(t, "worker-1", "-c", cfg)

	for _, args := range [][]string{{"--daemon", "-c", cfg}, {"-c", cfg}} {
		out, code := w.sh(t, nil, distributedScript, args...)
		require.NotEqual(t, 0, code, out)
		require.Contains(t, out, fmt.Sprintf("worker worker-1 is already running (pid %d", pid))
	}
	// The same id from the environment is the same worker.
	other := writeFile(t, t.TempDir(), "other.properties", "workerId=other\n")
	out, code := w.sh(t, []string{"RMQCONNECT_WORKERID=worker-1"}, distributedScript, "--daemon", "-c", other)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "already running")

	require.Equal(t, pid, w.pid(t, "connect-distributed-worker-1.pid"))
	require.Equal(t, []int{pid}, w.started(t), "no second worker ran")
	require.True(t, alive(pid))
}

func TestDistributedConcurrentStartsOfOneWorker(t *testing.T) {
	w := newWorkers(t)
	cfg := writeFile(t, t.TempDir(), "w1.yaml", "workerId: worker-1\n")
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for range 6 {
		cmd := exec.Command("bash", distributedScript, "--daemon", "-c", cfg)
		cmd.Env = w.env
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	started := 0
	for i, cmd := range cmds {
		if cmd.Wait() == nil {
			started++
		} else {
			require.Contains(t, outs[i].String(), "already running")
		}
	}
	require.Equal(t, 1, started)
	pid := w.pid(t, "connect-distributed-worker-1.pid")
	w.args(t, pid)
	require.Equal(t, []int{pid}, w.started(t))
}

func TestDistributedReplacesStalePidFiles(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "w1.yaml", "workerId: worker-1\n")

	t.Run("worker killed", func(t *testing.T) {
		w := newWorkers(t)
		pid := w.start(t, "worker-1", "-c", cfg)
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		require.Eventually(t, func() bool { return !alive(pid) }, 10*time.Second, 20*time.Millisecond)

		out, code := w.sh(t, nil, distributedScript, "--daemon", "-c", cfg)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "removing stale pid file")
		again := w.pid(t, "connect-distributed-worker-1.pid")
		require.NotEqual(t, pid, again)
		w.args(t, again)
		require.True(t, alive(again))
	})

	t.Run("pid reused by another process", func(t *testing.T) {
		w := newWorkers(t)
		other := exec.Command("sleep", "300")
		require.NoError(t, other.Start())
		t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
		require.NoError(t, os.MkdirAll(w.run, 0o755))
		for _, f := range []string{"connect-distributed-worker-1.pid", "connect-distributed-worker-9.pid", "connect-standalone.pid"} {
			writeFile(t, w.run, f, strconv.Itoa(other.Process.Pid)+"\n")
		}

		out, code := w.sh(t, nil, distributedScript, "--daemon", "-c", cfg)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "removing stale pid file")
		pid := w.pid(t, "connect-distributed-worker-1.pid")
		require.NotEqual(t, other.Process.Pid, pid)
		w.args(t, pid)

		// Shutdown signals the worker and leaves the unrelated process alone.
		out, code = w.sh(t, nil, shutdownScript)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "removing stale pid file "+filepath.Join(w.run, "connect-distributed-worker-9.pid"))
		require.Contains(t, out, "removing stale pid file "+filepath.Join(w.run, "connect-standalone.pid"))
		require.True(t, w.stoppedBySIGTERM(pid))
		require.True(t, alive(other.Process.Pid), "connect-shutdown signalled a process that is no worker")
		require.Empty(t, w.pidFiles(t))
	})

	t.Run("garbage in the pid file", func(t *testing.T) {
		w := newWorkers(t)
		require.NoError(t, os.MkdirAll(w.run, 0o755))
		writeFile(t, w.run, "connect-distributed-worker-1.pid", "not a pid\n")
		out, code := w.sh(t, nil, distributedScript, "--daemon", "-c", cfg)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "removing stale pid file")
		w.args(t, w.pid(t, "connect-distributed-worker-1.pid"))
	})
}

// The example cluster: three workers side by side on one host, stopped together.
func TestDistributedExampleClusterSideBySide(t *testing.T) {
	var cfgs []*conf.Worker
	for n := 1; n <= 3; n++ {
		t.Setenv("RMQCONNECT_WORKERID", "")
		c, err := conf.Load(fmt.Sprintf("../../distribution/conf/connect-distributed-%d.yaml", n))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("worker-%d", n), c.WorkerID)
		require.Equal(t, 8081+n, c.HTTPPort)
		require.Equal(t, fmt.Sprintf("/tmp/rmqconnect/distributed/worker-%d/storeRoot", n), c.StorePathRootDir)
		cfgs = append(cfgs, c)
	}
	for _, c := range cfgs[1:] {
		// What the cluster shares is the same on every worker.
		require.Equal(t, cfgs[0].ConnectClusterID, c.ConnectClusterID)
		require.Equal(t, []string{cfgs[0].ConfigStoreTopic, cfgs[0].PositionStoreTopic, cfgs[0].ConnectStatusTopic, cfgs[0].ClusterStoreTopic},
			[]string{c.ConfigStoreTopic, c.PositionStoreTopic, c.ConnectStatusTopic, c.ClusterStoreTopic})
	}

	w := newWorkers(t)
	var pids []int
	for n := 1; n <= 3; n++ {
		pids = append(pids, w.start(t, fmt.Sprintf("worker-%d", n), "-c", fmt.Sprintf("../../distribution/conf/connect-distributed-%d.yaml", n)))
	}
	require.Equal(t, []string{"connect-distributed-worker-1.pid", "connect-distributed-worker-2.pid", "connect-distributed-worker-3.pid"}, w.pidFiles(t))
	for _, pid := range pids {
		require.True(t, alive(pid))
	}

	out, code := w.sh(t, nil, shutdownScript)
	require.Equal(t, 0, code, out)
	for i, pid := range pids {
		require.Contains(t, out, fmt.Sprintf("stopped pid %d (worker worker-%d)", pid, i+1))
		require.True(t, w.stoppedBySIGTERM(pid))
	}
	require.Empty(t, w.pidFiles(t))
}

func TestShutdownOneWorkerOrAll(t *testing.T) {
	w := newWorkers(t)
	dir := t.TempDir()
	w1 := w.start(t, "worker-1", "-c", writeFile(t, dir, "w1.yaml", "workerId: worker-1\n"))
	w2 := w.start(t, "worker-2", "-c", writeFile(t, dir, "w2.properties", "workerId=worker-2\n"))
	out, code := w.sh(t, nil, standaloneScript, "--daemon", "-c", writeFile(t, dir, "s.yaml", "workerId: s\n"))
	require.Equal(t, 0, code, out)
	sa := w.pid(t, "connect-standalone.pid")
	require.Equal(t, []string{"standalone", "-c", filepath.Join(dir, "s.yaml")}, w.args(t, sa))

	out, code = w.sh(t, nil, shutdownScript, "--worker", "worker-1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, fmt.Sprintf("stopped pid %d (worker worker-1)", w1))
	require.True(t, w.stoppedBySIGTERM(w1))
	require.True(t, alive(w2) && alive(sa), "--worker stops that worker only")
	require.Equal(t, []string{"connect-distributed-worker-2.pid", "connect-standalone.pid"}, w.pidFiles(t))

	out, code = w.sh(t, nil, shutdownScript, "--worker=worker-1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "worker worker-1 is not running")

	out, code = w.sh(t, nil, shutdownScript, "standalone")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, fmt.Sprintf("stopped pid %d (standalone worker)", sa))
	require.True(t, w.stoppedBySIGTERM(sa))
	require.True(t, alive(w2))

	out, code = w.sh(t, nil, standaloneScript, "--daemon", "-c", filepath.Join(dir, "s.yaml"))
	require.Equal(t, 0, code, out)
	sa = w.pid(t, "connect-standalone.pid")
	w.args(t, sa)
	out, code = w.sh(t, nil, shutdownScript)
	require.Equal(t, 0, code, out)
	require.True(t, w.stoppedBySIGTERM(w2) && w.stoppedBySIGTERM(sa), out)
	require.Empty(t, w.pidFiles(t))

	out, code = w.sh(t, nil, shutdownScript)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "no running worker found")

	for _, args := range [][]string{{"--worker"}, {"--worker", "../x"}, {"bogus"}, {"standalone", "extra"}} {
		out, code = w.sh(t, nil, shutdownScript, args...)
		require.Equal(t, 2, code, "%v: %s", args, out)
	}
}

func TestShutdownReportsAWorkerThatDoesNotStop(t *testing.T) {
	w := newWorkers(t)
	cfg := writeFile(t, t.TempDir(), "w1.yaml", "workerId: worker-1\n")
	out, code := w.sh(t, []string{"FAKE_IGNORE_TERM=1"}, distributedScript, "--daemon", "-c", cfg)
	require.Equal(t, 0, code, out)
	pid := w.pid(t, "connect-distributed-worker-1.pid")
	w.args(t, pid)

	out, code = w.sh(t, []string{"RMQCONNECT_STOP_TIMEOUT=1"}, shutdownScript)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, fmt.Sprintf("pid %d (worker worker-1) still running after 1s", pid))
	require.True(t, alive(pid))
	require.Equal(t, []string{"connect-distributed-worker-1.pid"}, w.pidFiles(t), "the pid file is kept")
}

// Without --daemon the script becomes the worker: the pid file holds the pid of the process
// that was started, and stopping it ends that process.
func TestDistributedForeground(t *testing.T) {
	w := newWorkers(t)
	cfg := writeFile(t, t.TempDir(), "w1.properties", "workerId=worker-1\n")
	cmd := exec.Command("bash", distributedScript, "-c", cfg)
	cmd.Env = w.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	require.Equal(t, []string{"distributed", "-c", cfg}, w.args(t, cmd.Process.Pid))
	require.Equal(t, cmd.Process.Pid, w.pid(t, "connect-distributed-worker-1.pid"))

	sout, code := w.sh(t, nil, shutdownScript, "--worker", "worker-1")
	require.Equal(t, 0, code, sout)
	require.NoError(t, cmd.Wait(), out.String())
	require.Contains(t, out.String(), "fake rmqconnect distributed -c "+cfg)
	require.Empty(t, w.pidFiles(t))
}

func TestDistributedRejectsWhatTheWorkerWouldReject(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		args  []string
		extra []string
		want  string
	}{
		{"workerId with a path", []string{"-c", writeFile(t, dir, "bad.yaml", "workerId: ../../etc/x\n")}, nil,
			`workerId "../../etc/x" (workerId in`},
		{"bad workerId from the environment", []string{"-c", writeFile(t, dir, "ok.yaml", "workerId: w\n")},
			[]string{"RMQCONNECT_WORKERID=a b"}, `workerId "a b" (RMQCONNECT_WORKERID)`},
		{"missing config file", []string{"-c", filepath.Join(dir, "missing.yaml")}, nil, "not a readable file"},
		{"unsupported extension", []string{"-c", writeFile(t, dir, "w.txt", "workerId: w\n")}, nil, "unsupported extension"},
		{"-c without a file", []string{"-c"}, nil, "-c needs a worker config file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorkers(t)
			out, code := w.sh(t, tc.extra, distributedScript, append([]string{"--daemon"}, tc.args...)...)
			require.NotEqual(t, 0, code, out)
			require.Contains(t, out, tc.want)
			require.Empty(t, w.pidFiles(t))
			require.Empty(t, w.started(t))
		})
	}
}

// TestStandaloneChecksItsPidFile: a running standalone worker blocks a second start; a pid
// file naming a dead process or an unrelated one (a reused pid) is replaced.
func TestStandaloneChecksItsPidFile(t *testing.T) {
	w := newWorkers(t)
	cfg := writeFile(t, t.TempDir(), "s.yaml", "workerId: s\n")
	out, code := w.sh(t, nil, standaloneScript, "--daemon", "-c", cfg)
	require.Equal(t, 0, code, out)
	first := w.pid(t, "connect-standalone.pid")
	w.args(t, first)

	out, code = w.sh(t, nil, standaloneScript, "--daemon", "-c", cfg)
	require.NotEqual(t, 0, code)
	require.Contains(t, out, fmt.Sprintf("already running (pid %d", first))

	other := exec.Command("sleep", "300")
	require.NoError(t, other.Start())
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	require.NoError(t, syscall.Kill(first, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !alive(first) }, 10*time.Second, 20*time.Millisecond)
	for _, stale := range []int{first, other.Process.Pid} {
		writeFile(t, w.run, "connect-standalone.pid", strconv.Itoa(stale)+"\n")
		out, code = w.sh(t, nil, standaloneScript, "--daemon", "-c", cfg)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "removing stale pid file")
		pid := w.pid(t, "connect-standalone.pid")
		require.NotEqual(t, stale, pid)
		w.args(t, pid)
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
		require.Eventually(t, func() bool { return !alive(pid) }, 10*time.Second, 20*time.Millisecond)
	}
	require.True(t, alive(other.Process.Pid), "the unrelated process is left alone")
}

// A pid file left by a crash or a reboot may name the pid another worker runs as now (pids are
// reused, and a boot that starts workers in another order hands them each other's pids). That
// worker is not the one the pid file names: a start replaces the pid file instead of refusing
// ("already running"), and shutdown leaves the other worker running instead of stopping it.
func TestPidReusedByAnotherWorker(t *testing.T) {
	w := newWorkers(t)
	dir := t.TempDir()
	b := w.start(t, "worker-b", "-c", writeFile(t, dir, "b.yaml", "workerId: worker-b\n"))
	out, code := w.sh(t, []string{"RMQCONNECT_WORKERID=worker-c"}, distributedScript, "--daemon", "-c",
		writeFile(t, dir, "c.yaml", "workerId: worker-x\n"))
	require.Equal(t, 0, code, out)
	c := w.pid(t, "connect-distributed-worker-c.pid")
	w.args(t, c)
	other := writeFile(t, t.TempDir(), "s.yaml", "workerId: s\n")
	// The standalone worker of another installation, with a pid directory of its own.
	out, code = w.sh(t, []string{"RMQCONNECT_PID_DIR=" + t.TempDir()}, standaloneScript, "--daemon", "-c", other)
	require.Equal(t, 0, code, out)
	s := 0
	for _, pid := range w.started(t) {
		if pid != b && pid != c {
			s = pid
		}
	}
	w.args(t, s)

	writeFile(t, w.run, "connect-distributed-worker-a.pid", strconv.Itoa(b)+"\n")
	writeFile(t, w.run, "connect-distributed-worker-x.pid", strconv.Itoa(c)+"\n")
	writeFile(t, w.run, "connect-standalone.pid", strconv.Itoa(s)+"\n")
	for _, args := range [][]string{{"--worker", "worker-a"}, {"--worker", "worker-x"}, {"standalone"}} {
		out, code = w.sh(t, nil, shutdownScript, args...)
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "removing stale pid file", "%v", args)
		require.True(t, alive(b) && alive(c) && alive(s), "connect-shutdown %v stopped a worker the pid file does not name: %s", args, out)
	}
	require.Equal(t, []string{"connect-distributed-worker-b.pid", "connect-distributed-worker-c.pid"}, w.pidFiles(t))

	writeFile(t, w.run, "connect-distributed-worker-a.pid", strconv.Itoa(b)+"\n")
	a := w.start(t, "worker-a", "-c", writeFile(t, dir, "a.properties", "workerId=worker-a\n"))
	require.NotEqual(t, b, a)
	writeFile(t, w.run, "connect-standalone.pid", strconv.Itoa(s)+"\n")
	out, code = w.sh(t, nil, standaloneScript, "--daemon", "-c", other)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "removing stale pid file")

	out, code = w.sh(t, nil, shutdownScript)
	require.Equal(t, 0, code, out)
	for _, pid := range []int{a, b, c} {
		require.True(t, w.stoppedBySIGTERM(pid), out)
	}
	require.True(t, alive(s), "the other installation's standalone worker runs on")
	require.Empty(t, w.pidFiles(t))
}

// TestPidDirMovedWhileRunning: a worker whose pid directory's real path changed while it ran (a
// release symbolic link pointed at a directory moved there) is still stopped through its pid
// file, and a start is still refused: the path it was started with no longer names its pid file,
// which says nothing about whether it is this one.
func TestPidDirMovedWhileRunning(t *testing.T) {
	w := newWorkers(t)
	base := t.TempDir()
	rel1, rel2, cur := filepath.Join(base, "rel1"), filepath.Join(base, "rel2"), filepath.Join(base, "cur")
	require.NoError(t, os.Mkdir(rel1, 0o755))
	require.NoError(t, os.Symlink(rel1, cur))
	w.run = cur
	w.env = append(w.env, "RMQCONNECT_PID_DIR="+cur)
	cfg := writeFile(t, t.TempDir(), "a.yaml", "workerId: worker-a\n")
	a := w.start(t, "worker-a", "-c", cfg)

	require.NoError(t, os.Rename(rel1, rel2))
	require.NoError(t, os.Remove(cur))
	require.NoError(t, os.Symlink(rel2, cur))
	out, code := w.sh(t, nil, distributedScript, "--daemon", "-c", cfg)
	require.NotEqual(t, 0, code, out)
	require.Contains(t, out, "already running")
	out, code = w.sh(t, nil, shutdownScript, "--worker", "worker-a")
	require.Equal(t, 0, code, out)
	require.True(t, w.stoppedBySIGTERM(a), "the worker is stopped, not taken as gone: %s", out)
}
